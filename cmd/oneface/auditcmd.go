package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/progress"
	"github.com/oneface/oneface/internal/safefile"
)

var auditCommands = map[string]command{
	"verify":              {"verify a (copied) log against checkpoints (witnessed, collected) and the log's public key", runAuditVerify},
	"init":                {"record the controller's age recipient in a log (device side)", runAuditInit},
	"controller-keygen":   {"make the controller's age identity (keep it off the device)", runAuditControllerKeygen},
	"show":                {"print the entries of a log", runAuditShow},
	"checkpoint":          {"print the latest stored checkpoint", runAuditCheckpoint},
	"prove":               {"print an inclusion or consistency proof", runAuditProve},
	"receipt":             {"print the receipt of an entry (device side)", runAuditReceipt},
	"check-receipt":       {"check a receipt offline with the log's public key", runAuditCheckReceipt},
	"export":              {"export every entry of one subject, with proofs, as JSON", runAuditExport},
	"erase":               {"erase a subject: destroy its keys, record the erasure", runAuditErase},
	"acknowledge-refusal": {"let a log a witness refused append again, with a note saying why (device side; the record is kept)", runAuditAcknowledgeRefusal},
}

func runAudit(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"audit needs a subcommand: " + strings.Join(sortedKeys(auditCommands), ", ")}
	}
	c, ok := auditCommands[args[0]]
	if !ok {
		return usageError{fmt.Sprintf("unknown audit subcommand %q (%s)", args[0], strings.Join(sortedKeys(auditCommands), ", "))}
	}
	return c.run(args[1:], stdout, stderr)
}

func sortedKeys(m map[string]command) []string { return slices.Sorted(maps.Keys(m)) }

func auditFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("oneface audit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// auditInputs reads the files the audit commands are given: keys,
// checkpoints, receipts, identities. "-" is standard input, accepted
// once per command (a second "-" is a usage error: both cannot be read
// from it). Any other path must name a regular file — not a FIFO, a
// device or a symbolic link, refused at once by name (internal/safefile)
// — of at most max bytes; the error names the flag, the file and the
// bound.
type auditInputs struct {
	stdinFor string // the flag that took standard input, if any
}

func (in *auditInputs) read(what, path string, max int64) ([]byte, error) {
	if path == "-" {
		if in.stdinFor != "" {
			return nil, usageError{fmt.Sprintf("%s and %s both ask for standard input (-): give one of them a file", in.stdinFor, what)}
		}
		in.stdinFor = what
		b, err := safefile.ReadAll(os.Stdin, "standard input", max)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return b, nil
	}
	b, err := safefile.ReadFile(path, max)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

// openLog opens a log on the device, with its secret key file. The
// controller's recipient is the one recorded by `audit init`.
func openLog(dir, keyFile string) (*audit.Log, error) {
	return openLogWith(dir, keyFile, audit.Options{})
}

func openLogWith(dir, keyFile string, opt audit.Options) (*audit.Log, error) {
	return openLogIn(new(auditInputs), dir, keyFile, opt)
}

func openLogIn(in *auditInputs, dir, keyFile string, opt audit.Options) (*audit.Log, error) {
	if keyFile == "" {
		return nil, usageError{"this subcommand opens the log on the device: it needs -log-key FILE"}
	}
	k, err := in.read("-log-key", keyFile, maxKeyFile)
	if err != nil {
		return nil, err
	}
	l, err := audit.Open(dir, strings.TrimSpace(string(k)), opt)
	if errors.Is(err, audit.ErrNoController) {
		return nil, hintError{err, []string{initHint}}
	}
	return l, err
}

// initHint tells how to record a controller in a log.
const initHint = "run `oneface audit init -log-key FILE -controller RECIPIENT DIR` with the controller's age recipient (see `oneface audit controller-keygen`)"

// requireController refuses an audit log directory in which no controller
// is recorded (`oneface audit init` was not run, or dir is not a log yet),
// before the log is opened or created: its personal records would be only
// committed, never exportable or erasable by anyone. The recorded
// recipient is the file "controller" in the directory (audit's package
// doc, "Files").
func requireController(dir string) error {
	_, err := os.Lstat(filepath.Join(dir, "controller"))
	if errors.Is(err, os.ErrNotExist) {
		return hintError{fmt.Errorf("%w: the audit log %s records none: the personal records of this command could never be exported or erased", audit.ErrNoController, dir), []string{initHint}}
	}
	return err
}

// readIdentity reads the controller's age identity file.
func readIdentity(in *auditInputs, path string) (age.Identity, error) {
	if path == "" {
		return nil, usageError{"this subcommand reads personal records: it needs -controller-identity FILE (the controller's age identity)"}
	}
	b, err := in.read("-controller-identity", path, maxKeyFile)
	if err != nil {
		return nil, err
	}
	ids, err := age.ParseIdentities(strings.NewReader(string(b)))
	if err != nil {
		return nil, err
	}
	if len(ids) != 1 {
		return nil, usageError{"-controller-identity must hold exactly one age identity"}
	}
	return ids[0], nil
}

func runAuditControllerKeygen(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("controller-keygen", stderr)
	out := fs.String("o", "", "write the identity (secret) to this new file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return usageError{"audit controller-keygen needs -o FILE"}
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	text := fmt.Sprintf("# oneface audit controller identity: keep it off the kiosk\n# public key: %s\n%s\n", id.Recipient(), id)
	if err := writeOutput(*out, []byte(text), modeSecret, false); err != nil {
		return err
	}
	fmt.Fprintln(stdout, id.Recipient())
	return nil
}

func runAuditInit(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("init", stderr)
	keyFile := fs.String("log-key", "", "the log's secret key file (device side)")
	controller := fs.String("controller", "", "the controller's age recipient (age1...), or a file holding it")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *controller == "" || fs.NArg() != 1 {
		return usageError{"audit init needs -log-key, -controller and a log directory"}
	}
	in := new(auditInputs)
	rs := *controller
	if !strings.HasPrefix(rs, "age1") {
		b, err := in.read("-controller", rs, maxKeyFile)
		if err != nil {
			return err
		}
		rs = strings.TrimSpace(string(b))
	}
	r, err := age.ParseX25519Recipient(rs)
	if err != nil {
		return usageError{"-controller: " + err.Error()}
	}
	l, err := openLogIn(in, fs.Arg(0), *keyFile, audit.Options{Controller: r})
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Fprintf(stdout, "log %s: personal records are wrapped to %s; the device cannot read them back\n", fs.Arg(0), r)
	return nil
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// readKeyArg reads a public key given as text (it holds a "+"), as a
// file, or as "-" (standard input).
func readKeyArg(in *auditInputs, what, s string) (string, error) {
	if strings.Contains(s, "+") {
		return s, nil
	}
	b, err := in.read(what, s, maxKeyFile)
	return strings.TrimSpace(string(b)), err
}

func corruptHint(err error) error {
	if errors.Is(err, audit.ErrRollback) {
		return hintError{err, []string{"entries a checkpoint covers are missing: the log was rolled back; keep this copy as evidence"}}
	}
	if errors.Is(err, audit.ErrFork) {
		return hintError{err, []string{"the log's key signed two different histories: keep both checkpoints as evidence"}}
	}
	var ce *audit.CorruptError
	if errors.As(err, &ce) {
		return hintError{err, []string{"the log does not match what its checkpoint commits to: keep this copy as evidence and compare with the device"}}
	}
	if errors.Is(err, audit.ErrBadProof) {
		return hintError{err, []string{"check that -key is the log's public key and that the checkpoint comes from this log"}}
	}
	return err
}

func runAuditVerify(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("verify", stderr)
	key := fs.String("key", "", "the log's public key (text, or a file holding it; - for standard input)")
	cpFile := fs.String("checkpoint", "", "a checkpoint (or receipt) file you trust, - for standard input (default: the latest stored in the log, which proves less)")
	evidence := fs.String("evidence", "", "a directory of checkpoints and receipts (witnessed, collected) the log must agree with")
	var witnessKeys multiFlag
	fs.Var(&witnessKeys, "witness-key", "a witness's verifier key (text, or a file holding it); repeatable")
	minCosigs := fs.Int("min-cosignatures", 0, "cosignatures by -witness-key a checkpoint needs to count")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *key == "" || fs.NArg() != 1 {
		return usageError{"audit verify needs -key and a log directory"}
	}
	dir := fs.Arg(0)
	in := new(auditInputs)
	vkey, err := readKeyArg(in, "-key", *key)
	if err != nil {
		return err
	}
	opt := audit.VerifyOptions{EvidenceDir: *evidence, MinCosignatures: *minCosigs}
	for _, wk := range witnessKeys {
		k, err := readKeyArg(in, "-witness-key", wk)
		if err != nil {
			return err
		}
		// A witness's cosignature/v1 key (as litewitness prints it), or a
		// plain Ed25519 note key.
		v, err := audit.NewCosignatureVerifier(k)
		if err != nil {
			if v, err = note.NewVerifier(k); err != nil {
				return usageError{"-witness-key: " + err.Error()}
			}
		}
		opt.WitnessKeys = append(opt.WitnessKeys, v)
	}
	if *cpFile != "" {
		cp, err := in.read("-checkpoint", *cpFile, audit.MaxReceiptSize)
		if err != nil {
			return err
		}
		opt.Checkpoints = append(opt.Checkpoints, cp)
	} else if *evidence == "" {
		fmt.Fprintln(stderr, "oneface: warning: no -checkpoint or -evidence given: checking the log against its own checkpoints only")
	}
	var done func()
	opt.Progress, done = verifyProgress(stderr, progress.IsTerminal(stderr), largeLog)
	rep, err := audit.VerifyLog(dir, vkey, opt)
	done()
	if err != nil {
		return corruptHint(err)
	}
	fmt.Fprintf(stdout, "log %s verifies: %d entries, checkpoint covers %d, root %s (%d checkpoints agree, %d without enough cosignatures ignored)\n", dir, rep.Entries, rep.CheckpointSize, rep.Root, rep.Checkpoints, rep.Ignored)
	if rep.TornTail {
		fmt.Fprintln(stdout, "  (an incomplete write after the last entry was ignored: the device crashed while writing)")
	}
	// A witness refused this log's checkpoint and nobody has acknowledged
	// it: evidence of a rollback or fork the auditor must see.
	if rec, err := audit.PendingWitnessRefusal(dir); err == nil && rec != nil {
		head, _, _ := strings.Cut(string(rec), "\n\n")
		fmt.Fprintf(stdout, "  WARNING: a witness refused this log's checkpoint (not acknowledged; the device refuses appends): %s\n", strings.ReplaceAll(head, "\n", "; "))
	}
	return nil
}

// runAuditAcknowledgeRefusal prints a pending witness refusal and lets
// the log append again, keeping the record with the operator's note.
func runAuditAcknowledgeRefusal(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("acknowledge-refusal", stderr)
	noteText := fs.String("note", "", "why appending again is right (a restore from backup, a witness that lost its state, ...); kept with the refusal's record")
	if err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*noteText) == "" || fs.NArg() != 1 {
		return usageError{"audit acknowledge-refusal needs -note TEXT and a log directory (the log must not be open)"}
	}
	dir := fs.Arg(0)
	rec, err := audit.PendingWitnessRefusal(dir)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("%s: no pending witness refusal", dir)
	}
	fmt.Fprintf(stdout, "the refusal being acknowledged:\n%s\n", strings.TrimRight(string(rec), "\n"))
	if err := audit.AcknowledgeWitnessRefusal(dir, *noteText); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "acknowledged: the log appends again; the record and your note are kept in %s\n", filepath.Join(dir, "refusals"))
	fmt.Fprintln(stdout, "if the log really was rolled back or forked, the witness will refuse its next checkpoint again")
	return nil
}

// largeLog is the entries file size from which audit verify draws a
// progress bar (about 3,000 entries; 100,000 take seconds).
const largeLog = 1 << 20

// verifyProgress returns a VerifyOptions.Progress that draws a bar of the
// entries file read on w when w is a terminal (tty) and the file holds at
// least minSize bytes, and the function that ends it. Elsewhere it returns
// nil: scripts get no progress output at all.
func verifyProgress(w io.Writer, tty bool, minSize int64) (func(done, total int64), func()) {
	if !tty {
		return nil, func() {}
	}
	var bar *progress.Bar
	report := func(done, total int64) {
		if bar == nil && done == 0 && total >= minSize {
			bar = progress.New(w, true, total, progress.Options{Description: "audit verify", Bytes: true})
		}
		bar.Set(done)
	}
	return report, func() { bar.Done() }
}

func runAuditShow(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("show", stderr)
	from := fs.Int64("from", 0, "first index")
	n := fs.Int64("n", 0, "at most this many entries (0: all)")
	asJSON := fs.Bool("json", false, "print one JSON object per entry and line (JSON Lines; see README.md, \"CLI\")")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"audit show needs a log directory"}
	}
	shown := int64(0)
	for r, err := range audit.Entries(fs.Arg(0)) {
		if err != nil {
			return corruptHint(err)
		}
		if r.Index < *from {
			continue
		}
		if *n > 0 && shown >= *n {
			break
		}
		if err := showEntry(stdout, r, *asJSON); err != nil {
			return err
		}
		shown++
	}
	return nil
}

