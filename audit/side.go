package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// The side store holds one 32-byte key per subject and calendar month
// (UTC), in keys/<YYYY-MM>.<handle>, where handle is the first 16 bytes of
// HMAC-SHA256(side secret, subject pseudonym || month). Personal records
// are encrypted under the key of their entry's month. Deleting a key file
// crypto-shreds every personal record under it: erasure deletes all of a
// subject's files, retention deletes whole months.
//
// The side secret (side.secret) keeps file names from being linked to a
// pseudonym by someone who only has the disk. Deleted files may survive in
// the storage medium's free blocks: put the log on an encrypted file
// system.
type sideStore struct {
	dir    string
	secret []byte
	mu     sync.Mutex
	cache  map[string][]byte
}

func openSide(logDir string) (*sideStore, error) {
	path := filepath.Join(logDir, sideSecretFile)
	secret, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret = make([]byte, 32)
		rand.Read(secret)
		if err := writeDurable(path, secret); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if len(secret) != 32 {
		return nil, &CorruptError{File: sideSecretFile, Index: -1, Problem: "not 32 bytes"}
	}
	return &sideStore{dir: filepath.Join(logDir, keysDir), secret: secret, cache: map[string][]byte{}}, nil
}

func epochOf(t time.Time) string { return t.UTC().Format("2006-01") }

func (s *sideStore) fileName(subject [16]byte, epoch string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write(subject[:])
	io.WriteString(m, epoch)
	return epoch + "." + hex.EncodeToString(m.Sum(nil)[:16])
}

// key returns the subject's key for a month, creating it durably if asked.
func (s *sideStore) key(subject [16]byte, epoch string, create bool) ([]byte, error) {
	name := s.fileName(subject, epoch)
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.cache[name]; ok {
		return k, nil
	}
	k, err := os.ReadFile(filepath.Join(s.dir, name))
	switch {
	case err == nil && len(k) == 32:
		s.cache[name] = k
		return k, nil
	case err == nil:
		return nil, &CorruptError{File: filepath.Join(keysDir, name), Index: -1, Problem: "key file not 32 bytes"}
	case !errors.Is(err, os.ErrNotExist) || !create:
		return nil, err
	}
	k = make([]byte, 32)
	rand.Read(k)
	if err := writeDurable(filepath.Join(s.dir, name), k); err != nil {
		return nil, err
	}
	s.cache[name] = k
	return k, nil
}

// epochs lists the months that have key files.
func (s *sideStore) epochs() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range ents {
		if ep, _, ok := strings.Cut(e.Name(), "."); ok && !seen[ep] {
			seen[ep] = true
			out = append(out, ep)
		}
	}
	sort.Strings(out)
	return out, nil
}

// subjectKeys returns the subject's existing keys.
func (s *sideStore) subjectKeys(subject [16]byte) ([][]byte, error) {
	eps, err := s.epochs()
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for _, ep := range eps {
		k, err := s.key(subject, ep, false)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// remove deletes key files (and forgets them) durably.
func (s *sideStore) remove(names []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range names {
		if k, ok := s.cache[name]; ok {
			clear(k)
			delete(s.cache, name)
		}
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncDir(s.dir)
}

// writeDurable creates a file with its content and makes both the file
// and its directory entry durable.
func writeDurable(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

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
// in the current checkpoint.
func (l *Log) Export(ctx context.Context, subject [16]byte) (*Export, error) {
	keys, err := l.side.subjectKeys(subject)
	if err != nil {
		return nil, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := &Export{Origin: l.origin, Checkpoint: string(l.cp), Records: []SubjectRecord{}}
	if len(keys) == 0 {
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
		for _, k := range keys {
			idx, opening, personal, ok := openPersonal(k, rec)
			if !ok {
				continue
			}
			p, err := parsePersonal(personal)
			if err != nil || p.Subject != subject {
				continue // another subject's record under a colliding key: impossible, but never misattribute
			}
			sr, err := l.subjectRecordLocked(idx, opening, personal)
			if err != nil {
				return nil, err
			}
			out.Records = append(out.Records, *sr)
			break
		}
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

func (l *Log) personalRecordsLocked() ([][]byte, error) {
	data := make([]byte, l.personal.size)
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
// With a subject, it also carries the opening of the entry's commitment
// when that subject's key still exists.
func (l *Log) Receipt(index int64, subject *[16]byte) ([]byte, error) {
	var keys [][]byte
	if subject != nil {
		var err error
		if keys, err = l.side.subjectKeys(*subject); err != nil {
			return nil, err
		}
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	data, err := l.entryLocked(index)
	if err != nil {
		return nil, err
	}
	var opening, personal []byte
	if off, ok := l.persIdx[index]; ok && len(keys) > 0 {
		rec, err := readFrameAt(l.personal.f, off)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if idx, o, p, ok := openPersonal(k, rec); ok && idx == index {
				opening, personal = o, p
			}
		}
	}
	proof, err := tlog.ProveRecord(l.n, index, l.hashReader())
	if err != nil {
		return nil, err
	}
	return formatReceipt(data, opening, personal, proof, l.cp)
}

// Erase makes every entry of the subject unattributable by destroying the
// subject's keys (GDPR art. 17, consent withdrawal), then records that an
// erasure happened — without saying whose. It returns how many entries
// were attributable before. Checkpoints and receipts keep verifying.
func (l *Log) Erase(ctx context.Context, subject [16]byte, reason string) (int, error) {
	if err := checkToken("reason", reason); err != nil {
		return 0, err
	}
	ex, err := l.Export(ctx, subject)
	if err != nil {
		return 0, err
	}
	eps, err := l.side.epochs()
	if err != nil {
		return 0, err
	}
	var names []string
	for _, ep := range eps {
		names = append(names, l.side.fileName(subject, ep))
	}
	if err := l.side.remove(names); err != nil {
		return 0, err
	}
	if _, err := l.Append(ctx, Entry{Kind: KindErase, Purpose: "-", Decision: DecisionNone, Reason: reason, ModelID: "-"}, nil); err != nil {
		return len(ex.Records), fmt.Errorf("audit: keys erased, but the erase entry was not recorded: %w", err)
	}
	return len(ex.Records), nil
}

// Sweep erases every month of keys older than the retention period
// (entries of month M become unattributable once M ended Retention ago),
// records the sweep, and returns how many key files it deleted.
func (l *Log) Sweep(ctx context.Context) (int, error) {
	eps, err := l.side.epochs()
	if err != nil {
		return 0, err
	}
	now := l.opt.Clock()
	var expired []string
	for _, ep := range eps {
		start, err := time.Parse("2006-01", ep)
		if err != nil {
			continue
		}
		if start.AddDate(0, 1, 0).Add(l.opt.Retention).Before(now) {
			expired = append(expired, ep)
		}
	}
	if len(expired) == 0 {
		return 0, nil
	}
	ents, err := os.ReadDir(l.side.dir)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, e := range ents {
		for _, ep := range expired {
			if strings.HasPrefix(e.Name(), ep+".") {
				names = append(names, e.Name())
			}
		}
	}
	if err := l.side.remove(names); err != nil {
		return 0, err
	}
	if _, err := l.Append(ctx, Entry{Kind: KindErase, Purpose: "-", Decision: DecisionNone, Reason: "retention", ModelID: "-"}, nil); err != nil {
		return len(names), fmt.Errorf("audit: keys erased, but the erase entry was not recorded: %w", err)
	}
	return len(names), nil
}
