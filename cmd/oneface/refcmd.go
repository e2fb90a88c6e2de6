package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/imageio"
	"github.com/oneface/oneface/internal/textform"
	"github.com/oneface/oneface/verify"
)

// maxKeyFile bounds key, secret, notice and reference files read from
// disk or standard input.
const maxKeyFile = 64 << 10

// readSmall reads a key, secret or notice file ("-": standard input) of
// at most maxKeyFile bytes, through internal/safefile.
func readSmall(path string) ([]byte, error) { return readInput(path, maxKeyFile) }

// keyName checks a key name against the rules of the signed-note key
// format (golang.org/x/mod/sumdb/note), which every later command applies
// when it parses the key: non-empty, valid UTF-8, no '+' (the format's
// field separator) and no white space. For log keys the name is also the
// log's origin, which audit entries restrict further.
func keyName(kind, name string) error {
	switch {
	case name == "":
		return usageError{fmt.Sprintf("keygen %s needs -name", kind)}
	case !utf8.ValidString(name):
		return usageError{fmt.Sprintf("-name %q: not valid UTF-8", name)}
	case strings.Contains(name, "+"):
		return usageError{fmt.Sprintf("-name %q: a key name cannot contain '+' (the key format's field separator)", name)}
	case strings.IndexFunc(name, unicode.IsSpace) >= 0:
		return usageError{fmt.Sprintf("-name %q: a key name cannot contain white space", name)}
	}
	return nil
}

func runKeygen(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"keygen needs a kind: issuer, verifier, deployment or log"}
	}
	kind, flagArgs := args[0], args[1:]
	if strings.HasPrefix(kind, "-") { // flags first (-h): no kind yet
		kind, flagArgs = "", args
	}
	fs := flag.NewFlagSet("oneface keygen "+cmp.Or(kind, "issuer|verifier|deployment|log"), flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "file for the secret key (created, mode 0600; never overwritten)")
	name := fs.String("name", "", "issuer name, or the device name for log keys (the log's origin); no '+' or white space (log names: letters, digits and ._:/=-)")
	if err := parse(fs, flagArgs); err != nil {
		return err
	}
	if kind == "" {
		return usageError{"keygen needs a kind first: oneface keygen issuer|verifier|deployment|log -o FILE"}
	}
	if *out == "" {
		return usageError{"keygen needs -o FILE for the secret key"}
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Sprintf("keygen: unexpected argument %q", fs.Arg(0))}
	}
	var secret, public string
	switch kind {
	case "issuer":
		if err := keyName(kind, *name); err != nil {
			return err
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
		if err := keyName(kind, *name); err != nil {
			return err
		}
		var err error
		if secret, public, err = audit.GenerateKey(*name); err != nil {
			return usageError{fmt.Sprintf("-name %q: %v", *name, err)}
		}
		// Parse it back as every later command will.
		if _, err := verify.ParseKioskKey(secret); err != nil {
			return err
		}
	default:
		return usageError{fmt.Sprintf("unknown key kind %q (issuer, verifier, deployment, log)", kind)}
	}
	if err := writeOutput(*out, []byte(secret+"\n"), modeSecret, false); err != nil {
		if errors.Is(err, errExists) {
			return hintError{err, []string{"keygen never overwrites a key: choose another -o or remove the old file yourself"}}
		}
		return err
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

// maxLine bounds one-line inputs: PINs and subject IDs.
const maxLine = 1 << 10

// readLine reads a one-line secret (a PIN, a subject ID) from a file or
// standard input ("-"). The final newline (LF or CRLF) and trailing
// spaces and tabs are not part of it; a second line is an error.
func readLine(path, what string) (string, error) {
	b, err := readInput(path, maxLine)
	if err != nil {
		return "", err
	}
	defer clear(b)
	s, err := textform.Lines(b, maxLine)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, path, err)
	}
	s = strings.TrimSuffix(s, "\n")
	switch {
	case s == "":
		return "", fmt.Errorf("%s %s: empty", what, path)
	case strings.Contains(s, "\n"):
		return "", fmt.Errorf("%s %s: more than one line", what, path)
	}
	return s, nil
}

// readPIN reads the holder's PIN from -pin-file or the environment
// variable named by -pin-env (never from the command line); "" if
// neither is given.
func readPIN(file, env string) (string, error) {
	switch {
	case file != "" && env != "":
		return "", usageError{"give the PIN with -pin-file or -pin-env, not both"}
	case file != "":
		return readLine(file, "PIN file")
	case env != "":
		pin, ok := os.LookupEnv(env)
		if !ok || pin == "" {
			return "", fmt.Errorf("environment variable %s (the PIN) is not set", env)
		}
		return pin, nil
	}
	return "", nil
}

