package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// MaxFileSize bounds the state file, in bytes: [Open] refuses a larger
// file as [ErrCorrupt], and a transaction that would grow the file past
// it fails. 1 GiB holds millions of revocations (each about 60 bytes with
// bbolt's overhead); consent nonces and attempts expire.
const MaxFileSize = 1 << 30

// Bounds of the page check. A page of the state's tree never needs more
// than one 64 KiB page (values are at most about 1 KiB); the freelist
// needs 8 bytes per free page. The tree is a root bucket holding five
// buckets, each a B+tree a few levels deep.
const (
	maxTreeSpan = 1 << 16
	maxDepth    = 16
	// Per record: keys are bucket names, meta and limits keys, or
	// 16-byte reference keys and nonces; the largest value is an
	// attempts list (MaxAttempts × 16 bytes and its tag). A bucket's
	// value (its header and, inline, its page) is bounded by the page.
	maxKeySize   = 32
	maxValueSize = MaxAttempts*16 + tagSize
)

// bbolt's on-disk layout (internal/common: page.go, meta.go, bucket.go),
// native byte order. A page starts with a 16-byte header: id 8, flags 2,
// count 2, overflow 4; branch elements are pos 4, ksize 4, pgid 8; leaf
// elements flags 4, pos 4, ksize 4, vsize 4 (pos counts from the
// element); a bucket's value starts with its root page id 8 and sequence
// 8, and an inline bucket (root 0) carries its one leaf page after them.
const (
	pageHdr        = 16
	elemSize       = 16
	branchFlag     = 0x01
	leafFlag       = 0x02
	freelistFlag   = 0x10
	bucketLeaf     = 0x01
	bucketHdr      = 16
	pgidNoFreelist = ^uint64(0)
)

// checkFile checks the file's structure before bbolt maps it. bbolt
// trusts its pages: a length or count flipped on disk makes it read past
// a page (a fault), loop through a cycle of pages, or allocate what the
// damaged field says (a 512 MiB value size, a freelist count of 2^60),
// and running out of memory kills the process, which no recover can
// catch. So this reads the pages itself, with every size bounded before
// anything is allocated, and demands what bbolt's own consistency check
// (Tx.Check) demands, on the bytes rather than through bbolt: both meta
// pages intact (magic, version 2, FNV-64a checksum, as Meta.Validate)
// and agreeing on the page size; the file no larger than [MaxFileSize]
// and holding every page the metas count; every page of the tree and
// the freelist inside the file, of the right type, with its elements,
// keys and values inside it, keys strictly ascending and within the
// range the parent branch gives, reached once, at most maxDepth deep;
// and every page either a meta page, reached from the newest meta's root
// or its freelist, or listed free, exactly once.
//
// bbolt alone would also fall back to the other meta page when one is
// bad, silently rolling back the last committed transaction — possibly
// an acknowledged decision; a kill -9 cannot tear a meta page (the
// kernel finishes the write), so a bad one means damage, or a torn write
// after power loss, and either is reported.
func checkFile(path string, size int64) error {
	if size > MaxFileSize {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrCorrupt, size, MaxFileSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// Meta: magic 4, version 4, pageSize 4, flags 4, root 16, freelist 8,
	// pgid 8, txid 8, checksum 8 (over the 56 before).
	const metaLen = 64
	buf := make([]byte, 2*65536)
	n, _ := io.ReadFull(f, buf)
	buf = buf[:n]
	type meta struct {
		ps                    uint32
		root, free, hwm, txid uint64
	}
	read := func(off int) (m meta, err error) {
		if off+pageHdr+metaLen > len(buf) {
			return m, fmt.Errorf("%w: meta page at %d missing", ErrCorrupt, off)
		}
		b := buf[off+pageHdr : off+pageHdr+metaLen]
		h := fnv.New64a()
		h.Write(b[:56])
		switch {
		case binary.NativeEndian.Uint32(b[0:]) != 0xED0CDAED:
			return m, fmt.Errorf("%w: meta page at %d: bad magic", ErrCorrupt, off)
		case binary.NativeEndian.Uint32(b[4:]) != 2:
			return m, fmt.Errorf("%w: meta page at %d: bbolt format %d", ErrCorrupt, off, binary.NativeEndian.Uint32(b[4:]))
		case binary.NativeEndian.Uint64(b[56:]) != h.Sum64():
			return m, fmt.Errorf("%w: meta page at %d: checksum", ErrCorrupt, off)
		}
		return meta{
			ps:   binary.NativeEndian.Uint32(b[8:]),
			root: binary.NativeEndian.Uint64(b[16:]),
			free: binary.NativeEndian.Uint64(b[32:]),
			hwm:  binary.NativeEndian.Uint64(b[40:]),
			txid: binary.NativeEndian.Uint64(b[48:]),
		}, nil
	}
	m0, err := read(0)
	if err != nil {
		return err
	}
	ps := m0.ps
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return fmt.Errorf("%w: page size %d", ErrCorrupt, ps)
	}
	m1, err := read(int(ps))
	if err != nil {
		return err
	}
	if m1.ps != ps || uint64(size)/uint64(ps) < max(m0.hwm, m1.hwm) {
		return fmt.Errorf("%w: %d bytes, meta pages count %d pages of %d", ErrCorrupt, size, max(m0.hwm, m1.hwm), ps)
	}
	m := m0 // bbolt uses the meta with the higher transaction ID
	if m1.txid > m0.txid {
		m = m1
	}
	c := &pageCheck{f: f, ps: uint64(ps), hwm: m.hwm, seen: make([]uint64, (m.hwm+63)/64)}
	if m.hwm < 4 {
		return fmt.Errorf("%w: %d pages", ErrCorrupt, m.hwm)
	}
	c.mark(0)
	c.mark(1)
	if err := c.freelist(m.free); err != nil {
		return err
	}
	if err := c.tree(m.root, nil, nil, 0); err != nil {
		return err
	}
	for id := range m.hwm {
		if !c.marked(id) {
			return fmt.Errorf("%w: page %d neither reached nor free", ErrCorrupt, id)
		}
	}
	return nil
}

