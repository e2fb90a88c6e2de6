package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a terminal stand-in: the bar is drawn into it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lastFrame is what a terminal shows last: the text after the final
// carriage return.
func lastFrame(out string) string {
	out = strings.TrimRight(out, "\n")
	return out[strings.LastIndexByte(out, '\r')+1:]
}

// TestBarReachesTotal: 8 workers add 1,000 images between them to a bar
// on a "terminal"; it ends at 1000/1000 and 100%, on a line of its own.
func TestBarReachesTotal(t *testing.T) {
	var w syncBuffer
	b := New(&w, true, 1000, Options{Description: "eval", Unit: "images", Every: 100})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 125 {
				b.Add(1)
			}
		})
	}
	wg.Wait()
	if st := b.bar.State(); st.CurrentNum != 1000 || st.CurrentPercent != 1 {
		t.Fatalf("bar state %+v", st)
	}
	b.Done()
	out := w.String()
	last := lastFrame(out)
	if !strings.HasSuffix(out, "\n") || !strings.Contains(last, "100%") || !strings.Contains(last, "1000/1000") || !strings.HasPrefix(last, "eval") {
		t.Fatalf("last frame %q (output ends %q)", last, out[max(0, len(out)-20):])
	}
	if strings.Contains(out, "eval: 100/1000") {
		t.Fatal("plain lines on a terminal")
	}
}

// TestBarBytes: a bar of bytes set from a reader's callback reaches the
// file's size, shown humanised.
func TestBarBytes(t *testing.T) {
	var w syncBuffer
	const total = 3_200_000
	b := New(&w, true, total, Options{Description: "audit verify", Bytes: true})
	for done := int64(0); done < total; done += 65536 {
		b.Set(done)
	}
	b.Set(total)
	b.Done()
	if last := lastFrame(w.String()); !strings.Contains(last, "100%") || !strings.Contains(last, "3.2 MB") {
		t.Fatalf("last frame %q", last)
	}
}

// TestBarStopsShort: a line printed while the bar is drawn appears on a
// line of its own with the bar drawn again below it; work that fails
// half-way leaves the bar where it stopped (never filled to 100%) and ends
// its line.
func TestBarStopsShort(t *testing.T) {
	var w syncBuffer
	b := New(&w, true, 1000, Options{Description: "eval", Unit: "images"})
	b.Add(500)
	b.Println("eval: no face or unreadable: a.jpg: no face")
	b.Done()
	b.Add(500) // after Done: ignored
	out := w.String()
	if strings.Contains(out, "100%") || !strings.Contains(lastFrame(out), "50%") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("output %q", out)
	}
	if i := strings.Index(out, "\reval: no face or unreadable: a.jpg: no face\n"); i < 0 || strings.LastIndex(out, "eval  50%") < i {
		t.Fatalf("the line printed above the bar is missing: %q", out)
	}
}

// TestPlainLines: not a terminal: a line every 100 images and at the
// end, the lines Println writes, and no carriage return or escape code.
func TestPlainLines(t *testing.T) {
	var w syncBuffer
	b := New(&w, false, 250, Options{Description: "eval", Unit: "images", Every: 100})
	for i := range 250 {
		if i == 7 {
			b.Println("eval: no face or unreadable: x.jpg: no face")
		}
		b.Add(1)
	}
	b.Done()
	want := "eval: no face or unreadable: x.jpg: no face\neval: 100/250 images\neval: 200/250 images\neval: 250/250 images\n"
	if got := w.String(); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestQuiet: not a terminal and Every 0 (audit verify in a script):
// nothing at all; nil writer or empty work: a nil Bar that does nothing.
func TestQuiet(t *testing.T) {
	var w syncBuffer
	b := New(&w, false, 1<<30, Options{Description: "audit verify", Bytes: true})
	for done := int64(0); done <= 1<<30; done += 1 << 20 {
		b.Set(done)
	}
	b.Done()
	if w.String() != "" {
		t.Fatalf("output %q", w.String())
	}
	for _, b := range []*Bar{New(nil, true, 10, Options{}), New(&w, true, 0, Options{})} {
		if b != nil {
			t.Fatal("a display for nothing")
		}
		b.Add(1)
		b.Set(3)
		b.Println("x")
		b.Done()
	}
	if w.String() != "" {
		t.Fatalf("output %q", w.String())
	}
}
