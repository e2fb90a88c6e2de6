package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/safefile"
	"github.com/oneface/oneface/verify"
)

// maxKeyFile bounds key and reference files read from disk.
const maxKeyFile = 64 << 10

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeyFile)
	}
	return b, nil
}

// writeSecret writes a secret key file readable by its owner only, and
// refuses to overwrite one.
func writeSecret(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func runKeygen(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"keygen needs a kind: issuer, verifier, deployment or log"}
	}
	kind := args[0]
	fs := flag.NewFlagSet("oneface keygen "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "file for the secret key (created, mode 0600; never overwritten)")
	name := fs.String("name", "", "issuer name, or the device name for log keys (the log's origin)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return usageError{"keygen needs -o FILE for the secret key"}
	}
	var secret, public string
	switch kind {
	case "issuer":
		if *name == "" {
			return usageError{"keygen issuer needs -name"}
		}
		k, err := verify.GenerateIssuerKey(*name)
		if err != nil {
			return err
		}
		secret, public = k.String(), k.Public().String()
	case "verifier":
		k, err := verify.GenerateVerifierKey()
		if err != nil {
			return err
		}
		secret, public = k.String(), k.Recipient().String()
	case "deployment":
		secret = verify.GenerateDeploymentSecret().String()
	case "log":
		if *name == "" {
			return usageError{"keygen log needs -name (the device name, e.g. kiosk-12.example.org)"}
		}
		var err error
		if secret, public, err = audit.GenerateKey(*name); err != nil {
			return err
		}
	default:
		return usageError{fmt.Sprintf("unknown key kind %q (issuer, verifier, deployment, log)", kind)}
	}
	if err := writeSecret(*out, secret); err != nil {
		return hintError{err, []string{"keygen never overwrites a key: choose another -o or remove the old file yourself"}}
	}
	if public != "" {
		fmt.Fprintln(stdout, public)
	}
	return nil
}

// list is a repeatable or comma-separated flag.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func pinFromEnv(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	pin, ok := os.LookupEnv(name)
	if !ok || pin == "" {
		return "", fmt.Errorf("environment variable %s (the PIN) is not set", name)
	}
	return pin, nil
}

func runEnroll(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("enroll", stderr)
	model := modelFlag(fs)
	keyFile := fs.String("key", "", "issuer secret key file")
	secretFile := fs.String("secret", "", "deployment secret file")
	subject := fs.String("subject", "", "the issuer's ID for the person (only its pseudonym is stored)")
	out := fs.String("o", "", "file for the reference (text form)")
	qr := fs.String("qr", "", "also write the reference as a QR code PNG to this file")
	validity := fs.Duration("validity", 365*24*time.Hour, "how long the reference is valid")
	pinEnv := fs.String("pin-env", "", "name of an environment variable holding the holder's PIN (type 2 reference)")
	auditDir := fs.String("audit-log", "", "record the enrolment in this audit log directory")
	logKey := fs.String("log-key", "", "the audit log's secret key file (with -audit-log)")
	var to, purposes list
	fs.Var(&to, "to", "verifier recipient (age1...), repeatable or comma-separated")
	fs.Var(&purposes, "purpose", "allowed purpose, repeatable or comma-separated")
	if err := parse(fs, args); err != nil {
		return err
	}
	photos := fs.Args()
	switch {
	case *keyFile == "" || *secretFile == "" || *subject == "" || *out == "":
		return usageError{"enroll needs -key, -secret, -subject and -o"}
	case len(to) == 0 || len(purposes) == 0:
		return usageError{"enroll needs at least one -to and one -purpose"}
	case len(photos) == 0:
		return usageError{"enroll needs at least one photo"}
	}
	pin, err := pinFromEnv(*pinEnv)
	if err != nil {
		return err
	}
	keyText, err := readSmall(*keyFile)
	if err != nil {
		return err
	}
	key, err := verify.ParseIssuerKey(string(keyText))
	if err != nil {
		return err
	}
	secretText, err := readSmall(*secretFile)
	if err != nil {
		return err
	}
	secret, err := verify.ParseDeploymentSecret(string(secretText))
	if err != nil {
		return err
	}
	var recips []*verify.VerifierRecipient
	for _, s := range to {
		r, err := verify.ParseVerifierRecipient(s)
		if err != nil {
			return err
		}
		recips = append(recips, r)
	}
	var imgs [][]byte
	for _, p := range photos {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		imgs = append(imgs, b)
	}
	var alog *audit.Log
	if *auditDir != "" {
		if alog, err = openLog(*auditDir, *logKey); err != nil {
			return err
		}
		defer alog.Close()
	}
	engine, err := openEngine(*dir, *model)
	if err != nil {
		return err
	}
	defer engine.Close()
	issuer, err := verify.NewIssuer(verify.IssuerConfig{Key: key, Secret: secret, Engine: engine})
	if err != nil {
		return err
	}
	enr, err := issuer.Enroll(context.Background(), verify.EnrollRequest{
		SubjectID: *subject, Photos: imgs, Purposes: purposes, Validity: *validity, Verifiers: recips, PIN: pin,
	})
	var qe *verify.QualityError
	if errors.As(err, &qe) {
		name := "the photo set"
		if qe.Photo >= 0 {
			name = photos[qe.Photo]
		}
		return hintError{err, []string{fmt.Sprintf("retake %s (reason %s): one person, facing the camera, face at least 80 px wide", name, qe.Reason)}}
	}
	if err != nil {
		return err
	}
	if alog != nil {
		// The reference is handed out only once its enrolment is recorded.
		a, err := alog.Append(context.Background(), audit.Entry{Kind: audit.KindEnroll, Purpose: strings.Join(purposes, "+"),
			Decision: audit.DecisionNone, Reason: "issued", ModelID: engine.ModelID().String()},
			&audit.Personal{ReferenceID: enr.ID, Subject: enr.Subject, Notice: "-"})
		if err != nil {
			return fmt.Errorf("enrolment not recorded, reference discarded: %w", err)
		}
		fmt.Fprintf(stdout, "audit: enrolment recorded as entry %d\n", a.Index)
	}
	text := verify.EncodeText(enr.Reference)
	if err := os.WriteFile(*out, []byte(text+"\n"), 0o600); err != nil {
		return err
	}
	if *qr != "" {
		png, err := verify.QRCode(enr.Reference, 6)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*qr, png, 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "reference %s for subject %s\n", enr.ID, enr.Subject)
	fmt.Fprintf(stdout, "  expires %s, purposes %s, %d verifier(s), PIN %v\n", enr.ExpiresAt.UTC().Format(time.RFC3339), strings.Join(purposes, ","), len(recips), pin != "")
	fmt.Fprintf(stdout, "  template: mean of %d photo(s), smallest face %d px, spread %.3f\n", enr.Quality.Photos, enr.Quality.MinFacePx, enr.Quality.Spread)
	fmt.Fprintf(stdout, "  %d bytes sealed, %d characters of text -> %s\n", len(enr.Reference), len(text), *out)
	if *qr != "" {
		fmt.Fprintf(stdout, "  QR code -> %s\n", *qr)
	}
	fmt.Fprintln(stdout, "  the issuer keeps no copy: hand the reference to the person")
	return nil
}

