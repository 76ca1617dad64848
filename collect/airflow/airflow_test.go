package airflow

import (
	"encoding/base64"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/collect/oauth"
	"github.com/keytrail/keytrail/demo"
	ingestairflow "github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/model"
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

// capped returns the environment of newEnv with both deployments' pages
// capped at max rows ([api] maximum_page_limit): a limit above it is
// lowered without a word.
func capped(t *testing.T, max int) (*collecttest.Env, []Config) {
	t.Helper()
	e, cfgs := newEnv(t, emulator.Faults{})
	for name := range instances {
		e.Srv.Airflow[name].Configure(emulator.AirflowConfig{MaximumPageLimit: max})
	}
	return e, cfgs
}

// TestCappedPages: the server caps pages at 20 rows though page_size is
// 50; a short page is not the last one, so both streams page on by
// total_entries and miss nothing (the DAG runs of a window beyond the
// first 20 were lost when a short page ended the window).
func TestCappedPages(t *testing.T) {
	e, cfgs := capped(t, 20)
	pub := &collecttest.Recorder{}
	rs := runners(t, e, cfgs, pub, &collect.MemCursors{})
	e.Drive(t, time.Time{}, rs...)
	check(t, e, pub, rs...)
}

// logStream returns the event_logs stream of cfg, DAG runs off.
func logStream(t *testing.T, e *collecttest.Env, cfg Config) collect.Stream {
	t.Helper()
	cfg.Runs.Disabled = true
	col, err := New(cfg, e.Opts)
	require.NoError(t, err)
	require.Len(t, col.Streams, 1)
	return col.Streams[0]
}

// readLog calls s.Next from cursor up to n times, until a page says the
// stream caught up, and returns the records, the cursor and the pages
// read, with the last page.
func readLog(t *testing.T, s collect.Stream, cursor string, n int) ([]bus.Record, string, []collect.Page) {
	t.Helper()
	var recs []bus.Record
	var pages []collect.Page
	for range n {
		p, err := s.Next(t.Context(), cursor)
		require.NoError(t, err)
		recs, cursor, pages = append(recs, p.Records...), p.Cursor, append(pages, p)
		if !p.More {
			break
		}
	}
	return recs, cursor, pages
}

// requireWholeLog asserts recs hold every audit row of instance served and
// listed by now.
func requireWholeLog(t *testing.T, e *collecttest.Env, instance string, recs []bus.Record) {
	t.Helper()
	pub := &collecttest.Recorder{}
	require.NoError(t, pub.Publish(t.Context(), recs...))
	e.Check(t, pub, e.Srv.Airflow[instance].Ledger(), []*demo.Feed{e.Srv.Data.Feed(demo.StreamAirflowEventLogs, instance)})
}

// TestEventLogsCappedPage: a page the server capped below the limit asked
// for has more rows behind it (total_entries), so the stream reads on at
// once instead of waiting a poll interval per page, and says it caught up
// only at the end.
func TestEventLogsCappedPage(t *testing.T) {
	e, cfgs := capped(t, 20)
	for _, cfg := range cfgs {
		t.Run(cfg.Instance, func(t *testing.T) {
			s := logStream(t, e, cfg)
			recs, _, pages := readLog(t, s, "", 1000)
			require.Greater(t, len(pages), 2)
			for _, p := range pages[:len(pages)-1] {
				require.True(t, p.More, "a capped page is not the last")
				require.True(t, p.Complete.IsZero(), "not caught up before the end")
			}
			last := pages[len(pages)-1]
			require.False(t, last.More)
			require.False(t, last.Complete.IsZero(), "caught up at the end")
			require.Len(t, pages[0].Records, 20)
			requireWholeLog(t, e, cfg.Instance, recs)
		})
	}
}

// TestEventLogsRereadAboveCap: reread 30 of page_size 50 on a server that
// caps pages at 10: a page would hold only rows read before and the cursor
// would never move. The stream learns the cap from the first capped page
// and reads again half of it; a new stream on the saved cursor (its first
// page ending before the last row read) learns it again.
func TestEventLogsRereadAboveCap(t *testing.T) {
	e, cfgs := capped(t, 10)
	for _, cfg := range cfgs {
		t.Run(cfg.Instance, func(t *testing.T) {
			cfg.Reread = 30
			first, cursor, pages := readLog(t, logStream(t, e, cfg), "", 5)
			require.Equal(t, 5, len(pages), "no page caught up")
			rest, _, pages := readLog(t, logStream(t, e, cfg), cursor, 1000)
			require.False(t, pages[len(pages)-1].More, "caught up")
			requireWholeLog(t, e, cfg.Instance, append(first, rest...))
		})
	}
}

// TestEventLogsNoProgressIsAnError: a server that serves one row a page
// cannot be read with a row read again; the stream says so instead of
// standing still while it looks caught up.
func TestEventLogsNoProgressIsAnError(t *testing.T) {
	e, cfgs := capped(t, 1)
	s := logStream(t, e, cfgs[0])
	p, err := s.Next(t.Context(), "")
	require.NoError(t, err)
	require.True(t, p.More)
	_, err = s.Next(t.Context(), p.Cursor)
	require.ErrorContains(t, err, "must be below the server's page cap")
}

// TestRunsWindowCappedPage: a dagRuns page the server capped below the
// limit does not end the window; the window's pages bring every run
// total_entries counts.
func TestRunsWindowCappedPage(t *testing.T) {
	e, _ := capped(t, 20)
	auth := oauth.Static{Header: "Authorization", Value: "Basic " + base64.StdEncoding.EncodeToString([]byte(e.Srv.Creds.AirflowUser+":"+e.Srv.Creds.AirflowPassword))}
	d := &dagRuns{url: e.Srv.AirflowURL("af-legacy") + "/api/v1/dags/~/dagRuns", client: collect.NewClient(e.Opts, auth, time.Minute),
		split: collect.Splitter{Source: model.SourceAirflow, Instance: "af-legacy", Envelopes: ingestairflow.New().Envelopes()}, limit: 50, clock: e.Clock}
	var runs []bus.Record
	page := ""
	for i := 0; ; i++ {
		recs, next, err := d.ReadWindow(t.Context(), e.Start, e.Clock.Now(), page)
		require.NoError(t, err)
		if i == 0 {
			require.Len(t, recs, 20)
			require.NotEmpty(t, next, "a capped page is not the window's last")
		}
		runs = append(runs, recs...)
		if page = next; page == "" {
			break
		}
	}
	require.Greater(t, len(runs), 20)
	ids, _ := collecttest.Published(t, runs)
	want := finalVersions(t, e, "af-legacy")
	require.Len(t, ids, len(want))
	for id := range want {
		require.Equal(t, 1, ids[id], "run version %s read once", id)
	}
}

// requests counts the requests sent whose path ends with each suffix.
type requests struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *requests) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.n[path.Base(req.URL.Path)]++
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *requests) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[name]
}

