package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/oneface/oneface/internal/safefile"
)

// Report is the outcome of [VerifyDir] and [VerifyLog].
type Report struct {
	Entries        int64     // valid entries in the log
	CheckpointSize int64     // entries the largest counted checkpoint the auditor gave covers (or the log's own, when none was given)
	Root           tlog.Hash // root hash at CheckpointSize
	TornTail       bool      // an incomplete write after the last entry (a crash), ignored
	Checkpoints    int       // checkpoints that counted, all consistent with the log
	Ignored        int       // checkpoints that did not count: fewer cosignatures than MinCosignatures
}

// VerifyOptions say which checkpoints [VerifyLog] holds the log to.
type VerifyOptions struct {
	// Checkpoints are checkpoints (or receipts, whose checkpoint is used
	// after the receipt itself is checked) the auditor holds, in any text
	// form that normalises to the signed one (see [CheckReceipt]).
	Checkpoints [][]byte
	// EvidenceDir is a directory of such files, one checkpoint or receipt
	// per file: collected from witnesses, people or earlier audits. The
	// log directory's own checkpoints file and witnessed/ folder are
	// always read too.
	EvidenceDir string
	// WitnessKeys verify witness cosignatures (signed-note verifiers, e.g.
	// for C2SP cosignature/v1 keys).
	WitnessKeys []note.Verifier
	// MinCosignatures is how many valid cosignatures by distinct
	// WitnessKeys a checkpoint needs to count (0: the log's signature
	// suffices). Checkpoints with fewer are counted in Report.Ignored.
	MinCosignatures int
	// Progress, when set, is called from VerifyLog's goroutine as the
	// entries file is read: done is the bytes read so far, total the
	// file's size when it was opened (both in bytes; done reaches total
	// when the whole file was read, and may pass it if the file grows).
	// It is for a progress display on large logs (about 320 bytes per
	// entry: 32 MB for 100,000) and must not block.
	Progress func(done, total int64)
}

// maxEvidenceFiles bounds EvidenceDir.
const maxEvidenceFiles = 100_000

// VerifyDir verifies a copied log directory against a checkpoint the
// auditor trusts (kept from earlier, or received with a receipt) and the
// log's public key: [VerifyLog] with that one checkpoint.
func VerifyDir(dir string, checkpoint []byte, logKey string) (*Report, error) {
	return VerifyLog(dir, logKey, VerifyOptions{Checkpoints: [][]byte{checkpoint}})
}

