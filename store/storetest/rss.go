package storetest

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// ResetPeakRSS resets the process's peak resident set (VmHWM) to its
// current size (Linux /proc/self/clear_refs), which it returns in bytes.
// Benchmarks call it before the part whose PeakRSS they report; the
// embedded engine's memory is the process's, so it is included.
func ResetPeakRSS(tb testing.TB) uint64 {
	tb.Helper()
	require.NoError(tb, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0), "reset VmHWM")
	return procStatusKB(tb, "VmRSS") * 1024
}

// PeakRSS returns the process's peak resident set (VmHWM) in bytes since
// the last ResetPeakRSS, or since it started.
func PeakRSS(tb testing.TB) uint64 {
	tb.Helper()
	return procStatusKB(tb, "VmHWM") * 1024
}

// procStatusKB returns a kB field of /proc/self/status.
func procStatusKB(tb testing.TB, field string) uint64 {
	st, err := os.ReadFile("/proc/self/status")
	require.NoError(tb, err)
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(tb, err, line)
			return kb
		}
	}
	tb.Fatalf("no %s in /proc/self/status", field)
	return 0
}
