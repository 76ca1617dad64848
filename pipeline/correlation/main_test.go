package correlation

import (
	"os"
	"testing"

	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/warehouse"
	"github.com/keytrail/keytrail/warehouse/warehousetest"
)

func TestMain(m *testing.M) { os.Exit(warehousetest.Main(m)) }

// stores opens a fresh, migrated database on each engine: the embedded
// chDB session and a private ClickHouse server. Closed at test end.
func stores(t *testing.T) map[string]*warehouse.Warehouse { return warehousetest.Engines(t) }

var (
	_ Store         = (*warehouse.Warehouse)(nil)
	_ pipeline.Live = (*Live)(nil)
)
