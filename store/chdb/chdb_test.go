//go:build !nochdb

package chdb_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/chdb"
	"github.com/keytrail/keytrail/store/storetest"
)

var dataDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "keytrail-chdb-test-")
	if err != nil {
		panic(err)
	}
	dataDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func backend() storetest.Backend {
	return storetest.Backend{
		Name: "chdb",
		Open: func(tb testing.TB, db string) store.Store {
			s, err := store.Open(context.Background(), "chdb://"+dataDir+"?database="+db)
			require.NoError(tb, err)
			tb.Cleanup(func() { s.Close() })
			return s
		},
		InsertFormat: storetest.InsertInline,
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, backend())
}

func TestInfo(t *testing.T) {
	s := backend().Open(t, storetest.FreshDB(t))
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	require.Equal(t, "chdb", info.Backend)
	require.True(t, s.Dialect().DateTime64, "chDB %s has DateTime64", info.Version)
}

func TestSecondPathRefused(t *testing.T) {
	s := backend().Open(t, storetest.FreshDB(t))
	defer s.Close()
	_, err := store.Open(context.Background(), "chdb://"+t.TempDir())
	require.Error(t, err)
}

// TestQueryStatement: statements the engine cannot stream (DDL) still run
// through Query.
func TestQueryStatement(t *testing.T) {
	ctx := context.Background()
	s := backend().Open(t, storetest.FreshDB(t))
	rows, err := s.Query(ctx, "CREATE TABLE t (a String) ENGINE = Memory")
	require.NoError(t, err)
	require.False(t, rows.Next())
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	n, err := store.CountRows(ctx, s, "SELECT count() FROM t")
	require.NoError(t, err)
	require.Zero(t, n)
}