// TestRunsNeedAirflow26: Airflow 2.5 answers the updated_at filters 400
// (not in its spec). The dag_runs stream fails with a message that says
// so, asks no more, and the audit log is read all the same.
func TestRunsNeedAirflow26(t *testing.T) {
	e, cfgs := newEnv(t, emulator.Faults{})
	e.Srv.Airflow["af-legacy"].Configure(emulator.AirflowConfig{Before26: true})
	cfgs = slices.DeleteFunc(cfgs, func(c Config) bool { return c.Instance != "af-legacy" })
	reqs := &requests{n: map[string]int{}}
	e.Opts.Client = &http.Client{Transport: reqs}
	pub := &collecttest.Recorder{}
	rs := runners(t, e, cfgs, pub, &collect.MemCursors{})
	e.Drive(t, e.Start.Add(collecttest.Backlog+2*time.Hour), rs...)
	st := rs[0].Status()
	require.Len(t, st, 2)
	require.Equal(t, "dag_runs", st[1].Stream)
	require.Contains(t, st[1].LastError, "DAG-run collection needs Airflow ≥ 2.6")
	require.Equal(t, 1, reqs.count("dagRuns"), "not asked again")
	require.Empty(t, st[0].LastError)
	require.False(t, st[0].Complete.IsZero(), "the audit log caught up")
	e.Check(t, pub, e.Srv.Airflow["af-legacy"].Ledger(), []*demo.Feed{e.Srv.Data.Feed(demo.StreamAirflowEventLogs, "af-legacy")}, rs...)
}

// TestTotalEntries: total_entries is read after the list, where Airflow
// writes it, and from the whole page when it is elsewhere; -1 when a page
// has none.
func TestTotalEntries(t *testing.T) {
	for body, want := range map[string]int{
		`{"event_logs": [{"extra": "a]b"}], "total_entries": 262}`: 262,
		`{"dag_runs": [], "total_entries": 0}`:                     0,
		`{"total_entries": 7, "dag_runs": [{"conf": {"x": [1]}}]}`: 7,
		`{"event_logs": [{"extra": "\"total_entries\": 9"}]}`:      -1,
		`{"event_logs": [{"event_log_id": 1}]}`:                    -1,
		`{"event_logs": [{"event_lo`:                               -1,
		`[{"event_log_id": 1}]`:                                    -1,
	} {
		require.Equal(t, want, totalEntries([]byte(body)), body)
	}
}
