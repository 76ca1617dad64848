package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws one stage's progress on stderr: a redrawn bar on a
// terminal, a line every 10% otherwise (logs, CI).
type progress struct {
	w     io.Writer
	label string
	total int64
	tty   bool
	start time.Time

	mu       sync.Mutex
	done     int64
	lastDraw time.Time
	lastPct  int64
	finished bool
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, label string, total int64) *progress {
	p := &progress{w: w, label: label, total: total, tty: isTerminal(w), start: time.Now(), lastPct: -1}
	p.draw(true)
	return p
}

// set records absolute progress.
func (p *progress) set(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	p.draw(false)
}

// add records n more units done.
func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.draw(false)
}

// finish draws the final state with a summary.
func (p *progress) finish(summary string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	if p.total > 0 {
		p.done = max(p.done, p.total)
	}
	el := time.Since(p.start).Round(100 * time.Millisecond)
	line := fmt.Sprintf("%-10s %s %s  %s", p.label, p.bar(), el, summary)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) bar() string {
	const width = 24
	if p.total <= 0 {
		if p.done == 0 {
			return "[" + strings.Repeat("#", width) + "]"
		}
		return fmt.Sprintf("[%s] %s", strings.Repeat("#", width), count(p.done))
	}
	f := min(float64(p.done)/float64(p.total), 1)
	n := int(f * width)
	return fmt.Sprintf("[%s%s] %3.0f%% %s/%s", strings.Repeat("#", n), strings.Repeat(".", width-n), f*100, count(p.done), count(p.total))
}

// draw redraws at most every 100 ms on a terminal, every 10% elsewhere.
func (p *progress) draw(force bool) {
	if p.finished {
		return
	}
	if p.tty {
		if !force && time.Since(p.lastDraw) < 100*time.Millisecond {
			return
		}
		p.lastDraw = time.Now()
		fmt.Fprintf(p.w, "\r\033[K%-10s %s", p.label, p.bar())
		return
	}
	if p.total <= 0 {
		return
	}
	pct := p.done * 10 / p.total
	if pct == p.lastPct || pct >= 10 {
		return
	}
	p.lastPct = pct
	fmt.Fprintf(p.w, "%-10s %s\n", p.label, p.bar())
}

// count formats n compactly: 950, 12.3k, 1.05M.
func count(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	case n >= 1_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// stage is a progress bar for work whose total is learnt from its first
// update. The bar appears then, but its clock runs from when the stage
// began, so the time it prints is the whole stage's.
type stage struct {
	w     io.Writer
	label string
	start time.Time

	mu sync.Mutex
	p  *progress
}

func newStage(w io.Writer, label string) *stage {
	return &stage{w: w, label: label, start: time.Now()}
}

// bar returns the stage's bar, drawing it with total the first time.
func (s *stage) bar(total int64) *progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		s.p = newProgress(s.w, s.label, total)
		s.p.start = s.start
	}
	return s.p
}

// update records done of total; it is safe for concurrent use.
func (s *stage) update(done, total int64) { s.bar(total).set(done) }

// finish draws the final state with a summary, drawing the bar first when
// no update came (nothing to do).
func (s *stage) finish(summary string) { s.bar(0).finish(summary) }
