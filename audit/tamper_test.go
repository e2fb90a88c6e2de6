package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	tlogfmt "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// fixture200 is a log of 200 entries, its frame payloads, and a signed
// checkpoint for every prefix.
type fixture200 struct {
	l        *testLog
	payloads [][]byte
	cps      [][]byte // cps[n] covers the first n entries
}

func newFixture200(t *testing.T) *fixture200 {
	l := newTestLog(t, Options{})
	f := &fixture200{l: l, cps: make([][]byte, 201)}
	for i := range 200 {
		var p *Personal
		if i%2 == 0 {
			p = personal(byte(i%5), byte(i))
		}
		if _, err := l.Append(context.Background(), verifyEntry(i), p); err != nil {
			t.Fatal(err)
		}
		f.cps[i+1] = l.Checkpoint()
		data, _ := l.Entry(int64(i))
		f.payloads = append(f.payloads, data)
	}
	return f
}

func frames(payloads [][]byte) []byte {
	var b []byte
	for _, p := range payloads {
		b = appendFrame(b, p)
	}
	return b
}

// reframe re-encodes an altered entry with a valid checksum, as an
// attacker who knows the format would.
func reframe(payloads [][]byte, i int, edit func([]byte) []byte) [][]byte {
	out := append([][]byte(nil), payloads...)
	out[i] = edit(bytes.Clone(out[i]))
	return out
}

// positions tries every position in small logs and a spread in large ones.
func positions(n int) []int {
	if n <= 16 {
		ps := make([]int, n)
		for i := range ps {
			ps[i] = i
		}
		return ps
	}
	return []int{0, 1, n / 3, n / 2, n - 2, n - 1}
}

// TestMutationsDetected alters logs of every size from 1 to 200 entries in
// every way an owner might — flip a byte, edit an entry and fix its
// checksum, delete, swap, insert, truncate, swap the checkpoint — and
// checks that verification fails at the right entry.
func TestMutationsDetected(t *testing.T) {
	f := newFixture200(t)
	otherSK, _, _ := GenerateKey("kiosk-7.example") // same name, other key
	otherSigner, _ := note.NewSigner(otherSK)
	ownSigner, _ := note.NewSigner(f.l.skey)
	tried, detected := 0, 0
	expect := func(n int, name string, data, cp []byte, wantIndex int64) {
		t.Helper()
		tried++
		_, err := verifyEntries(data, cp, f.l.vkey)
		var ce *CorruptError
		switch {
		case wantIndex == -1 && errors.Is(err, ErrBadProof):
			detected++
		case wantIndex >= 0 && errors.As(err, &ce) && ce.Index == wantIndex:
			detected++
		default:
			t.Errorf("size %d, %s: got %v, want detection at %d", n, name, err, wantIndex)
		}
	}
	for n := 1; n <= 200; n++ {
		good := f.payloads[:n]
		cp := f.cps[n]
		if _, err := verifyEntries(frames(good), cp, f.l.vkey); err != nil {
			t.Fatalf("size %d: intact log fails: %v", n, err)
		}
		for _, i := range positions(n) {
			data := frames(good)
			off := len(frames(good[:i])) + 4 + len(good[i])/2
			data[off] ^= 0x20
			expect(n, fmt.Sprintf("flip in entry %d", i), data, cp, int64(i))

			edited := reframe(good, i, func(b []byte) []byte { return bytes.Replace(b, []byte("decision "), []byte("decision x"), 1) })
			expect(n, fmt.Sprintf("malformed edit of entry %d", i), frames(edited), cp, int64(i))

			// A well-formed edit (no_match → match) with a valid checksum:
			// only the Merkle chain can catch it.
			edited = reframe(good, i, func(b []byte) []byte {
				if bytes.Contains(b, []byte("decision no_match")) {
					return bytes.Replace(b, []byte("decision no_match"), []byte("decision match"), 1)
				}
				return bytes.Replace(b, []byte("decision match"), []byte("decision no_match"), 1)
			})
			expect(n, fmt.Sprintf("forged decision in entry %d", i), frames(edited), cp, int64(i))

			del := append(append([][]byte(nil), good[:i]...), good[i+1:]...)
			want := int64(i)
			expect(n, fmt.Sprintf("delete entry %d", i), frames(del), cp, want)

			ins := append(append(append([][]byte(nil), good[:i+1]...), good[i]), good[i+1:]...)
			expect(n, fmt.Sprintf("duplicate entry %d", i), frames(ins), cp, int64(i+1))

			if i+1 < n {
				sw := append([][]byte(nil), good...)
				sw[i], sw[i+1] = sw[i+1], sw[i]
				expect(n, fmt.Sprintf("swap entries %d and %d", i, i+1), frames(sw), cp, int64(i))
			}
			expect(n, fmt.Sprintf("truncate to %d", i), frames(good[:i]), cp, int64(i))
		}
		// Checkpoints: signed by another key; signed by the owner's key
		// for a different history (a fork).
		var c tlogfmt.Checkpoint
		body, _, _, _ := tlogfmt.ParseCheckpoint(cp, "kiosk-7.example", mustVerifier(f.l.vkey))
		c = *body
		forged, _ := note.Sign(&note.Note{Text: string(c.Marshal())}, otherSigner)
		expect(n, "checkpoint signed by another key", frames(good), forged, -1)
		c.Hash = bytes.Repeat([]byte{7}, 32)
		fork, _ := note.Sign(&note.Note{Text: string(c.Marshal())}, ownSigner)
		expect(n, "checkpoint of a forked history", frames(good), fork, int64(n-1))
	}
	t.Logf("mutations tried %d, detected at the right index %d", tried, detected)
	if tried != detected {
		t.Fail()
	}
}

