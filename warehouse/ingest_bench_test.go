package warehouse

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/ingest/okta"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
)

// BenchmarkIngest measures end-to-end ingest into the embedded store of
// demo-generated Okta System Log and Airflow 3.1 event-log NDJSON: split,
// normalize, enrich, duplicate check and store (records/s, MB/s). Its peer,
// in the same run, is the store alone: writing the very same rows again into
// a fresh database (store-only-records/s), the floor the pipeline sits on.
func BenchmarkIngest(b *testing.B) {
	dir := b.TempDir()
	org, err := demo.Generate(demo.Config{People: 60, Days: 10, Seed: 7})
	require.NoError(b, err)
	m, err := org.WriteFiles(dir, nil)
	require.NoError(b, err)
	for _, c := range []struct {
		name string
		n    func() ingest.Normalizer
		src  string
	}{
		{"okta", func() ingest.Normalizer { return okta.New() }, "okta"},
		{"airflow", func() ingest.Normalizer { return airflow.New() }, "airflow"},
	} {
		var fi demo.FileInfo
		for _, f := range m.Files {
			if string(f.Source) == c.src && fi.Path == "" {
				fi = f
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, fi.Path))
		require.NoError(b, err)
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			var batches []*ingest.Batch
			var records int
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				w := New(storetest.Migrated(b, chdbBackend))
				enr, err := w.NewEnricher(ctx, nil)
				require.NoError(b, err)
				batches = batches[:0]
				in := &ingest.Ingester{Normalizer: c.n(), Instance: fi.Instance, Sink: w, Enricher: enr, BatchSize: 20000,
					Stored: func(_ context.Context, bt *ingest.Batch) error { batches = append(batches, bt); return nil }}
				b.StartTimer()
				res, err := in.Ingest(ctx, fi.Path, data)
				require.NoError(b, err)
				records = res.Records
				b.StopTimer()
				w.S.Close()
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
			// Peer: the same rows, store only.
			w := New(storetest.Migrated(b, chdbBackend))
			defer w.S.Close()
			start := time.Now()
			for _, bt := range batches {
				_, err := w.Write(ctx, bt)
				require.NoError(b, err)
			}
			b.ReportMetric(float64(records)/time.Since(start).Seconds(), "store-only-records/s")
		})
	}
}

// chdbBackend opens databases of the test binary's chDB session.
var chdbBackend = storetest.Backend{Name: "chdb", Open: func(tb testing.TB, db string) store.Store {
	s, err := store.Open(context.Background(), "chdb://"+chdbDir+"?database="+db)
	require.NoError(tb, err)
	return s
}}
