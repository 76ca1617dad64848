package entra

import (
	"flag"
	"testing"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/ingesttest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// suite runs the shared normalizer conformance suite on this source.
var suite = ingesttest.Suite{New: func() ingest.Normalizer { return New() }, ReID: reID, Update: update}

func TestGolden(t *testing.T)         { suite.TestGolden(t) }
func TestTenMegabytes(t *testing.T)   { suite.TestTenMegabytes(t) }
func FuzzNormalize(f *testing.F)      { suite.Fuzz(f) }
func BenchmarkNormalize(b *testing.B) { suite.Benchmark(b) }