// VerifyLog verifies a copied log directory offline with the log's public
// key against every checkpoint it is given (see [VerifyOptions]),
// recomputing everything from the entries file: framing and checksums,
// each entry's format, its index and the root of the tree before it, and
// every checkpoint's root. It reports, in this order:
//   - a fork: two counted checkpoints of one size with different roots
//     (an error matching [ErrFork] naming both);
//   - the first bad entry: a *[CorruptError] naming its index;
//   - a rollback: the log is shorter than a counted checkpoint (a
//     *CorruptError matching [ErrRollback], naming the first missing
//     entry);
//   - a checkpoint of another history: its root differs from the log's
//     tree of its size (a *CorruptError matching [ErrFork]).
//
// A checkpoint not signed by the log's key, or carrying a cosignature
// that does not verify, is an error naming where it came from ([ErrBadProof]);
// the log directory's own checkpoints have their signature checked only
// when they disagree with the log (a large log holds thousands).
func VerifyLog(dir, logKey string, opt VerifyOptions) (*Report, error) {
	v, err := note.NewVerifier(strings.TrimSpace(logKey))
	if err != nil {
		return nil, fmt.Errorf("audit: log key: %w", err)
	}
	var ev []evidence
	for i, c := range opt.Checkpoints {
		ev = append(ev, evidence{from: fmt.Sprintf("checkpoint #%d given", i+1), text: c, given: true})
	}
	if opt.EvidenceDir != "" {
		more, err := readEvidenceDir(opt.EvidenceDir)
		if err != nil {
			return nil, err
		}
		for i := range more {
			more[i].given = true
		}
		ev = append(ev, more...)
	}
	err = scanLogFile(dir, checkpointsFile, func(i int, c []byte) error {
		ev = append(ev, evidence{from: fmt.Sprintf("%s: checkpoint %d", checkpointsFile, i), text: c, lazy: true})
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if st, err := os.Lstat(filepath.Join(dir, witnessedDir)); err == nil {
		if !st.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a directory (%v)", ErrNotRegular, filepath.Join(dir, witnessedDir), st.Mode().Type())
		}
		more, err := readEvidenceDir(filepath.Join(dir, witnessedDir))
		if err != nil {
			return nil, err
		}
		ev = append(ev, more...)
	}
	f, err := openLogFile(dir, entriesFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var counted []checked
	ignored := 0
	for _, e := range ev {
		if e.lazy {
			// The device's own checkpoints carry no cosignature; one that
			// agrees with the log needs no signature check (thousands of
			// them in a large log), one that disagrees is checked below.
			if opt.MinCosignatures > 0 {
				ignored++
				continue
			}
			if cp, err := parseUnverifiedCheckpoint(e.text, v.Name()); err == nil {
				c := checked{lazy: e.text, from: e.from, size: int64(cp.Size)}
				copy(c.root[:], cp.Hash)
				counted = append(counted, c)
				continue
			}
		}
		c, err := checkEvidence(e, v, opt.WitnessKeys)
		if err != nil {
			return nil, err
		}
		if c.cosigs < opt.MinCosignatures {
			ignored++
			continue
		}
		counted = append(counted, c)
	}
	if len(counted) == 0 {
		return nil, fmt.Errorf("%w: no checkpoint counts (%d given, %d with fewer than %d cosignatures)", ErrBadProof, len(ev), ignored, opt.MinCosignatures)
	}
	var entries io.Reader = f
	if opt.Progress != nil {
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		opt.Progress(0, st.Size())
		entries = &progressReader{r: f, total: st.Size(), report: opt.Progress}
	}
	rep, err := verifyEntriesAgainst(entries, v, counted)
	if err != nil {
		return nil, err
	}
	rep.Ignored = ignored
	return rep, nil
}

// progressReader reports the bytes read through it.
type progressReader struct {
	r           io.Reader
	done, total int64
	report      func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.done += int64(n)
		p.report(p.done, p.total)
	}
	return n, err
}

type evidence struct {
	from  string
	text  []byte
	given bool // from the auditor, not the log directory
	lazy  bool // the device's own checkpoints file: signature checked only when it disagrees with the log
}

// checked is a checkpoint whose signature verified.
type checked struct {
	lazy   []byte // the note, when its signature is yet to be checked
	given  bool
	from   string
	size   int64
	root   tlog.Hash
	cosigs int
}

// readEvidenceDir reads every file of dir as a checkpoint or receipt.
// Subdirectories and interrupted writes (".tmp-") are skipped; anything
// else that is not a regular file (a symbolic link, FIFO, device) is
// refused by name rather than skipped, so no evidence is silently lost.
func readEvidenceDir(dir string) ([]evidence, error) {
	// Stat before opening: opening a FIFO named as the directory would
	// block.
	if st, err := os.Stat(dir); err != nil {
		return nil, err
	} else if !st.IsDir() {
		return nil, fmt.Errorf("audit: evidence %s is not a directory (%v)", dir, st.Mode().Type())
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(maxEvidenceFiles + 1)
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(ents) > maxEvidenceFiles {
		return nil, fmt.Errorf("audit: %s: more than %d files", dir, maxEvidenceFiles)
	}
	var out []evidence
	for _, e := range ents {
		if e.IsDir() || strings.Contains(e.Name(), ".tmp-") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		b, err := safefile.ReadFile(p, MaxReceiptSize)
		if err != nil {
			switch {
			case errors.Is(err, safefile.ErrTooLarge):
				return nil, malformed("evidence %s", strings.TrimPrefix(err.Error(), safefile.ErrTooLarge.Error()+": "))
			case errors.Is(err, safefile.ErrNotRegular):
				return nil, notRegular(err)
			}
			return nil, fmt.Errorf("audit: evidence: %w", err)
		}
		out = append(out, evidence{from: p, text: b})
	}
	return out, nil
}

// checkEvidence normalises a checkpoint or receipt, checks the log's
// signature (and the receipt), and counts valid witness cosignatures.
func checkEvidence(e evidence, v note.Verifier, witnesses []note.Verifier) (checked, error) {
	c := checked{from: e.from, given: e.given}
	text, err := normalizeText(e.text, MaxReceiptSize)
	if err != nil {
		return c, fmt.Errorf("audit: %s: %w", e.from, err)
	}
	if bytes.HasPrefix(text, []byte(receiptIntro+"\n")) {
		if _, err := checkReceipt(text, v); err != nil {
			return c, fmt.Errorf("audit: %s: %w", e.from, err)
		}
		_, text, _ = bytes.Cut(text, []byte("\n\n"))
	}
	cp, _, _, err := parseCheckpoint(text, v.Name(), v)
	if err != nil {
		return c, fmt.Errorf("%w: %s: %v", ErrBadProof, e.from, err)
	}
	if len(cp.Hash) != len(tlog.Hash{}) || cp.Size > 1<<62 {
		return c, fmt.Errorf("%w: %s: checkpoint hash", ErrBadProof, e.from)
	}
	c.size = int64(cp.Size)
	copy(c.root[:], cp.Hash)
	if len(witnesses) > 0 {
		n, err := note.Open(text, note.VerifierList(witnesses...))
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &unverified):
		case err != nil:
			return c, fmt.Errorf("%w: %s: cosignature: %v", ErrBadProof, e.from, err)
		default:
			seen := map[uint32]bool{}
			for _, s := range n.Sigs {
				seen[s.Hash] = true
			}
			c.cosigs = len(seen)
		}
	}
	return c, nil
}

