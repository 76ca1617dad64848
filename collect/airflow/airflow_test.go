package airflow

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
)

var org = func() *demo.Org {
	o, err := demo.Generate(demo.Config{People: 8, Days: 1, Seed: 15})
	if err != nil {
		panic(err)
	}
	return o
}()

// instances are the deployments tested: 2.10 on /api/v1, 3.1 on /api/v2.
var instances = map[string]string{"af-legacy": APIv1, "af-prod": APIv2}

func newEnv(t *testing.T, faults emulator.Faults) (*collecttest.Env, []Config) {
	t.Helper()
	e := collecttest.NewEnv(t, org, faults, 2*time.Hour)
	t.Setenv("KEYTRAIL_TEST_AIRFLOW_PASSWORD", e.Srv.Creds.AirflowPassword)
	var cfgs []Config
	for name, api := range instances {
		cfgs = append(cfgs, Config{Instance: name, BaseURL: e.Srv.AirflowURL(name), API: api, Username: e.Srv.Creds.AirflowUser,
			Password: collect.Secret{Env: "KEYTRAIL_TEST_AIRFLOW_PASSWORD"}, PageSize: 50, Reread: 10,
			Runs: RunsConfig{StartConfig: collect.StartConfig{Start: e.Start}}, Poll: collecttest.Poll()})
	}
	return e, cfgs
}

func runners(t *testing.T, e *collecttest.Env, cfgs []Config, pub *collecttest.Recorder, cursors collect.CursorStore) []*collect.Runner {
	t.Helper()
	var out []*collect.Runner
	for _, cfg := range cfgs {
		col, err := New(cfg, e.Opts)
		require.NoError(t, err)
		// Pages of 50 rows, 10 of them read again, bring 40 new rows:
		// the default in_flight of pages that hold 2,500 is capped.
		require.Equal(t, collect.MaxDefaultInFlight, col.Poll.InFlight, "the default in_flight of the source's pages")
		out = append(out, e.Runner(col, pub, cursors))
	}
	return out
}

// check compares what pub holds, for each instance, with its emulator's
// ledger, with every audit row, and with the version of every run current
// at the end.
func check(t *testing.T, e *collecttest.Env, pub *collecttest.Recorder, rs ...*collect.Runner) {
	t.Helper()
	for name := range instances {
		var recs []*collecttest.Recorder
		mine := &collecttest.Recorder{}
		for _, r := range pub.Records() {
			if r.Instance == name {
				require.NoError(t, mine.Publish(t.Context(), r))
			}
		}
		recs = append(recs, mine)
		logs := e.Srv.Data.Feed(demo.StreamAirflowEventLogs, name)
		rep := e.Check(t, recs[0], e.Srv.Airflow[name].Ledger(), []*demo.Feed{logs}, rs...)
		final := finalVersions(t, e, name)
		for id := range final {
			require.Positive(t, rep.Published[id], "the current version of run %s", id)
		}
	}
}

// finalVersions returns the ids of each run's version current at the
// emulator's now.
func finalVersions(t *testing.T, e *collecttest.Env, instance string) map[string]bool {
	t.Helper()
	f := e.Srv.Data.Feed(demo.StreamAirflowDagRuns, instance)
	current := map[string]int{}
	for i := range f.Items {
		if e.Srv.Data.Listed(f, i, e.Clock.Now()) && f.Items[i].TS >= e.Start.UnixMilli() {
			current[f.Items[i].Subject] = i
		}
	}
	norms := emulator.Normalizers()
	out := map[string]bool{}
	for _, i := range current {
		id, err := emulator.EventID(norms, f.Source, f.Instance, f.Append(nil, i))
		require.NoError(t, err)
		out[id] = true
	}
	require.NotEmpty(t, out)
	return out
}

