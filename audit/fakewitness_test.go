package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// dirWitness is a test witness in the C2SP tlog-witness shape: it keeps
// the last checkpoint it cosigned in a state file, refuses a checkpoint
// smaller than or inconsistent with it (checking the consistency proof
// with tlog), cosigns with its own Ed25519 note key and drops every
// cosigned checkpoint in its checkpoints/ folder (an auditor's evidence).
type dirWitness struct {
	dir    string
	signer note.Signer
	logV   note.Verifier
	mu     sync.Mutex
}

func newDirWitness(dir, skey, logVKey string) *dirWitness {
	s, err := note.NewSigner(skey)
	if err != nil {
		panic(err)
	}
	return &dirWitness{dir: dir, signer: s, logV: mustVerifier(logVKey)}
}

func genWitnessKey(name string) (skey, vkey string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		panic(err)
	}
	return skey, vkey
}

func (w *dirWitness) Name() string { return w.signer.Name() }

func (w *dirWitness) Cosign(ctx context.Context, cp []byte, proof ProofFunc) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, _, _, err := parseCheckpoint(cp, w.logV.Name(), w.logV)
	if err != nil {
		return nil, err
	}
	var root tlog.Hash
	copy(root[:], c.Hash)
	size := int64(c.Size)
	state := filepath.Join(w.dir, "state")
	if old, err := os.ReadFile(state); err == nil {
		f := strings.Fields(string(old))
		oldSize, _ := strconv.ParseInt(f[0], 10, 64)
		oldRoot, _ := tlog.ParseHash(f[1])
		switch {
		case size < oldSize:
			return nil, fmt.Errorf("%w: size %d is smaller than %d", ErrWitnessRefused, size, oldSize)
		case size == oldSize && root != oldRoot:
			return nil, fmt.Errorf("%w: a second root for size %d", ErrWitnessRefused, size)
		case size > oldSize && oldSize > 0:
			p, err := proof(oldSize)
			if err != nil {
				return nil, err
			}
			if tlog.CheckTree(p, size, root, oldSize, oldRoot) != nil {
				return nil, fmt.Errorf("%w: not consistent with size %d", ErrWitnessRefused, oldSize)
			}
		}
	}
	text, _, _ := bytes.Cut(cp, []byte("\n\n"))
	signed, err := note.Sign(&note.Note{Text: string(text) + "\n"}, w.signer)
	if err != nil {
		return nil, err
	}
	_, sig, _ := bytes.Cut(signed, []byte("\n\n"))
	if err := writeAtomic(w.dir, "state", fmt.Appendf(nil, "%d %s\n", size, root)); err != nil {
		return nil, err
	}
	os.Mkdir(filepath.Join(w.dir, "checkpoints"), 0o700)
	if err := writeAtomic(filepath.Join(w.dir, "checkpoints"), fmt.Sprintf("cp-%020d", size), append(bytes.Clone(cp), sig...)); err != nil {
		return nil, err
	}
	return sig, nil
}
