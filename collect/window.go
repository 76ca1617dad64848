package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/bus"
)

// WindowReader reads a provider's records by their time, for APIs that
// filter by a time range and page inside it (Graph $filter on
// createdDateTime with @odata.nextLink, Google startTime/endTime with
// pageToken, Keycloak dateFrom with first/max, no dateTo, Airflow
// updated_at_gte/lte with offset/limit).
type WindowReader interface {
	// ReadWindow reads one page of the records whose time lies in
	// [from, to), starting at page ("" for the window's first page), and
	// returns them with the next page's token ("" when the window is read
	// to its end). The records of a window may come in any order; a record
	// listed twice is harmless, one never listed is lost, so a reader whose
	// provider pages by offset detects shifts and starts the window again
	// rather than skip.
	ReadWindow(ctx context.Context, from, to time.Time, page string) (recs []bus.Record, next string, err error)
}

// WindowConfig paces a windowed stream.
type WindowConfig struct {
	// Start is where a stream never read before begins.
	Start time.Time
	// Lag is how late the provider may list a record after its time.
	// Records appear as soon as they are listed (the fresh pass reads up
	// to now), and every span of time is read once more when it is Lag
	// old (the settling pass), so a record listed up to Lag late is never
	// missed. 0 means the provider lists records in time and nothing is
	// read twice.
	Lag time.Duration
	// Step is the shortest span worth a walk (default 1s).
	Step time.Duration
}

// windowCursor is a windowed stream's saved position.
type windowCursor struct {
	// Head: everything before it was read by a fresh pass.
	Head time.Time `json:"head"`
	// Settled: everything before it was read after it was Lag old.
	Settled time.Time `json:"settled"`
	// Walk is the window being read, when a walk is under way.
	Walk *walk `json:"walk,omitempty"`
}

type walk struct {
	Settle bool      `json:"settle,omitempty"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Page   string    `json:"page,omitempty"`
}

// windowStream walks [Head, now) as records arrive and [Settled, now −
// Lag) again once they are Lag old.
type windowStream struct {
	name  string
	r     WindowReader
	cfg   WindowConfig
	clock clockwork.Clock
}

// NewWindowStream returns a Stream named name that reads r window by
// window: a fresh pass over [head, now) that lists records as soon as the
// provider does, and, when cfg.Lag > 0, a settling pass over the same time
// once it is Lag old, for the records the provider listed late. The
// Runner's dedupe skips what the settling pass reads again. Its cursor is a
// small JSON document holding both positions and the page of the window
// being walked, so a restart resumes mid-window.
func NewWindowStream(name string, r WindowReader, cfg WindowConfig, clock clockwork.Clock) Stream {
	if cfg.Step <= 0 {
		cfg.Step = time.Second
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &windowStream{name: name, r: r, cfg: cfg, clock: clock}
}

func (w *windowStream) Name() string { return w.name }

// Next implements Stream.
func (w *windowStream) Next(ctx context.Context, cursor string) (Page, error) {
	var c windowCursor
	if cursor == "" {
		start := w.cfg.Start.UTC()
		c = windowCursor{Head: start, Settled: start}
	} else if err := json.Unmarshal([]byte(cursor), &c); err != nil {
		return Page{}, fmt.Errorf("window cursor %q: %w", cursor, err)
	}
	now := w.clock.Now().UTC()
	if c.Walk == nil {
		c.Walk = w.due(&c, now)
		if c.Walk == nil {
			return Page{Cursor: cursor, Position: c.Head, Complete: w.complete(&c)}, nil
		}
	}
	recs, next, err := w.r.ReadWindow(ctx, c.Walk.From, c.Walk.To, c.Walk.Page)
	if err != nil {
		return Page{}, fmt.Errorf("window %s – %s: %w", c.Walk.From.Format(time.RFC3339Nano), c.Walk.To.Format(time.RFC3339Nano), err)
	}
	more := true
	if next != "" {
		c.Walk.Page = next
	} else {
		if c.Walk.Settle {
			c.Settled = c.Walk.To
			if c.Head.Before(c.Settled) {
				c.Head = c.Settled
			}
		} else {
			c.Head = c.Walk.To
		}
		c.Walk = nil
		more = w.due(&c, now) != nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return Page{}, fmt.Errorf("encode window cursor: %w", err)
	}
	return Page{Records: recs, Cursor: string(b), More: more, Position: c.Head, Complete: w.complete(&c)}, nil
}

// complete is how far c has read every record the provider will list: the
// fresh pass's head, or with a lag window where the settling pass reached.
func (w *windowStream) complete(c *windowCursor) time.Time {
	if w.cfg.Lag > 0 {
		return c.Settled
	}
	return c.Head
}

// due returns the walk to start now, or nil when no span is long enough:
// the settling pass first, then the fresh pass.
func (w *windowStream) due(c *windowCursor, now time.Time) *walk {
	if w.cfg.Lag > 0 {
		if to := now.Add(-w.cfg.Lag); to.Sub(c.Settled) >= w.cfg.Step {
			return &walk{Settle: true, From: c.Settled, To: to}
		}
	}
	if c.Head.Before(c.Settled) {
		c.Head = c.Settled
	}
	if now.Sub(c.Head) >= w.cfg.Step {
		return &walk{From: c.Head, To: now}
	}
	return nil
}
