package okta

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/model"
)

var org = func() *demo.Org {
	o, err := demo.Generate(demo.Config{People: 24, Days: 2, Seed: 11})
	if err != nil {
		panic(err)
	}
	return o
}()

type env struct {
	srv   *emulator.Server
	clock *clockwork.FakeClock
	cfg   Config
	opts  collect.Options
	until time.Time
}

func newEnv(t *testing.T, faults emulator.Faults) *env {
	t.Helper()
	start := org.Config().Start
	clock := clockwork.NewFakeClockAt(start)
	srv, err := emulator.Start(org, emulator.Options{Clock: clock, Faults: faults})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	t.Setenv("KEYTRAIL_TEST_OKTA_TOKEN", srv.Creds.OktaToken)
	return &env{srv: srv, clock: clock,
		cfg: Config{Instance: demo.IdPInstance(model.SourceOkta), BaseURL: srv.OktaURL(), Token: collect.Secret{Env: "KEYTRAIL_TEST_OKTA_TOKEN"}, PageSize: 25,
			StartConfig: collect.StartConfig{Start: start},
			Poll:        collect.PollConfig{Interval: 5 * time.Minute, Timeout: 2 * time.Second}},
		opts:  collect.Options{Clock: clock, Logger: collecttest.Quiet()},
		until: start.Add(time.Duration(org.Config().Days)*24*time.Hour + 4*time.Hour),
	}
}

func (e *env) runner(t *testing.T, pub *collecttest.Recorder, cursors collect.CursorStore) *collect.Runner {
	t.Helper()
	col, err := New(e.cfg, e.opts)
	require.NoError(t, err)
	return collect.NewRunner(col, pub, cursors, e.opts)
}

// check compares what pub holds with the Okta emulator's ledger and with
// every event listed by the end.
func (e *env) check(t *testing.T, pub *collecttest.Recorder, runners ...*collect.Runner) collecttest.Report {
	t.Helper()
	recs := pub.Records()
	expected := collecttest.Expected(t, []*demo.Feed{e.srv.Data.Feed(demo.StreamOktaLogs, "")}, e.srv.Data, org.Config().Start, e.clock.Now())
	rep := collecttest.Compare(t, recs, e.srv.Okta.Ledger(), expected)
	rep.RequireComplete(t, runners...)
	require.Len(t, rep.Published, len(expected))
	require.Equal(t, e.srv.Okta.Ledger().Snapshots(), collecttest.Snapshots(recs), "every factors snapshot served is published once")
	norms := emulator.Normalizers()
	for _, r := range recs {
		if _, err := emulator.EventID(norms, r.Source, r.Instance, r.Raw); err == nil {
			require.NotEmpty(t, r.Key, "an Okta record is keyed by its actor")
		}
	}
	t.Log(rep)
	return rep
}

func TestCollect(t *testing.T) {
	for _, tc := range []struct {
		name    string
		faults  emulator.Faults
		bus     int           // publish fails every bus-th call
		timeout time.Duration // per request
		check   func(t *testing.T, st emulator.Stats, rep collecttest.Report)
	}{
		{name: "clean"},
		{name: "empty pages and the same event on two pages", faults: emulator.Faults{EmptyEvery: 3, DuplicateEvery: 2},
			check: func(t *testing.T, st emulator.Stats, rep collecttest.Report) {
				require.Positive(t, st.Empty)
				require.Positive(t, st.Duplicated)
				require.Zero(t, rep.Repeats, "the runner publishes a record repeated on the next page once")
			}},
		{name: "429 waits for X-Rate-Limit-Reset", faults: emulator.Faults{RateLimitEvery: 4, RateLimitFor: 45 * time.Second},
			check: func(t *testing.T, st emulator.Stats, _ collecttest.Report) {
				require.Positive(t, st.RateLimited)
				require.Zero(t, st.Early, "no request before the reset")
			}},
		{name: "5xx", faults: emulator.Faults{ErrorEvery: 3},
			check: func(t *testing.T, st emulator.Stats, _ collecttest.Report) { require.Positive(t, st.Errors) }},
		{name: "slow answers time out", faults: emulator.Faults{SlowEvery: 60, Slow: 1500 * time.Millisecond}, timeout: 300 * time.Millisecond,
			check: func(t *testing.T, st emulator.Stats, _ collecttest.Report) { require.Positive(t, st.Abandoned) }},
		{name: "poisoned records are published, not blocking", faults: emulator.Faults{PoisonEvery: 7},
			check: func(t *testing.T, st emulator.Stats, rep collecttest.Report) {
				require.Positive(t, st.Poison)
				require.EqualValues(t, st.Poison, rep.Rejected)
			}},
		{name: "events listed late", faults: emulator.Faults{LateBy: 2 * time.Hour}},
		{name: "bus down", bus: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.faults)
			if tc.timeout > 0 {
				e.cfg.Poll.Timeout = tc.timeout
			}
			pub := &collecttest.Recorder{FailEvery: tc.bus}
			r := e.runner(t, pub, &collect.MemCursors{})
			collecttest.Drive(t, e.clock, 2, 5*time.Second, e.until, r)
			rep := e.check(t, pub, r)
			if tc.check != nil {
				tc.check(t, e.srv.Okta.Ledger().Stats(), rep)
			}
			if tc.bus > 0 {
				require.Positive(t, pub.Failures())
			}
		})
	}
}

// TestRestart stops the collector mid-pagination and starts a new one on
// the saved cursors: it continues from the saved next link.
func TestRestart(t *testing.T) {
	e := newEnv(t, emulator.Faults{})
	e.cfg.PageSize = 5
	cursors := &collect.MemCursors{}
	pub := &collecttest.Recorder{}
	first := e.runner(t, pub, cursors)
	half := org.Config().Start.Add(20 * time.Hour)
	collecttest.Drive(t, e.clock, 2, 5*time.Second, half, first)
	saved := cursors.All()["okta/"+e.cfg.instanceName()+"/logs"]
	require.Contains(t, saved.Position, "after=", "the cursor is Okta's next link")
	before := len(pub.Records())
	second := e.runner(t, pub, cursors)
	collecttest.Drive(t, e.clock, 2, 5*time.Second, e.until, second)
	require.Greater(t, len(pub.Records()), before)
	rep := e.check(t, pub, first, second)
	require.Zero(t, rep.Repeats, "the saved cursor is where the last published page ended")
}

// TestOAuth authenticates as a service app (private_key_jwt); tokens
// expire every 20 minutes and are fetched again.
func TestOAuth(t *testing.T) {
	e := newEnv(t, emulator.Faults{TokenTTL: 20 * time.Minute})
	der, err := x509.MarshalPKCS8PrivateKey(e.srv.Creds.Key)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "okta.pem")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	e.cfg.Token = collect.Secret{}
	e.cfg.OAuth = &OAuthConfig{ClientID: e.srv.Creds.ClientID, PrivateKey: collect.Secret{File: keyFile}}
	pub := &collecttest.Recorder{}
	r := e.runner(t, pub, &collect.MemCursors{})
	collecttest.Drive(t, e.clock, 2, 5*time.Second, e.until, r)
	e.check(t, pub, r)
}

func (c Config) instanceName() string {
	base, _ := collect.ParseBaseURL("base_url", c.BaseURL)
	if c.Instance != "" {
		return c.Instance
	}
	return base.Host
}
