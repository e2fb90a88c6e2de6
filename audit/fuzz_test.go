package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fuzzLog(f *testing.F) (*testLog, []byte) {
	l := newTestLog(f, Options{})
	var a Appended
	for i := range 5 {
		var err error
		if a, err = l.Append(context.Background(), verifyEntry(i), personal(1, byte(i))); err != nil {
			f.Fatal(err)
		}
	}
	return l, a.Receipt
}

func FuzzParseRecord(f *testing.F) {
	l, _ := fuzzLog(f)
	for i := range 5 {
		f.Add(must(l.Entry(int64(i))))
	}
	if _, err := l.AppendConfig(context.Background(), PolicySummary{TargetFMR: 1e-4, Liveness: "passive-v1", LockoutMaxFailures: 5, LockoutWindow: 900e9, Notices: []string{"n-1"}}); err != nil {
		f.Fatal(err)
	}
	f.Add(must(l.Entry(5)))
	f.Add(must(os.ReadFile("testdata/v1log/log/entries"))[4:])
	for i := range 5 { // v2 entries, one of them "decision no-match"
		f.Add(must(readFrameFileEntry("testdata/v2log/log", i)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			if r != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("%v with %v", err, r)
			}
			return
		}
		again, err := r.marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatal("Marshal output different from input")
		}
		if r.Entry.Kind == KindConfig {
			if p, err := r.Policy(); err == nil {
				if d, err := marshalPolicy(p); err != nil || d != r.Detail {
					t.Fatal("policy does not round-trip")
				}
			}
		}
	})
}

func FuzzParsePersonal(f *testing.F) {
	b, _ := marshalPersonal(personal(1, 2))
	f.Add(b)
	f.Add(marshalPersonalV1(personal(1, 2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePersonal(data)
		if err != nil {
			return
		}
		again, _ := marshalPersonal(p)
		if bytes.HasPrefix(data, []byte(personalIntroV1)) {
			again = marshalPersonalV1(p)
		}
		if !bytes.Equal(again, data) {
			t.Fatal("not canonical")
		}
	})
}

func FuzzCheckReceipt(f *testing.F) {
	l, rc := fuzzLog(f)
	other := must(l.Receipt(2, nil))
	f.Add(rc)
	f.Add(other)
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := CheckReceipt(data, l.vkey)
		if err != nil && info != nil {
			t.Fatal("info with an error")
		}
		if err == nil && info.Record.Index >= info.CheckpointSize {
			t.Fatal("accepted an entry outside its checkpoint")
		}
		// One text per receipt, up to the normalisation of line ends,
		// trailing blanks and final newlines: anything else accepted is
		// malleability.
		if err == nil {
			norm, nerr := normalizeText(data, MaxReceiptSize)
			if nerr != nil || !bytes.Equal(norm, rc) && !bytes.Equal(norm, other) {
				t.Fatalf("accepted a receipt the log never issued:\n%q", data)
			}
		}
	})
}

func FuzzVerifyEntries(f *testing.F) {
	l, _ := fuzzLog(f)
	var payloads [][]byte
	for i := range 5 {
		payloads = append(payloads, must(l.Entry(int64(i))))
	}
	cp := l.Checkpoint()
	f.Add(frames(payloads), cp)
	f.Add(frames(payloads[:3]), cp)
	f.Fuzz(func(t *testing.T, data, cp []byte) {
		rep, err := verifyEntries(data, cp, l.vkey)
		if err == nil && (rep.Entries < rep.CheckpointSize) {
			t.Fatal("accepted a log shorter than its checkpoint")
		}
	})
}

func FuzzReadFrames(f *testing.F) {
	f.Add(frames([][]byte{[]byte("a"), []byte("bc")}))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, valid, _, _ := readFrames(data)
		if valid > len(data) || !bytes.Equal(frames(ps), data[:valid]) {
			t.Fatal("frames do not re-encode to the valid prefix")
		}
	})
}

// FuzzCheckEvidence: checkpoints (with cosignatures) and receipts from an
// evidence directory: never crashes, and whatever counts is signed by the
// log and normalises to a text the log or the witness signed.
func FuzzCheckEvidence(f *testing.F) {
	l, rc := fuzzLog(f)
	wsk, wvk := genWitnessKey("witness-1.example")
	w := newDirWitness(f.TempDir(), wsk, l.vkey)
	sig, err := w.Cosign(context.Background(), l.Checkpoint(), func(int64) ([]tlog.Hash, error) { return nil, nil })
	if err != nil {
		f.Fatal(err)
	}
	cosigned := append(l.Checkpoint(), sig...)
	f.Add(cosigned)
	f.Add(rc)
	f.Add(l.Checkpoint())
	v, wv := mustVerifier(l.vkey), mustVerifier(wvk)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := checkEvidence(evidence{from: "fuzz", text: data}, v, []note.Verifier{wv})
		if err != nil {
			return
		}
		if c.cosigs > 1 || c.size > 5 {
			t.Fatalf("counted %+v", c)
		}
	})
}
