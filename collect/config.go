package collect

import (
	"errors"
	"fmt"
	"time"
)

// PollConfig paces a collector's streams and retries their failures. Every
// field is optional; zero means the default stated on it.
type PollConfig struct {
	// Interval is how often a stream that caught up reads again (default
	// 30s): the next read begins Interval after the read that caught up
	// returned, so the time the store of its records took is inside the
	// interval, not added to it (a record the provider lists waits for
	// the next read, Interval/2 on average, not Interval/2 plus a store
	// write). On a bus that sends without waiting (the in-process bus)
	// the stream reads again at Interval even while its pages are still
	// being stored or its cursor saved, up to InFlight pages ahead; on one
	// that does not, it reads again at once when the store took longer.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds each HTTP request to the provider (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// InitialBackoff is the first wait after a failed read, publish or
	// cursor save (default 1s). Waits grow 2× per failure, ±50% jitter.
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps those waits (default 5m).
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// MaxRateLimitWait caps the wait for a rate limit's documented reset
	// (default 15m); a later reset is waited for in steps of this length.
	MaxRateLimitWait time.Duration `yaml:"max_rate_limit_wait"`
	// Dedupe is how many recently published records per stream the runner
	// remembers, to skip the same bytes read again in an overlap (default
	// 20000; -1 turns it off).
	Dedupe int `yaml:"dedupe"`
	// IdleSave is how often a stream saves a cursor moved only by pages
	// that brought no new records (an empty window walked, a caught-up
	// page's next link), default 30s. An unchanged cursor is never saved.
	// Leaving an idle cursor unsaved only means a restart reads that span
	// again.
	IdleSave time.Duration `yaml:"idle_save"`
	// SaveInterval is how often a stream that caught up saves a cursor
	// moved by records, once they are stored (default 1s): by the first
	// page taken once the interval has passed since the last save, and by
	// a stopping stream on its way out. A stream catching up saves it
	// every CatchUpSavePages pages. Store writes are what a cursor save
	// per poll would cost; after a crash the unsaved records are read
	// again, and storage drops what it already holds.
	SaveInterval time.Duration `yaml:"save_interval"`
	// InFlight is how many pages a stream reads ahead of the ones stored
	// (the in-process bus) or acknowledged by every in-sync replica
	// (Kafka), on a bus that can send without waiting. Its default
	// depends on the source's page size (ForPages): the pages that hold
	// DefaultInFlightRecords records, at least DefaultInFlight (8, the
	// providers' 1,000-record pages) and at most MaxDefaultInFlight (32,
	// Airflow's and Keycloak's 100-record pages). More lets the sink
	// write batches of many pages and overlaps reading the provider with
	// storing, at two costs: memory (up to InFlight pages per stream wait
	// on the bus) and what a crash reads again — up to CrashRereadPages
	// pages per stream, since a stream also takes up to InFlight stored
	// pages past its saved cursor while a cursor save is under way.
	// Re-reading is harmless (storage drops what it already holds);
	// cursors still move only past stored records. BenchmarkEndToEnd
	// memory-chdb over 178,080 events, Airflow's 100-row pages (quiet
	// machine, 2026-12-02): 10,237 events/s with 8, 16,051 with 16,
	// 20,259–22,109 with 32, 25,631 with 64; peak RSS 455, 486, 508–512
	// and 557 MB.
	InFlight int `yaml:"in_flight"`
}

// CatchUpSavePages is how many pages past its saved cursor a stream
// catching up (pages with more behind them) goes before it saves the
// cursor again: half of InFlight, at least 1 (c with its defaults). While
// that save runs the stream takes at most InFlight pages past the saved
// cursor, so CrashRereadPages holds; saving with every page instead kept
// the store inserting cursors back to back beside the sink's writes (on the
// ClickHouse server 4.1–4.5 s of a 9–10 s BenchmarkEndToEnd run).
func (c PollConfig) CatchUpSavePages() int {
	return max(c.WithDefaults().InFlight/2, 1)
}

// CrashRereadPages is how many pages a stream catching up reads again at
// most after a crash (SIGKILL, power loss): the InFlight pages sent and
// not yet stored, the page being read, and the InFlight pages at most
// taken past the saved cursor while a save was under way — 2×InFlight+1
// (c with its defaults; a source's after ForPages). A stream that caught
// up reads again at most SaveInterval of polls instead; a stream stopped
// by its context saves the cursor of the last page taken, reading again
// only the pages in flight.
func (c PollConfig) CrashRereadPages() int {
	return 2*c.WithDefaults().InFlight + 1
}

