package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// WitnessPolicy says when the log submits its latest checkpoint to its
// witnesses. The zero value submits every checkpoint.
type WitnessPolicy struct {
	// Every submits once the log has grown by at least this many entries
	// since the last submission (0 with Interval 0, or 1: every
	// checkpoint).
	Every int64
	// Interval submits the latest checkpoint once this long has passed
	// since the last submission, if the log grew (0: no timer).
	Interval time.Duration
	// Timeout bounds one witness's answer (default 30 s).
	Timeout time.Duration
}

const (
	witnessedDir      = "witnessed"
	maxCosignatures   = 16
	maxCosignatureLen = 1024
	maxCheckpoint     = 16 << 10
	// maxWitnessed bounds a file of witnessed/: what Witness writes, a
	// checkpoint and its cosignature lines.
	maxWitnessed = maxCheckpoint + maxCosignatures*maxCosignatureLen
)

// witnessing is the background submission of checkpoints.
type witnessing struct {
	notify chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	submit sync.Mutex // one submission at a time

	mu        sync.Mutex
	witnessed []byte // latest witnessed checkpoint (checkpoint + cosignatures)
	size      int64  // its size, -1 when none
	lastErr   error
	lastTry   time.Time
}

func (l *Log) startWitnessing() {
	if len(l.opt.Witnesses) == 0 {
		return
	}
	if l.opt.WitnessPolicy.Timeout == 0 {
		l.opt.WitnessPolicy.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &witnessing{notify: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}), size: -1}
	if latest, err := LatestWitnessed(l.dir); err == nil {
		if c, err := l.parseCheckpoint(latest); err == nil {
			w.witnessed, w.size = latest, int64(c.Size)
		}
	}
	l.wit = w
	go l.witnessLoop(ctx)
	l.notifyWitnesses()
}

func (l *Log) stopWitnessing() {
	if l.wit != nil {
		l.wit.cancel()
		<-l.wit.done
	}
}

func (l *Log) notifyWitnesses() {
	if l.wit == nil {
		return
	}
	select {
	case l.wit.notify <- struct{}{}:
	default:
	}
}

func (l *Log) witnessLoop(ctx context.Context) {
	defer close(l.wit.done)
	pol := l.opt.WitnessPolicy
	var tick <-chan time.Time
	if pol.Interval > 0 {
		t := time.NewTicker(pol.Interval)
		defer t.Stop()
		tick = t.C
	}
	every := pol.Every
	if every <= 0 && pol.Interval == 0 {
		every = 1
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wit.notify:
		case <-tick:
		}
		l.wit.mu.Lock()
		grown := l.Size() - max(l.wit.size, 0)
		due := grown > 0 && (every > 0 && grown >= every || pol.Interval > 0 && time.Since(l.wit.lastTry) >= pol.Interval)
		l.wit.mu.Unlock()
		if due {
			if _, err := l.Witness(ctx); err != nil && ctx.Err() == nil {
				l.log.Warn("audit: witnessing", "err", err)
			}
		}
	}
}

