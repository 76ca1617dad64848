package storetest

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"
)

// watchdogMargin is how long before the test binary's -test.timeout the
// watchdog ends it: a twentieth of the timeout, at least 10 s and at most a
// minute.
func watchdogMargin(timeout time.Duration) time.Duration {
	return min(max(timeout/20, 10*time.Second), time.Minute)
}

// startWatchdog ends the test binary shortly before its -test.timeout would,
// printing every goroutine's stack and then the state of the engines the
// harness started: which processes run, what each server is executing and
// the end of its error log. A run that hangs on an engine then ends with
// what the engine was doing; the timeout's own dump ends with whichever
// goroutine it lists last. stop disarms it. Flags must be parsed.
func startWatchdog() (stop func()) {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return func() {}
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return func() {}
	}
	timeout, _ := g.Get().(time.Duration)
	if timeout <= 0 {
		return func() {}
	}
	margin := watchdogMargin(timeout)
	t := time.AfterFunc(timeout-margin, func() {
		fmt.Fprintf(os.Stderr, "\nstoretest watchdog: the tests are still running %v before -test.timeout %v; every goroutine:\n", margin, timeout)
		_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 2)
		fmt.Fprintln(os.Stderr, "\nstoretest watchdog: the engines the harness started:")
		engineState(os.Stderr)
		fmt.Fprintf(os.Stderr, "FAIL: storetest watchdog: the tests did not end within %v (the engines' state is above)\n", timeout-margin)
		StopShared()
		os.Exit(2)
	})
	return func() { t.Stop() }
}

// engineState describes the shared server, cluster and ZooKeeper.
func engineState(w io.Writer) {
	none := true
	if s, ok := sharedServer.current(); ok {
		none = false
		describeServer(w, "server", s)
	}
	if c, ok := sharedCluster.current(); ok {
		none = false
		if z := c.ZooKeeper; z != nil {
			fmt.Fprintf(w, "zookeeper %s: %s; serving: %v\n", z.Addr(), z.proc.state(), serving(z.Addr()))
		}
		for _, s := range c.Servers() {
			describeServer(w, "cluster member", s)
		}
	}
	if none {
		fmt.Fprintln(w, "(none: this test binary started no ClickHouse server)")
	}
}

func describeServer(w io.Writer, what string, s *Server) {
	fmt.Fprintf(w, "%s %s (%s): %s\n", what, s.Addr(), s.Dir, s.proc.state())
	if q, err := s.httpQuery("SELECT elapsed, query_id, query FROM system.processes WHERE query NOT LIKE '%system.processes%' FORMAT TSV"); err != nil {
		fmt.Fprintf(w, "  running queries: %v\n", err)
	} else if q == "" {
		fmt.Fprintln(w, "  running queries: none")
	} else {
		fmt.Fprintf(w, "  running queries (elapsed s, id, query):\n%s\n", tail(q, 4000))
	}
	log, err := os.ReadFile(filepath.Join(s.Dir, "server.err.log"))
	if err != nil {
		fmt.Fprintf(w, "  error log: %v\n", err)
		return
	}
	fmt.Fprintf(w, "  the end of its error log:\n%s\n", tail(string(log), 2000))
}
