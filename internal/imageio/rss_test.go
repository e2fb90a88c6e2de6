//go:build linux

package imageio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// The worst legal shape under the default limits: 40 M pixels, sides and
// aspect within bounds.
const rssW, rssH = 8000, 5000

// rssInputs are the worst legal inputs of each format and colour model.
func rssInputs(t *testing.T) map[string][]byte {
	grey := func(c, bx, by int) uint8 { return uint8(100 + 20*c) }
	zeroRows := func(n int) [][]byte {
		row := make([]byte, n)
		rows := make([][]byte, rssH)
		for i := range rows {
			rows[i] = row
		}
		return rows
	}
	exif6 := pngChunk("eXIf", exifTIFF(6, binary.BigEndian))
	// The bomb is padded with metadata to the smallest legal size:
	// (40 M - FreePixels) / PixelsPerByte bytes.
	webp := vp8lBomb(rssW, rssH)
	pad := make([]byte, (rssW*rssH-FreePixels)/DefaultPixelsPerByte)
	return map[string][]byte{
		"JPEG YCbCr 4:4:4":                dcJPEG(rssW, rssH, 3, -1, 0xC0, grey),
		"JPEG YCbCr 4:4:4, orientation 6": withJPEGExif(dcJPEG(rssW, rssH, 3, -1, 0xC0, grey), 6),
		"JPEG gray, orientation 6":        withJPEGExif(dcJPEG(rssW, rssH, 1, -1, 0xC0, grey), 6),
		"JPEG Adobe CMYK, orientation 6":  withJPEGExif(dcJPEG(rssW, rssH, 4, 0, 0xC0, grey), 6),
		"PNG RGBA 8-bit":                  rawPNG(rssW, rssH, 8, 6, zeroRows(4*rssW)),
		"PNG RGBA 16-bit":                 rawPNG(rssW, rssH, 16, 6, zeroRows(8*rssW)),
		"PNG RGBA 16-bit, orientation 6":  rawPNG(rssW, rssH, 16, 6, zeroRows(8*rssW), exif6),
		"WebP lossless":                   webpVP8X(webp, rssW, rssH, 0x14, map[string][]byte{"XMP ": pad}),
		"WebP lossless, orientation 6":    webpVP8X(webp, rssW, rssH, 0x1c, map[string][]byte{"XMP ": pad, "EXIF": exifTIFF(6, binary.LittleEndian)}),
	}
}

// TestPeakRSS measures the peak resident memory of one Decode of the worst
// legal input of each format, each in a fresh process, and prints a table.
// It is a measurement, not a check (RSS depends on the machine and the Go
// runtime), and runs only with ONEFACE_MEASURE_RSS=1:
//
//	ONEFACE_MEASURE_RSS=1 go test -run TestPeakRSS -v ./internal/imageio
func TestPeakRSS(t *testing.T) {
	if p := os.Getenv("IMAGEIO_RSS_CHILD"); p != "" {
		rssChild(p)
		return
	}
	if os.Getenv("ONEFACE_MEASURE_RSS") == "" {
		t.Skip("set ONEFACE_MEASURE_RSS=1 to measure (a minute, ~1 GB)")
	}
	dir := t.TempDir()
	inputs := rssInputs(t)
	var names []string
	for name, data := range inputs {
		p := filepath.Join(dir, strconv.Itoa(len(names)))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	t.Logf("%-34s %10s %10s %12s %8s", "input (8000×5000 = 40 M px)", "file", "result", "peak RSS", "B/px")
	for i, name := range names {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSS$", "-test.count=1")
		cmd.Env = append(os.Environ(), "IMAGEIO_RSS_CHILD="+filepath.Join(dir, strconv.Itoa(i)), "GOMAXPROCS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		var base, peak int64
		var result string
		for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
			if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "RSS" {
				base, _ = strconv.ParseInt(f[1], 10, 64)
				peak, _ = strconv.ParseInt(f[2], 10, 64)
				result = f[3]
			}
		}
		d := peak - base
		t.Logf("%-34s %10d %10s %9d MiB %8.1f", name, len(inputs[name]), result, d>>20, float64(d)/(rssW*rssH))
	}
}

// rssChild decodes one file and prints "RSS <baseline> <peak> <result>" in
// bytes: VmRSS before Decode and VmHWM after, the file already in memory.
func rssChild(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := procStatus("VmRSS")
	img, _, err := Decode(data, Limits{})
	peak := procStatus("VmHWM")
	result := "error"
	if err == nil {
		result = fmt.Sprintf("%T", img)[len("*image."):]
	} else {
		fmt.Println(err)
	}
	fmt.Println("RSS", base, peak, result)
	runtime.KeepAlive(img)
	os.Exit(0)
}

func procStatus(key string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