func TestCollect(t *testing.T) {
	for _, tc := range collecttest.Cases() {
		if strings.HasPrefix(tc.Name, "records listed late") {
			// audit rows committed a little late land in the reread rows
			tc.Faults = emulator.Faults{LateBy: 30 * time.Second}
		}
		t.Run(tc.Name, func(t *testing.T) {
			e, cfgs := newEnv(t, tc.Faults)
			for i := range cfgs {
				if tc.Timeout > 0 {
					cfgs[i].Poll.Timeout = tc.Timeout
				}
			}
			pub := &collecttest.Recorder{FailEvery: tc.Bus}
			rs := runners(t, e, cfgs, pub, &collect.MemCursors{})
			e.Drive(t, time.Time{}, rs...)
			check(t, e, pub, rs...)
			if tc.Check != nil {
				var st emulator.Stats
				var rep collecttest.Report
				for name := range instances {
					s := e.Srv.Airflow[name].Ledger().Stats()
					st.RateLimited += s.RateLimited
					st.Early += s.Early
					st.Errors += s.Errors
					st.Abandoned += s.Abandoned
					st.Poison += s.Poison
					st.Duplicated += s.Duplicated
				}
				rep.Published, rep.Rejected = collecttest.Published(t, pub.Records())
				for _, n := range rep.Published {
					rep.Repeats += n - 1
				}
				tc.Check(t, st, rep)
			}
		})
	}
}

// TestRestart stops the collectors mid-walk and starts new ones on the
// saved cursors.
func TestRestart(t *testing.T) {
	e, cfgs := newEnv(t, emulator.Faults{})
	cursors := &collect.MemCursors{}
	pub := &collecttest.Recorder{}
	first := runners(t, e, cfgs, pub, cursors)
	e.Drive(t, e.Start.Add(14*time.Hour), first...)
	second := runners(t, e, cfgs, pub, cursors)
	e.Drive(t, time.Time{}, second...)
	check(t, e, pub, append(first, second...)...)
}

// TestDBClean deletes old audit rows mid-run (airflow db clean): the
// offsets move down, the collector finds its place again by event_log_id.
func TestDBClean(t *testing.T) {
	e, cfgs := newEnv(t, emulator.Faults{})
	cursors := &collect.MemCursors{}
	pub := &collecttest.Recorder{}
	rs := runners(t, e, cfgs, pub, cursors)
	e.Drive(t, e.Start.Add(15*time.Hour), rs...)
	for name := range instances {
		e.Srv.Airflow[name].Clean(e.Start.Add(10 * time.Hour))
	}
	rs2 := runners(t, e, cfgs, pub, cursors)
	e.Drive(t, time.Time{}, rs2...)
	check(t, e, pub, append(rs, rs2...)...)
}

// TestCommittedTooLate: a row committed later than the reread rows is
// missed; it shows as a gap in the event_log_id ranges of the evidence.
func TestCommittedTooLate(t *testing.T) {
	e, cfgs := newEnv(t, emulator.Faults{LateBy: 2 * time.Hour})
	pub := &collecttest.Recorder{}
	rs := runners(t, e, cfgs, pub, &collect.MemCursors{})
	e.Drive(t, time.Time{}, rs...)
	ids, _ := collecttest.Published(t, pub.Records())
	missed := 0
	for name := range instances {
		f := e.Srv.Data.Feed(demo.StreamAirflowEventLogs, name)
		for i, it := range f.Items {
			if it.Late {
				id, err := emulator.EventID(emulator.Normalizers(), f.Source, f.Instance, f.Append(nil, i))
				require.NoError(t, err)
				if ids[id] == 0 {
					missed++
				}
			}
		}
	}
	require.Positive(t, missed)
}

// TestLogCompleteHoldsBackLag: an audit row whose transaction commits late
// is listed after rows with higher ids, carrying an earlier time, so a
// caught-up audit log is complete only Lag before the last read (the Okta
// collector's TestCompleteHoldsBackLag shows what a shorter completeness
// leaves behind).
func TestLogCompleteHoldsBackLag(t *testing.T) {
	e, cfgs := newEnv(t, emulator.Faults{})
	for i := range cfgs {
		cfgs[i].Lag, cfgs[i].Runs.Disabled = 7*time.Minute, true
	}
	rs := runners(t, e, cfgs, &collecttest.Recorder{}, &collect.MemCursors{})
	e.Drive(t, e.Start.Add(collecttest.Backlog+time.Hour), rs...)
	for _, r := range rs {
		st := r.Status()
		require.Len(t, st, 1)
		require.Equal(t, "event_logs", st[0].Stream)
		lagged := e.Clock.Now().Add(-7 * time.Minute)
		require.False(t, st[0].Complete.After(lagged), "complete up to at most now − lag")
		require.Less(t, lagged.Sub(st[0].Complete), time.Minute, "complete up to the last caught-up read − lag")
	}
}
