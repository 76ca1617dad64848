package storetest

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestWatchdogMargin(t *testing.T) {
	require.Equal(t, 10*time.Second, watchdogMargin(15*time.Second))
	require.Equal(t, 30*time.Second, watchdogMargin(10*time.Minute))
	require.Equal(t, time.Minute, watchdogMargin(25*time.Minute))
}

// TestWatchdog runs a test that hangs with a query running on the shared
// server, in this test binary with a 20 s timeout: the watchdog ends it 10 s
// before the timeout, exit code 2, with the goroutines, the server's state
// and the query it is running.
func TestWatchdog(t *testing.T) {
	if os.Getenv("STORETEST_WATCHDOG_HANG") == "1" {
		t.Skip("the hanging test runs only as TestWatchdog's child")
	}
	if _, err := exec.LookPath("clickhouse-server"); err != nil {
		Missing(t, "clickhouse-server: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchdogHang$", "-test.timeout=20s", "-test.count=1")
	cmd.Env = append(os.Environ(), "STORETEST_WATCHDOG_HANG=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	require.Equal(t, 2, ee.ExitCode(), "%s", out)
	require.Less(t, took, 19*time.Second, "the watchdog ends the binary before -test.timeout")
	for _, want := range []string{
		"storetest watchdog: the tests are still running 10s before -test.timeout 20s",
		"storetest.TestWatchdogHang", // the goroutines
		"running (pid ",
		"running queries (elapsed s, id, query)",
		"numbers(100000000000)",
		"the end of its error log",
		"FAIL: storetest watchdog: the tests did not end within 10s",
	} {
		require.Contains(t, string(out), want)
	}
	require.NotContains(t, string(out), "panic: test timed out", "the watchdog ended the binary first")
}

// TestWatchdogHang is TestWatchdog's child: it starts the shared server, a
// query that runs for minutes on it, and waits forever.
func TestWatchdogHang(t *testing.T) {
	if os.Getenv("STORETEST_WATCHDOG_HANG") != "1" {
		t.Skip("runs only as TestWatchdog's child")
	}
	srv := SharedServer(t)
	go func() {
		q := url.QueryEscape("SELECT count() FROM numbers(100000000000) WHERE NOT ignore(sipHash64(number))")
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/?query=%s", srv.HTTPPort, q))
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {}
}
