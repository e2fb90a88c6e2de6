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
	"slices"
	"strconv"
	"strings"

	"github.com/oneface/oneface/audit"
)

var auditCommands = map[string]command{
	"verify":        {"verify a (copied) log against a checkpoint and the log's public key", runAuditVerify},
	"show":          {"print the entries of a log", runAuditShow},
	"checkpoint":    {"print the latest stored checkpoint", runAuditCheckpoint},
	"prove":         {"print an inclusion or consistency proof", runAuditProve},
	"receipt":       {"print the receipt of an entry (device side)", runAuditReceipt},
	"check-receipt": {"check a receipt offline with the log's public key", runAuditCheckReceipt},
	"export":        {"export every entry of one subject, with proofs, as JSON", runAuditExport},
	"erase":         {"erase a subject: destroy its keys, record the erasure", runAuditErase},
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

// openLog opens a log on the device, with its secret key file.
func openLog(dir, keyFile string) (*audit.Log, error) {
	if keyFile == "" {
		return nil, usageError{"this subcommand opens the log on the device: it needs -log-key FILE"}
	}
	k, err := readSmall(keyFile)
	if err != nil {
		return nil, err
	}
	return audit.Open(dir, strings.TrimSpace(string(k)), audit.Options{})
}

func readKeyArg(s string) (string, error) {
	if strings.Contains(s, "+") {
		return s, nil
	}
	b, err := readSmall(s)
	return strings.TrimSpace(string(b)), err
}

func corruptHint(err error) error {
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
	key := fs.String("key", "", "the log's public key (text, or a file holding it)")
	cpFile := fs.String("checkpoint", "", "a checkpoint you trust (default: the latest stored in the log, which proves less)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *key == "" || fs.NArg() != 1 {
		return usageError{"audit verify needs -key and a log directory"}
	}
	dir := fs.Arg(0)
	vkey, err := readKeyArg(*key)
	if err != nil {
		return err
	}
	var cp []byte
	if *cpFile != "" {
		if cp, err = readSmall(*cpFile); err != nil {
			return err
		}
	} else {
		if cp, err = audit.LatestCheckpoint(dir); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "oneface: warning: no -checkpoint given: using the log's own latest checkpoint")
	}
	rep, err := audit.VerifyDir(dir, cp, vkey)
	if err != nil {
		return corruptHint(err)
	}
	fmt.Fprintf(stdout, "log %s verifies: %d entries, checkpoint covers %d, root %s\n", dir, rep.Entries, rep.CheckpointSize, rep.Root)
	if rep.TornTail {
		fmt.Fprintln(stdout, "  (an incomplete write after the last entry was ignored: the device crashed while writing)")
	}
	return nil
}

func runAuditShow(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("show", stderr)
	from := fs.Int64("from", 0, "first index")
	n := fs.Int64("n", 0, "at most this many entries (0: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"audit show needs a log directory"}
	}
	recs, err := audit.ReadEntries(fs.Arg(0))
	if err != nil {
		return corruptHint(err)
	}
	shown := int64(0)
	for _, r := range recs {
		if r.Index < *from || (*n > 0 && shown >= *n) {
			continue
		}
		personal := "-"
		if r.Commitment != nil {
			personal = "committed"
		}
		fmt.Fprintf(stdout, "%6d  %s  %-17s %-10s %-8s %-22s model %s  personal %s\n", r.Index, r.Entry.Time.Format("2006-01-02T15:04:05Z"),
			r.Entry.Kind, r.Entry.Purpose, r.Entry.Decision, r.Entry.Reason, r.Entry.ModelID, personal)
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
	subject := fs.String("subject", "", "the person's pseudonym (hex): include the opening of the entry's commitment")
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
	var sub *[16]byte
	if *subject != "" {
		s, err := parseSubject(*subject)
		if err != nil {
			return err
		}
		sub = &s
	}
	l, err := openLog(fs.Arg(0), *keyFile)
	if err != nil {
		return err
	}
	defer l.Close()
	rc, err := l.Receipt(idx, sub)
	if err != nil {
		return err
	}
	_, err = stdout.Write(rc)
	return err
}

func runAuditCheckReceipt(args []string, stdout, stderr io.Writer) error {
	fs := auditFlags("check-receipt", stderr)
	key := fs.String("key", "", "the log's public key (text, or a file holding it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *key == "" || fs.NArg() != 1 {
		return usageError{"audit check-receipt needs -key and a receipt file"}
	}
	vkey, err := readKeyArg(*key)
	if err != nil {
		return err
	}
	rc, err := readSmall(fs.Arg(0))
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
// erase. extra declares the subcommand's own flags.
func subjectCommand(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet), fn func(l *audit.Log, sub [16]byte, subject string) error) error {
	fs := auditFlags(name, stderr)
	keyFile := fs.String("log-key", "", "the log's secret key file (device side)")
	subject := fs.String("subject", "", "the person's pseudonym (hex)")
	if extra != nil {
		extra(fs)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *subject == "" {
		return usageError{"audit " + name + " needs -subject and a log directory"}
	}
	sub, err := parseSubject(*subject)
	if err != nil {
		return err
	}
	l, err := openLog(fs.Arg(0), *keyFile)
	if err != nil {
		return err
	}
	defer l.Close()
	return fn(l, sub, *subject)
}

func runAuditExport(args []string, stdout, stderr io.Writer) error {
	return subjectCommand("export", args, stderr, nil, func(l *audit.Log, sub [16]byte, _ string) error {
		ex, err := l.Export(context.Background(), sub)
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
	return subjectCommand("erase", args, stderr, func(fs *flag.FlagSet) {
		reason = fs.String("reason", "subject_request", "reason code recorded with the erasure")
	}, func(l *audit.Log, sub [16]byte, subject string) error {
		n, err := l.Erase(context.Background(), sub, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "erased: %d entries of subject %s are no longer attributable; every checkpoint still verifies\n", n, subject)
		return nil
	})
}
