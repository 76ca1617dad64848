package enrich

import (
	"os"
	"testing"

	"github.com/keytrail/keytrail/warehouse"
	"github.com/keytrail/keytrail/warehouse/warehousetest"
)

// TestMain gives warehousetest.Engines its embedded databases' directory.
func TestMain(m *testing.M) { os.Exit(warehousetest.Main(m)) }

// The warehouse is the store enrichment runs on.
var (
	_ Store    = (*warehouse.Warehouse)(nil)
	_ Rewriter = (*warehouse.Warehouse)(nil)
)
