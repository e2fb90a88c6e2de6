package audit

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/tlog"
)

// SubjectRecord is one entry of a subject, as [Log.Export] returns it.
type SubjectRecord struct {
	Index    int64            `json:"index"`
	Entry    string           `json:"entry"`    // the stored entry text
	Personal string           `json:"personal"` // the canonical personal part
	Opening  []byte           `json:"opening"`  // the commitment's key
	Proof    tlog.RecordProof `json:"proof"`    // inclusion in the export's checkpoint
}

// Export is every record of one subject with proofs, for a subject access
// request (GDPR art. 15). It marshals to JSON.
type Export struct {
	Origin     string          `json:"origin"`
	Checkpoint string          `json:"checkpoint"`
	Records    []SubjectRecord `json:"records"`
}

// Export returns every entry still attributable to the subject, each with
// its personal part, the opening of its commitment and an inclusion proof
// in the current checkpoint. It needs the controller's age identity (the
// device cannot read personal records back): [ErrNoController] when it is
// nil or opens no key file. Key files the identity cannot open (wrapped to
// an earlier controller) are skipped with a warning.
func (l *Log) Export(ctx context.Context, subject [16]byte, controller age.Identity) (*Export, error) {
	keys, unknown, err := l.keys.unwrapAll(controller)
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		l.log.Warn("audit: key files the controller identity does not open", "count", len(unknown))
	}
	return l.export(ctx, subject, keys)
}

func (l *Log) export(ctx context.Context, subject [16]byte, keys map[[16]byte]*subjectKey) (*Export, error) {
	mine := map[[16]byte][]byte{}
	for id, k := range keys {
		if k.subject == subject {
			mine[id] = k.key
		}
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := &Export{Origin: l.origin, Checkpoint: string(l.cp), Records: []SubjectRecord{}}
	if len(mine) == 0 {
		return out, nil
	}
	recs, err := l.personalRecordsLocked()
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		version, idx, id, _ := personalHeader(rec)
		key, ok := mine[id]
		if version != 2 || !ok || idx >= l.n {
			continue
		}
		ridx, opening, personal, ok := openPersonal(key, rec)
		if !ok || ridx != idx {
			return nil, &CorruptError{File: personalFile, Index: idx, Problem: "personal record does not open with its key"}
		}
		p, err := parsePersonal(personal)
		if err != nil || p.Subject != subject {
			return nil, &CorruptError{File: personalFile, Index: idx, Problem: "personal record of another subject under this subject's key"}
		}
		sr, err := l.subjectRecordLocked(idx, opening, personal)
		if err != nil {
			return nil, err
		}
		out.Records = append(out.Records, *sr)
	}
	return out, nil
}

func (l *Log) subjectRecordLocked(idx int64, opening, personal []byte) (*SubjectRecord, error) {
	data, err := l.entryLocked(idx)
	if err != nil {
		return nil, err
	}
	r, err := ParseRecord(data)
	if err != nil {
		return nil, &CorruptError{File: entriesFile, Index: idx, Problem: err.Error()}
	}
	if !hmac.Equal(r.Commitment, commitment(opening, personal)) {
		return nil, &CorruptError{File: personalFile, Index: idx, Problem: "personal record does not open the entry's commitment"}
	}
	proof, err := tlog.ProveRecord(l.n, idx, l.hashReader())
	if err != nil {
		return nil, err
	}
	return &SubjectRecord{Index: idx, Entry: string(data), Personal: string(personal), Opening: opening, Proof: proof}, nil
}

// personalRecordsLocked reads the personal records of published entries
// (l.mu held: the committer only appends past persSize).
func (l *Log) personalRecordsLocked() ([][]byte, error) {
	data := make([]byte, l.persSize)
	if _, err := l.personal.f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	recs, _, _, bad := readFrames(data)
	if bad >= 0 {
		return nil, &CorruptError{File: personalFile, Index: -1, Problem: fmt.Sprintf("bad frame %d", bad)}
	}
	return recs, nil
}

