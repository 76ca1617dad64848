package warehouse

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/chdb"
	_ "github.com/keytrail/keytrail/store/clickhouse"
	"github.com/keytrail/keytrail/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// stores opens a fresh, migrated database on each engine: the embedded
// chDB session and a private ClickHouse server. Closed at test end.
func stores(t *testing.T) map[string]*Warehouse {
	t.Helper()
	ctx := context.Background()
	srv := storetest.SharedServer(t)
	out := map[string]*Warehouse{}
	for name, url := range map[string]string{
		"chdb":       storetest.EmbeddedURL(t),
		"clickhouse": srv.URL(storetest.FreshDB(t)),
	} {
		s, err := store.Open(ctx, url)
		require.NoError(t, err, name)
		t.Cleanup(func() { s.Close() })
		_, err = schema.Migrate(ctx, s)
		require.NoError(t, err, name)
		out[name] = New(s)
	}
	return out
}

func TestCurrentPolicy(t *testing.T) {
	ctx := context.Background()
	for name, w := range stores(t) {
		t.Run(name, func(t *testing.T) {
			v, err := w.CurrentPolicy(ctx)
			require.NoError(t, err)
			require.Empty(t, v)
			require.NoError(t, w.SetCurrentPolicy(ctx, "p1", time_(1)))
			require.NoError(t, w.SetCurrentPolicy(ctx, "p2", time_(2)))
			v, err = w.CurrentPolicy(ctx)
			require.NoError(t, err)
			require.Equal(t, "p2", v)
		})
	}
}

// time_ returns a fixed test time n minutes into 2026.
func time_(n int) time.Time { return time.Date(2026, 1, 1, 0, n, 0, 0, time.UTC) }
