package audit

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// FuzzWitnessAnswers feeds arbitrary bytes to every parser of what a
// witness or a collection directory hands back: cosignature lines, a 409
// tree size, a stored proof and a checkpoint's head. None may panic; what
// they accept must be canonical.
func FuzzWitnessAnswers(f *testing.F) {
	l := newTestLog(f, Options{})
	if _, err := l.Append(context.Background(), verifyEntry(0), nil); err != nil {
		f.Fatal(err)
	}
	cp := l.Checkpoint()
	wit := newCosigner(f, "witness.example/fuzz")
	v, err := NewCosignatureVerifier(wit.vkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wit.cosign(f, cp))
	f.Add([]byte("12\n"))
	f.Add([]byte("old 3\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n"))
	f.Add(cp)
	f.Fuzz(func(t *testing.T, data []byte) {
		if sigs, err := verifyCosignature(cp, data, v); err == nil {
			full := append(bytes.Clone(cp), sigs...)
			if got := CosignedBy(full, []note.Verifier{v}); len(got) != 1 {
				t.Fatalf("accepted cosignature %q does not count", data)
			}
		}
		if n, err := parseWitnessSize(data); err == nil && string(data) != strconv.FormatInt(n, 10)+"\n" {
			t.Fatalf("size %q accepted as %d", data, n)
		}
		if old, hashes, err := parseStoredProof(data); err == nil && !bytes.Equal(addCheckpointBody(old, hashes, nil), data) {
			t.Fatalf("proof %q is not canonical", data)
		}
		if origin, size, err := checkpointHead(data); err == nil && (origin == "" || size < 0) {
			t.Fatalf("head %q: %q %d", data, origin, size)
		}
		CosignedBy(data, []note.Verifier{v})
	})
}
