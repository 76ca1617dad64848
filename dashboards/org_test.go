//go:build !nochdb

package dashboards_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/ingest/entra"
	"github.com/keytrail/keytrail/ingest/google"
	"github.com/keytrail/keytrail/ingest/keycloak"
	"github.com/keytrail/keytrail/ingest/okta"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/chdb"
	_ "github.com/keytrail/keytrail/store/clickhouse"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// chdbDir is the test binary's one chDB data directory (one session per
// process); each test uses its own database in it.
var chdbDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "keytrail-dashboards-test-")
	if err != nil {
		panic(err)
	}
	chdbDir = d
	code := m.Run()
	storetest.StopShared()
	os.RemoveAll(d)
	os.Exit(code)
}

// engine is a fresh, migrated database on one engine.
type engine struct {
	name string
	s    store.Store
}

// engines opens a fresh, migrated database on the embedded engine (chDB,
// ClickHouse 26.5) and on a private ClickHouse 18.16 server.
func engines(t *testing.T) []engine {
	t.Helper()
	lib := os.Getenv("CHDB_LIB_PATH")
	if lib == "" {
		storetest.Missing(t, "CHDB_LIB_PATH is not set")
	}
	if _, err := os.Stat(lib); err != nil {
		storetest.Missing(t, "libchdb.so: %v", err)
	}
	srv := storetest.SharedServer(t)
	ctx := context.Background()
	var out []engine
	for _, e := range []struct{ name, url string }{
		{"chdb", "chdb://" + chdbDir + "?database=" + storetest.FreshDB(t)},
		{"clickhouse", srv.URL(storetest.FreshDB(t))},
	} {
		s, err := store.Open(ctx, e.url)
		require.NoError(t, err, e.name)
		t.Cleanup(func() { s.Close() })
		_, err = schema.Migrate(ctx, s)
		require.NoError(t, err, e.name)
		out = append(out, engine{e.name, s})
	}
	return out
}

// org is the small demo organisation every engine is filled with.
type org struct {
	dir      string
	manifest demo.Manifest
	people   []demo.Person
	// received is when ingest stamps every record received; computed when
	// correlate stamps every verdict: both fixed, so engines agree.
	received, computed time.Time
}

func newOrg(t *testing.T) *org {
	t.Helper()
	o, err := demo.Generate(demo.Config{People: 12, Days: 3, Seed: 5})
	require.NoError(t, err)
	dir := t.TempDir()
	m, err := o.WriteFiles(dir, nil)
	require.NoError(t, err)
	return &org{dir: dir, manifest: m, people: o.People, received: m.Start.Add(60 * time.Hour), computed: m.Start.Add(71 * time.Hour)}
}

// normalizer is the ingest normalizer of a demo file's source.
func normalizer(tb testing.TB, src model.Source) ingest.Normalizer {
	switch src {
	case model.SourceOkta:
		return okta.New()
	case model.SourceEntra:
		return entra.New()
	case model.SourceGoogle:
		return google.New()
	case model.SourceKeycloak:
		return keycloak.New()
	case model.SourceAirflow:
		n := airflow.New()
		n.Classifier = airflow.NewClassifier()
		return n
	}
	tb.Fatalf("no normalizer for %s", src)
	return nil
}

// fill pushes the organisation through keytrail as `keytrail demo` does:
// the identity mapping, every file (identity providers first), then two
// correlation runs — an older policy and then the default one, which is
// current — the default one twice, so correlations hold replaced copies
// that only FINAL collapses. It adds what the generator does not make: a
// conflict, two collector cursors and alert deliveries.
func (o *org) fill(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	w := warehouse.New(s)
	f, err := os.Open(filepath.Join(o.dir, o.manifest.Mapping))
	require.NoError(t, err)
	rows, err := identity.ParseMapping(f)
	f.Close()
	require.NoError(t, err)
	require.NoError(t, w.ImportIdentities(ctx, rows, o.received))
	enr, err := w.NewEnricher(ctx, func() time.Time { return o.received })
	require.NoError(t, err)
	for _, airflowPhase := range []bool{false, true} {
		for _, fi := range o.manifest.Files {
			if (fi.Source == model.SourceAirflow) != airflowPhase {
				continue
			}
			data, err := os.ReadFile(filepath.Join(o.dir, fi.Path))
			require.NoError(t, err)
			in := &ingest.Ingester{Normalizer: normalizer(t, fi.Source), Instance: fi.Instance, Sink: w, Enricher: enr,
				Now: func() time.Time { return o.received }}
			_, err = in.Ingest(ctx, fi.Path, data)
			require.NoError(t, err, fi.Path)
		}
	}
	older := correlate.DefaultPolicy()
	older.MaxAge.Privileged = 2 * time.Hour
	require.NotEqual(t, older.Version(), correlate.DefaultPolicy().Version())
	for _, p := range []correlate.Policy{older, correlate.DefaultPolicy(), correlate.DefaultPolicy()} {
		_, err := w.Correlate(ctx, p, warehouse.CorrelateOptions{Now: func() time.Time { return o.computed }})
		require.NoError(t, err)
	}

	// Rows go in through Insert: the ClickHouse 18.16 server does not read
	// an INSERT's VALUES from the query text over the native protocol.
	insert := func(table string, cols []string, rows ...[]any) {
		require.NoError(t, s.Insert(ctx, table, cols, rows), table)
	}
	at := func(h int) time.Time { return o.manifest.Start.Add(time.Duration(h) * time.Hour) }
	conflictCols := []string{"source", "instance", "event_id", "ts", "origin", "received_at", "raw", "sha256", "stored_sha256", "version"}
	alertCols := []string{"alert_id", "action_id", "action_ts", "verdict", "status", "target", "summary", "policy_version", "attempts", "last_error", "created_at", "sent_at", "resolved_at", "version"}
	for v := 1; v <= 2; v++ { // a replaced copy first: FINAL keeps one
		insert("conflicts", conflictCols,
			[]any{"okta", "acme", "evt-conflict", at(20), "hook-delivery-7", at(30), `{"id":"evt-conflict","v":2}`, "c0ffee", "decade", uint64(v)})
		insert("alerts", alertCols,
			[]any{"al-1", "af-prod/1", at(10), "weak_factor", "firing", "webhook", "unverified trigger", "p", int64(v), "HTTP 503", at(10), nil, nil, uint64(v)})
	}
	insert("alerts", alertCols,
		[]any{"al-2", "af-prod/2", at(11), "stale", "resolved", "alertmanager", "unverified clear", "p", int64(1), "", at(11), at(11), at(12), uint64(1)})
	now := time.Now().UTC().Truncate(time.Millisecond)
	insert("cursors", []string{"collector", "position", "updated_at", "version"},
		[]any{"okta/acme", now.Add(-15 * time.Minute).Format(time.RFC3339), now.Add(-10 * time.Minute), uint64(1)},
		[]any{"airflow/af-prod", `{"offset":120,"last":4141}`, now.Add(-2 * time.Hour), uint64(1)})
}

// span is the period the demo covers, which panels are expanded for.
func (o *org) span() (time.Time, time.Time) { return o.manifest.Start, o.manifest.End }
