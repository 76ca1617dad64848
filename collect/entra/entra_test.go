package entra

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
	o, err := demo.Generate(demo.Config{People: 24, Days: 2, Seed: 12})
	if err != nil {
		panic(err)
	}
	return o
}()

// lag covers the generator's lateness (up to 3 h) so that nothing is late
// beyond the re-read window.
const lag = 3*time.Hour + 15*time.Minute

func newEnv(t *testing.T, faults emulator.Faults) (*collecttest.Env, Config) {
	t.Helper()
	e := collecttest.NewEnv(t, org, faults, lag+time.Hour)
	t.Setenv("KEYTRAIL_TEST_ENTRA_SECRET", e.Srv.Creds.ClientSecret)
	return e, Config{Instance: demo.IdPInstance(model.SourceEntra), TenantID: e.Srv.Creds.Tenant, ClientID: e.Srv.Creds.ClientID,
		ClientSecret: collect.Secret{Env: "KEYTRAIL_TEST_ENTRA_SECRET"}, LoginURL: e.Srv.EntraLoginURL(), GraphURL: e.Srv.GraphURL(),
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
	feeds := []*demo.Feed{e.Srv.Data.Feed(demo.StreamEntraSignIns, ""), e.Srv.Data.Feed(demo.StreamEntraAudits, "")}
	rep := e.Check(t, pub, e.Srv.Entra.Ledger(), feeds, runners...)
	norms := emulator.Normalizers()
	for _, r := range pub.Records() {
		if _, err := emulator.EventID(norms, r.Source, r.Instance, r.Raw); err == nil {
			require.NotEmpty(t, r.Key, "an Entra record is keyed by its user")
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
				tc.Check(t, e.Srv.Entra.Ledger().Stats(), rep)
			}
		})
	}
}

// TestRestart stops the collector mid-walk and starts a new one on the
// saved cursors: it resumes the window from the saved nextLink.
func TestRestart(t *testing.T) {
	e, cfg := newEnv(t, emulator.Faults{})
	cfg.PageSize = 3
	cursors := &collect.MemCursors{}
	pub := &collecttest.Recorder{}
	first := runner(t, e, cfg, pub, cursors)
	e.Drive(t, e.Start.Add(26*time.Hour), first)
	second := runner(t, e, cfg, pub, cursors)
	e.Drive(t, time.Time{}, second)
	check(t, e, pub, first, second)
}

// TestInteractiveOnly reads the interactive sign-ins only: none of the
// non-interactive ones (token reuse) are published.
func TestInteractiveOnly(t *testing.T) {
	e, cfg := newEnv(t, emulator.Faults{})
	cfg.SignInEventTypes = []string{Interactive}
	f := false
	cfg.DirectoryAudits = &f
	cfg.Inventory.Disabled = true
	pub := &collecttest.Recorder{}
	r := runner(t, e, cfg, pub, &collect.MemCursors{})
	e.Drive(t, time.Time{}, r)
	ids, _ := collecttest.Published(t, pub.Records())
	feed := e.Srv.Data.Feed(demo.StreamEntraSignIns, "")
	var inter, non int
	for _, it := range feed.Items {
		if it.Kind == demo.KindInteractive {
			inter++
		} else {
			non++
		}
	}
	require.Positive(t, non)
	require.Len(t, ids, inter)
}

func TestValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"empty":            {Config{}, "tenant_id: required"},
		"secret":           {Config{TenantID: "t", ClientID: "c"}, "client_secret"},
		"event type":       {Config{TenantID: "t", ClientID: "c", ClientSecret: collect.Secret{Env: "X"}, SignInEventTypes: []string{"interactive"}}, `"interactive"`},
		"page size":        {Config{TenantID: "t", ClientID: "c", ClientSecret: collect.Secret{Env: "X"}, PageSize: 5000}, "page_size"},
		"graph url":        {Config{TenantID: "t", ClientID: "c", ClientSecret: collect.Secret{Env: "X"}, GraphURL: "ftp://x"}, "graph_url"},
		"negative lag":     {Config{TenantID: "t", ClientID: "c", ClientSecret: collect.Secret{Env: "X"}, Lag: -time.Second}, "lag"},
		"poll":             {Config{TenantID: "t", ClientID: "c", ClientSecret: collect.Secret{Env: "X"}, Poll: collect.PollConfig{Interval: -1}}, "interval"},
		"both secret ways": {Config{TenantID: "t", ClientID: "c", ClientSecret: collect.Secret{Env: "X", File: "y"}}, "not both"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Validate()
			require.ErrorContains(t, err, tc.want)
		})
	}
	require.NoError(t, Config{TenantID: "t", ClientID: "c", ClientSecret: collect.Secret{Env: "X"}}.Validate())
}