// Receipt re-issues the receipt of entry index in the current checkpoint.
// With the controller's identity it also carries the opening of the
// entry's commitment, when the entry's key still exists.
func (l *Log) Receipt(index int64, controller age.Identity) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	data, err := l.entryLocked(index)
	if err != nil {
		return nil, err
	}
	var opening, personal []byte
	if off, ok := l.persIdx[index]; ok && controller != nil {
		rec, err := readFrameAt(l.personal.f, off)
		if err != nil {
			return nil, err
		}
		if version, idx, id, ok := personalHeader(rec); ok && version == 2 && idx == index {
			files, err := l.keys.list()
			if err != nil {
				return nil, err
			}
			for _, kf := range files {
				if kf.id != id {
					continue
				}
				k, err := l.keys.unwrap(kf, controller)
				if err != nil {
					return nil, fmt.Errorf("%w: %v", ErrNoController, err)
				}
				if i, o, p, ok := openPersonal(k.key, rec); ok && i == index {
					opening, personal = o, p
				}
			}
		}
	}
	proof, err := tlog.ProveRecord(l.n, index, l.hashReader())
	if err != nil {
		return nil, err
	}
	return formatReceipt(data, opening, personal, proof, l.cp)
}

// Erase makes every entry of the subject unattributable by deleting every
// key of the subject — the wrapped key files the controller's identity
// opens and the keys this process holds in memory — (GDPR art. 17,
// consent withdrawal), then records that an erasure happened, without
// saying whose. It returns how many entries were attributable before.
// Checkpoints and receipts keep verifying. Key files the identity cannot
// open are reported as an error after the erasure, since they might be
// the subject's.
func (l *Log) Erase(ctx context.Context, subject [16]byte, reason string, controller age.Identity) (int, error) {
	if err := checkToken("reason", reason); err != nil {
		return 0, err
	}
	keys, unknown, err := l.keys.unwrapAll(controller)
	if err != nil {
		return 0, err
	}
	ex, err := l.export(ctx, subject, keys)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, k := range keys {
		if k.subject == subject {
			names = append(names, keyFileName(k.epoch, k.id))
		}
	}
	if err := l.keys.remove(names, func(k *subjectKey) bool { return k.subject == subject }); err != nil {
		return 0, err
	}
	n := len(ex.Records)
	if _, err := l.Append(ctx, Entry{Kind: KindErase, Purpose: "-", Decision: DecisionNone, Reason: reason, ModelID: "-"}, nil); err != nil {
		return n, fmt.Errorf("audit: keys erased, but the erase entry was not recorded: %w", err)
	}
	if len(unknown) > 0 {
		return n, fmt.Errorf("%w: %d key files (%s) are not wrapped to this identity and may hold the subject's keys", ErrNoController, len(unknown), strings.Join(unknown, ", "))
	}
	return n, nil
}

// Sweep deletes every month of keys older than the retention period
// (entries of month M become unattributable once M ended Retention ago),
// records the sweep as a [KindSweep] entry — every time, even when
// nothing expired — and returns how many key files it deleted. It needs
// no controller: months are in the key files' names.
func (l *Log) Sweep(ctx context.Context) (int, error) {
	files, err := l.keys.list()
	if err != nil {
		return 0, err
	}
	now := l.opt.Clock()
	var names []string
	expired := map[string]bool{}
	for _, kf := range files {
		start, err := time.Parse("2006-01", kf.epoch)
		if err == nil && start.AddDate(0, 1, 0).Add(l.opt.Retention).Before(now) {
			names = append(names, kf.name)
			expired[kf.epoch] = true
		}
	}
	// Keys in memory of expired months go too.
	if err := l.keys.remove(names, func(k *subjectKey) bool {
		start, err := time.Parse("2006-01", k.epoch)
		return err == nil && start.AddDate(0, 1, 0).Add(l.opt.Retention).Before(now)
	}); err != nil {
		return 0, err
	}
	cutoff := epochOf(now.Add(-l.opt.Retention))
	detail := fmt.Sprintf("retention=%ds before=%s keys=%d months=%d", int64(l.opt.Retention/time.Second), cutoff, len(names), len(expired))
	if _, err := l.append(ctx, Entry{Kind: KindSweep, Purpose: "-", Decision: DecisionNone, Reason: "retention", ModelID: "-"}, nil, detail); err != nil {
		return len(names), fmt.Errorf("audit: keys deleted, but the sweep entry was not recorded: %w", err)
	}
	return len(names), nil
}