// verifyEntries is VerifyDir over the bytes of an entries file and one
// checkpoint.
func verifyEntries(data, checkpoint []byte, logKey string) (*Report, error) {
	v, err := note.NewVerifier(strings.TrimSpace(logKey))
	if err != nil {
		return nil, fmt.Errorf("audit: log key: %w", err)
	}
	c, err := checkEvidence(evidence{from: "the checkpoint", text: checkpoint}, v, nil)
	if err != nil {
		return nil, err
	}
	return verifyEntriesAgainst(bytes.NewReader(data), v, []checked{c})
}

// verifyEntriesAgainst streams an entries file frame by frame, keeping
// one frame and the O(log n) frontier of the tree: memory does not grow
// with the file. Problems are reported in the order VerifyLog documents
// whatever their position in the file.
func verifyEntriesAgainst(entries io.Reader, v note.Verifier, cps []checked) (*Report, error) {
	// By size; at equal size the auditor's own checkpoints last, so that
	// errors name them.
	sort.SliceStable(cps, func(i, j int) bool {
		return cps[i].size < cps[j].size || cps[i].size == cps[j].size && !cps[i].given && cps[j].given
	})
	// confirm checks the signature of a checkpoint that disagrees with the
	// log before it is reported as evidence against it.
	confirm := func(c checked) error {
		if c.lazy == nil {
			return nil
		}
		_, err := checkEvidence(evidence{from: c.from, text: c.lazy}, v, nil)
		return err
	}
	for i := 1; i < len(cps); i++ {
		if a, b := cps[i-1], cps[i]; a.size == b.size && a.root != b.root {
			if err := errors.Join(confirm(a), confirm(b)); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s and %s both cover %d entries with different roots: the log's key signed two histories", ErrFork, a.from, b.from, a.size)
		}
	}
	largest := cps[len(cps)-1]
	var (
		tree     treeFrontier
		entryErr error    // the first entry that does not parse or chain
		mismatch *checked // the smallest checkpoint whose root differs
		next     int      // cps[next:] are not yet reached
	)
	reach := func() {
		for ; next < len(cps) && cps[next].size == tree.n; next++ {
			if mismatch == nil && cps[next].root != tree.root() {
				mismatch = &cps[next]
			}
		}
	}
	reach()
	sc := newFrameScanner(entries, entriesFile)
	for sc.next() {
		i, p := tree.n, sc.payload
		if entryErr == nil {
			entryErr = checkEntry(p, i, v.Name(), tree.root())
		}
		tree.add(p)
		reach()
	}
	if sc.err != nil {
		return nil, sc.err
	}
	if sc.badAt >= 0 && !sc.torn {
		return nil, &CorruptError{File: entriesFile, Index: int64(sc.badAt), Problem: sc.why}
	}
	if sc.badAt >= 0 && int64(sc.badAt) < largest.size {
		if err := confirm(largest); err != nil {
			return nil, err
		}
		return nil, &CorruptError{File: entriesFile, Index: int64(sc.badAt), Problem: "entry damaged or cut short (" + sc.why + ")"}
	}
	if entryErr != nil {
		return nil, entryErr
	}
	report := largest
	for _, c := range cps {
		if c.given && (!report.given || c.size > report.size) {
			report = c
		}
	}
	rep := &Report{Entries: tree.n, CheckpointSize: report.size, Root: report.root, TornTail: sc.torn, Checkpoints: len(cps)}
	if rep.Entries < largest.size {
		if err := confirm(largest); err != nil {
			return nil, err
		}
		return nil, &CorruptError{File: entriesFile, Index: rep.Entries, Problem: fmt.Sprintf("log truncated: %d entries, %s covers %d", rep.Entries, largest.from, largest.size), kind: ErrRollback}
	}
	if c := mismatch; c != nil {
		if err := confirm(*c); err != nil {
			return nil, err
		}
		return nil, &CorruptError{File: entriesFile, Index: c.size - 1, Problem: fmt.Sprintf("root hash differs from %s: this entry was altered, or the checkpoint belongs to another history", c.from), kind: ErrFork}
	}
	return rep, nil
}

