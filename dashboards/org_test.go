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
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/chdb"
	_ "github.com/keytrail/keytrail/store/clickhouse"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

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
		{"chdb", storetest.EmbeddedURL(t)},
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
	n, err := sources.Normalizer(src)
	require.NoError(tb, err)
	return n
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
	enr, err := enrich.New(ctx, w, func() time.Time { return o.received })
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
		_, err := correlation.Correlate(ctx, w, p, correlation.CorrelateOptions{Now: func() time.Time { return o.computed }})
		require.NoError(t, err)
	}

	// Typed writes with explicit row versions (a replaced copy first:
	// FINAL keeps one).
	at := func(h int) time.Time { return o.manifest.Start.Add(time.Duration(h) * time.Hour) }
	for v := uint64(1); v <= 2; v++ {
		require.NoError(t, warehouse.Conflicts.WriteVersion(ctx, s, []model.Conflict{{Source: model.SourceOkta, Instance: "acme",
			EventID: "evt-conflict", TS: at(20), Origin: "hook-delivery-7", ReceivedAt: at(30), Raw: []byte(`{"id":"evt-conflict","v":2}`),
			SHA256: "c0ffee", StoredSHA256: "decade"}}, v))
		require.NoError(t, store.Alerts.WriteVersion(ctx, s, []model.Alert{{AlertID: "al-1", ActionID: "af-prod/1", ActionTS: at(10),
			Verdict: model.VerdictWeakFactor, Status: model.AlertFiring, Target: "webhook", Summary: "unverified trigger", PolicyVersion: "p",
			Attempts: int64(v), LastError: "HTTP 503", CreatedAt: at(10)}}, v))
	}
	require.NoError(t, store.Alerts.WriteVersion(ctx, s, []model.Alert{{AlertID: "al-2", ActionID: "af-prod/2", ActionTS: at(11),
		Verdict: model.VerdictStale, Status: model.AlertResolved, Target: "alertmanager", Summary: "unverified clear", PolicyVersion: "p",
		Attempts: 1, CreatedAt: at(11), SentAt: at(11), ResolvedAt: at(12)}}, 1))
	now := time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, store.Cursors.WriteVersion(ctx, s, []model.Cursor{
		{Collector: "okta/acme", Position: now.Add(-15 * time.Minute).Format(time.RFC3339), UpdatedAt: now.Add(-10 * time.Minute)},
		{Collector: "airflow/af-prod", Position: `{"offset":120,"last":4141}`, UpdatedAt: now.Add(-2 * time.Hour)},
	}, 1))
}

// span is the period the demo covers, which panels are expanded for.
func (o *org) span() (time.Time, time.Time) { return o.manifest.Start, o.manifest.End }
