package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseAndTable(t *testing.T) {
	in := `goos: linux
pkg: github.com/keytrail/keytrail/ingest/okta
BenchmarkNormalize-2   	       1	  18286693 ns/op	 229.33 MB/s	      1803 bytes/event	    127217 events/s	     33039 json-peer-events/s	 8190784 B/op	   70012 allocs/op
    bench_test.go:12: a log line
pkg: github.com/keytrail/keytrail/alert
BenchmarkHandle/single-2        	     300	    110138 ns/op	      9080 alerts/s	         0.04000 p50_ms	         0.4630 peer_p99_ms
pkg: github.com/keytrail/keytrail/cmd/keytrail
BenchmarkEndToEnd/memory-chdb-2         	       1	126231261683 ns/op	     28051 events	       222.2 events/s	      7462 jsoneachrow-ceiling-events/s	       439.1 peak_rss_MB	         0.02978 x_ceiling
ok  	github.com/keytrail/keytrail/alert	3.1s
`
	rs, failed, err := parse(strings.NewReader(in), nil)
	if err != nil || failed {
		t.Fatal(err, failed)
	}
	if len(rs) != 3 {
		t.Fatalf("got %d results: %+v", len(rs), rs)
	}
	var b bytes.Buffer
	table(&b, rs)
	want := "| ingest/okta | Normalize | 229 MB/s, 1,803 bytes/event, 127,217 events/s | 33,039 json-peer-events/s |\n" +
		"| alert | Handle/single | 9,080 alerts/s, 0.04 p50_ms | 0.463 peer_p99_ms |\n" +
		"| cmd/keytrail | EndToEnd/memory-chdb | 28,051 events, 222 events/s, 439 peak_rss_MB | 7,462 jsoneachrow-ceiling-events/s, 0.0298 x_ceiling |\n"
	if !strings.HasSuffix(b.String(), want) {
		t.Fatalf("table:\n%s\nwant suffix:\n%s", b.String(), want)
	}
	_, failed, _ = parse(strings.NewReader("--- FAIL: BenchmarkX\nFAIL\tpkg\n"), nil)
	if !failed {
		t.Fatal("FAIL not noticed")
	}
}