// migrate converts a version 0.1 directory (plain subject keys in keys/,
// side.secret) to wrapped keys: each old key that opens personal records
// is wrapped to the controller under a new key ID, its records are
// re-sealed as v2 records naming that ID, the personal file is replaced
// atomically, and then the plain keys and side.secret are deleted. A
// crash at any step leaves a directory that migrate finishes on the next
// Open. Records whose key had already been erased stay unreadable.
func (l *Log) migrate() error {
	ents, err := os.ReadDir(l.keys.dir)
	if err != nil {
		return err
	}
	var legacy []string
	for _, e := range ents {
		if isLegacyKeyName(e.Name()) {
			legacy = append(legacy, e.Name())
		}
	}
	_, serr := os.Lstat(filepath.Join(l.dir, legacySideFile))
	if len(legacy) == 0 && errors.Is(serr, os.ErrNotExist) {
		return nil
	}
	if l.keys.controller == nil {
		return fmt.Errorf("%w: the log was written by oneface audit 0.1 and keeps readable subject keys; open it once with Options.Controller to migrate them", ErrNoController)
	}
	data := make([]byte, l.personal.size)
	if _, err := l.personal.f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	recs, _, _, bad := readFrames(data)
	if bad >= 0 {
		return &CorruptError{File: personalFile, Index: -1, Problem: fmt.Sprintf("bad frame %d", bad)}
	}
	migrated := 0
	for _, name := range legacy {
		key, err := readSmallFile(filepath.Join(l.keys.dir, name), 32)
		if err != nil {
			return err
		}
		if len(key) != 32 {
			return &CorruptError{File: filepath.Join(keysDir, name), Index: -1, Problem: "key file not 32 bytes"}
		}
		var nk *subjectKey
		for i, rec := range recs {
			version, _, _, _ := personalHeader(rec)
			if version != 1 {
				continue
			}
			idx, opening, personal, ok := openPersonal(key, rec)
			if !ok {
				continue
			}
			p, err := parsePersonal(personal)
			if err != nil {
				return &CorruptError{File: personalFile, Index: idx, Problem: err.Error()}
			}
			if nk == nil {
				// A new wrapped key holding the same key bytes.
				epoch, _, _ := strings.Cut(name, ".")
				if nk, err = l.keys.wrap(p.Subject, epoch, key); err != nil {
					return err
				}
			}
			if nk.subject != p.Subject {
				return &CorruptError{File: personalFile, Index: idx, Problem: "records of two subjects under one key"}
			}
			recs[i] = sealPersonal(nk, idx, append(append([]byte(nil), opening...), personal...))
			migrated++
		}
	}
	if migrated > 0 {
		var buf []byte
		for _, r := range recs {
			buf = appendFrame(buf, r)
		}
		if err := writeAtomic(l.dir, personalFile, buf); err != nil {
			return err
		}
		// Reopen the replaced file; offsets are unchanged in count but not
		// in size: recompute them.
		l.personal.f.Close()
		ff, data, _, err := openFrameFile(filepath.Join(l.dir, personalFile), personalFile, false)
		if err != nil {
			return err
		}
		l.personal = ff
		l.persIdx = map[int64]int64{}
		ps, _, _, _ := readFrames(data)
		off := int64(0)
		for _, p := range ps {
			_, idx, _, _ := personalHeader(p)
			l.persIdx[idx] = off
			off += int64(len(p)) + 8
		}
		l.persSize = ff.size
	}
	for _, name := range legacy {
		if err := os.Remove(filepath.Join(l.keys.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Remove(filepath.Join(l.dir, legacySideFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := errors.Join(syncDir(l.keys.dir), syncDir(l.dir)); err != nil {
		return err
	}
	l.log.Info("audit: migrated a 0.1 log: subject keys wrapped to the controller", "keys", len(legacy), "records", migrated)
	return nil
}