func runOpen(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("open", stderr)
	keyFile := fs.String("key", "", "verifier secret key file")
	secretFile := fs.String("secret", "", "deployment secret file (references are bound to their deployment)")
	purpose := fs.String("purpose", "", "the purpose the reference is presented for")
	allowV1 := fs.Bool("allow-v1", false, "also open version 1 references (WEAKER: see OpenerConfig.AllowV1)")
	pinEnv := fs.String("pin-env", "", "name of an environment variable holding the holder's PIN")
	var issuers list
	fs.Var(&issuers, "issuer", "trusted issuer public key, repeatable")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *keyFile == "" || *purpose == "" || len(issuers) == 0 || *secretFile == "" || fs.NArg() != 1 {
		return usageError{"open needs -key, -secret, -issuer, -purpose and one reference (text file, or a PNG/JPEG image of its QR code)"}
	}
	pin, err := pinFromEnv(*pinEnv)
	if err != nil {
		return err
	}
	cfg, err := openerConfig(issuers, *keyFile, *secretFile)
	if err != nil {
		return err
	}
	if cfg.ModelID, cfg.ModelIDs, err = referenceModels(*dir); err != nil {
		return err
	}
	cfg.AllowV1 = *allowV1
	o, err := verify.NewOpener(cfg)
	if err != nil {
		return err
	}
	raw, err := readReference(fs.Arg(0))
	if err != nil {
		return err
	}
	r, err := o.Open(raw, *purpose, pin)
	if errors.Is(err, verify.ErrPINRequired) {
		return hintError{err, []string{"pass the holder's PIN with -pin-env VAR"}}
	}
	if errors.Is(err, verify.ErrV1) {
		return hintError{err, []string{"re-issue the reference with this version of oneface, or pass -allow-v1 (weaker) while cards are replaced"}}
	}
	if err != nil {
		return err
	}
	defer r.Wipe()
	q := r.EnrollQuality()
	fmt.Fprintf(stdout, "reference %s (format v%d) opens for %q\n", r.ID(), r.Version(), *purpose)
	fmt.Fprintf(stdout, "  subject %s, issuer key %08x, model %s\n", r.Subject(), r.IssuerKeyID(), r.ModelID())
	fmt.Fprintf(stdout, "  issued %s, expires %s, purposes %s\n", r.IssuedAt().UTC().Format(time.RFC3339), r.ExpiresAt().UTC().Format(time.RFC3339), strings.Join(r.Purposes(), ","))
	fmt.Fprintf(stdout, "  template: mean of %d photo(s), smallest face %d px\n", q.Photos, q.MinFacePx)
	return nil
}

// readReference reads a reference file: its text or binary form, or an
// image (JPEG, PNG, WebP) showing its QR code, decoded by the one image
// path (internal/imageio) and searched within ReadQR's budget.
func readReference(path string) ([]byte, error) {
	b, err := safefile.ReadFile(path, imageio.DefaultMaxBytes)
	if err != nil {
		return nil, err
	}
	if f, err := imageio.Sniff(b); f != "" {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		img, _, err := imageio.Decode(b, imageio.Limits{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return verify.ReadQR(context.Background(), img)
	}
	return verify.DecodeReference(bytes.TrimSpace(b))
}

// openerConfig reads a kiosk's trust settings from flags: the trusted
// issuer public keys, its secret key file and the deployment secret file.
func openerConfig(issuers []string, keyFile, secretFile string) (verify.OpenerConfig, error) {
	var cfg verify.OpenerConfig
	for _, s := range issuers {
		k, err := verify.ParseIssuerPublicKey(s)
		if err != nil {
			return cfg, err
		}
		cfg.Issuers = append(cfg.Issuers, k)
	}
	kt, err := readSmall(keyFile)
	if err != nil {
		return cfg, err
	}
	vk, err := verify.ParseVerifierKey(string(kt))
	if err != nil {
		return cfg, err
	}
	cfg.Keys = []*verify.VerifierKey{vk}
	if secretFile != "" {
		s, err := readSmall(secretFile)
		if err != nil {
			return cfg, err
		}
		if cfg.Secret, err = verify.ParseDeploymentSecret(string(s)); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}
