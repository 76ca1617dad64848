package google

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
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
	o, err := demo.Generate(demo.Config{People: 60, Days: 2, Seed: 13})
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
	der, err := x509.MarshalPKCS8PrivateKey(e.Srv.Creds.Key)
	require.NoError(t, err)
	key, err := json.Marshal(serviceAccountKey{Type: "service_account", ClientEmail: e.Srv.Creds.ServiceAccount,
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), PrivateKeyID: "k1", TokenURI: e.Srv.GoogleTokenURL()})
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "sa.json")
	require.NoError(t, os.WriteFile(file, key, 0o600))
	return e, Config{Instance: demo.IdPInstance(model.SourceGoogle), ServiceAccountKey: collect.Secret{File: file},
		Subject: e.Srv.Creds.Admin, BaseURL: e.Srv.GoogleURL(), Lag: lag, PageSize: 1,
		StartConfig: collect.StartConfig{Start: e.Start}, Poll: collecttest.Poll()}
}

func runner(t *testing.T, e *collecttest.Env, cfg Config, pub *collecttest.Recorder, cursors collect.CursorStore) *collect.Runner {
	t.Helper()
	col, err := New(cfg, e.Opts)
	require.NoError(t, err)
	return e.Runner(col, pub, cursors)
}

func check(t *testing.T, e *collecttest.Env, pub *collecttest.Recorder, runners ...*collect.Runner) collecttest.Report {
	t.Helper()
	rep := e.Check(t, pub, e.Srv.Google.Ledger(), []*demo.Feed{e.Srv.Data.Feed(demo.StreamGoogleLogin, "")}, runners...)
	norms := emulator.Normalizers()
	for _, r := range pub.Records() {
		if _, err := emulator.EventID(norms, r.Source, r.Instance, r.Raw); err == nil {
			require.NotEmpty(t, r.Key, "an activity is keyed by its actor's profileId")
		}
	}
	return rep
}

func TestCollect(t *testing.T) {
	for _, tc := range collecttest.Cases() {
		if strings.HasPrefix(tc.Name, "429") {
			// Google's quota errors name no reset: the client backs off.
			tc.Check = func(t *testing.T, st emulator.Stats, _ collecttest.Report) { require.Positive(t, st.RateLimited) }
		}
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
				tc.Check(t, e.Srv.Google.Ledger().Stats(), rep)
			}
		})
	}
}

// TestRestart stops the collector mid-walk and starts a new one on the
// saved cursor: it resumes the window at the saved pageToken.
func TestRestart(t *testing.T) {
	e, cfg := newEnv(t, emulator.Faults{TokenTTL: 10 * time.Minute})
	cfg.PageSize = 1
	cursors := &collect.MemCursors{}
	pub := &collecttest.Recorder{}
	first := runner(t, e, cfg, pub, cursors)
	e.Drive(t, e.Start.Add(30*time.Hour), first)
	require.Contains(t, cursors.All()["google/"+cfg.Instance+"/login"].Position, `"head"`)
	second := runner(t, e, cfg, pub, cursors)
	e.Drive(t, time.Time{}, second)
	check(t, e, pub, first, second)
}

// TestWithoutLag shows why the lag window exists: with none, activities
// listed late are missed.
func TestWithoutLag(t *testing.T) {
	e, cfg := newEnv(t, emulator.Faults{LateBy: 30 * time.Minute, LateEvery: 4})
	cfg.Lag = time.Millisecond
	pub := &collecttest.Recorder{}
	r := runner(t, e, cfg, pub, &collect.MemCursors{})
	e.Drive(t, time.Time{}, r)
	ids, _ := collecttest.Published(t, pub.Records())
	want := collecttest.Expected(t, []*demo.Feed{e.Srv.Data.Feed(demo.StreamGoogleLogin, "")}, e.Srv.Data, e.Start, e.Clock.Now())
	require.Less(t, len(ids), len(want), "late activities are missed without a lag window")
}
