package okta

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
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
	o, err := demo.Generate(demo.Config{People: 24, Days: 2, Seed: 11})
	if err != nil {
		panic(err)
	}
	return o
}()

func newEnv(t *testing.T, faults emulator.Faults) (*collecttest.Env, Config) {
	t.Helper()
	e := collecttest.NewEnv(t, org, faults, 4*time.Hour)
	t.Setenv("KEYTRAIL_TEST_OKTA_TOKEN", e.Srv.Creds.OktaToken)
	return e, Config{Instance: demo.IdPInstance(model.SourceOkta), BaseURL: e.Srv.OktaURL(),
		Token: collect.Secret{Env: "KEYTRAIL_TEST_OKTA_TOKEN"}, PageSize: 25,
		StartConfig: collect.StartConfig{Start: e.Start}, Poll: collecttest.Poll()}
}

func runner(t *testing.T, e *collecttest.Env, cfg Config, pub *collecttest.Recorder, cursors collect.CursorStore) *collect.Runner {
	t.Helper()
	col, err := New(cfg, e.Opts)
	require.NoError(t, err)
	return e.Runner(col, pub, cursors)
}

// check compares what pub holds with the Okta emulator's ledger and with
// every event listed by the end; every event is keyed by its actor.
func check(t *testing.T, e *collecttest.Env, pub *collecttest.Recorder, runners ...*collect.Runner) collecttest.Report {
	t.Helper()
	rep := e.Check(t, pub, e.Srv.Okta.Ledger(), []*demo.Feed{e.Srv.Data.Feed(demo.StreamOktaLogs, "")}, runners...)
	norms := emulator.Normalizers()
	for _, r := range pub.Records() {
		if _, err := emulator.EventID(norms, r.Source, r.Instance, r.Raw); err == nil {
			require.NotEmpty(t, r.Key, "an Okta record is keyed by its actor")
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
				tc.Check(t, e.Srv.Okta.Ledger().Stats(), rep)
			}
			if tc.Bus > 0 {
				require.Positive(t, pub.Failures())
			}
		})
	}
}

// TestRestart stops the collector mid-pagination and starts a new one on
// the saved cursors: it continues from the saved next link.
func TestRestart(t *testing.T) {
	e, cfg := newEnv(t, emulator.Faults{})
	cfg.PageSize = 5
	cursors := &collect.MemCursors{}
	pub := &collecttest.Recorder{}
	first := runner(t, e, cfg, pub, cursors)
	e.Drive(t, e.Start.Add(20*time.Hour), first)
	saved := cursors.All()["okta/"+cfg.Instance+"/logs"]
	require.Contains(t, saved.Position, "after=", "the cursor is Okta's next link")
	before := len(pub.Records())
	second := runner(t, e, cfg, pub, cursors)
	e.Drive(t, time.Time{}, second)
	require.Greater(t, len(pub.Records()), before)
	rep := check(t, e, pub, first, second)
	require.Zero(t, rep.Repeats, "the saved cursor is where the last published page ended")
}

// TestCompleteHoldsBackLag: Okta persists some events late (every fifth
// here, 50 minutes after its published time) and polling lists them after
// the cursor, so the log is complete only Lag before the last caught-up
// request. Driven half an hour at a time, every event published before
// what the stream says it is complete to has been published when Lag
// covers the lateness; with a Lag shorter than it some have not — the
// events a streaming correlator trusting it would finalise verdicts
// without.
func TestCompleteHoldsBackLag(t *testing.T) {
	for _, tc := range []struct {
		lag    time.Duration
		behind bool
	}{{time.Hour, false}, {time.Minute, true}} {
		t.Run(tc.lag.String(), func(t *testing.T) {
			e, cfg := newEnv(t, emulator.Faults{LateBy: 50 * time.Minute, LateEvery: 5})
			cfg.Lag = tc.lag
			cfg.Inventory.Disabled = true
			cursors := &collect.MemCursors{}
			pub := &collecttest.Recorder{}
			feeds := []*demo.Feed{e.Srv.Data.Feed(demo.StreamOktaLogs, "")}
			var behind []string
			steps := 0
			for at := e.Start.Add(time.Hour); !at.After(e.Until); at = at.Add(30 * time.Minute) {
				r := runner(t, e, cfg, pub, cursors)
				e.Drive(t, at, r)
				st := r.Status()
				require.Len(t, st, 1)
				require.False(t, st[0].Complete.IsZero(), "caught up")
				require.False(t, st[0].Complete.After(e.Clock.Now().Add(-tc.lag)), "complete up to at most now − lag")
				require.Less(t, e.Clock.Now().Add(-tc.lag).Sub(st[0].Complete), time.Minute, "complete up to the last caught-up request − lag")
				behind = append(behind, e.Behind(t, pub, feeds, st[0].Complete)...)
				steps++
			}
			t.Logf("lag %s: %d steps, %d events published before the stream's completeness were not yet published", tc.lag, steps, len(behind))
			if tc.behind {
				require.NotEmpty(t, behind, "a lag shorter than the lateness leaves late events behind completeness")
			} else {
				require.Empty(t, behind)
			}
		})
	}
}

// TestOAuth authenticates as a service app (private_key_jwt); tokens
// expire every 20 minutes and are fetched again.
func TestOAuth(t *testing.T) {
	e, cfg := newEnv(t, emulator.Faults{TokenTTL: 20 * time.Minute})
	der, err := x509.MarshalPKCS8PrivateKey(e.Srv.Creds.Key)
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "okta.pem")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	cfg.Token = collect.Secret{}
	cfg.OAuth = &OAuthConfig{ClientID: e.Srv.Creds.ClientID, PrivateKey: collect.Secret{File: keyFile}}
	pub := &collecttest.Recorder{}
	r := runner(t, e, cfg, pub, &collect.MemCursors{})
	e.Drive(t, time.Time{}, r)
	check(t, e, pub, r)
}
