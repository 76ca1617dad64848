package collecttest

import (
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
)

// Env is one collector test: the emulators serving org on loopback, a fake
// clock they share with the collector, starting at the org's first day.
type Env struct {
	Org   *demo.Org
	Srv   *emulator.Server
	Clock *clockwork.FakeClock
	Opts  collect.Options
	// Start is the org's first day, where the collector starts.
	Start time.Time
	// Until is when Drive stops: the org's last day plus extra.
	Until time.Time
}

// NewEnv starts the emulators for org with faults. The clock starts
// Backlog after the org's first day, so that a collector starting there
// has a backlog to page through; Drive runs until the end of the org's
// period plus extra.
func NewEnv(t testing.TB, org *demo.Org, faults emulator.Faults, extra time.Duration) *Env {
	t.Helper()
	start := org.Config().Start
	clock := clockwork.NewFakeClockAt(start.Add(Backlog))
	srv, err := emulator.Start(org, emulator.Options{Clock: clock, Faults: faults})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return &Env{Org: org, Srv: srv, Clock: clock, Opts: collect.Options{Clock: clock, Logger: Quiet()}, Start: start,
		Until: start.Add(time.Duration(org.Config().Days)*24*time.Hour + extra)}
}

// Backlog is how far the clock is ahead of the collector's start when a
// test begins.
const Backlog = 6 * time.Hour

// Poll is the pacing collector tests use: a 5-minute interval and short
// timeouts (waits cost no real time).
func Poll() collect.PollConfig {
	return collect.PollConfig{Interval: 5 * time.Minute, Timeout: 2 * time.Second}
}

// Runner returns a runner of col publishing to pub with cursors.
func (e *Env) Runner(col *collect.Collector, pub *Recorder, cursors collect.CursorStore) *collect.Runner {
	return collect.NewRunner(col, pub, cursors, e.Opts)
}

// Drive runs the runners until e.Until (or until, when not zero), moving
// the clock 5 s at a time while every stream waits.
func (e *Env) Drive(t testing.TB, until time.Time, runners ...*collect.Runner) {
	t.Helper()
	if until.IsZero() {
		until = e.Until
	}
	n := 0
	for _, r := range runners {
		n += len(r.Status())
	}
	Drive(t, e.Clock, n, 5*time.Second, until, runners...)
}

// Check compares what pub holds with ledger (every record served is
// published; nothing unserved is) and with every record of feeds whose time
// is Start or later and that was listed by now (nothing missed); inventory
// snapshots are compared with the ledger's count of them. It returns the
// report for further checks.
func (e *Env) Check(t testing.TB, pub *Recorder, ledger *emulator.Ledger, feeds []*demo.Feed, runners ...*collect.Runner) Report {
	t.Helper()
	recs := pub.Records()
	var expected map[string]bool
	if feeds != nil {
		expected = Expected(t, feeds, e.Srv.Data, e.Start, e.Clock.Now())
	}
	rep := Compare(t, recs, ledger, expected)
	rep.RequireComplete(t, runners...)
	require.Equal(t, ledger.Snapshots(), Snapshots(recs), "every inventory snapshot served is published once")
	t.Log(rep)
	return rep
}

// Behind returns the ids of the records of feeds whose own time lies in
// [e.Start, complete) that pub does not hold: records a stream saying it
// is complete up to complete has not published yet, listed or not.
func (e *Env) Behind(t testing.TB, pub *Recorder, feeds []*demo.Feed, complete time.Time) []string {
	t.Helper()
	due, err := e.Srv.Data.Due(feeds, e.Start, complete)
	require.NoError(t, err)
	published, _ := Published(t, pub.Records())
	var out []string
	for id := range due {
		if published[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// Case is one fault a collector must survive.
type Case struct {
	Name   string
	Faults emulator.Faults
	// Bus makes every Bus-th publish fail.
	Bus int
	// Timeout overrides the request timeout.
	Timeout time.Duration
	// Check asserts what the fault should have caused.
	Check func(t *testing.T, st emulator.Stats, rep Report)
}

// Cases are the faults every collector is tested with: pagination with
// empty pages and a record repeated on the next page, 429 with the
// provider's reset, 5xx, slow answers past the timeout, poisoned records,
// records listed late, and a bus that fails.
func Cases() []Case {
	return []Case{
		{Name: "clean"},
		{Name: "empty pages and the same record on two pages", Faults: emulator.Faults{EmptyEvery: 3, DuplicateEvery: 2},
			Check: func(t *testing.T, st emulator.Stats, rep Report) {
				require.Positive(t, st.Duplicated)
				require.Zero(t, rep.Repeats, "the runner publishes a record read twice once")
			}},
		{Name: "429 waits for the reset", Faults: emulator.Faults{RateLimitEvery: 4, RateLimitFor: 45 * time.Second},
			Check: func(t *testing.T, st emulator.Stats, _ Report) {
				require.Positive(t, st.RateLimited)
				require.Zero(t, st.Early, "no request before the documented reset")
			}},
		{Name: "5xx", Faults: emulator.Faults{ErrorEvery: 3},
			Check: func(t *testing.T, st emulator.Stats, _ Report) { require.Positive(t, st.Errors) }},
		{Name: "slow answers time out", Faults: emulator.Faults{SlowEvery: 60, Slow: 1500 * time.Millisecond}, Timeout: 300 * time.Millisecond,
			Check: func(t *testing.T, st emulator.Stats, _ Report) { require.Positive(t, st.Abandoned) }},
		{Name: "poisoned records are published, not blocking", Faults: emulator.Faults{PoisonEvery: 7},
			Check: func(t *testing.T, st emulator.Stats, rep Report) {
				// every poisoned record reached the bus (a bad row read
				// twice is published once)
				require.Positive(t, rep.Rejected)
				require.LessOrEqual(t, int64(rep.Rejected), st.Poison)
			}},
		{Name: "records listed late", Faults: emulator.Faults{LateBy: 50 * time.Minute, LateEvery: 5}},
		{Name: "bus down", Bus: 3},
	}
}