func runAuditCheckpoint(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("checkpoint", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"audit checkpoint needs a log directory"}
	}
	cp, err := audit.LatestCheckpoint(fs.Arg(0))
	if err != nil {
		return err
	}
	_, err = stdout.Write(cp)
	return err
}

func runAuditProve(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("prove", stderr)
	keyFile := fs.String("log-key", "", "the log's secret key file (device side)")
	from := fs.Int64("from", 0, "prove consistency from a tree of this size instead")
	size := fs.Int64("size", 0, "tree size (default: the whole log)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || (*from == 0 && fs.NArg() != 2) {
		return usageError{"audit prove needs a log directory and an entry index (or -from SIZE)"}
	}
	l, err := openLog(fs.Arg(0), *keyFile)
	if err != nil {
		return err
	}
	defer l.Close()
	n := *size
	if n == 0 {
		n = l.Size()
	}
	var hashes []string
	if *from > 0 {
		p, err := l.ProveConsistency(*from, n)
		if err != nil {
			return err
		}
		for _, h := range p {
			hashes = append(hashes, h.String())
		}
		fmt.Fprintf(stdout, "consistency %d -> %d\n", *from, n)
	} else {
		idx, err := strconv.ParseInt(fs.Arg(1), 10, 64)
		if err != nil {
			return usageError{"entry index must be a number"}
		}
		p, err := l.ProveInclusion(idx, n)
		if err != nil {
			return err
		}
		for _, h := range p {
			hashes = append(hashes, h.String())
		}
		fmt.Fprintf(stdout, "inclusion of entry %d in the tree of %d\n", idx, n)
	}
	for _, h := range hashes {
		fmt.Fprintln(stdout, h)
	}
	return nil
}

