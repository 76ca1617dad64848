package keycloak

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/model"
)

var org = func() *demo.Org {
	o, err := demo.Generate(demo.Config{People: 32, Days: 2, Seed: 14})
	if err != nil {
		panic(err)
	}
	return o
}()

// lag covers the generator's lateness (up to 3 h).
const lag = 3*time.Hour + 15*time.Minute

func newEnv(t *testing.T, faults emulator.Faults) (*collecttest.Env, Config) {
	t.Helper()
	e := collecttest.NewEnv(t, org, faults, lag+time.Hour)
	t.Setenv("KEYTRAIL_TEST_KEYCLOAK_SECRET", e.Srv.Creds.ClientSecret)
	return e, Config{Instance: demo.IdPInstance(model.SourceKeycloak), BaseURL: e.Srv.KeycloakURL(), Realm: e.Srv.Creds.Realm,
		ClientID: e.Srv.Creds.ClientID, ClientSecret: collect.Secret{Env: "KEYTRAIL_TEST_KEYCLOAK_SECRET"},
		Lag: lag, PageSize: 2, StartConfig: collect.StartConfig{Start: e.Start}, Poll: collecttest.Poll()}
}

func runner(t *testing.T, e *collecttest.Env, cfg Config, pub *collecttest.Recorder, cursors collect.CursorStore) *collect.Runner {
	t.Helper()
	col, err := New(cfg, e.Opts)
	require.NoError(t, err)
	return e.Runner(col, pub, cursors)
}

func check(t *testing.T, e *collecttest.Env, pub *collecttest.Recorder, runners ...*collect.Runner) collecttest.Report {
	t.Helper()
	rep := e.Check(t, pub, e.Srv.Keycloak.Ledger(), []*demo.Feed{e.Srv.Data.Feed(demo.StreamKeycloakEvents, "")}, runners...)
	norms := emulator.Normalizers()
	for _, r := range pub.Records() {
		if _, err := emulator.EventID(norms, r.Source, r.Instance, r.Raw); err == nil {
			require.NotEmpty(t, r.Key, "a Keycloak event is keyed by its user")
		}
	}
	return rep
}

func TestCollect(t *testing.T) {
	for _, tc := range collecttest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			e, cfg := newEnv(t, tc.Faults)
			if tc.Timeout > 0 {
				cfg.Poll.Timeout = tc.Timeout
			}
			pub := &collecttest.Recorder{FailEvery: tc.Bus}
			r := runner(t, e, cfg, pub, &collect.MemCursors{})
			e.Drive(t, time.Time{}, r)
			rep := check(t, e, pub, r)
			if tc.Check != nil {
				tc.Check(t, e.Srv.Keycloak.Ledger().Stats(), rep)
			}
		})
	}
}

// TestDatesOnly: a Keycloak that takes dates only and lists newest first
// is read day by day, each window keeping its own events.
func TestDatesOnly(t *testing.T) {
	e, cfg := newEnv(t, emulator.Faults{})
	e.Srv.Keycloak.DatesOnly = true
	cfg.DatesOnly = true
	cfg.PageSize = 5
	pub := &collecttest.Recorder{}
	r := runner(t, e, cfg, pub, &collect.MemCursors{})
	e.Drive(t, time.Time{}, r)
	rep := check(t, e, pub, r)
	require.Zero(t, rep.Repeats)

	// and the same collector refused by it when it sends milliseconds
	cfg.DatesOnly = false
	pub2 := &collecttest.Recorder{}
	e.Clock.Advance(time.Hour)
	r2 := runner(t, e, cfg, pub2, &collect.MemCursors{})
	e.Drive(t, e.Clock.Now().Add(time.Hour), r2)
	found := false
	for _, s := range r2.Status() {
		if s.Stream == "events" {
			found = true
			require.Contains(t, s.LastError, "400 Bad Request")
			require.Zero(t, s.Published)
		}
	}
	require.True(t, found)
}

// TestRestart stops the collector mid-walk and starts a new one on the
// saved cursors.
func TestRestart(t *testing.T) {
	e, cfg := newEnv(t, emulator.Faults{})
	cfg.PageSize = 1
	cursors := &collect.MemCursors{}
	pub := &collecttest.Recorder{}
	first := runner(t, e, cfg, pub, cursors)
	e.Drive(t, e.Start.Add(20*time.Hour), first)
	second := runner(t, e, cfg, pub, cursors)
	e.Drive(t, time.Time{}, second)
	check(t, e, pub, first, second)
}
