package audit

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/mod/sumdb/tlog"
)

// Appended is what an acknowledged append returns.
type Appended struct {
	Index int64
	// Receipt for the person: the entry, its inclusion proof, the signed
	// checkpoint that covers it and, when the entry has a personal part,
	// the opening of its commitment. See [CheckReceipt].
	Receipt []byte
}

type appendReq struct {
	e   Entry
	p   *Personal
	res chan appendRes // buffered: the committer never blocks on it
}

type appendRes struct {
	a   Appended
	err error
}

// Append adds an entry, with its optional personal part, and returns only
// once both are durable (written and fsynced). Concurrent appends are
// committed together. If Append returns an error the entry must be
// treated as not recorded: callers that act on a decision (a door that
// opens) must not act. After a failed write the log refuses further
// appends ([ErrFailed]) until reopened.
func (l *Log) Append(ctx context.Context, e Entry, p *Personal) (Appended, error) {
	if err := e.validate(); err != nil {
		return Appended{}, err
	}
	if p != nil {
		if _, err := marshalPersonal(p); err != nil {
			return Appended{}, err
		}
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return Appended{}, ErrClosed
	}
	if l.failed != nil {
		l.mu.RUnlock()
		return Appended{}, fmt.Errorf("%w: %v", ErrFailed, l.failed)
	}
	l.inflight.Add(1)
	l.mu.RUnlock()
	defer l.inflight.Done()

	r := &appendReq{e: e, p: p, res: make(chan appendRes, 1)}
	select {
	case l.reqs <- r:
	case <-ctx.Done():
		return Appended{}, ctx.Err()
	}
	// Once queued, the entry may become durable even if ctx ends: the
	// caller then gets an error and must not act, but the record stays.
	select {
	case res := <-r.res:
		return res.a, res.err
	case <-ctx.Done():
		return Appended{}, ctx.Err()
	}
}

// run is the committer: it takes one request, gathers whatever else is
// queued (group commit), and commits them as one batch.
func (l *Log) run() {
	defer close(l.stopped)
	for {
		var first *appendReq
		select {
		case first = <-l.reqs:
		case <-l.done:
			return
		}
		batch := []*appendReq{first}
		if !l.opt.NoGroupCommit {
		gather:
			for len(batch) < maxBatch {
				select {
				case r := <-l.reqs:
					batch = append(batch, r)
				default:
					break gather
				}
			}
		}
		l.commit(batch)
	}
}

type pendingEntry struct {
	req      *appendReq
	data     []byte
	opening  []byte
	personal []byte
}

