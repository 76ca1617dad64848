//go:build !nochdb

package chdb_test

import (
	"testing"

	"github.com/keytrail/keytrail/store/storetest"
)

func BenchmarkInsertAuthEvents100k(b *testing.B) { storetest.BenchInsert(b, backend()) }
