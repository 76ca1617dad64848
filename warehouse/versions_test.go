package warehouse

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store"
)

// TestInjectedVersions: rows are stamped from Warehouse.Versions, so a test
// clock decides them; two writes within one (stuck) millisecond still get
// increasing versions and the later write wins.
func TestInjectedVersions(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			w.Versions = store.NewVersions(func() time.Time { return at })
			require.NoError(t, w.SetCurrentPolicy(ctx, "first", at))
			require.NoError(t, w.SetCurrentPolicy(ctx, "second", at))
			got, err := w.CurrentPolicy(ctx)
			require.NoError(t, err)
			require.Equal(t, "second", got, "the later write wins within one millisecond")
			rows, err := w.S.Query(ctx, "SELECT version FROM cursors ORDER BY version")
			require.NoError(t, err)
			defer rows.Close()
			var versions []uint64
			for rows.Next() {
				var v uint64
				require.NoError(t, rows.Scan(&v))
				versions = append(versions, v)
			}
			require.NoError(t, rows.Err())
			ms := uint64(at.UnixMilli())
			require.Equal(t, []uint64{ms, ms + 1}, versions, "versions from the injected clock")
		})
	}
}