// commit writes a batch: personal records first, then entries, each file
// fsynced, then publishes the new tree and checkpoint.
func (l *Log) commit(batch []*appendReq) {
	fail := func(err error) {
		for _, r := range batch {
			r.res <- appendRes{err: err}
		}
	}
	l.mu.RLock()
	failed := l.failed
	n0 := l.n
	published := l.hashes
	l.mu.RUnlock()
	if failed != nil {
		fail(fmt.Errorf("%w: %v", ErrFailed, failed))
		return
	}
	var pending []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return pick(published, pending, idx) })

	var entryBuf, persBuf []byte
	items := make([]pendingEntry, 0, len(batch))
	persOffsets := map[int64]int64{}
	now := l.opt.Clock()
	for i, r := range batch {
		idx := n0 + int64(i)
		e := r.e
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = e.Time.UTC().Truncate(time.Second)
		rec := Record{Index: idx, Entry: e, Device: l.origin, Library: "oneface/" + Version}
		it := pendingEntry{req: r}
		if r.p != nil {
			key, err := l.side.key(r.p.Subject, epochOf(e.Time), true)
			if err != nil {
				fail(fmt.Errorf("audit: subject key: %w", err))
				return
			}
			it.personal, _ = marshalPersonal(r.p)
			it.opening = make([]byte, 32)
			rand.Read(it.opening)
			rec.Commitment = commitment(it.opening, it.personal)
			persOffsets[idx] = l.personal.size + int64(len(persBuf))
			persBuf = appendFrame(persBuf, sealPersonal(key, idx, append(append([]byte(nil), it.opening...), it.personal...)))
		}
		prev, err := tlog.TreeHash(idx, hr)
		if err != nil {
			fail(err)
			return
		}
		rec.Prev = prev
		data, err := rec.marshal()
		if err != nil {
			fail(err)
			return
		}
		hs, err := tlog.StoredHashes(idx, data, hr)
		if err != nil {
			fail(err)
			return
		}
		pending = append(pending, hs...)
		it.data = data
		entryBuf = appendFrame(entryBuf, data)
		items = append(items, it)
	}

	persSize, entrySize := l.personal.size, l.entries.size
	writeErr := func() error {
		if len(persBuf) > 0 {
			if err := l.personal.write(persBuf, true); err != nil {
				return fmt.Errorf("audit: writing personal records: %w", err)
			}
		}
		if err := l.entries.write(entryBuf, true); err != nil {
			return fmt.Errorf("audit: writing entries: %w", err)
		}
		return nil
	}()
	if writeErr != nil {
		// Undo the partial batch so that nothing unacknowledged stays; if
		// even that fails, the log stops taking appends (fail closed).
		terr := errors.Join(l.entries.truncate(entrySize), l.personal.truncate(persSize))
		l.log.Error("audit: write failed", "err", writeErr, "undo_err", terr)
		l.mu.Lock()
		l.failed = errors.Join(writeErr, terr)
		l.mu.Unlock()
		fail(writeErr)
		return
	}

	l.mu.Lock()
	off := entrySize
	for _, it := range items {
		l.offsets = append(l.offsets, off)
		off += int64(len(it.data)) + 8
	}
	l.hashes = append(l.hashes, pending...)
	l.n = n0 + int64(len(items))
	for k, v := range persOffsets {
		l.persIdx[k] = v
	}
	l.mu.Unlock()

	if err := l.signCheckpoint(l.n, l.hashReader()); err != nil {
		// The entries are durable; only the checkpoint is missing, and it
		// is re-signed on the next batch or open. Still, report it.
		l.log.Error("audit: signing checkpoint", "err", err)
		fail(err)
		return
	}
	cp := l.Checkpoint()
	for i, it := range items {
		idx := n0 + int64(i)
		var rc []byte
		proof, err := l.ProveInclusion(idx, n0+int64(len(items)))
		if err == nil {
			rc, err = formatReceipt(it.data, it.opening, it.personal, proof, cp)
		}
		it.req.res <- appendRes{a: Appended{Index: idx, Receipt: rc}, err: err}
	}
}

var personalAD = []byte("oneface audit personal v1")

// sealPersonal encrypts opening||personal under the subject key, bound to
// the entry index: index (8) | nonce (24) | XChaCha20-Poly1305 ciphertext.
func sealPersonal(key []byte, idx int64, plain []byte) []byte {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic(err) // 32-byte keys only
	}
	out := binary.BigEndian.AppendUint64(nil, uint64(idx))
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	rand.Read(nonce)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, binary.BigEndian.AppendUint64(append([]byte(nil), personalAD...), uint64(idx)))
}

// openPersonal reverses sealPersonal; ok is false when the key does not
// fit (another subject's record).
func openPersonal(key, rec []byte) (idx int64, opening, personal []byte, ok bool) {
	if len(rec) < 8+chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return 0, nil, nil, false
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return 0, nil, nil, false
	}
	idx = int64(binary.BigEndian.Uint64(rec))
	nonce := rec[8 : 8+chacha20poly1305.NonceSizeX]
	plain, err := aead.Open(nil, nonce, rec[8+chacha20poly1305.NonceSizeX:], binary.BigEndian.AppendUint64(append([]byte(nil), personalAD...), uint64(idx)))
	if err != nil || len(plain) < 32 {
		return 0, nil, nil, false
	}
	return idx, plain[:32], plain[32:], true
}
