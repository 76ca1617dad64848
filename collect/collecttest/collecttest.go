// Package collecttest runs collectors against the provider emulators in
// tests: a Publisher that records what it is given (and fails on demand,
// as a bus that is down does), a driver that moves a fake clock whenever
// every stream waits on it, and the comparison of what was published with
// the emulators' ledgers.
package collecttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/internal/emulator"
)

// ErrBusDown is what Recorder returns for a failed publish.
var ErrBusDown = errors.New("bus down (collecttest)")

// Recorder is a bus.Publisher that keeps every record it accepts, in
// order. FailEvery makes every Nth Publish call fail and keep nothing.
type Recorder struct {
	FailEvery int

	mu       sync.Mutex
	calls    int
	failures int
	recs     []bus.Record
}

// Publish implements bus.Publisher.
func (r *Recorder) Publish(ctx context.Context, recs ...bus.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.FailEvery > 0 && r.calls%r.FailEvery == 0 {
		r.failures++
		return ErrBusDown
	}
	r.recs = append(r.recs, recs...)
	return nil
}

// Records returns a copy of what was published.
func (r *Recorder) Records() []bus.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

// Failures is how many Publish calls failed on purpose.
func (r *Recorder) Failures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures
}

// Drive runs the runners and moves clock forward by step whenever all
// waiters goroutines (one per stream) wait on it, until the clock reaches
// until and every stream waits again; then it stops the runners and waits
// for them. Requests to the emulators take real time; waits take none.
func Drive(t testing.TB, clock *clockwork.FakeClock, waiters int, step time.Duration, until time.Time, runners ...*collect.Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				t.Errorf("run: %v", err)
			}
		}()
	}
	deadline, stop := context.WithTimeout(context.Background(), 5*time.Minute)
	defer stop()
	for {
		if err := clock.BlockUntilContext(deadline, waiters); err != nil {
			cancel()
			wg.Wait()
			t.Fatalf("streams did not settle (clock at %s): %v", clock.Now().UTC(), err)
		}
		if !clock.Now().Before(until) {
			break
		}
		clock.Advance(step)
	}
	cancel()
	wg.Wait()
}

// Published normalizes what was published with the emulators' normalizers
// (inventory snapshots left out: see Snapshots) and returns the event ids (as emulator.EventID keys them) with how often
// each was published, and how many records were rejected (the poison).
func Published(t testing.TB, recs []bus.Record) (ids map[string]int, rejected int) {
	t.Helper()
	norms := emulator.Normalizers()
	ids = map[string]int{}
	for _, r := range recs {
		if ingest.IsSnapshot(r.Raw) {
			continue // compared by Snapshots
		}
		id, err := emulator.EventID(norms, r.Source, r.Instance, r.Raw)
		if err != nil {
			rejected++
			continue
		}
		ids[id]++
	}
	return ids, rejected
}

// Expected returns the ids of every item of feeds listed by at whose own
// time is from or later (as emulator.EventID keys them): what a collector
// that started at from and kept up must have published.
func Expected(t testing.TB, feeds []*demo.Feed, data *emulator.Data, from, at time.Time) map[string]bool {
	t.Helper()
	out, err := data.Expected(feeds, from, at)
	require.NoError(t, err)
	return out
}

// Report is the outcome of a collector test, for its assertions.
type Report struct {
	Published map[string]int // id → times published
	Rejected  int            // records the normalizer rejected (poison)
	Served    map[string]int // id → times the emulator served it
	Missing   []string       // served or expected, never published
	Unserved  []string       // published, never served
	Repeats   int            // publishes beyond the first, over all ids
}

// Compare checks what recs hold against the ledger's served records and,
// when expected is not nil, against every record a collector that kept up
// must have published.
func Compare(t testing.TB, recs []bus.Record, ledger *emulator.Ledger, expected map[string]bool) Report {
	t.Helper()
	var rep Report
	rep.Published, rep.Rejected = Published(t, recs)
	served, err := ledger.EventIDs()
	require.NoError(t, err)
	rep.Served = served
	for id := range served {
		if rep.Published[id] == 0 {
			rep.Missing = append(rep.Missing, id)
		}
	}
	for id := range expected {
		if rep.Published[id] == 0 && served[id] > 0 {
			continue // counted above
		}
		if rep.Published[id] == 0 {
			rep.Missing = append(rep.Missing, id)
		}
	}
	for id, n := range rep.Published {
		if served[id] == 0 {
			rep.Unserved = append(rep.Unserved, id)
		}
		rep.Repeats += n - 1
	}
	slices.Sort(rep.Missing)
	slices.Sort(rep.Unserved)
	return rep
}

// RequireComplete asserts that nothing was missed and nothing invented,
// printing the runners' statuses when something was.
func (rep Report) RequireComplete(t testing.TB, runners ...*collect.Runner) {
	t.Helper()
	if len(rep.Missing) > 0 || len(rep.Unserved) > 0 {
		for _, r := range runners {
			for _, s := range r.Status() {
				t.Logf("status %+v", s)
			}
		}
	}
	require.Empty(t, first(rep.Missing, 10), "records served or due but never published (%d; %d served)", len(rep.Missing), len(rep.Served))
	require.Empty(t, first(rep.Unserved, 10), "records published but never served (%d)", len(rep.Unserved))
	require.NotEmpty(t, rep.Published)
}

// String summarizes the report.
func (rep Report) String() string {
	return fmt.Sprintf("published %d ids (%d repeats, %d rejected), served %d ids, missing %d, unserved %d",
		len(rep.Published), rep.Repeats, rep.Rejected, len(rep.Served), len(rep.Missing), len(rep.Unserved))
}

// Sorted returns m's keys in order.
func Sorted(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

// Snapshots counts the inventory snapshot documents in recs per
// "source/subject".
func Snapshots(recs []bus.Record) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		if ingest.IsSnapshot(r.Raw) {
			s, err := ingest.ParseSnapshot(r.Raw)
			if err == nil {
				out[string(s.Source)+"/"+s.Subject]++
			}
		}
	}
	return out
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// Quiet is a logger that drops everything, for tests whose faults would
// flood the output.
func Quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
