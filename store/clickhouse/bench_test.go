package clickhouse_test

import (
	"testing"

	"github.com/keytrail/keytrail/store/storetest"
)

func BenchmarkInsertAuthEvents100k(b *testing.B) {
	srv := storetest.SharedServer(b)
	be := storetest.Backend{Name: "clickhouse", Open: openOn(srv), InsertFormat: srv.InsertHTTP}
	storetest.BenchInsert(b, be)
}
