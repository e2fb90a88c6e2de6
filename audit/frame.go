package audit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"golang.org/x/mod/sumdb/tlog"
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
// directory without following symbolic links, and reads its valid frames
// (see [readFramePrefix]); ff.size is the file's size on disk. The
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
	st, err := f.Stat()
	if err == nil {
		data, err = readFramePrefix(f, name)
	}
	if err != nil {
		f.Close()
		return nil, nil, false, err
	}
	return &frameFile{f: f, name: name, size: st.Size()}, data, existed, nil
}

// readFramePrefix reads a frame file for [readFrames]: its valid frames
// and, after a bad or torn frame, at most maxTornTail+1 bytes more (which
// readFrames judges as it would the whole rest). Memory is the valid
// frames plus that bound, whatever the file's size: a sparse file of
// gigabytes, or one grown by garbage, costs no more than its real log.
func readFramePrefix(r io.Reader, name string) ([]byte, error) {
	var data []byte
	sc := newFrameScanner(r, name)
	for sc.next() {
		data = appendFrame(data, sc.payload)
	}
	if sc.err != nil {
		return nil, sc.err
	}
	return append(data, sc.rest...), nil
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

// frameScanner reads the frames of a record file one at a time, holding
// one frame (at most maxFrame+8 bytes) plus, when a frame is bad, the
// rest of the file up to maxTornTail bytes to tell a torn tail from
// corruption: memory does not grow with the file. It reports what
// [readFrames] reports for the same bytes.
type frameScanner struct {
	br      *bufio.Reader
	name    string // the file, for errors
	payload []byte // the current frame's payload, valid until next
	count   int    // frames returned so far
	torn    bool   // the file ends in a torn tail
	badAt   int    // index of the first bad frame, or -1
	why     string // what is wrong with it
	rest    []byte // after a bad or torn frame: the bytes from it on (at most maxTornTail+1)
	err     error  // an I/O error, naming the file
}

func newFrameScanner(r io.Reader, name string) *frameScanner {
	return &frameScanner{br: bufio.NewReaderSize(r, maxFrame+8), name: name, badAt: -1}
}

// next advances to the next frame; false at the end, at a bad or torn
// frame (see torn, badAt) or on a read error (err).
func (s *frameScanner) next() bool {
	if s.err != nil || s.torn || s.badAt >= 0 {
		return false
	}
	hdr, err := s.br.Peek(8)
	switch {
	case len(hdr) == 0 && err == io.EOF:
		return false
	case len(hdr) < 8 && err == io.EOF:
		s.torn, s.rest = true, bytes.Clone(hdr)
		return false
	case err != nil:
		s.err = fmt.Errorf("audit: reading %s: %w", s.name, err)
		return false
	}
	n := int(binary.BigEndian.Uint32(hdr))
	if n > maxFrame {
		s.bad(fmt.Sprintf("bad frame: length %d, bound %d bytes", n, maxFrame))
		return false
	}
	fr, err := s.br.Peek(8 + n)
	switch {
	case len(fr) < 8+n && err == io.EOF:
		s.torn, s.rest = true, bytes.Clone(fr)
		return false
	case err != nil:
		s.err = fmt.Errorf("audit: reading %s: %w", s.name, err)
		return false
	}
	if crc32.Update(crc32.Update(0, crcTable, fr[:4]), crcTable, fr[4:4+n]) != binary.BigEndian.Uint32(fr[4+n:]) {
		s.bad("bad frame: checksum mismatch")
		return false
	}
	s.payload = append([]byte(nil), fr[4:4+n]...)
	s.br.Discard(8 + n)
	s.count++
	return true
}

// bad records a bad frame at the current position and reads what
// follows, at most maxTornTail bytes, to tell whether it is a torn tail.
func (s *frameScanner) bad(why string) {
	s.badAt, s.why = s.count, why
	rest, err := io.ReadAll(io.LimitReader(s.br, maxTornTail+1))
	if err != nil {
		s.err = fmt.Errorf("audit: reading %s: %w", s.name, err)
		return
	}
	s.torn, s.rest = isTail(rest, 0), rest
}

// treeFrontier is a Merkle tree (RFC 6962, as [tlog.TreeHash] computes
// it) kept as the hashes of its complete subtrees, largest first: adding
// a record and computing the root cost O(log n) memory and time, so a
// log is verified without holding its hashes.
type treeFrontier struct {
	n      int64
	hashes []tlog.Hash // one per bit set in n, from the highest
}

func (t *treeFrontier) add(record []byte) {
	h := tlog.RecordHash(record)
	for k := t.n; k&1 == 1; k >>= 1 {
		h = tlog.NodeHash(t.hashes[len(t.hashes)-1], h)
		t.hashes = t.hashes[:len(t.hashes)-1]
	}
	t.hashes = append(t.hashes, h)
	t.n++
}

// root is the tree hash of the records added so far.
func (t *treeFrontier) root() tlog.Hash {
	if t.n == 0 {
		h, _ := tlog.TreeHash(0, nil)
		return h
	}
	h := t.hashes[len(t.hashes)-1]
	for i := len(t.hashes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(t.hashes[i], h)
	}
	return h
}
