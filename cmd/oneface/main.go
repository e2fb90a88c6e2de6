// Command oneface is the command-line tool of oneface: audited, on-device,
// 1:1 face verification.
//
//	oneface models  [-models DIR]                      check every pinned model file, print the model IDs and BLAS
//	oneface compare [-models DIR] IMG IMG...           analyse images, print dlib's pairwise descriptor distances
//	oneface keygen  issuer|verifier|deployment|log -o FILE  make a key (public half on stdout)
//	oneface enroll  -key F -secret F -to R -purpose P -subject-file F -o REF PHOTO...
//	                                                   enrol a person into a sealed reference (and -qr PNG)
//	oneface open    -key F -secret F -issuer PUB -purpose P REF  open a reference (text file or QR image) and show it
//	oneface verify  -key F -secret F -issuer PUB -purpose P -audit-log DIR -log-key F -notice FILE -consented REF FRAME...
//	                                                   the kiosk: a consented, audited 1:1 decision; lockout,
//	                                                   consent nonces and withdrawals persist in DIR.state;
//	                                                   DIR needs a controller (`oneface audit init`); the
//	                                                   default -liveness both needs a person at a terminal
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
// "oneface: hint: ..." lines.
//
// # Exit status
//
// One table for every command, so a script can act on it:
//
//	0  ok; for verify: MATCH (the person is the holder of the reference)
//	1  error: nothing was decided or done (a file, a key, the engine, the audit log)
//	2  usage error: the command line is wrong; nothing was read or written
//	3  verify: NO MATCH (a comparison was made; the person is not the holder)
//	4  verify: REFUSED (no comparison was made: consent, lockout, card, capture quality)
//
// Only 0 may open a door. For the audit commands that check something
// (audit verify, audit check-receipt), a check that fails is 1.
//
// verify, open and enroll take -json to print one JSON object (fields in
// README.md's "CLI" section) on standard output instead of text; audit
// show -json prints one object per entry and line (JSON Lines). Errors
// stay on standard error, as text.
//
// # Files
//
// Secrets and subject IDs are never taken on the command line, where ps
// and shell history see them: keys, secrets, PINs and subject IDs are read
// from files, and "-" reads standard input wherever a file is read.
// Output files are never overwritten without -force, never written
// through a symbolic link, and appear whole or not at all (a temporary
// file in the same folder, synced, then renamed); keys, secrets,
// references, receipts and consent statements are written with mode 0600.
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
	"models":   {"check every pinned model file and print the model IDs (arcface, dlib) and BLAS", runModels},
	"compare":  {"analyse images and print dlib's pairwise descriptor distances (not the default model)", runCompare},
	"keygen":   {"make an issuer, verifier, deployment or log key", runKeygen},
	"enroll":   {"enrol a person into a signed, sealed reference", runEnroll},
	"open":     {"open a reference (text or QR image) and show what it holds", runOpen},
	"audit":    {"verify, inspect, prove, export and erase in an audit log", runAudit},
	"eval":     {"measure error rates on labelled pairs; report, DET plot, histograms", runEval},
	"verify":   {"the kiosk: consented 1:1 verification of a live frame against a reference, audited", runVerify},
	"revoke":   {"revoke a reference on this kiosk (durable state), audited", runBlock("revoke", false)},
	"withdraw": {"record a holder's consent withdrawal on this kiosk (durable state), audited", runBlock("withdraw", true)},

	"calibrate-site": {"measure a site's consenting captures at the shipped threshold; write a signed site calibration or refuse", runCalibrateSite},
}

// Exit statuses: see the package doc.
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitNoMatch = 3
	exitRefused = 4
)

// exitStatus is returned by a command that has printed its outcome and
// ends with a status other than 0 without an error message (verify's
// NO MATCH and REFUSED).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

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
		if len(args) == 0 {
			usage(stderr)
			return exitUsage
		}
		usage(stdout)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "oneface: error: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	err := cmd.run(args[1:], stdout, stderr)
	if err == nil {
		return exitOK
	}
	if s, ok := err.(exitStatus); ok {
		return int(s)
	}
	fmt.Fprintf(stderr, "oneface: error: %v\n", err)
	if h, ok := err.(hintError); ok {
		for _, l := range h.hints {
			fmt.Fprintf(stderr, "oneface: hint: %s\n", l)
		}
	}
	if _, ok := err.(usageError); ok {
		return exitUsage
	}
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: oneface <command> [flags] [args]\n\ncommands:")
	for _, n := range sortedKeys(commands) {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
exit status (every command):
  0  ok; verify: MATCH
  1  error: nothing was decided or done (audit verify, check-receipt: the check failed)
  2  usage error
  3  verify: NO MATCH (compared; not the holder)
  4  verify: REFUSED (no comparison made; the reasons say why)
only 0 may open a door.

"-" reads standard input wherever a file is read; secrets, PINs and subject
IDs are read from files, never from the command line. Outputs are never
overwritten without -force. -json (verify, open, enroll) prints one JSON object;
audit show -json one per entry and line.
`)
}
