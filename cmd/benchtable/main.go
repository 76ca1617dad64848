// Command benchtable turns `go test -bench` output into one Markdown table:
// each benchmark's own figures beside the peer it measured in the same run.
//
//	go test -run '^$' -bench . ./... | go run ./cmd/benchtable
//
// Input lines are echoed to stderr as they arrive, so a long run shows
// progress. A metric is a peer figure when its unit names one (peer, sql,
// raw, store-only, ceiling); everything else is the benchmark's own. Lines that are
// not benchmark results are ignored, except "pkg:" lines, which name the
// package of the results that follow, and FAIL lines, which make the exit
// status non-zero.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

type metric struct {
	value float64
	unit  string
}

type result struct {
	pkg, name string
	own, peer []metric
}

func isPeer(unit string) bool {
	for _, k := range []string{"peer", "sql", "raw", "store-only", "ceiling"} {
		if strings.Contains(unit, k) {
			return true
		}
	}
	return false
}

// skip lists units that say little in a summary table.
var skip = map[string]bool{"ns/op": true, "B/op": true, "allocs/op": true}

// parse reads benchmark output; failed reports whether any test failed.
func parse(r io.Reader, echo io.Writer) (out []result, failed bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	pkg := ""
	for sc.Scan() {
		line := sc.Text()
		if echo != nil {
			fmt.Fprintln(echo, line)
		}
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(strings.TrimPrefix(line, "pkg: "), "github.com/keytrail/keytrail/")
			continue
		case strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL"):
			failed = true
			continue
		case !strings.HasPrefix(line, "Benchmark"):
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a benchmark's own log line
		}
		res := result{pkg: pkg, name: trimProcs(f[0])}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil || skip[f[i+1]] {
				continue
			}
			m := metric{v, f[i+1]}
			if isPeer(m.unit) {
				res.peer = append(res.peer, m)
			} else {
				res.own = append(res.own, m)
			}
		}
		out = append(out, res)
	}
	return out, failed, sc.Err()
}

// trimProcs drops the -GOMAXPROCS suffix of a benchmark name.
func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return strings.TrimPrefix(name, "Benchmark")
}

func format(ms []metric) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = human(m.value) + " " + m.unit
	}
	return strings.Join(parts, ", ")
}

// human prints v with three significant digits and thousands separators.
func human(v float64) string {
	switch {
	case v >= 1000:
		s := strconv.FormatFloat(v, 'f', 0, 64)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func table(w io.Writer, rs []result) {
	fmt.Fprintln(w, "| package | benchmark | figures | peer, same run |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rs {
		name := strings.TrimPrefix(r.name, "Benchmark")
		peer := format(r.peer)
		if peer == "" {
			peer = "—"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.pkg, name, format(r.own), peer)
	}
}

func main() {
	rs, failed, err := parse(os.Stdin, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	table(os.Stdout, rs)
	if failed {
		fmt.Fprintln(os.Stderr, "benchtable: some benchmarks failed")
		os.Exit(1)
	}
	if len(rs) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results in the input")
		os.Exit(1)
	}
}
