package audit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestVerifyLogProgress: the Progress callback starts at (0, size of the
// entries file), never goes back, and ends at the file's size; the report
// is the same as without it.
func TestVerifyLogProgress(t *testing.T) {
	l := newTestLog(t, Options{})
	ctx := context.Background()
	for i := range 300 {
		if _, err := l.Append(ctx, verifyEntry(i), personal(byte(i%4), byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	cp := l.Checkpoint()
	st, err := os.Stat(filepath.Join(l.dir, entriesFile))
	if err != nil {
		t.Fatal(err)
	}
	type call struct{ done, total int64 }
	var calls []call
	rep, err := VerifyLog(l.dir, l.vkey, VerifyOptions{Checkpoints: [][]byte{cp}, Progress: func(done, total int64) {
		calls = append(calls, call{done, total})
	}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := VerifyDir(l.dir, cp, l.vkey)
	if err != nil || *plain != *rep {
		t.Fatalf("report with progress %+v, without %+v (%v)", rep, plain, err)
	}
	if len(calls) < 2 || calls[0] != (call{0, st.Size()}) || calls[len(calls)-1] != (call{st.Size(), st.Size()}) {
		t.Fatalf("%d calls, first %v, last %v; entries file %d bytes", len(calls), calls[0], calls[len(calls)-1], st.Size())
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].done <= calls[i-1].done || calls[i].total != st.Size() {
			t.Fatalf("call %d: %v after %v", i, calls[i], calls[i-1])
		}
	}
	t.Logf("%d entries, %d bytes, %d progress calls", rep.Entries, st.Size(), len(calls))
}