func mustVerifier(vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic(err)
	}
	return v
}

// TestProofsCrossCheckMerkle checks tlog's proofs against an independent
// implementation, transparency-dev/merkle: same roots and proofs, each
// verifying under the other's checker, and merkle's kinds of corrupted
// proof rejected by both.
func TestProofsCrossCheckMerkle(t *testing.T) {
	f := newFixture200(t)
	ref := testonly.New(rfc6962.DefaultHasher)
	hr := f.l.hashReader()
	checked, rejected := 0, 0
	for n := 1; n <= 200; n++ {
		ref.AppendData(f.payloads[n-1])
		th, err := tlog.TreeHash(int64(n), hr)
		if err != nil || !bytes.Equal(th[:], ref.Hash()) {
			t.Fatalf("size %d: roots differ", n)
		}
		for _, i := range positions(n) {
			ours, err := tlog.ProveRecord(int64(n), int64(i), hr)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := ref.InclusionProof(uint64(i), uint64(n))
			if err != nil {
				t.Fatal(err)
			}
			if len(ours) != len(theirs) {
				t.Fatalf("size %d, leaf %d: proof lengths %d vs %d", n, i, len(ours), len(theirs))
			}
			var oursB [][]byte
			for k := range ours {
				oursB = append(oursB, ours[k][:])
				if !bytes.Equal(ours[k][:], theirs[k]) {
					t.Fatalf("size %d, leaf %d: proof element %d differs", n, i, k)
				}
			}
			leaf := tlog.RecordHash(f.payloads[i])
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), leaf[:], oursB, th[:]); err != nil {
				t.Fatalf("merkle rejects tlog's proof: %v", err)
			}
			checked++
			for _, bad := range corruptProofs(ours) {
				var badB [][]byte
				for _, h := range bad {
					badB = append(badB, h[:])
				}
				if tlog.CheckRecord(bad, int64(n), th, int64(i), leaf) == nil ||
					proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), leaf[:], badB, th[:]) == nil {
					t.Fatalf("size %d, leaf %d: a corrupted proof verified", n, i)
				}
				rejected++
			}
			// Wrong index and wrong leaf.
			if n > 1 && tlog.CheckRecord(ours, int64(n), th, int64((i+1)%n), leaf) == nil {
				t.Fatalf("size %d: proof accepted for another index", n)
			}
			if tlog.CheckRecord(ours, int64(n), th, int64(i), tlog.RecordHash([]byte("WrongLeaf"))) == nil {
				t.Fatal("proof accepted for another leaf")
			}
			// Consistency from i+1 to n.
			cons, err := tlog.ProveTree(int64(n), int64(i+1), hr)
			if err != nil {
				t.Fatal(err)
			}
			old, _ := tlog.TreeHash(int64(i+1), hr)
			var consB [][]byte
			for k := range cons {
				consB = append(consB, cons[k][:])
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(i+1), uint64(n), consB, old[:], th[:]); err != nil {
				t.Fatalf("merkle rejects tlog's consistency proof %d→%d: %v", i+1, n, err)
			}
			for _, bad := range corruptProofs(cons) {
				if tlog.CheckTree(tlog.TreeProof(bad), int64(n), th, int64(i+1), old) == nil {
					t.Fatalf("corrupted consistency proof %d→%d verified", i+1, n)
				}
				rejected++
			}
		}
	}
	t.Logf("%d inclusion proofs agree with transparency-dev/merkle; %d corrupted proofs rejected", checked, rejected)
}

// corruptProofs makes the kinds of bad proof merkle's own tests use: a
// flipped bit in each element, a removed element, extra elements.
func corruptProofs[P ~[]tlog.Hash](p P) [][]tlog.Hash {
	var out [][]tlog.Hash
	for i := range p {
		b := append([]tlog.Hash(nil), p...)
		b[i][0] ^= 8
		out = append(out, b)
	}
	if len(p) > 0 {
		out = append(out, append([]tlog.Hash(nil), p[:len(p)-1]...))
		out = append(out, append([]tlog.Hash{p[0]}, p...))
	}
	out = append(out, append(append([]tlog.Hash(nil), p...), tlog.Hash{}))
	return out
}
