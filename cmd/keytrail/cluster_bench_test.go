package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/demo/batch"
	"github.com/keytrail/keytrail/store/storetest"
)

// BenchmarkCluster runs a generated organisation (30 people, 7 days) through
// keytrail ingest, correlate and report on a cluster of 2 shards × 2
// replicas, and, as its peers in the same run, on one ClickHouse server and
// on the embedded engine: ingest records/s, correlate actions/s and report
// seconds for each. On a loopback cluster sharing the cores of one machine
// this measures what replication (quorum writes to both replicas) and
// distribution cost, not a speed-up.
func BenchmarkCluster(b *testing.B) {
	org, err := demo.Generate(demo.Config{People: 30, Days: 7, Seed: 3})
	require.NoError(b, err)
	in := b.TempDir()
	m, err := org.WriteFiles(in, nil)
	require.NoError(b, err)
	records := 0
	for _, f := range m.Files {
		records += f.Records
	}
	key := filepath.Join(b.TempDir(), "key.pem")
	run := func(url string) (ingest, correlate, report time.Duration) {
		code, _, errs := cli(b, "", "--store", url, "identities", "import", filepath.Join(in, m.Mapping))
		require.Equal(b, 0, code, errs)
		start := time.Now()
		for _, files := range batch.IngestPhases(m.Files) {
			for _, f := range files {
				code, _, errs := cli(b, "", "--store", url, "ingest", "--source", string(f.Source), "--instance", f.Instance, filepath.Join(in, f.Path))
				require.Equal(b, 0, code, errs)
			}
		}
		ingest = time.Since(start)
		start = time.Now()
		code, _, errs = cli(b, "", "--store", url, "correlate", "--quiet")
		require.Equal(b, 0, code, errs)
		correlate = time.Since(start)
		start = time.Now()
		code, _, errs = cli(b, "", "--store", url, "report", "--from", m.Start.Format(time.RFC3339), "--to", m.End.Format(time.RFC3339),
			"--out", filepath.Join(b.TempDir(), "pack"), "--key", key, "--init-key")
		require.Equal(b, 0, code, errs)
		return ingest, correlate, time.Since(start)
	}
	actions := m.Expected.AuditActions + m.Expected.Runs
	c := storetest.SharedCluster(b)
	srv := storetest.SharedServer(b)
	b.ResetTimer()
	for range b.N {
		ci, cc, cr := run(c.URL(storetest.FreshDB(b)))
		si, sc, sr := run(srv.URL(storetest.FreshDB(b)))
		ei, ec, er := run(storetest.EmbeddedURL(b))
		b.ReportMetric(float64(records)/ci.Seconds(), "ingest-records/s")
		b.ReportMetric(float64(records)/si.Seconds(), "peer-server-ingest-records/s")
		b.ReportMetric(float64(actions)/cc.Seconds(), "correlate-actions/s")
		b.ReportMetric(float64(actions)/sc.Seconds(), "peer-server-correlate-actions/s")
		b.ReportMetric(cr.Seconds(), "report-s")
		b.ReportMetric(sr.Seconds(), "peer-server-report-s")
		b.ReportMetric(float64(records)/ei.Seconds(), "peer-chdb-ingest-records/s")
		b.ReportMetric(float64(actions)/ec.Seconds(), "peer-chdb-correlate-actions/s")
		b.ReportMetric(er.Seconds(), "peer-chdb-report-s")
	}
	b.Logf("organisation: %d records, %d actions", records, actions)
}
