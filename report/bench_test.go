package report

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keytrail/keytrail/model"
)

// BenchmarkWrite builds a pack over 1M generated correlations (a quarter) and
// reports rows/s and the peak heap seen while writing. The baseline sub-benchmark
// only streams the rows out of the Source, the cost a store query alone would add.
func BenchmarkWrite(b *testing.B) {
	const n = 1_000_000
	span := 90 * 24 * time.Hour
	step := span / n
	src := &memSource{n: n, gen: func(i int) model.Correlation {
		return fixtureRow(i, t0.Add(time.Duration(i)*step))
	}}
	opts := testOptions()
	opts.To = t0.Add(span)

	b.Run("source-only", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var rows int
			_ = src.Correlations(context.Background(), opts.query(), func(model.Correlation) error { rows++; return nil })
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("pack", func(b *testing.B) {
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ms runtime.MemStats
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		runtime.GC()
		for i := 0; i < b.N; i++ {
			if _, err := Write(context.Background(), src, opts, b.TempDir()); err != nil {
				b.Fatal(err)
			}
		}
		close(stop)
		wg.Wait()
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	})
}
