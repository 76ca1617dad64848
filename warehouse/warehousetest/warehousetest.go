// Package warehousetest opens fresh, migrated warehouses on both store
// engines — the embedded chDB session and a private ClickHouse server — for
// the tests of packages built on package warehouse.
package warehousetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	_ "github.com/keytrail/keytrail/store/chdb"       // the embedded engine
	_ "github.com/keytrail/keytrail/store/clickhouse" // the ClickHouse server
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// Main runs a package's tests with a temporary directory for the embedded
// databases, then stops the shared ClickHouse server and removes the
// directory. A TestMain calls os.Exit(warehousetest.Main(m)).
func Main(m *testing.M) int { return storetest.Main(m) }

// Open opens and migrates the store at url, closed at test end.
func Open(tb testing.TB, url string) *warehouse.Warehouse {
	tb.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, url)
	require.NoError(tb, err, url)
	tb.Cleanup(func() { s.Close() })
	_, err = schema.Migrate(ctx, s)
	require.NoError(tb, err, url)
	return warehouse.New(s)
}

// Engines opens a fresh, migrated database on each engine, keyed "chdb"
// and "clickhouse". Main must run the tests.
func Engines(tb testing.TB) map[string]*warehouse.Warehouse {
	tb.Helper()
	return map[string]*warehouse.Warehouse{
		"chdb":       Embedded(tb),
		"clickhouse": Open(tb, storetest.SharedServer(tb).URL(storetest.FreshDB(tb))),
	}
}

// Embedded opens a fresh, migrated database on the embedded engine. Main
// must run the tests.
func Embedded(tb testing.TB) *warehouse.Warehouse {
	tb.Helper()
	return Open(tb, storetest.EmbeddedURL(tb))
}
