// Command auditor checks a kiosk's audit log from the outside, offline:
//
//  1. it verifies a copied log directory against a checkpoint the auditor
//     already trusts (kept from an earlier audit, collected by a witness)
//     and the log's public key: every entry, the tree, and that the log
//     extends the trusted checkpoint (no entry edited, removed, reordered);
//  2. with -receipt, it checks a person's receipt (the entry, its inclusion
//     proof, the signed checkpoint, the opening of the personal part) and
//     holds the log to the receipt's checkpoint too;
//  3. with -controller, it exports every record of the receipt's subject
//     (a subject access request): this needs the controller's age identity,
//     which never lives on the kiosk, and the log's secret key to open the
//     log, so the controller runs this part where the log is.
//
// Exit status 0 when everything verifies, 1 otherwise.
//
//	auditor -key log.pub -checkpoint trusted.cp -receipt receipt.txt /copy/of/audit
//	auditor -key log.pub -checkpoint trusted.cp -receipt receipt.txt \
//	    -log-key log.key -controller controller.key -export records.json /var/lib/oneface/audit
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"

	"github.com/oneface/oneface/audit"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "auditor:", err)
		os.Exit(1)
	}
}

func run() error {
	keyFile := flag.String("key", "log.pub", "the log's public key (signed-note verifier key)")
	cpFile := flag.String("checkpoint", "", "a checkpoint the auditor trusts (required)")
	receiptFile := flag.String("receipt", "", "a person's receipt to check")
	logKeyFile := flag.String("log-key", "", "with -controller: the log's secret key, to open the log")
	controllerFile := flag.String("controller", "", "the controller's age identity: export the receipt's subject")
	exportFile := flag.String("export", "records.json", "with -controller: new file for the subject's records (JSON)")
	flag.Parse()
	if flag.NArg() != 1 || *cpFile == "" {
		return errors.New("usage: auditor -key FILE -checkpoint FILE [-receipt FILE] [-log-key FILE -controller FILE -export FILE] LOG-DIR")
	}
	dir := flag.Arg(0)
	key, err1 := os.ReadFile(*keyFile)
	cp, err2 := os.ReadFile(*cpFile)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	logKey := strings.TrimSpace(string(key))

	// 1 and 2: the log against every checkpoint the auditor holds.
	opt := audit.VerifyOptions{Checkpoints: [][]byte{cp}}
	var info *audit.ReceiptInfo
	if *receiptFile != "" {
		receipt, err := os.ReadFile(*receiptFile)
		if err != nil {
			return err
		}
		if info, err = audit.CheckReceipt(receipt, logKey); err != nil {
			return fmt.Errorf("receipt: %w", err)
		}
		opt.Checkpoints = append(opt.Checkpoints, receipt)
	}
	rep, err := audit.VerifyLog(dir, logKey, opt)
	if err != nil {
		return err // a *audit.CorruptError names the first bad entry
	}
	fmt.Printf("log verified: %d entries, %d checkpoints consistent with it\n", rep.Entries, rep.Checkpoints)
	if info != nil {
		e := info.Record.Entry
		fmt.Printf("receipt verified: entry %d, %s %s (%s) on %s, in a checkpoint of %d entries\n",
			info.Record.Index, e.Kind, e.Decision, e.Reason, e.Time.UTC().Format("2006-01-02 15:04:05Z"), info.CheckpointSize)
	}
	if *controllerFile == "" {
		return nil
	}

	// 3: subject access, for the person whose receipt this is.
	if info == nil || info.Personal == nil {
		return errors.New("-controller needs a -receipt that opens its personal part (it names the subject)")
	}
	secret, err1 := os.ReadFile(*logKeyFile)
	idText, err2 := os.ReadFile(*controllerFile)
	ids, err3 := age.ParseIdentities(bytes.NewReader(idText))
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	l, err := audit.Open(dir, strings.TrimSpace(string(secret)), audit.Options{})
	if err != nil {
		return err
	}
	defer l.Close()
	ex, err := l.Export(context.Background(), info.Personal.Subject, ids[0])
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(ex, "", "  ")
	if err != nil {
		return err
	}
	if err := writeNew(*exportFile, append(out, '\n')); err != nil {
		return err
	}
	fmt.Printf("exported %d records of subject %x to %s\n", len(ex.Records), info.Personal.Subject, *exportFile)
	return nil
}

// writeNew writes a new file readable by its owner only; it never replaces
// an existing file nor follows a planted link.
func writeNew(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}
