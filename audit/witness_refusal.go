package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A witness's refusal is durable. Before [Log.Witness] returns an error
// matching [ErrWitnessRefused], it writes the file witness-refused in the
// log directory (fsynced, replaced atomically, as every file the log
// writes): the time, the witness, the checkpoint's size, the witness's
// answer and the refused checkpoint. While that file exists, [Open]
// opens the log for reading, but every append fails with an error
// matching [ErrFailed] and [ErrWitnessRefused], across restarts, until an
// operator who found out why calls [AcknowledgeWitnessRefusal] (`oneface
// audit` tooling can wrap it). Acknowledging keeps the evidence: the
// record moves to refusals/ with the operator's note.
//
// This stops a kiosk from carrying on after a power cycle; it does not
// stop whoever holds the disk, who can delete the file — but the witness
// still refuses every later checkpoint of that history, and the
// witnessed/ folder makes Open refuse a log cut back behind a cosigned
// checkpoint (see [Open]).
const (
	refusalFile = "witness-refused"
	refusalsDir = "refusals"
	maxRefusal  = 64 << 10
)

// recordRefusal writes the refusal file; the caller holds l.wit.submit.
func (l *Log) recordRefusal(witness string, size int64, cp []byte, refusal error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "time %s\nwitness %s\nsize %d\nanswer %s\n\n", time.Now().UTC().Format(time.RFC3339), oneLine(witness), size, oneLine(refusal.Error()))
	b.Write(cp)
	rec := b.String()
	if len(rec) > maxRefusal {
		rec = rec[:maxRefusal]
	}
	return writeAtomic(l.dir, refusalFile, []byte(rec))
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// loadRefusal sets l.failed when the directory holds an unacknowledged
// refusal.
func (l *Log) loadRefusal() error {
	rec, err := PendingWitnessRefusal(l.dir)
	if err != nil || rec == nil {
		return err
	}
	head, _, _ := strings.Cut(string(rec), "\n\n")
	l.failed = fmt.Errorf("%w, recorded in %s (%s): appends stay refused until an operator calls AcknowledgeWitnessRefusal",
		ErrWitnessRefused, filepath.Join(l.dir, refusalFile), strings.ReplaceAll(head, "\n", "; "))
	l.log.Error("audit: a witness refused this log's checkpoint before: appends are refused", "record", filepath.Join(l.dir, refusalFile))
	return nil
}

// PendingWitnessRefusal returns the record of a witness's refusal that no
// operator has acknowledged yet in the log directory dir (the time, the
// witness, the size, the witness's answer, a blank line, the refused
// checkpoint), or nil when there is none. While there is one, the log
// refuses appends.
func PendingWitnessRefusal(dir string) ([]byte, error) {
	rec, err := readSmallFile(filepath.Join(dir, refusalFile), maxRefusal)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return rec, err
}

// AcknowledgeWitnessRefusal lets a log whose checkpoint a witness refused
// append again: an operator calls it once they know why (a restore from
// a backup, a witness that lost its state, an attack dealt with), with a
// note saying so. The log must be closed (the directory's lock is taken).
// The refusal's record moves, with the note and the time appended, to
// refusals/<Unix nanoseconds> in the log directory, as evidence for an
// auditor; nothing is deleted. With no pending refusal it returns an
// error matching [ErrNotFound].
//
// Acknowledging does not make the witness accept: if the log really was
// rolled back or forked, the witness refuses its next checkpoint again.
func AcknowledgeWitnessRefusal(dir, note string) error {
	if strings.TrimSpace(note) == "" {
		return errors.New("audit: acknowledging a refusal needs a note saying why")
	}
	if err := checkDir(dir); err != nil {
		return err
	}
	unlock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := PendingWitnessRefusal(dir)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("%w: no pending witness refusal in %s", ErrNotFound, dir)
	}
	kept := filepath.Join(dir, refusalsDir)
	if err := privateSubdir(kept); err != nil {
		return err
	}
	now := time.Now()
	rec = fmt.Appendf(rec, "\n\nacknowledged %s: %s\n", now.UTC().Format(time.RFC3339), oneLine(note))
	if err := writeAtomic(kept, fmt.Sprintf("%020d", now.UnixNano()), rec); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, refusalFile)); err != nil {
		return err
	}
	return syncDir(dir)
}