// pageCheck walks a bbolt file's pages; seen is a bitmap of the pages
// accounted for (hwm bits: at most MaxFileSize/512/8 = 256 KiB).
type pageCheck struct {
	f       *os.File
	ps, hwm uint64
	seen    []uint64
}

func (c *pageCheck) marked(id uint64) bool { return c.seen[id/64]&(1<<(id%64)) != 0 }
func (c *pageCheck) mark(id uint64)        { c.seen[id/64] |= 1 << (id % 64) }

// page reads page id and its overflow pages, at most limit bytes, and
// marks them; a page outside the file, of another type, or already
// accounted for is ErrCorrupt.
func (c *pageCheck) page(id uint64, flags uint16, limit uint64) ([]byte, error) {
	if id < 2 || id >= c.hwm {
		return nil, fmt.Errorf("%w: page %d outside the file's %d pages", ErrCorrupt, id, c.hwm)
	}
	var hdr [pageHdr]byte
	if _, err := c.f.ReadAt(hdr[:], int64(id*c.ps)); err != nil {
		return nil, fmt.Errorf("%w: page %d: %v", ErrCorrupt, id, err)
	}
	over := uint64(binary.NativeEndian.Uint32(hdr[12:]))
	switch {
	case binary.NativeEndian.Uint64(hdr[0:]) != id:
		return nil, fmt.Errorf("%w: page %d says it is page %d", ErrCorrupt, id, binary.NativeEndian.Uint64(hdr[0:]))
	case binary.NativeEndian.Uint16(hdr[8:])&flags == 0:
		return nil, fmt.Errorf("%w: page %d has flags %#x, want %#x", ErrCorrupt, id, binary.NativeEndian.Uint16(hdr[8:]), flags)
	case over >= c.hwm-id || (over+1)*c.ps > limit:
		return nil, fmt.Errorf("%w: page %d overflows by %d pages", ErrCorrupt, id, over)
	}
	for p := id; p <= id+over; p++ {
		if c.marked(p) {
			return nil, fmt.Errorf("%w: page %d reached twice", ErrCorrupt, p)
		}
		c.mark(p)
	}
	b := make([]byte, (over+1)*c.ps)
	if _, err := c.f.ReadAt(b, int64(id*c.ps)); err != nil {
		return nil, fmt.Errorf("%w: page %d: %v", ErrCorrupt, id, err)
	}
	return b, nil
}

// freelist checks the freelist page and marks the pages it lists.
func (c *pageCheck) freelist(id uint64) error {
	if id == pgidNoFreelist {
		return fmt.Errorf("%w: no freelist", ErrCorrupt)
	}
	b, err := c.page(id, freelistFlag, pageHdr+8*(c.hwm+1)+c.ps)
	if err != nil {
		return err
	}
	if binary.NativeEndian.Uint16(b[8:]) != freelistFlag {
		return fmt.Errorf("%w: page %d is no freelist", ErrCorrupt, id)
	}
	ids := b[pageHdr:]
	count := uint64(binary.NativeEndian.Uint16(b[10:]))
	if count == 0xFFFF { // the count is the first element
		count = binary.NativeEndian.Uint64(ids)
		ids = ids[8:]
	}
	if count > uint64(len(ids))/8 {
		return fmt.Errorf("%w: freelist of %d pages in %d bytes", ErrCorrupt, count, len(ids))
	}
	prev := uint64(1)
	for i := range count {
		p := binary.NativeEndian.Uint64(ids[8*i:])
		if p <= prev || p >= c.hwm || c.marked(p) {
			return fmt.Errorf("%w: freelist lists page %d", ErrCorrupt, p)
		}
		c.mark(p)
		prev = p
	}
	return nil
}

// tree checks the B+tree at page id, whose keys must fall in [lo, hi)
// (nil: unbounded).
func (c *pageCheck) tree(id uint64, lo, hi []byte, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: tree deeper than %d", ErrCorrupt, maxDepth)
	}
	b, err := c.page(id, branchFlag|leafFlag, maxTreeSpan)
	if err != nil {
		return err
	}
	return c.node(b, lo, hi, depth)
}

