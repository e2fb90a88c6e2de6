package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/verify"
)

// The -json outputs. Field names are stable: scripts depend on them.
// Times are RFC 3339 in UTC; IDs and pseudonyms are lower-case hex.

// jsonAudit names the audit entry a command wrote.
type jsonAudit struct {
	Origin string `json:"origin"` // the log's origin (device name)
	Index  int64  `json:"index"`  // the entry's index in the log
}

// jsonReason is one reason of a verify decision.
type jsonReason struct {
	Code  string `json:"code"`            // a verify.Reason ("ok", "no_face", "expired", ...)
	Retry bool   `json:"retry"`           // trying again may succeed
	Frame *int   `json:"frame,omitempty"` // 1-based frame number; absent for the request
}

// jsonVerify is `oneface verify -json`.
type jsonVerify struct {
	Decision         string       `json:"decision"`               // "match", "no_match" or "refused" (as in the audit log)
	ExitStatus       int          `json:"exit_status"`            // 0, 3 or 4: the process's exit status
	Reasons          []jsonReason `json:"reasons"`                // never null
	ReferenceID      string       `json:"reference_id,omitempty"` // absent if the reference did not open
	Distance         *float64     `json:"distance,omitempty"`     // only with -show-distance and a comparison
	Threshold        *float64     `json:"threshold,omitempty"`    // idem
	TargetFMR        float64      `json:"target_fmr"`             // the -fmr in force
	Audit            *jsonAudit   `json:"audit,omitempty"`        // the decision's audit entry
	ReceiptFile      string       `json:"receipt_file,omitempty"`
	ConsentStatement string       `json:"consent_statement_file,omitempty"`
	Liveness         string       `json:"liveness"` // the liveness mode in force: none, passive, challenge or both
}

// jsonQuality is an enrolment's template quality.
type jsonQuality struct {
	Photos    int      `json:"photos"`           // photos averaged into the template
	MinFacePx int      `json:"min_face_px"`      // smallest face width, pixels
	Spread    *float64 `json:"spread,omitempty"` // largest distance of a photo from the mean (enroll only)
}

// jsonEnroll is `oneface enroll -json`.
type jsonEnroll struct {
	ReferenceID   string      `json:"reference_id"`
	Subject       string      `json:"subject"` // the pseudonym, never the subject ID
	ExpiresAt     string      `json:"expires_at"`
	Purposes      []string    `json:"purposes"`
	Verifiers     int         `json:"verifiers"` // recipients the reference is sealed to
	PIN           bool        `json:"pin"`
	Quality       jsonQuality `json:"quality"`
	SealedBytes   int         `json:"sealed_bytes"`
	TextChars     int         `json:"text_chars"`
	ReferenceFile string      `json:"reference_file"`
	QRFile        string      `json:"qr_file,omitempty"`
	Audit         *jsonAudit  `json:"audit,omitempty"`
}

