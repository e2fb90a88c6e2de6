// Command enroll is an issuer station: it turns one to three photos of a
// person into a sealed reference (a file and a QR code to print on a card)
// and has the library record the enrolment in the station's audit log
// before anything is written out. The issuer keeps no copy.
//
// The subject ID (the issuer's own identifier for the person) is read
// from standard input, never from the command line, where ps and shell
// history would see it; only its pseudonym enters the reference and the log.
//
//	echo employee-1234 | enroll -keys /etc/oneface -audit /var/lib/oneface/audit \
//	    -to age1... -purpose door-main -o card.ref -qr card.png photo1.jpg photo2.jpg
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/verify"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "enroll:", err)
		os.Exit(1)
	}
}

func run() error {
	models := flag.String("models", ".models", "face model directory (made by 'make setup')")
	keys := flag.String("keys", "keys", "directory holding issuer.key, deployment.secret and log.key")
	auditDir := flag.String("audit", "audit", "the station's audit log directory")
	to := flag.String("to", "", "the kiosks' recipients (age1...), comma-separated")
	purposes := flag.String("purpose", "door-main", "allowed purposes, comma-separated")
	out := flag.String("o", "card.ref", "new file for the sealed reference")
	qr := flag.String("qr", "card.png", "new file for its QR code (PNG)")
	flag.Parse()
	if flag.NArg() == 0 || *to == "" {
		return errors.New("usage: enroll -to age1...[,age1...] [flags] PHOTO... < subject-id")
	}
	var errs []error // reading the inputs; reported with the parse errors
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		errs = append(errs, err)
		return b
	}
	key, err1 := verify.ParseIssuerKey(strings.TrimSpace(string(read(filepath.Join(*keys, "issuer.key")))))
	secret, err2 := verify.ParseDeploymentSecret(strings.TrimSpace(string(read(filepath.Join(*keys, "deployment.secret")))))
	logKey := strings.TrimSpace(string(read(filepath.Join(*keys, "log.key"))))
	var kiosks []*verify.VerifierRecipient
	for _, s := range strings.Split(*to, ",") {
		r, err := verify.ParseVerifierRecipient(s)
		kiosks, errs = append(kiosks, r), append(errs, err)
	}
	var photos [][]byte
	for _, name := range flag.Args() {
		photos = append(photos, read(name))
	}
	subject, err3 := bufio.NewReader(os.Stdin).ReadString('\n')
	subject = strings.TrimSpace(subject)
	if subject != "" {
		err3 = nil // a last line without a newline is fine
	}
	for _, name := range []string{*out, *qr} {
		if _, err := os.Lstat(name); err == nil {
			errs = append(errs, fmt.Errorf("%s exists; not replacing it", name))
		}
	}
	if err := errors.Join(append(errs, err1, err2, err3)...); err != nil {
		return err
	}

	log, err := audit.Open(*auditDir, logKey, audit.Options{}) // the controller was set at `oneface audit init`
	if err != nil {
		return err
	}
	defer log.Close()
	engine, err := verify.OpenEngine(*models, verify.EngineOptions{PoolSize: 1}) // one analysis at a time
	if err != nil {
		return err
	}
	defer engine.Close()
	issuer, err := verify.NewIssuer(verify.IssuerConfig{Key: key, Secret: secret, Engine: engine, Audit: log})
	if err != nil {
		return err
	}
	enr, err := issuer.Enroll(context.Background(), verify.EnrollRequest{
		SubjectID: subject, Photos: photos, Purposes: strings.Split(*purposes, ","), Verifiers: kiosks,
	})
	if errors.Is(err, verify.ErrQuality) {
		return fmt.Errorf("%w (retake it: one person, facing the camera)", err)
	}
	if err != nil {
		return err // nothing was issued, or the enrolment could not be recorded and the reference was discarded
	}
	png, err := verify.QRCode(enr.Reference, 6)
	if err != nil {
		return err
	}
	if err := errors.Join(writeNew(*out, enr.Reference), writeNew(*qr, png)); err != nil {
		return err
	}
	rec, err := audit.CheckReceipt(enr.Receipt, log.PublicKey())
	if err != nil {
		return err
	}
	fmt.Printf("reference %s for subject %s, expires %s\n", enr.ID, enr.Subject, enr.ExpiresAt.Format("2006-01-02"))
	fmt.Printf("recorded as audit entry %d; wrote %s and %s\n", rec.Record.Index, *out, *qr)
	return nil
}

// writeNew writes a new file readable by its owner only; it never replaces
// an existing file (a key, an earlier card) nor follows a planted link.
func writeNew(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}
