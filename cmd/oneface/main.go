// Command oneface is the command-line tool of oneface: audited, on-device,
// 1:1 face verification.
//
//	oneface models  [-models DIR]                      check the model files, print the model ID and BLAS
//	oneface compare [-models DIR] IMG IMG...           analyse images, print pairwise distances
//	oneface keygen  issuer|verifier|deployment|log -o FILE  make a key (public half on stdout)
//	oneface enroll  -key F -secret F -to R -purpose P -subject ID -o REF PHOTO...
//	                                                   enrol a person into a sealed reference (and -qr PNG)
//	oneface open    -key F -secret F -issuer PUB -purpose P REF  open a reference (text file or QR image) and show it
//	oneface verify  -key F -secret F -issuer PUB -purpose P -audit-log DIR -log-key F -notice FILE -consented REF FRAME...
//	                                                   the kiosk: a consented, audited 1:1 decision; lockout,
//	                                                   consent nonces and withdrawals persist in DIR.state
//	oneface revoke   -key F -audit-log DIR -log-key F REFID   revoke a reference on this kiosk, audited
//	oneface withdraw -key F -audit-log DIR -log-key F [-subject HEX] REFID
//	                                                   record a consent withdrawal on this kiosk, audited
//	oneface eval    -pairs FILE.csv [-root DIR] [-folds K] [-out DIR] [-compare report.json]
//	                                                   measure error rates, write report and plots
//	oneface audit   verify|show|checkpoint|prove|receipt|check-receipt|export|erase ...
//	                                                   the audit log: see `oneface audit`
//
// The model directory defaults to $ONEFACE_MODELDIR, else .models (made by
// `make setup`). Errors are printed as "oneface: error: ..." followed by
// "oneface: hint: ..." lines, and exit with status 1 (2 for usage errors).
package main

import (
	"fmt"
	"io"
	"os"
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"models":   {"check the model files and print the model ID and BLAS", runModels},
	"compare":  {"analyse images and print their pairwise distances", runCompare},
	"keygen":   {"make an issuer, verifier or deployment key", runKeygen},
	"enroll":   {"enrol a person into a signed, sealed reference", runEnroll},
	"open":     {"open a reference (text or QR image) and show what it holds", runOpen},
	"audit":    {"verify, inspect, prove, export and erase in an audit log", runAudit},
	"eval":     {"measure error rates on labelled pairs; report, DET plot, histograms", runEval},
	"verify":   {"the kiosk: consented 1:1 verification of a live frame against a reference, audited", runVerify},
	"revoke":   {"revoke a reference on this kiosk (durable state), audited", runBlock("revoke", false)},
	"withdraw": {"record a holder's consent withdrawal on this kiosk (durable state), audited", runBlock("withdraw", true)},

	"calibrate-site": {"measure a site's consenting captures at the shipped threshold; write a signed site calibration or refuse", runCalibrateSite},
}

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// hintError carries hints printed after the error line.
type hintError struct {
	err   error
	hints []string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "oneface: error: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(args[1:], stdout, stderr)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "oneface: error: %v\n", err)
	if h, ok := err.(hintError); ok {
		for _, l := range h.hints {
			fmt.Fprintf(stderr, "oneface: hint: %s\n", l)
		}
	}
	if _, ok := err.(usageError); ok {
		return 2
	}
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: oneface <command> [flags] [args]\n\ncommands:")
	for _, n := range sortedKeys(commands) {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