// node checks one branch or leaf page's bytes (a page read by tree, or
// an inline bucket's page).
func (c *pageCheck) node(b []byte, lo, hi []byte, depth int) error {
	if len(b) < pageHdr {
		return fmt.Errorf("%w: page of %d bytes", ErrCorrupt, len(b))
	}
	flags := binary.NativeEndian.Uint16(b[8:])
	count := int(binary.NativeEndian.Uint16(b[10:]))
	if flags != branchFlag && flags != leafFlag || pageHdr+count*elemSize > len(b) {
		return fmt.Errorf("%w: node with flags %#x, %d elements in %d bytes", ErrCorrupt, flags, count, len(b))
	}
	if flags == branchFlag && count == 0 {
		return fmt.Errorf("%w: empty branch page", ErrCorrupt)
	}
	// field returns n bytes at off+pos within the page.
	field := func(off int, pos, n uint32) ([]byte, error) {
		start := uint64(off) + uint64(pos)
		if start+uint64(n) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: element past its page", ErrCorrupt)
		}
		return b[start : start+uint64(n)], nil
	}
	prev := lo
	// bbolt writes a page's keys and values right after its elements, in
	// their order, and zeroes the rest: a gap or a tail means an element
	// was lost (a count one lower still leaves a well-formed page).
	data := pageHdr + count*elemSize
	next := func(off int, pos, n uint32) error {
		if uint64(off)+uint64(pos) != uint64(data) {
			return fmt.Errorf("%w: element data not where bbolt puts it", ErrCorrupt)
		}
		data += int(n)
		return nil
	}
	for i := range count {
		off := pageHdr + i*elemSize
		e := b[off : off+elemSize]
		if flags == branchFlag {
			if binary.NativeEndian.Uint32(e[4:]) > maxKeySize {
				return fmt.Errorf("%w: branch key of %d bytes", ErrCorrupt, binary.NativeEndian.Uint32(e[4:]))
			}
			k, err := field(off, binary.NativeEndian.Uint32(e[0:]), binary.NativeEndian.Uint32(e[4:]))
			if err != nil {
				return err
			}
			if err := next(off, binary.NativeEndian.Uint32(e[0:]), uint32(len(k))); err != nil {
				return err
			}
			if err := order(prev, k, hi, i == 0); err != nil {
				return err
			}
			var next []byte = hi
			if i+1 < count {
				ne := b[off+elemSize : off+2*elemSize]
				if next, err = field(off+elemSize, binary.NativeEndian.Uint32(ne[0:]), binary.NativeEndian.Uint32(ne[4:])); err != nil {
					return err
				}
			}
			lower := k
			if i == 0 {
				lower = lo
			}
			if err := c.tree(binary.NativeEndian.Uint64(e[8:]), lower, next, depth+1); err != nil {
				return err
			}
			prev = k
			continue
		}
		ef, ks, vs := binary.NativeEndian.Uint32(e[0:]), binary.NativeEndian.Uint32(e[8:]), binary.NativeEndian.Uint32(e[12:])
		if ks == 0 || ks > maxKeySize || ef == 0 && vs > maxValueSize || uint64(ks)+uint64(vs) > uint64(len(b)) {
			return fmt.Errorf("%w: key of %d bytes, value of %d", ErrCorrupt, ks, vs)
		}
		kv, err := field(off, binary.NativeEndian.Uint32(e[4:]), ks+vs)
		if err != nil {
			return err
		}
		if err := next(off, binary.NativeEndian.Uint32(e[4:]), ks+vs); err != nil {
			return err
		}
		k, v := kv[:ks], kv[ks:]
		if err := order(prev, k, hi, i == 0); err != nil {
			return err
		}
		prev = k
		switch ef {
		case 0:
		case bucketLeaf:
			if len(v) < bucketHdr {
				return fmt.Errorf("%w: bucket value of %d bytes", ErrCorrupt, len(v))
			}
			if root := binary.NativeEndian.Uint64(v); root != 0 {
				err = c.tree(root, nil, nil, depth+1)
			} else if len(v) < bucketHdr+pageHdr || binary.NativeEndian.Uint16(v[bucketHdr+8:]) != leafFlag {
				err = fmt.Errorf("%w: inline bucket", ErrCorrupt)
			} else {
				err = c.node(v[bucketHdr:], nil, nil, depth+1)
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: leaf element flags %#x", ErrCorrupt, ef)
		}
	}
	if data > len(b) || bytes.ContainsFunc(b[data:], func(r rune) bool { return r != 0 }) {
		return fmt.Errorf("%w: bytes after a page's last element", ErrCorrupt)
	}
	return nil
}

// order checks prev < k < hi, or prev ≤ k for a page's first key, which
// equals its parent's key for the page.
func order(prev, k, hi []byte, first bool) error {
	c := bytes.Compare(prev, k)
	if prev != nil && (c > 0 || c == 0 && !first) || hi != nil && bytes.Compare(k, hi) >= 0 {
		return fmt.Errorf("%w: keys out of order", ErrCorrupt)
	}
	return nil
}
