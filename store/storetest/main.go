package storetest

import (
	"flag"
	"os"
	"testing"
)

// embeddedDir is the test binary's one chDB data directory (the engine
// keeps one session per process); each test uses its own database in it.
var embeddedDir string

// Main runs a package's tests with a temporary directory for the embedded
// databases, then stops the shared ClickHouse server and cluster and
// removes the directory. A TestMain calls os.Exit(storetest.Main(m)).
// Shortly before -test.timeout it ends the binary with the engines' state
// (startWatchdog).
func Main(m *testing.M) int {
	d, err := os.MkdirTemp("", "keytrail-test-")
	if err != nil {
		panic(err)
	}
	embeddedDir = d
	if !flag.Parsed() {
		flag.Parse()
	}
	stop := startWatchdog()
	code := m.Run()
	stop()
	StopShared()
	os.RemoveAll(d)
	return code
}

// EmbeddedDir is the directory of the embedded databases. Main must run
// the tests.
func EmbeddedDir(tb testing.TB) string {
	tb.Helper()
	if embeddedDir == "" {
		tb.Fatal("storetest: TestMain must call storetest.Main")
	}
	return embeddedDir
}

// EmbeddedURL is the store URL of a fresh database on the embedded engine.
// Main must run the tests.
func EmbeddedURL(tb testing.TB) string {
	tb.Helper()
	return "chdb://" + EmbeddedDir(tb) + "?database=" + FreshDB(tb)
}