// checkEntry checks entry i of the log of device: its format, index and
// the root of the tree before it (prev).
func checkEntry(p []byte, i int64, device string, prev tlog.Hash) error {
	r, err := ParseRecord(p)
	if err != nil {
		return &CorruptError{File: entriesFile, Index: i, Problem: err.Error()}
	}
	if r.Device != device {
		return &CorruptError{File: entriesFile, Index: i, Problem: fmt.Sprintf("entry of device %q in the log of %q", r.Device, device)}
	}
	if r.Index != i {
		return &CorruptError{File: entriesFile, Index: i, Problem: fmt.Sprintf("entry says index %d: entries missing, inserted or reordered", r.Index)}
	}
	if r.Prev != prev {
		return &CorruptError{File: entriesFile, Index: i - 1, Problem: "entry altered: the next entry's prev root does not match"}
	}
	return nil
}

// openLogFile opens a file of a copied log directory for reading: a
// regular file only, never through a symbolic link, never blocking (a
// FIFO or a link to a device is refused by name, see safefile).
func openLogFile(dir, name string) (*os.File, error) {
	f, err := safefile.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, notRegular(err)
	}
	return f, nil
}

// ErrNotRegular: a file handed to the auditor's readers (a log file, an
// evidence file) is a FIFO, a device, a socket or a symbolic link, or the
// witnessed/ folder is not a directory. It is refused without reading or
// waiting; the error names the file and what it is.
var ErrNotRegular = errors.New("audit: not a regular file")

// notRegular restates safefile's refusal as [ErrNotRegular] (other
// errors, e.g. a missing file, pass unchanged).
func notRegular(err error) error {
	if errors.Is(err, safefile.ErrNotRegular) {
		return fmt.Errorf("%w: %s", ErrNotRegular, strings.TrimPrefix(err.Error(), safefile.ErrNotRegular.Error()+": "))
	}
	return err
}

// scanLogFile calls fn with each frame of a copied log directory's file,
// streamed (one frame in memory). It stops at the first bad frame, as a
// reader of a torn file must; it does not say whether it found one.
func scanLogFile(dir, name string, fn func(i int, payload []byte) error) error {
	f, err := openLogFile(dir, name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := newFrameScanner(f, name)
	for sc.next() {
		if err := fn(sc.count-1, sc.payload); err != nil {
			return err
		}
	}
	return sc.err
}

// Entries reads the entries of a log directory one at a time, without
// opening it for writing (for auditors and the CLI), holding one entry
// in memory whatever the file's size. It checks framing and format only:
// use [VerifyLog] to check the tree. The entries file must be a regular
// file (not a symbolic link, FIFO or device). A problem is yielded once,
// with a nil record, and ends the sequence: an open error, a
// *[CorruptError] for a bad frame that is not a torn tail or an entry
// that does not parse.
func Entries(dir string) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		f, err := openLogFile(dir, entriesFile)
		if err != nil {
			yield(nil, err)
			return
		}
		defer f.Close()
		sc := newFrameScanner(f, entriesFile)
		for sc.next() {
			r, err := ParseRecord(sc.payload)
			if err != nil {
				yield(nil, &CorruptError{File: entriesFile, Index: int64(sc.count - 1), Problem: err.Error()})
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		switch {
		case sc.err != nil:
			yield(nil, sc.err)
		case sc.badAt >= 0 && !sc.torn:
			yield(nil, &CorruptError{File: entriesFile, Index: int64(sc.badAt), Problem: sc.why})
		}
	}
}

// ReadEntries returns every entry of a log directory ([Entries]
// collected: memory grows with the log; prefer Entries for large logs).
func ReadEntries(dir string) ([]*Record, error) {
	var out []*Record
	for r, err := range Entries(dir) {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// LatestCheckpoint returns the last checkpoint stored in a log directory,
// streaming its checkpoints file (a regular file only; see [Entries]).
// It is not verified here: check it with the log's public key (VerifyLog
// does), and prefer a checkpoint obtained earlier (or a witnessed one,
// [LatestWitnessed]) over one read from the same disk as the entries.
func LatestCheckpoint(dir string) ([]byte, error) {
	var last []byte
	err := scanLogFile(dir, checkpointsFile, func(_ int, c []byte) error {
		last = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	if last == nil {
		return nil, fmt.Errorf("%w: no checkpoint in %s", ErrNotFound, dir)
	}
	return last, nil
}