// jsonOpen is `oneface open -json`.
type jsonOpen struct {
	ReferenceID string      `json:"reference_id"`
	Version     int         `json:"version"` // reference format version (1 or 2)
	Purpose     string      `json:"purpose"` // the purpose it was opened for
	Subject     string      `json:"subject"` // pseudonym
	IssuerKeyID string      `json:"issuer_key_id"`
	ModelID     string      `json:"model_id"`
	IssuedAt    string      `json:"issued_at"`
	ExpiresAt   string      `json:"expires_at"`
	Purposes    []string    `json:"purposes"`
	Quality     jsonQuality `json:"quality"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// decisionStatus maps a decision to its spelling and exit status.
func decisionStatus(d *verify.Decision) (string, int) {
	switch {
	case d.Match:
		return string(audit.DecisionMatch), exitOK
	case d.Refused:
		return string(audit.DecisionRefused), exitRefused
	default:
		return string(audit.DecisionNoMatch), exitNoMatch
	}
}

// verifyOutput is what `oneface verify` reports besides the decision.
type verifyOutput struct {
	JSON                     bool
	ShowDistance             bool
	FMR                      float64
	Audit                    *jsonAudit
	ReceiptFile, ConsentFile string
}

// reportDecision prints a verify decision as text or JSON and returns
// the exit status: nil for a match, exitStatus otherwise.
func reportDecision(w io.Writer, d *verify.Decision, o verifyOutput) error {
	spelling, status := decisionStatus(d)
	if o.JSON {
		j := jsonVerify{Decision: spelling, ExitStatus: status, Reasons: []jsonReason{}, TargetFMR: o.FMR, Audit: o.Audit,
			ReceiptFile: o.ReceiptFile, ConsentStatement: o.ConsentFile, Liveness: string(d.Liveness)}
		for _, r := range d.Reasons {
			jr := jsonReason{Code: string(r.Code), Retry: r.Retry}
			if r.Frame >= 0 {
				n := r.Frame + 1
				jr.Frame = &n
			}
			j.Reasons = append(j.Reasons, jr)
		}
		if d.ReferenceID != (verify.ReferenceID{}) {
			j.ReferenceID = d.ReferenceID.String()
		}
		if o.ShowDistance && !d.Refused {
			dist, thr := d.Distance, d.Threshold
			j.Distance, j.Threshold = &dist, &thr
		}
		if err := writeJSON(w, j); err != nil {
			return err
		}
	} else {
		switch {
		case d.Match:
			fmt.Fprintln(w, "MATCH: the person is the holder of the reference")
		case d.Refused:
			fmt.Fprintln(w, "REFUSED: no comparison was made")
		default:
			fmt.Fprintln(w, "NO MATCH")
		}
		if d.Liveness == verify.LivenessNone {
			fmt.Fprintln(w, "  liveness none: no liveness check (a photo of the holder matches too)")
		} else {
			fmt.Fprintf(w, "  liveness %s\n", d.Liveness)
		}
		for _, r := range d.Reasons {
			kind := ": reject"
			switch {
			case r.Code == verify.ReasonOK:
				kind = ""
			case r.Retry:
				kind = ": retry"
			}
			where := ""
			if r.Frame >= 0 {
				where = fmt.Sprintf(" (frame %d)", r.Frame+1)
			}
			fmt.Fprintf(w, "  reason %s%s%s\n", r.Code, kind, where)
		}
		if o.ShowDistance && !d.Refused {
			fmt.Fprintf(w, "  distance %.4f, threshold %.4f (FMR %g)\n", d.Distance, d.Threshold, o.FMR)
		}
		if d.ReferenceID != (verify.ReferenceID{}) {
			fmt.Fprintf(w, "  reference %s; live data wiped\n", d.ReferenceID)
		}
		if o.Audit != nil {
			fmt.Fprintf(w, "  audited as entry %d of %s\n", o.Audit.Index, o.Audit.Origin)
		}
		if o.ReceiptFile != "" {
			fmt.Fprintf(w, "  receipt -> %s\n", o.ReceiptFile)
		}
		if o.ConsentFile != "" {
			fmt.Fprintf(w, "  signed consent statement -> %s\n", o.ConsentFile)
		}
	}
	if status != exitOK {
		return exitStatus(status)
	}
	return nil
}

// reportEnroll prints an enrolment as text or JSON.
func reportEnroll(w io.Writer, asJSON bool, j jsonEnroll) error {
	if asJSON {
		return writeJSON(w, j)
	}
	if j.Audit != nil {
		fmt.Fprintf(w, "audit: enrolment recorded as entry %d of %s\n", j.Audit.Index, j.Audit.Origin)
	}
	fmt.Fprintf(w, "reference %s for subject %s\n", j.ReferenceID, j.Subject)
	fmt.Fprintf(w, "  expires %s, purposes %s, %d verifier(s), PIN %v\n", j.ExpiresAt, strings.Join(j.Purposes, ","), j.Verifiers, j.PIN)
	spread := 0.0
	if j.Quality.Spread != nil {
		spread = *j.Quality.Spread
	}
	fmt.Fprintf(w, "  template: mean of %d photo(s), smallest face %d px, spread %.3f\n", j.Quality.Photos, j.Quality.MinFacePx, spread)
	fmt.Fprintf(w, "  %d bytes sealed, %d characters of text -> %s\n", j.SealedBytes, j.TextChars, j.ReferenceFile)
	if j.QRFile != "" {
		fmt.Fprintf(w, "  QR code -> %s\n", j.QRFile)
	}
	fmt.Fprintln(w, "  the issuer keeps no copy: hand the reference to the person")
	return nil
}

// reportOpen prints an opened reference as text or JSON.
func reportOpen(w io.Writer, asJSON bool, j jsonOpen) error {
	if asJSON {
		return writeJSON(w, j)
	}
	fmt.Fprintf(w, "reference %s (format v%d) opens for %q\n", j.ReferenceID, j.Version, j.Purpose)
	fmt.Fprintf(w, "  subject %s, issuer key %s, model %s\n", j.Subject, j.IssuerKeyID, j.ModelID)
	fmt.Fprintf(w, "  issued %s, expires %s, purposes %s\n", j.IssuedAt, j.ExpiresAt, strings.Join(j.Purposes, ","))
	fmt.Fprintf(w, "  template: mean of %d photo(s), smallest face %d px\n", j.Quality.Photos, j.Quality.MinFacePx)
	return nil
}

// verifyOuts are verify's output flags.
type verifyOuts struct {
	receipt, consent *string
	force, json      *bool
	fmr              float64
	showDistance     bool
}

func verifyOutputFlags(fs *flag.FlagSet) *verifyOuts {
	return &verifyOuts{
		receipt: fs.String("receipt", "", "write the person's audit receipt to this file (mode 0600)"),
		consent: fs.String("consent-statement", "", "write the kiosk's signed consent statement to this file (mode 0600)"),
		force:   fs.Bool("force", false, "replace existing -receipt and -consent-statement files"),
		json:    fs.Bool("json", false, "print the decision as one JSON object (see README.md, \"CLI\")"),
	}
}

// check refuses, before anything is decided or audited, output files that
// could not be written afterwards.
func (o *verifyOuts) check() error {
	for _, p := range []string{*o.receipt, *o.consent} {
		if p == stdinName {
			return usageError{"-receipt and -consent-statement take a file name"}
		}
		if p != "" {
			if err := checkTarget(p, *o.force); err != nil {
				return err
			}
		}
	}
	if *o.receipt != "" && *o.receipt == *o.consent {
		return usageError{"-receipt and -consent-statement name the same file"}
	}
	return nil
}

// finishVerify writes verify's output files and reports the decision.
func finishVerify(stdout io.Writer, d *verify.Decision, alog *audit.Log, o *verifyOuts) error {
	out := verifyOutput{JSON: *o.json, ShowDistance: o.showDistance, FMR: o.fmr}
	if info, err := audit.CheckReceipt(d.Receipt, alog.PublicKey()); err == nil {
		out.Audit = &jsonAudit{Origin: alog.Origin(), Index: info.Record.Index}
	}
	spelling, _ := decisionStatus(d)
	if *o.receipt != "" {
		if err := writeOutput(*o.receipt, d.Receipt, modeSecret, *o.force); err != nil {
			return fmt.Errorf("decision %s made and audited, but the receipt was not written: %w", spelling, err)
		}
		out.ReceiptFile = *o.receipt
	}
	if *o.consent != "" && d.Consent != nil {
		if err := writeOutput(*o.consent, d.Consent.Statement, modeSecret, *o.force); err != nil {
			return fmt.Errorf("decision %s made and audited, but the consent statement was not written: %w", spelling, err)
		}
		out.ConsentFile = *o.consent
	}
	return reportDecision(stdout, d, out)
}

// jsonEntry is one line of `oneface audit show -json` (JSON Lines: one
// object per entry, so a large log streams). It holds what the log's
// public part holds; the personal part stays encrypted.
type jsonEntry struct {
	Index    int64  `json:"index"`
	Version  int    `json:"version"` // entry format, 1–3 (3 for new entries; 1 and 2 as earlier versions wrote them)
	Time     string `json:"time"`
	Kind     string `json:"kind"`
	Purpose  string `json:"purpose"`
	Decision string `json:"decision"` // "match", "no_match", "refused" or "none"
	Reason   string `json:"reason"`
	ModelID  string `json:"model_id"`
	Liveness string `json:"liveness,omitempty"`
	Notice   string `json:"notice,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Device   string `json:"device"`
	Library  string `json:"library"`
	Personal bool   `json:"personal"` // a personal part is committed to
}

// showEntry prints one audit record as `audit show` does, as text or as
// a JSON line.
func showEntry(w io.Writer, r *audit.Record, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(jsonEntry{Index: r.Index, Version: r.Version, Time: rfc3339(r.Entry.Time), Kind: string(r.Entry.Kind),
			Purpose: r.Entry.Purpose, Decision: string(r.Entry.Decision), Reason: r.Entry.Reason, ModelID: r.Entry.ModelID,
			Liveness: r.Entry.Liveness, Notice: r.Entry.Notice, Detail: r.Detail, Device: r.Device, Library: r.Library,
			Personal: r.Commitment != nil})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	personal := "-"
	if r.Commitment != nil {
		personal = "committed"
	}
	_, err := fmt.Fprintf(w, "%6d  %s  %-17s %-10s %-8s %-22s model %s  personal %s\n", r.Index, r.Entry.Time.Format("2006-01-02T15:04:05Z"),
		r.Entry.Kind, r.Entry.Purpose, r.Entry.Decision, r.Entry.Reason, r.Entry.ModelID, personal)
	return err
}
