package collecttest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// FaultEventsEnv names the environment variable that sizes the
// organisation the fault tests share: at least this many provider events
// (default DefaultFaultEvents). Larger runs belong in benchmarks' knobs,
// not in make test.
const FaultEventsEnv = "KEYTRAIL_FAULT_EVENTS"

// DefaultFaultEvents is the fault tests' size when FaultEventsEnv is unset.
const DefaultFaultEvents = 200_000

// FaultEvents returns the number of events the fault tests run over.
func FaultEvents(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv(FaultEventsEnv)
	if s == "" {
		return DefaultFaultEvents
	}
	n, err := strconv.Atoi(s)
	require.NoError(tb, err, FaultEventsEnv)
	require.Positive(tb, n, FaultEventsEnv)
	return n
}

var faultOrg struct {
	once sync.Once
	org  *demo.Org
	err  error
}

// FaultOrg returns the organisation the fault tests share, generated once
// per test binary: 60 people over as many days as it takes to hold at least
// FaultEvents events (feed items; about 50,000 a day, nine in ten of them
// Airflow audit rows). Its period ends more than a day before now, so on
// the real clock the emulators list every record, late ones included, from
// the start.
func FaultOrg(tb testing.TB) *demo.Org {
	tb.Helper()
	want := FaultEvents(tb)
	faultOrg.once.Do(func() {
		for days := max(1, want/50_000); faultOrg.org == nil || Events(faultOrg.org) < want; days++ {
			start := time.Now().UTC().Truncate(24 * time.Hour).Add(-time.Duration(days+1) * 24 * time.Hour)
			faultOrg.org, faultOrg.err = demo.Generate(demo.Config{People: 60, Days: days, Seed: 200, Start: start})
			if faultOrg.err != nil {
				return
			}
		}
	})
	require.NoError(tb, faultOrg.err)
	return faultOrg.org
}

// Events counts the organisation's provider events: every item of every
// feed, DAG run versions included.
func Events(org *demo.Org) int {
	n := 0
	for _, f := range org.Feeds() {
		n += len(f.Items)
	}
	return n
}

// FeedRecords returns what collectors that kept up publish for the
// organisation: every item of every feed as one record, rendered as the
// emulators serve it, ordered by event time (as pollers running in step
// publish), received at received.
func FeedRecords(org *demo.Org, received time.Time) []bus.Record {
	type item struct {
		ts  int64
		rec bus.Record
	}
	var all []item
	for _, f := range org.Feeds() {
		for i := range f.Items {
			all = append(all, item{f.Items[i].TS, bus.Record{Source: f.Source, Instance: f.Instance, Raw: f.Append(nil, i),
				ReceivedAt: received, Origin: fmt.Sprintf("%s/%s#%d", f.Stream, f.Instance, i)}})
		}
	}
	slices.SortStableFunc(all, func(a, b item) int { return int(a.ts - b.ts) })
	out := make([]bus.Record, len(all))
	for i, it := range all {
		out[i] = it.rec
	}
	return out
}

// FeedIDs returns the id of every item of the organisation's feeds (as
// emulator.EventID keys it): what FeedRecords publishes.
func FeedIDs(tb testing.TB, org *demo.Org) map[string]bool {
	tb.Helper()
	data := emulator.NewData(org, emulator.Faults{})
	return Expected(tb, data.Feeds(), data, time.Time{}, time.Unix(1<<40, 0))
}

// StoredIDsQuery selects every stored raw record's id
// (source/instance/event_id, as the emulators' ledgers key them) and how
// many rows FINAL holds of it.
const StoredIDsQuery = "SELECT concat(source, '/', instance, '/', event_id), count() FROM raw_records FINAL GROUP BY source, instance, event_id"

// StoredIDs returns every stored raw record's id (source/instance/event_id,
// as the emulators' ledgers key them) with how many rows FINAL holds of it.
func StoredIDs(tb testing.TB, s store.Store) map[string]int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rows, err := s.Query(ctx, StoredIDsQuery)
	require.NoError(tb, err)
	defer rows.Close()
	ids := map[string]int{}
	for rows.Next() {
		var id string
		var n int64
		require.NoError(tb, rows.Scan(&id, &n))
		ids[id] = int(n)
	}
	require.NoError(tb, rows.Err())
	return ids
}

// RequireStoredOnce asserts that stored (StoredIDs) holds every id of want
// exactly once, and beside them only inventory snapshots (which the ledgers
// count but do not name: ids with an "/inventory/" part), each once. It
// returns how many snapshots are stored.
func RequireStoredOnce(tb testing.TB, stored map[string]int, want map[string]int) (snapshots int) {
	tb.Helper()
	var missing, twice, unwanted []string
	for id := range want {
		if stored[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range stored {
		if n != 1 {
			twice = append(twice, id)
		}
		switch {
		case want[id] > 0:
		case strings.Contains(id, "/inventory/"):
			snapshots++
		default:
			unwanted = append(unwanted, id)
		}
	}
	slices.Sort(missing)
	slices.Sort(twice)
	slices.Sort(unwanted)
	require.Empty(tb, first(missing, 5), "%d of %d ids never stored", len(missing), len(want))
	require.Empty(tb, first(twice, 5), "%d ids stored more than once", len(twice))
	require.Empty(tb, first(unwanted, 5), "%d ids stored that were never served", len(unwanted))
	return snapshots
}

// Served returns every id the emulators served (with how often) and how
// many inventory snapshots they served.
func Served(tb testing.TB, srv *emulator.Server) (ids map[string]int, snapshots int) {
	tb.Helper()
	ids, err := srv.EventIDs()
	require.NoError(tb, err)
	for _, l := range srv.Ledgers() {
		for _, n := range l.Snapshots() {
			snapshots += n
		}
	}
	return ids, snapshots
}

// IdPFirst is the time of the organisation's first IdP record, to the
// second below it: the registration of its longest-held key, made before
// its period. IdP collectors that start there read what the generator's
// intent counts on; collectors that start at the period read no
// registration of a key enrolled before it, and a key that is also
// removed within the period is in no inventory snapshot either: nothing
// shows its sign-ins hardware-backed (weak_factor), as for a real key
// enrolled before a collector's start.
func IdPFirst(org *demo.Org) time.Time {
	first := org.Config().Start
	for _, f := range org.Feeds() {
		if f.Source == model.SourceAirflow {
			continue
		}
		for i := range f.Items {
			if t := f.Items[i].Time(); t.Before(first) {
				first = t
			}
		}
	}
	return first.Truncate(time.Second)
}
