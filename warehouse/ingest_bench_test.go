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
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/okta"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
)

// BenchmarkIngest measures end-to-end ingest of demo-generated Okta System Log
// and Airflow 3.1 event-log NDJSON into each engine: split, normalize,
// enrich, duplicate check and store (records/s, MB/s). Its peers write the
// very same normalized rows into a fresh database of the same engine right
// after each ingest (so they see the same machine load):
// store-only-records/s through the store's columnar batches, and
// jsoneachrow-peer-records/s as INSERT … FORMAT JSONEachRow (the JSON built
// beforehand, only the inserts timed; over HTTP on the server). x_jsoneachrow
// is records/s over the JSONEachRow peer.
func BenchmarkIngest(b *testing.B) {
	dir := b.TempDir()
	org, err := demo.Generate(demo.Config{People: 60, Days: 10, Seed: 7})
	require.NoError(b, err)
	m, err := org.WriteFiles(dir, nil)
	require.NoError(b, err)
	srv := storetest.SharedServer(b)
	engines := []storetest.Backend{chdbBackend, serverBackend(srv)}
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
		for _, e := range engines {
			b.Run(c.name+"/"+e.Name, func(b *testing.B) {
				ctx := context.Background()
				var own, storeOnly, peer time.Duration
				var records, stored int
				b.SetBytes(int64(len(data)))
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					w := New(storetest.Migrated(b, e))
					enr, err := enrich.New(ctx, w, nil)
					require.NoError(b, err)
					var batches []*ingest.Batch
					in := &ingest.Ingester{Normalizer: c.n(), Instance: fi.Instance, Sink: w, Enricher: enr, BatchSize: 20000,
						Stored: func(_ context.Context, bt *ingest.Batch) error { batches = append(batches, bt); return nil }}
					b.StartTimer()
					start := time.Now()
					res, err := in.Ingest(ctx, fi.Path, data)
					own += time.Since(start)
					require.NoError(b, err)
					b.StopTimer()
					w.S.Close()
					records += res.Records

					// Peers, right after, on the same engine: the same rows
					// through the store's batches, and as JSONEachRow.
					ws := New(storetest.Migrated(b, e))
					start = time.Now()
					for _, bt := range batches {
						_, err := ws.Write(ctx, bt)
						require.NoError(b, err)
					}
					storeOnly += time.Since(start)
					ws.S.Close()
					j := storetest.Migrated(b, e)
					inserts := storetest.JSONInserts(batches, j.Dialect())
					start = time.Now()
					for _, in := range inserts {
						require.NoError(b, e.InsertFormat(ctx, j, in.Table, "JSONEachRow", in.Rows), in.Table)
					}
					peer += time.Since(start)
					n, err := store.CountRows(ctx, j, "SELECT count() FROM raw_records")
					require.NoError(b, err)
					require.EqualValues(b, countRaw(batches), n, "the peer stored every record")
					stored += countRaw(batches)
					j.Close()
					b.StartTimer()
				}
				b.StopTimer()
				rate := float64(records) / own.Seconds()
				b.ReportMetric(rate, "records/s")
				b.ReportMetric(float64(records)/storeOnly.Seconds(), "store-only-records/s")
				json := float64(records) / peer.Seconds()
				b.ReportMetric(json, "jsoneachrow-peer-records/s")
				b.ReportMetric(rate/json, "x_jsoneachrow")
			})
		}
	}
}

func countRaw(bs []*ingest.Batch) int {
	n := 0
	for _, b := range bs {
		n += len(b.Raw)
	}
	return n
}

// chdbBackend opens databases of the test binary's chDB session.
var chdbBackend = storetest.Backend{Name: "chdb", Open: func(tb testing.TB, db string) store.Store {
	s, err := store.Open(context.Background(), "chdb://"+storetest.EmbeddedDir(tb)+"?database="+db)
	require.NoError(tb, err)
	return s
}, InsertFormat: storetest.InsertInline}

// serverBackend opens databases on srv.
func serverBackend(srv *storetest.Server) storetest.Backend {
	return storetest.Backend{Name: "clickhouse", Open: func(tb testing.TB, db string) store.Store {
		s, err := store.Open(context.Background(), srv.URL(db))
		require.NoError(tb, err)
		return s
	}, InsertFormat: srv.InsertHTTP}
}
