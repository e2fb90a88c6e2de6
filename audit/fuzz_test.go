package audit

import (
	"bytes"
	"context"
	"errors"
	"testing"
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
	})
}

func FuzzParsePersonal(f *testing.F) {
	b, _ := marshalPersonal(personal(1, 2))
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePersonal(data)
		if err != nil {
			return
		}
		again, _ := marshalPersonal(p)
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
		// One text per receipt: anything else accepted is malleability.
		if err == nil && !bytes.Equal(data, rc) && !bytes.Equal(data, other) {
			t.Fatalf("accepted a receipt the log never issued:\n%s", data)
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
