package audit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Record files (entries, personal, checkpoints) are sequences of frames:
//
//	length (4 bytes, big-endian) | payload | CRC-32C of length and payload (4 bytes)
//
// A crash can leave the last frame incomplete (a torn tail): recovery
// truncates it. A bad frame followed by more data is corruption, never
// repaired silently.

const maxFrame = 4096

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt means a log file is damaged or altered. *[CorruptError]
// matches it and says where.
var ErrCorrupt = errors.New("audit: log corrupt or tampered")

// CorruptError locates a problem: the first bad entry index (-1 when the
// problem is not an entry) and what is wrong.
type CorruptError struct {
	File    string
	Index   int64
	Problem string
	kind    error // ErrRollback, ErrFork or nil
}

func (e *CorruptError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("audit: %s: %s", e.File, e.Problem)
	}
	return fmt.Sprintf("audit: %s: entry %d: %s", e.File, e.Index, e.Problem)
}

// Is matches [ErrCorrupt], and [ErrRollback] or [ErrFork] when the
// problem is one.
func (e *CorruptError) Is(target error) bool {
	return target == ErrCorrupt || e.kind != nil && target == e.kind
}

func appendFrame(dst, payload []byte) []byte {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(payload)))
	crc := crc32.Update(crc32.Update(0, crcTable, hdr[:]), crcTable, payload)
	dst = append(dst, hdr[:]...)
	dst = append(dst, payload...)
	return binary.BigEndian.AppendUint32(dst, crc)
}

// readFrames splits data into frame payloads. It returns the payloads,
// the length of the valid prefix, and whether what follows it is a torn
// tail (an incomplete or bad last frame with nothing valid after it). A
// bad frame that is not the tail is reported with its position.
func readFrames(data []byte) (payloads [][]byte, valid int, torn bool, badAt int) {
	off := 0
	for off < len(data) {
		if len(data)-off < 8 {
			return payloads, off, true, -1
		}
		n := int(binary.BigEndian.Uint32(data[off:]))
		if n > maxFrame {
			return payloads, off, isTail(data, off), len(payloads)
		}
		if off+8+n > len(data) {
			return payloads, off, true, -1
		}
		body := data[off+4 : off+4+n]
		want := binary.BigEndian.Uint32(data[off+4+n:])
		if crc32.Update(crc32.Update(0, crcTable, data[off:off+4]), crcTable, body) != want {
			return payloads, off, isTail(data, off), len(payloads)
		}
		payloads = append(payloads, body)
		off += 8 + n
	}
	return payloads, off, false, -1
}

// maxTornTail bounds what a crash can leave half-written: one commit
// batch (at most maxBatch frames).
const maxTornTail = (maxBatch + 1) * (maxFrame + 8)

// isTail reports whether the bytes from a bad frame at off to the end are
// the remains of an interrupted write: short enough to be one batch, and
// no valid frame starts anywhere in them.
func isTail(data []byte, off int) bool {
	if len(data)-off > maxTornTail {
		return false
	}
	for p := off + 1; p+8 <= len(data); p++ {
		n := int(binary.BigEndian.Uint32(data[p:]))
		if n <= maxFrame && p+8+n <= len(data) &&
			crc32.Update(crc32.Update(0, crcTable, data[p:p+4]), crcTable, data[p+4:p+4+n]) == binary.BigEndian.Uint32(data[p+4+n:]) {
			return false
		}
	}
	return true
}

// frameFile is an append-only file of frames.
type frameFile struct {
	f    *os.File
	name string
	size int64
}

// openFrameFile opens (creating if asked) a frame file of the log
// directory without following symbolic links, and reads it whole. The
// caller decides what may be cut off (see [frameFile.truncate]): only what
// no signed checkpoint covers.
func openFrameFile(path, name string, create bool) (ff *frameFile, data []byte, existed bool, err error) {
	flag := os.O_RDWR
	if _, err := os.Lstat(path); err == nil {
		existed = true
	} else if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, nil, false, err
	} else {
		flag |= os.O_CREATE | os.O_EXCL
	}
	f, err := openNoFollow(path, flag, 0o600)
	if err != nil {
		return nil, nil, false, err
	}
	if data, err = io.ReadAll(f); err != nil {
		f.Close()
		return nil, nil, false, err
	}
	return &frameFile{f: f, name: name, size: int64(len(data))}, data, existed, nil
}

// write appends frames; sync makes them durable.
func (ff *frameFile) write(buf []byte, sync bool) error {
	if _, err := ff.f.Write(buf); err != nil {
		return err
	}
	ff.size += int64(len(buf))
	if sync {
		return ff.f.Sync()
	}
	return nil
}

// truncate cuts the file back to n bytes (used to drop a batch whose
// write failed half-way, so later batches do not follow garbage).
func (ff *frameFile) truncate(n int64) error {
	if err := ff.f.Truncate(n); err != nil {
		return err
	}
	if _, err := ff.f.Seek(n, io.SeekStart); err != nil {
		return err
	}
	ff.size = n
	return ff.f.Sync()
}

// readFrameAt reads the payload of the frame at off (checked when the file
// was opened or written by this process).
func readFrameAt(f *os.File, off int64) ([]byte, error) {
	var hdr [4]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, &CorruptError{File: f.Name(), Index: -1, Problem: "frame length changed on disk"}
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off+4); err != nil {
		return nil, err
	}
	return buf, nil
}
