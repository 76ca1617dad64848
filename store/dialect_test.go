package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDialectTimeRange(t *testing.T) {
	first, last := DialectFor("26.5.1.1").TimeRange()
	require.Equal(t, "1900-01-01T00:00:00Z", first.Format(time.RFC3339Nano))
	require.Equal(t, "2299-12-31T23:59:59.999Z", last.Format(time.RFC3339Nano))
	first, last = DialectFor("18.16.1").TimeRange()
	require.Equal(t, "1970-01-01T00:00:00Z", first.Format(time.RFC3339Nano))
	require.Equal(t, "2105-12-31T23:59:59.999Z", last.Format(time.RFC3339Nano))
}
