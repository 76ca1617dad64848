// Package ingesttest holds what the normalizers' tests share: the conformance
// Suite (golden files, large inputs, fuzzing, benchmarks) and the peer every
// normalizer is measured beside.
package ingesttest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/keytrail/keytrail/ingest"
)

// ReportJSONPeer measures the peer of a normalizer benchmark in the same
// run: decoding the same records with encoding/json into generic maps (what
// any JSON pipeline pays before doing anything with the data), and reports
// it beside the normalizer's own figure as json-peer-events/s. Call it after
// the timed loop; it stops the timer.
func ReportJSONPeer(b *testing.B, pieces []ingest.Piece) {
	b.StopTimer()
	start := time.Now()
	n := 0
	for time.Since(start) < 300*time.Millisecond || n == 0 {
		for _, p := range pieces {
			var m map[string]any
			if err := json.Unmarshal(p.Raw, &m); err != nil {
				// The fixtures hold deliberately broken records; the peer pays
				// for them too.
				continue
			}
		}
		n++
	}
	b.ReportMetric(float64(len(pieces)*n)/time.Since(start).Seconds(), "json-peer-events/s")
}