func parseSubject(s string) ([16]byte, error) {
	var sub [16]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return sub, usageError{"-subject must be a 32-digit hex pseudonym"}
	}
	copy(sub[:], b)
	return sub, nil
}

func runAuditReceipt(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("receipt", stderr)
	keyFile := fs.String("log-key", "", "the log's secret key file (device side)")
	idFile := fs.String("controller-identity", "", "the controller's age identity file: include the opening of the entry's commitment")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError{"audit receipt needs a log directory and an entry index"}
	}
	idx, err := strconv.ParseInt(fs.Arg(1), 10, 64)
	if err != nil {
		return usageError{"entry index must be a number"}
	}
	var id age.Identity
	in := new(auditInputs)
	if *idFile != "" {
		if id, err = readIdentity(in, *idFile); err != nil {
			return err
		}
	}
	l, err := openLogIn(in, fs.Arg(0), *keyFile, audit.Options{})
	if err != nil {
		return err
	}
	defer l.Close()
	rc, err := l.Receipt(idx, id)
	if err != nil {
		return err
	}
	_, err = stdout.Write(rc)
	return err
}

func runAuditCheckReceipt(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("check-receipt", stderr)
	key := fs.String("key", "", "the log's public key (text, or a file holding it; - for standard input)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *key == "" || fs.NArg() != 1 {
		return usageError{"audit check-receipt needs -key and a receipt file (- for standard input)"}
	}
	in := new(auditInputs)
	vkey, err := readKeyArg(in, "-key", *key)
	if err != nil {
		return err
	}
	rc, err := in.read("receipt", fs.Arg(0), audit.MaxReceiptSize)
	if err != nil {
		return err
	}
	info, err := audit.CheckReceipt(rc, vkey)
	if err != nil {
		return corruptHint(err)
	}
	r := info.Record
	fmt.Fprintf(stdout, "receipt verifies: entry %d of %s is in the signed checkpoint of %d entries\n", r.Index, r.Device, info.CheckpointSize)
	fmt.Fprintf(stdout, "  %s %s %s purpose %s decision %s reason %s\n", r.Entry.Time.Format("2006-01-02T15:04:05Z"), r.Entry.Kind, r.Device, r.Entry.Purpose, r.Entry.Decision, r.Entry.Reason)
	if p := info.Personal; p != nil {
		fmt.Fprintf(stdout, "  about reference %x, subject %x (the commitment opens)\n", p.ReferenceID, p.Subject)
	}
	return nil
}

