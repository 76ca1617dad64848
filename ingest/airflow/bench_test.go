package airflow

import (
	"testing"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/ingesttest"
)

// BenchmarkNormalize measures single-core normalization of a mix of 2.7
// repr, 2.8 dict, JSON-extra and task-state rows (no identity resolution),
// reporting events/s and MB/s.
func BenchmarkNormalize(b *testing.B) {
	data, _ := bigNDJSON(1 << 20)
	pieces := ingest.Split(data, nil)
	var size int64
	for _, p := range pieces {
		size += int64(len(p.Raw))
	}
	n := New()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range pieces {
			if _, err := n.Normalize(p.Raw, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(pieces))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	ingesttest.ReportJSONPeer(b, pieces)
}