// Witness submits the latest checkpoint to every witness in
// Options.Witnesses now, with consistency proofs on request, and stores
// the cosigned checkpoint (the checkpoint note with the witnesses'
// cosignature lines added) in the directory's witnessed/ folder, named by
// its size in 20 decimal digits. It returns the cosigned checkpoint and
// the witnesses' errors joined (a nil checkpoint when no witness
// cosigned: a collector such as [DirWitness] accepts without a
// cosignature). The log submits by itself according to
// WitnessPolicy; call Witness to force a submission (e.g. before an
// audit).
//
// A witness's refusal ([ErrWitnessRefused]: the checkpoint is not
// consistent with one it cosigned before, i.e. this log was rolled back
// or forked) is logged as an error, recorded durably in the directory
// (file witness-refused) before Witness returns, and stops appends
// ([ErrFailed]), also after a restart, until an operator who found out
// why calls [AcknowledgeWitnessRefusal]. Other errors (a witness
// unreachable) are logged and retried at the next submission.
func (l *Log) Witness(ctx context.Context) ([]byte, error) {
	if l.wit == nil {
		return nil, errors.New("audit: no witnesses configured")
	}
	l.wit.submit.Lock()
	defer l.wit.submit.Unlock()
	l.mu.RLock()
	cp, size := append([]byte(nil), l.cp...), l.n
	l.mu.RUnlock()
	if c, err := l.parseCheckpoint(cp); err != nil || int64(c.Size) != size {
		return nil, fmt.Errorf("audit: latest checkpoint: %v", err)
	}
	proof := func(oldSize int64) ([]tlog.Hash, error) {
		if oldSize == 0 || oldSize == size {
			return nil, nil
		}
		p, err := l.ProveConsistency(oldSize, size)
		return p, err
	}
	cosigned := bytes.Clone(cp)
	var errs []error
	got, accepted := 0, 0
	for _, w := range l.opt.Witnesses {
		wctx, cancel := context.WithTimeout(ctx, l.opt.WitnessPolicy.Timeout)
		sigs, err := w.Cosign(wctx, cp, proof)
		cancel()
		if err == nil {
			err = checkCosignatureLines(sigs)
		}
		switch {
		case errors.Is(err, ErrWitnessRefused):
			l.log.Error("audit: a witness refused the log's checkpoint: appends stop until an operator acknowledges it", "witness", w.Name(), "size", size, "err", err)
			l.mu.Lock()
			if l.failed == nil {
				l.failed = fmt.Errorf("witness %s: %w", w.Name(), err)
			}
			l.mu.Unlock()
			errs = append(errs, fmt.Errorf("witness %s: %w", w.Name(), err))
			// Durable before the error is returned, so a restart does not
			// forget it.
			if rerr := l.recordRefusal(w.Name(), size, cp, err); rerr != nil {
				l.log.Error("audit: recording a witness's refusal", "err", rerr)
				errs = append(errs, fmt.Errorf("audit: recording the refusal: %w", rerr))
			}
		case err != nil:
			errs = append(errs, fmt.Errorf("audit: witness %s: %w", w.Name(), err))
		default:
			// A collector ([DirWitness]) accepts without cosigning.
			cosigned = append(cosigned, sigs...)
			accepted++
			if len(sigs) > 0 {
				got++
			}
		}
	}
	err := errors.Join(errs...)
	l.wit.mu.Lock()
	l.wit.lastTry, l.wit.lastErr = time.Now(), err
	if accepted > 0 && got == 0 && size > l.wit.size {
		l.wit.size = size
	}
	l.wit.mu.Unlock()
	if got == 0 {
		return nil, err
	}
	dir := filepath.Join(l.dir, witnessedDir)
	if merr := privateSubdir(dir); merr != nil {
		return nil, errors.Join(err, merr)
	}
	if werr := writeAtomic(dir, fmt.Sprintf("%020d", size), cosigned); werr != nil {
		return nil, errors.Join(err, werr)
	}
	l.wit.mu.Lock()
	if size >= l.wit.size {
		l.wit.witnessed, l.wit.size = cosigned, size
	}
	l.wit.mu.Unlock()
	return cosigned, err
}

// checkCosignatureLines accepts 0..16 signed-note signature lines
// ("— name base64\n").
func checkCosignatureLines(sigs []byte) error {
	if len(sigs) == 0 {
		return nil
	}
	if len(sigs) > maxCosignatures*maxCosignatureLen || sigs[len(sigs)-1] != '\n' {
		return malformed("cosignature lines: empty, too long, or without a final newline")
	}
	for _, line := range bytes.SplitAfter(sigs[:len(sigs)-1], []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("— ")) || len(line) > maxCosignatureLen || bytes.Count(line, []byte(" ")) != 2 {
			return malformed("cosignature line %q", line)
		}
	}
	return nil
}

// Witnessed returns the latest checkpoint cosigned by at least one
// witness (the checkpoint note with the cosignature lines), or nil.
func (l *Log) Witnessed() []byte {
	if l.wit == nil {
		return nil
	}
	l.wit.mu.Lock()
	defer l.wit.mu.Unlock()
	return bytes.Clone(l.wit.witnessed)
}

// WitnessErr returns the errors of the last submission to the witnesses
// (nil after a submission every witness cosigned). A refusal matches
// [ErrWitnessRefused]; it has also stopped appends.
func (l *Log) WitnessErr() error {
	if l.wit == nil {
		return nil
	}
	l.wit.mu.Lock()
	defer l.wit.mu.Unlock()
	return l.wit.lastErr
}

// LatestWitnessed returns the cosigned checkpoint of the largest size
// stored in a log directory's witnessed/ folder (unverified: check it
// with [VerifyLog]).
func LatestWitnessed(dir string) ([]byte, error) {
	ents, err := os.ReadDir(filepath.Join(dir, witnessedDir))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if len(e.Name()) == 20 && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no witnessed checkpoint in %s", ErrNotFound, dir)
	}
	sort.Strings(names)
	return readSmallFile(filepath.Join(dir, witnessedDir, names[len(names)-1]), maxWitnessed)
}