// subjectCommand runs fn on the device's log for one subject: the shared
// flags (-log-key, -subject) and the log directory argument of export and
// erase. extra declares the subcommand's own flags and returns the check
// of their values, run before anything is read (a bad value is a usage
// error).
func subjectCommand(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet) (check func() error), fn func(l *audit.Log, sub [16]byte, subject string, id age.Identity) error) error {
	fs := auditFlags(name, stderr)
	keyFile := fs.String("log-key", "", "the log's secret key file (device side)")
	subject := fs.String("subject", "", "the person's pseudonym (hex)")
	idFile := fs.String("controller-identity", "", "the controller's age identity file")
	var check func() error
	if extra != nil {
		check = extra(fs)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *subject == "" {
		return usageError{"audit " + name + " needs -subject and a log directory"}
	}
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	sub, err := parseSubject(*subject)
	if err != nil {
		return err
	}
	in := new(auditInputs)
	id, err := readIdentity(in, *idFile)
	if err != nil {
		return err
	}
	l, err := openLogIn(in, fs.Arg(0), *keyFile, audit.Options{})
	if err != nil {
		return err
	}
	defer l.Close()
	return fn(l, sub, *subject, id)
}

func runAuditExport(args []string, stdout, stderr io.Writer) error {
	return subjectCommand("export", args, stderr, nil, func(l *audit.Log, sub [16]byte, _ string, id age.Identity) error {
		ex, err := l.Export(context.Background(), sub, id)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ex)
	})
}

func runAuditErase(args []string, stdout, stderr io.Writer) error {
	var reason *string
	return subjectCommand("erase", args, stderr, func(fs *flag.FlagSet) func() error {
		reason = fs.String("reason", "subject_request", "reason code recorded with the erasure ([A-Za-z0-9._:/+=-], at most 64)")
		return func() error {
			if !audit.IsToken(*reason) {
				return usageError{fmt.Sprintf("-reason %q: a reason code is 1..64 characters of [A-Za-z0-9._:/+=-]", *reason)}
			}
			return nil
		}
	}, func(l *audit.Log, sub [16]byte, subject string, id age.Identity) error {
		n, err := l.Erase(context.Background(), sub, *reason, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "erased: %d entries of subject %s are no longer attributable; every checkpoint still verifies\n", n, subject)
		return nil
	})
}
