package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

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
	e      Entry
	p      *Personal
	detail string         // v2 detail line ("-" for plain entries)
	res    chan appendRes // buffered: the committer never blocks on it
}

type appendRes struct {
	a   Appended
	err error
}

// Append adds an entry, with its optional personal part, and returns only
// once both are durable (written and fsynced). Concurrent appends are
// committed together. If Append returns an error the entry must be
// treated as not recorded: callers that act on a decision (a door that
// opens) must not act. After a failed write, or a witness's refusal, the
// log refuses further appends ([ErrFailed]) until reopened (after a
// refusal, until an operator calls [AcknowledgeWitnessRefusal]).
//
// Entries of kind config and retention-sweep are written by
// [Log.AppendConfig] and [Log.Sweep] only. The personal part is stored
// encrypted under the subject's key of the month, wrapped to the
// controller (see [Options]); without a controller it is only committed.
func (l *Log) Append(ctx context.Context, e Entry, p *Personal) (Appended, error) {
	if e.Kind == KindConfig || e.Kind == KindSweep {
		return Appended{}, malformed("%s entries are written by AppendConfig and Sweep", e.Kind)
	}
	detail := "-"
	if e.Policy != "" {
		detail = "policy=" + e.Policy
	}
	return l.append(ctx, e, p, detail)
}

// AppendConfig records the device's policy at start-up (a [KindConfig]
// entry, reason "startup", no personal part); call it once after [Open],
// before the first verification. The summary's fields become the entry's
// detail line (see the package doc).
func (l *Log) AppendConfig(ctx context.Context, p PolicySummary) (Appended, error) {
	d, err := marshalPolicy(&p)
	if err != nil {
		return Appended{}, err
	}
	return l.append(ctx, Entry{Kind: KindConfig, Purpose: "-", Decision: DecisionNone, Reason: "startup", ModelID: "-", Liveness: orDash(p.Liveness)}, nil, d)
}

func (l *Log) append(ctx context.Context, e Entry, p *Personal, detail string) (Appended, error) {
	e.Liveness, e.Notice = orDash(e.Liveness), orDash(e.Notice)
	if err := e.validate(true); err != nil {
		return Appended{}, err
	}
	if err := checkDetail(detail); err != nil {
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
		err := l.failed
		l.mu.RUnlock()
		return Appended{}, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	l.inflight.Add(1)
	l.mu.RUnlock()
	defer l.inflight.Done()

	r := &appendReq{e: e, p: p, detail: detail, res: make(chan appendRes, 1)}
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
// fsynced, then signs the checkpoint, and only then publishes the new tree
// and checkpoint together and acknowledges.
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
		fail(fmt.Errorf("%w: %w", ErrFailed, failed))
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
		rec := Record{Version: 3, Index: idx, Entry: e, Detail: r.detail, Device: l.origin, Library: "oneface/" + Version}
		it := pendingEntry{req: r}
		if r.p != nil {
			it.personal, _ = marshalPersonal(r.p)
			it.opening = make([]byte, 32)
			rand.Read(it.opening)
			rec.Commitment = commitment(it.opening, it.personal)
			k, err := l.keys.current(r.p.Subject, epochOf(e.Time))
			switch {
			case errors.Is(err, ErrNoController):
				// Committed only: the receipt carries the opening.
			case err != nil:
				fail(fmt.Errorf("audit: subject key: %w", err))
				return
			default:
				persOffsets[idx] = l.personal.size + int64(len(persBuf))
				persBuf = appendFrame(persBuf, sealPersonal(k, idx, append(append([]byte(nil), it.opening...), it.personal...)))
			}
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
	n := n0 + int64(len(items))
	var cp []byte
	entriesWritten := false
	writeErr := func() error {
		if len(persBuf) > 0 {
			if err := l.personal.write(persBuf, true); err != nil {
				return fmt.Errorf("audit: writing personal records: %w", err)
			}
		}
		if err := l.entries.write(entryBuf, true); err != nil {
			return fmt.Errorf("audit: writing entries: %w", err)
		}
		entriesWritten = true
		var err error
		if cp, err = l.signCheckpoint(n, hr, false); err != nil {
			// The entries are durable; the next Open signs their checkpoint.
			return fmt.Errorf("audit: signing checkpoint: %w", err)
		}
		return nil
	}()
	if writeErr != nil {
		// Undo a partial batch so that nothing unacknowledged stays (once
		// the entries are durable, a checkpoint may cover them: they stay,
		// unacknowledged, and Open signs them). Either way the log stops
		// taking appends until reopened (fail closed).
		var terr error
		if !entriesWritten {
			terr = errors.Join(l.entries.truncate(entrySize), l.personal.truncate(persSize))
		}
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
	l.n = n
	for k, v := range persOffsets {
		l.persIdx[k] = v
	}
	l.persSize = l.personal.size
	l.cp = cp
	l.mu.Unlock()
	l.notifyWitnesses()

	for i, it := range items {
		idx := n0 + int64(i)
		var rc []byte
		proof, err := l.ProveInclusion(idx, n)
		if err == nil {
			rc, err = formatReceipt(it.data, it.opening, it.personal, proof, cp)
		}
		it.req.res <- appendRes{a: Appended{Index: idx, Receipt: rc}, err: err}
	}
}
