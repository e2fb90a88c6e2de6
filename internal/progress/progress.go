// Package progress shows how far long command-line work has come (an
// evaluation over thousands of images, the verification of a large audit
// log) on standard error: a bar drawn by github.com/schollz/progressbar/v3
// when standard error is a terminal, and otherwise plain lines every so
// often, or nothing, so that scripts reading standard error get clean
// text without carriage returns or escape codes.
//
// It is for the oneface command and internal/eval only: the library
// packages (verify, audit) report progress, if at all, through callbacks
// and never import it.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal (an *os.File on a TTY).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Options shape a [Bar].
type Options struct {
	// Description names the work, e.g. "eval" or "audit verify"; plain
	// lines start with it.
	Description string
	// Unit names what is counted in plain lines, e.g. "images". Empty
	// with Bytes.
	Unit string
	// Bytes counts bytes: the bar shows them humanised (kB, MB).
	Bytes bool
	// Every is how often, in counted units, a plain line is written when
	// the writer is not a terminal; 0 writes no plain lines at all.
	Every int64
}

// Bar is one progress display. Its methods are safe for concurrent use;
// a nil *Bar does nothing.
type Bar struct {
	mu    sync.Mutex
	w     io.Writer
	opt   Options
	total int64
	done  int64
	bar   *progressbar.ProgressBar // nil when w is not a terminal
	ended bool
}

// New starts a display of total units on w: a bar when tty is true
// (callers pass [IsTerminal] of w, tests a plain buffer and true), plain
// lines every opt.Every units otherwise. It returns nil (a display that
// does nothing) when w is nil or total is not positive.
func New(w io.Writer, tty bool, total int64, opt Options) *Bar {
	if w == nil || total <= 0 {
		return nil
	}
	b := &Bar{w: w, opt: opt, total: total}
	if tty {
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(opt.Description),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		}
		if opt.Bytes {
			opts = append(opts, progressbar.OptionShowBytes(true))
		}
		b.bar = progressbar.NewOptions64(total, opts...)
	}
	return b
}

// Set moves the display to done units (clamped to 0..total).
func (b *Bar) Set(done int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.set(min(max(done, 0), b.total))
}

// Add moves the display on by n units.
func (b *Bar) Add(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.set(min(max(b.done+n, 0), b.total))
}

func (b *Bar) set(done int64) {
	if b.ended || done == b.done {
		return
	}
	prev := b.done
	b.done = done
	if b.bar != nil {
		b.bar.Set64(done)
		return
	}
	if e := b.opt.Every; e > 0 && (done/e != prev/e || done == b.total) {
		fmt.Fprintf(b.w, "%s: %d/%d %s\n", b.opt.Description, done, b.total, b.unit())
	}
}

func (b *Bar) unit() string {
	if b.opt.Bytes {
		return "bytes"
	}
	return b.opt.Unit
}

// Println writes one line: above the bar on a terminal (it is drawn
// again below it), as is otherwise.
func (b *Bar) Println(line string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil && !b.ended && b.done < b.total {
		b.bar.Clear()
		fmt.Fprintln(b.w, line)
		b.bar.Set64(b.done) // draw it again
		return
	}
	fmt.Fprintln(b.w, line)
}

// Done ends the display. A bar that reached its total has already ended
// its line; one that stopped short (an error, a cancellation) is left
// where it stopped, its line ended, never filled to look complete.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.ended = true
	if b.bar != nil && b.done < b.total {
		b.bar.Exit()
	}
}
