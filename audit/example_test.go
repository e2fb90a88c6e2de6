package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/oneface/oneface/audit"
)

// A kiosk records a decision; the person checks the receipt offline; the
// controller, who holds the age identity off the device, answers the
// person's access request.
func Example() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	// On the device: its signing key. DO NOT hardcode keys.
	skey, vkey, err := audit.GenerateKey("kiosk-12.example.org")
	if err != nil {
		log.Fatal(err)
	}
	// Off the device: the controller's identity; the device gets only
	// the recipient.
	controller, _ := age.GenerateX25519Identity()
	l, err := audit.Open(filepath.Join(dir, "log"), skey, audit.Options{Controller: controller.Recipient()})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	l.AppendConfig(ctx, audit.PolicySummary{TargetFMR: 1e-4, Liveness: "passive-v1", LockoutMaxFailures: 5, LockoutWindow: 15 * time.Minute, Notices: []string{"notice-2026-11"}})
	person := &audit.Personal{ReferenceID: [16]byte{1}, Subject: [16]byte{2}, ConsentID: [16]byte{3}, Notice: "notice-2026-11"}
	a, err := l.Append(ctx, audit.Entry{Kind: audit.KindVerify, Purpose: "door-main", Decision: audit.DecisionMatch,
		Reason: "ok", ModelID: "22f8e3a4", Liveness: "passive-v1", Notice: "notice-2026-11"}, person)
	if err != nil {
		log.Fatal(err) // not recorded: do not open the door
	}

	// The person, offline, with the kiosk's public key.
	info, err := audit.CheckReceipt(a.Receipt, vkey)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("receipt: entry %d (%s, %s) in a checkpoint of %d\n", info.Record.Index, info.Record.Entry.Kind, info.Record.Entry.Decision, info.CheckpointSize)

	// The controller, with its identity (the device alone cannot do this).
	ex, err := l.Export(ctx, person.Subject, controller)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("export: %d record(s)\n", len(ex.Records))
	_, err = l.Export(ctx, person.Subject, nil)
	fmt.Println(err)
	// Output:
	// receipt: entry 1 (verify, match) in a checkpoint of 2
	// export: 1 record(s)
	// audit: no controller key: an age identity of the controller is needed
}

// Receipts survive text transport: a receipt whose line ends became CRLF
// (a mail client, a Windows editor) still verifies.
func ExampleCheckReceipt() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	skey, vkey, _ := audit.GenerateKey("kiosk-12.example.org")
	l, _ := audit.Open(dir, skey, audit.Options{})
	defer l.Close()
	a, _ := l.Append(context.Background(), audit.Entry{Kind: audit.KindVerify, Purpose: "door-main", Decision: audit.DecisionNoMatch, Reason: "distance", ModelID: "-"}, nil)
	crlf := bytes.ReplaceAll(a.Receipt, []byte("\n"), []byte("\r\n"))
	info, err := audit.CheckReceipt(crlf, vkey)
	fmt.Println(info.Record.Entry.Decision, err)
	_, err = audit.CheckReceipt(bytes.Replace(a.Receipt, []byte("proof "), []byte("proof \x00"), 1), vkey)
	fmt.Println(err)
	// Output:
	// no_match <nil>
	// receipt: audit: malformed: textform: line 4, column 7: control character 0x00
}

// An auditor holding a checkpoint collected earlier (or cosigned by a
// witness) finds out that entries were removed from the kiosk's disk,
// and the kiosk itself refuses to carry on from the shortened log.
func ExampleVerifyLog() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	skey, vkey, _ := audit.GenerateKey("kiosk-12.example.org")
	l, _ := audit.Open(dir, skey, audit.Options{})
	for range 3 {
		l.Append(context.Background(), audit.Entry{Kind: audit.KindVerify, Purpose: "door-main", Decision: audit.DecisionMatch, Reason: "ok", ModelID: "-"}, nil)
	}
	collected := l.Checkpoint()
	l.Close()

	// The attacker cuts the last entry off (no key needed).
	entries := filepath.Join(dir, "entries")
	data, _ := os.ReadFile(entries)
	last := bytes.LastIndex(data, []byte("oneface audit entry v3")) - 4
	os.WriteFile(entries, data[:last], 0o600)

	_, err := audit.VerifyLog(dir, vkey, audit.VerifyOptions{Checkpoints: [][]byte{collected}})
	fmt.Println(errors.Is(err, audit.ErrRollback), strings.Contains(err.Error(), "entry 2"))
	_, err = audit.Open(dir, skey, audit.Options{})
	fmt.Println(errors.Is(err, audit.ErrRollback))
	fmt.Println(audit.ErrRollback)
	// Output:
	// true true
	// true
	// audit: log rolled back
}

// An auditor lists a copied log one entry at a time (memory stays at one
// entry whatever the file's size); a log file replaced by a symbolic
// link, a FIFO or a device is refused by name before anything is read.
func ExampleEntries() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	skey, _, _ := audit.GenerateKey("kiosk-12.example.org")
	l, _ := audit.Open(dir, skey, audit.Options{})
	for _, reason := range []string{"ok", "no_match"} {
		l.Append(context.Background(), audit.Entry{Kind: audit.KindVerify, Purpose: "door-main", Decision: audit.DecisionMatch, Reason: reason, ModelID: "-"}, nil)
	}
	l.Close()
	for r, err := range audit.Entries(dir) {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(r.Index, r.Entry.Reason)
	}

	entries := filepath.Join(dir, "entries")
	os.Remove(entries)
	os.Symlink("/dev/zero", entries)
	for _, err := range audit.Entries(dir) {
		fmt.Println(errors.Is(err, audit.ErrNotRegular))
	}
	// Output:
	// 0 ok
	// 1 no_match
	// true
}
