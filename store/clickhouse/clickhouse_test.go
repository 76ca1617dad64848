package clickhouse_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/clickhouse"
	"github.com/keytrail/keytrail/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func openOn(srv *storetest.Server) func(tb testing.TB, db string) store.Store {
	return func(tb testing.TB, db string) store.Store {
		s, err := store.Open(context.Background(), srv.URL(db))
		require.NoError(tb, err)
		tb.Cleanup(func() { s.Close() })
		return s
	}
}

func backend(t *testing.T) storetest.Backend {
	srv := storetest.SharedServer(t)
	return storetest.Backend{
		Name:         "clickhouse",
		Open:         openOn(srv),
		Kill:         srv.Kill,
		Restart:      srv.Start,
		InsertFormat: srv.InsertHTTP,
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, backend(t))
}

func TestDialect(t *testing.T) {
	b := backend(t)
	s := b.Open(t, storetest.FreshDB(t))
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	require.Equal(t, "clickhouse", info.Backend)
	require.Equal(t, store.DialectFor(info.Version), s.Dialect())
	t.Logf("server %s: %s", info.Version, s.Dialect())
}

func TestUnreachable(t *testing.T) {
	port, err := storetest.FreePort()
	require.NoError(t, err)
	_, err = store.Open(context.Background(), "clickhouse://default:secret@127.0.0.1:"+itoa(port)+"/x?dial_timeout=500ms")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret", "errors never carry the password")
}

func itoa(n int) string { return strconv.Itoa(n) }
