package collect_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
)

// TestForPages: a stream's default in_flight holds about
// DefaultInFlightRecords of its source's pages, within its bounds, and a
// configured in_flight is kept.
func TestForPages(t *testing.T) {
	for _, tc := range []struct {
		name         string
		set, records int
		want, reread int
	}{
		{name: "1,000-record pages (Okta, Entra, Google)", records: 1000, want: collect.DefaultInFlight, reread: 17},
		{name: "Keycloak's 100-record pages", records: 100, want: 25, reread: 51},
		{name: "Airflow's 100-row pages, 20 read again", records: 80, want: 32, reread: 65},
		{name: "tiny pages: capped", records: 2, want: collect.MaxDefaultInFlight, reread: 65},
		{name: "page size unknown", records: 0, want: collect.DefaultInFlight, reread: 17},
		{name: "configured", set: 3, records: 80, want: 3, reread: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := collect.PollConfig{InFlight: tc.set}.ForPages(tc.records)
			require.Equal(t, tc.want, c.WithDefaults().InFlight)
			require.Equal(t, tc.reread, c.CrashRereadPages())
		})
	}
}