func runEnroll(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("enroll", stderr)
	model := modelFlag(fs)
	keyFile := fs.String("key", "", "issuer secret key file")
	secretFile := fs.String("secret", "", "deployment secret file")
	subjectFile := fs.String("subject-file", "", "file holding the issuer's ID for the person, one line (\"-\": standard input); only its pseudonym is stored")
	subjectArg := fs.String("subject", "", "REMOVED: a subject ID on the command line is seen by ps and shell history; use -subject-file")
	out := fs.String("o", "", "file for the reference (text form, mode 0600)")
	qr := fs.String("qr", "", "also write the reference as a QR code PNG to this file (mode 0600)")
	force := fs.Bool("force", false, "replace existing -o and -qr files")
	asJSON := fs.Bool("json", false, "print the enrolment as one JSON object (see README.md, \"CLI\")")
	validity := fs.Duration("validity", 365*24*time.Hour, "how long the reference is valid")
	pinEnv := fs.String("pin-env", "", "name of an environment variable holding the holder's PIN (type 2 reference)")
	pinFile := fs.String("pin-file", "", "file holding the holder's PIN, one line (\"-\": standard input)")
	auditDir := fs.String("audit-log", "", "record the enrolment in this audit log directory")
	logKey := fs.String("log-key", "", "the audit log's secret key file (with -audit-log)")
	var to, purposes list
	fs.Var(&to, "to", "verifier recipient (age1...) or a file holding one (as keygen verifier prints it), repeatable or comma-separated")
	fs.Var(&purposes, "purpose", "allowed purpose, repeatable or comma-separated")
	if err := parse(fs, args); err != nil {
		return err
	}
	photos := fs.Args()
	switch {
	case *subjectArg != "":
		return usageError{"-subject is not taken on the command line (ps and shell history would see it): put the ID in a file and pass -subject-file FILE, or -subject-file - to read it from standard input"}
	case *keyFile == "" || *secretFile == "" || *subjectFile == "" || *out == "":
		return usageError{"enroll needs -key, -secret, -subject-file and -o"}
	case len(to) == 0 || len(purposes) == 0:
		return usageError{"enroll needs at least one -to and one -purpose"}
	case len(photos) == 0:
		return usageError{"enroll needs at least one photo"}
	case *qr != "" && *qr == *out:
		return usageError{"-o and -qr name the same file"}
	}
	inputs := map[string]string{"-key": *keyFile, "-secret": *secretFile, "-subject-file": *subjectFile, "-pin-file": *pinFile, "-log-key": *logKey}
	for i, p := range photos {
		inputs[fmt.Sprintf("photo %d", i+1)] = p
	}
	if err := oneStdin(inputs); err != nil {
		return err
	}
	// Refuse outputs that could not be written before anything is enrolled.
	for _, p := range []string{*out, *qr} {
		if p == stdinName {
			return usageError{"-o and -qr take a file name"}
		}
		if p != "" {
			if err := checkTarget(p, *force); err != nil {
				return err
			}
		}
	}
	subject, err := readLine(*subjectFile, "subject ID file")
	if err != nil {
		return err
	}
	pin, err := readPIN(*pinFile, *pinEnv)
	if err != nil {
		return err
	}
	keyText, err := readSmall(*keyFile)
	if err != nil {
		return err
	}
	key, err := verify.ParseIssuerKey(string(keyText))
	clear(keyText)
	if err != nil {
		return err
	}
	secretText, err := readSmall(*secretFile)
	if err != nil {
		return err
	}
	secret, err := verify.ParseDeploymentSecret(string(secretText))
	clear(secretText)
	if err != nil {
		return err
	}
	var recips []*verify.VerifierRecipient
	for _, s := range to {
		r, err := verify.ParseVerifierRecipient(s)
		if err != nil {
			var key string
			if key, err = keyOrFile(s, "age1", err); err == nil {
				r, err = verify.ParseVerifierRecipient(key)
			}
		}
		if err != nil {
			return err
		}
		recips = append(recips, r)
	}
	var imgs [][]byte
	for _, p := range photos {
		b, err := readInput(p, imageio.DefaultMaxBytes)
		if err != nil {
			return err
		}
		imgs = append(imgs, b)
	}
	var alog *audit.Log
	if *auditDir != "" {
		if err := requireController(*auditDir); err != nil {
			return err
		}
		if alog, err = openLog(*auditDir, *logKey); err != nil {
			return err
		}
		defer alog.Close()
	}
	engine, err := openEngine(*dir, *model, false)
	if err != nil {
		return err
	}
	defer engine.Close()
	cfg := verify.IssuerConfig{Key: key, Secret: secret, Engine: engine}
	if alog != nil {
		cfg.Audit = alog // the library records the enrolment before it returns the reference
	}
	issuer, err := verify.NewIssuer(cfg)
	if err != nil {
		return err
	}
	enr, err := issuer.Enroll(context.Background(), verify.EnrollRequest{
		SubjectID: subject, Photos: imgs, Purposes: purposes, Validity: *validity, Verifiers: recips, PIN: pin,
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
	spread := enr.Quality.Spread
	rep := jsonEnroll{ReferenceID: enr.ID.String(), Subject: enr.Subject.String(), ExpiresAt: rfc3339(enr.ExpiresAt),
		Purposes: purposes, Verifiers: len(recips), PIN: pin != "", Quality: jsonQuality{Photos: enr.Quality.Photos,
			MinFacePx: enr.Quality.MinFacePx, Spread: &spread}, SealedBytes: len(enr.Reference), ReferenceFile: *out, QRFile: *qr}
	if enr.Receipt != nil {
		info, err := audit.CheckReceipt(enr.Receipt, alog.PublicKey())
		if err != nil {
			return fmt.Errorf("enrolment receipt does not check, reference discarded: %w", err)
		}
		rep.Audit = &jsonAudit{Origin: alog.Origin(), Index: info.Record.Index}
	}
	text := verify.EncodeText(enr.Reference)
	rep.TextChars = len(text)
	if err := writeOutput(*out, []byte(text+"\n"), modeSecret, *force); err != nil {
		return err
	}
	if *qr != "" {
		png, err := verify.QRCode(enr.Reference, 6)
		if err != nil {
			return err
		}
		if err := writeOutput(*qr, png, modeSecret, *force); err != nil {
			return err
		}
	}
	return reportEnroll(stdout, *asJSON, rep)
}

func runOpen(args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("open", stderr)
	keyFile := fs.String("key", "", "verifier secret key file")
	secretFile := fs.String("secret", "", "deployment secret file (references are bound to their deployment)")
	purpose := fs.String("purpose", "", "the purpose the reference is presented for")
	allowV1 := fs.Bool("allow-v1", false, "also open version 1 references (WEAKER: see OpenerConfig.AllowV1)")
	pinEnv := fs.String("pin-env", "", "name of an environment variable holding the holder's PIN")
	pinFile := fs.String("pin-file", "", "file holding the holder's PIN, one line (\"-\": standard input)")
	asJSON := fs.Bool("json", false, "print the reference as one JSON object (see README.md, \"CLI\")")
	var issuers list
	fs.Var(&issuers, "issuer", "trusted issuer public key, or a file holding it (as keygen issuer prints it), repeatable")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *keyFile == "" || *purpose == "" || len(issuers) == 0 || *secretFile == "" || fs.NArg() != 1 {
		return usageError{"open needs -key, -secret, -issuer, -purpose and one reference (text file, or a PNG/JPEG image of its QR code; \"-\": standard input)"}
	}
	if err := oneStdin(map[string]string{"-key": *keyFile, "-secret": *secretFile, "-pin-file": *pinFile, "reference": fs.Arg(0)}); err != nil {
		return err
	}
	pin, err := readPIN(*pinFile, *pinEnv)
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
		return hintError{err, []string{"pass the holder's PIN with -pin-file FILE (\"-\": standard input) or -pin-env VAR"}}
	}
	if errors.Is(err, verify.ErrV1) {
		return hintError{err, []string{"re-issue the reference with this version of oneface, or pass -allow-v1 (weaker) while cards are replaced"}}
	}
	if err != nil {
		return err
	}
	defer r.Wipe()
	q := r.EnrollQuality()
	return reportOpen(stdout, *asJSON, jsonOpen{ReferenceID: r.ID().String(), Version: r.Version(), Purpose: *purpose,
		Subject: r.Subject().String(), IssuerKeyID: fmt.Sprintf("%08x", r.IssuerKeyID()), ModelID: r.ModelID().String(),
		IssuedAt: rfc3339(r.IssuedAt()), ExpiresAt: rfc3339(r.ExpiresAt()), Purposes: r.Purposes(),
		Quality: jsonQuality{Photos: q.Photos, MinFacePx: q.MinFacePx}})
}

// readReference reads a reference file ("-": standard input): its text
// or binary form, or an image (JPEG, PNG, WebP) showing its QR code,
// decoded by the one image path (internal/imageio) and searched within
// ReadQR's budget. The text form may have been through text transport
// (CRLF, wrapping, a final newline): verify.DecodeReference undoes that.
func readReference(path string) ([]byte, error) {
	b, err := readInput(path, imageio.DefaultMaxBytes)
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
	r, err := verify.DecodeReference(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// openerConfig reads a kiosk's trust settings from flags: the trusted
// issuer public keys, its secret key file and the deployment secret file.
// keyOrFile is a public key flag's value that did not parse as a key
// (parseErr): unless it looks like a key (holds mark) or is "-", it is
// read as a file holding the key, as `keygen` writes it; a file that does
// not exist gives parseErr back.
func keyOrFile(s, mark string, parseErr error) (string, error) {
	if strings.Contains(s, mark) || s == stdinName {
		return "", parseErr
	}
	b, err := readSmall(s)
	if errors.Is(err, os.ErrNotExist) {
		return "", parseErr
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func openerConfig(issuers []string, keyFile, secretFile string) (verify.OpenerConfig, error) {
	var cfg verify.OpenerConfig
	for _, s := range issuers {
		k, err := verify.ParseIssuerPublicKey(s)
		if err != nil {
			var key string
			if key, err = keyOrFile(s, "+", err); err == nil {
				k, err = verify.ParseIssuerPublicKey(key)
			}
		}
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
