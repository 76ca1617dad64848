package airflow

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/collecttest"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/internal/emulator"
)

// BenchmarkEventLogs reads a deployment's whole audit log from the
// emulator, 100 rows a page (Airflow's default maximum), into a recording
// publisher: the collector's throughput over loopback HTTP, emulator
// included. Size it with -benchtime=Nx; the org is 40 people over 7 days.
func BenchmarkEventLogs(b *testing.B) {
	org, err := demo.Generate(demo.Config{People: 40, Days: 7, Seed: 3})
	require.NoError(b, err)
	clock := clockwork.NewFakeClockAt(org.Config().Start.AddDate(0, 0, 8)) // everything listed at once
	srv, err := emulator.Start(org, emulator.Options{Clock: clock})
	require.NoError(b, err)
	defer srv.Close()
	b.Setenv("KEYTRAIL_BENCH_AIRFLOW_PASSWORD", srv.Creds.AirflowPassword)
	rows := len(srv.Data.Feed(demo.StreamAirflowEventLogs, "af-prod").Items)
	cfg := Config{Instance: "af-prod", BaseURL: srv.AirflowURL("af-prod"), API: APIv2, Username: srv.Creds.AirflowUser,
		Password: collect.Secret{Env: "KEYTRAIL_BENCH_AIRFLOW_PASSWORD"}, Runs: RunsConfig{Disabled: true}}
	opts := collect.Options{Clock: clock, Logger: collecttest.Quiet()}
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		col, err := New(cfg, opts)
		require.NoError(b, err)
		pub := &collecttest.Recorder{}
		r := collect.NewRunner(col, pub, &collect.MemCursors{}, opts)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = r.Run(ctx); close(done) }()
		require.NoError(b, clock.BlockUntilContext(context.Background(), 1)) // caught up: waiting for its interval
		cancel()
		<-done
		require.GreaterOrEqual(b, len(pub.Records()), rows-rows/100) // poisoned rows aside, nothing missing
	}
	b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
}