// Defaults of PollConfig.
const (
	DefaultInterval         = 30 * time.Second
	DefaultTimeout          = 30 * time.Second
	DefaultInitialBackoff   = time.Second
	DefaultMaxBackoff       = 5 * time.Minute
	DefaultMaxRateLimitWait = 15 * time.Minute
	DefaultDedupe           = 20000
	DefaultIdleSave         = 30 * time.Second
	DefaultSaveInterval     = time.Second
	// DefaultInFlight is the least default InFlight: 8 pages of a
	// provider's 1,000 records (Okta, Entra, Google) are more than the
	// sink writes at once.
	DefaultInFlight = 8
	// DefaultInFlightRecords is what a stream's pages in flight hold by
	// default: half the sink's batch (pipeline.DefaultBatchSize, 5,000),
	// so that two streams catching up fill the sink's writes on the
	// in-process bus, where a page is in flight until it is stored.
	DefaultInFlightRecords = 2500
	// MaxDefaultInFlight caps the default InFlight of small pages, and
	// with it what a crash reads again (2×32+1 pages).
	MaxDefaultInFlight = 32
)

// ForPages returns c with InFlight, when unset, its default for a source
// whose pages each bring the given number of new records (its page size,
// less the rows it reads again on purpose): the pages that hold
// DefaultInFlightRecords, between DefaultInFlight and MaxDefaultInFlight.
// Collectors set their Poll with it; WithDefaults then keeps the value.
func (c PollConfig) ForPages(records int) PollConfig {
	if c.InFlight == 0 && records > 0 {
		c.InFlight = min(max((DefaultInFlightRecords+records-1)/records, DefaultInFlight), MaxDefaultInFlight)
	}
	return c
}

// WithDefaults returns c with zero fields set to their defaults.
func (c PollConfig) WithDefaults() PollConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Interval, DefaultInterval)
	def(&c.Timeout, DefaultTimeout)
	def(&c.InitialBackoff, DefaultInitialBackoff)
	def(&c.MaxBackoff, DefaultMaxBackoff)
	def(&c.MaxRateLimitWait, DefaultMaxRateLimitWait)
	def(&c.IdleSave, DefaultIdleSave)
	def(&c.SaveInterval, DefaultSaveInterval)
	if c.InFlight == 0 {
		c.InFlight = DefaultInFlight
	}
	if c.Dedupe == 0 {
		c.Dedupe = DefaultDedupe
	}
	return c
}

// Validate reports every problem with c together.
func (c PollConfig) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", c.Interval}, {"timeout", c.Timeout}, {"initial_backoff", c.InitialBackoff},
		{"max_backoff", c.MaxBackoff}, {"max_rate_limit_wait", c.MaxRateLimitWait}, {"idle_save", c.IdleSave},
		{"save_interval", c.SaveInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s: must not be negative", d.name, d.v))
		}
	}
	if c.InitialBackoff > 0 && c.MaxBackoff > 0 && c.InitialBackoff > c.MaxBackoff {
		errs = append(errs, fmt.Errorf("initial_backoff %s: more than max_backoff %s", c.InitialBackoff, c.MaxBackoff))
	}
	if c.InFlight < 0 {
		errs = append(errs, fmt.Errorf("in_flight %d: must not be negative", c.InFlight))
	}
	if c.Dedupe < -1 {
		errs = append(errs, fmt.Errorf("dedupe %d: want a count, 0 for the default or -1 for none", c.Dedupe))
	}
	return errors.Join(errs...)
}

// DefaultBackfill is how far back an identity provider's stream never read
// before starts: the correlator's default lookback (30 days).
const DefaultBackfill = 30 * 24 * time.Hour

// StartConfig says where a stream never read before begins.
type StartConfig struct {
	// Start is the provider time a new cursor starts at (RFC 3339). It
	// wins over Backfill.
	Start time.Time `yaml:"start"`
	// Backfill starts a new cursor this long before now (default
	// DefaultBackfill, 30 days).
	Backfill time.Duration `yaml:"backfill"`
}

// From returns where a new cursor starts: Start, else now − Backfill, else
// now − def.
func (c StartConfig) From(now time.Time, def time.Duration) time.Time {
	switch {
	case !c.Start.IsZero():
		return c.Start.UTC()
	case c.Backfill > 0:
		return now.Add(-c.Backfill).UTC()
	}
	return now.Add(-def).UTC()
}

// Validate reports problems with c.
func (c StartConfig) Validate() error {
	if c.Backfill < 0 {
		return fmt.Errorf("backfill %s: must not be negative", c.Backfill)
	}
	return nil
}

// CheckLag says why a re-read lag window d is invalid (negative), or nil.
func CheckLag(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("lag %s: must not be negative", d)
	}
	return nil
}

// CheckPageSize says why page size n is outside 0..most (0 is the
// provider's default), or nil.
func CheckPageSize(n, most int) error {
	if n < 0 || n > most {
		return fmt.Errorf("page_size %d: want 1..%d", n, most)
	}
	return nil
}
