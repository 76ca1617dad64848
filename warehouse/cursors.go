package warehouse

import (
	"context"
	"fmt"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// Cursors keeps collector positions in the cursors table; it implements
// collect.CursorStore. A saved position replaces the one before it (the
// table keeps the newest version of each collector's row).
type Cursors struct {
	S store.Store
}

// Cursors returns the warehouse's cursor store.
func (w *Warehouse) Cursors() *Cursors { return &Cursors{S: w.S} }

// Load returns the position saved under name, and false when none is.
func (c *Cursors) Load(ctx context.Context, name string) (string, bool, error) {
	cs, err := store.Cursors.All(ctx, c.S, "WHERE collector = ?", name)
	if err != nil {
		return "", false, fmt.Errorf("load cursor %s: %w", name, err)
	}
	if len(cs) == 0 {
		return "", false, nil
	}
	return cs[0].Position, true, nil
}

// Save stores cur; it returns once the store accepted it.
func (c *Cursors) Save(ctx context.Context, cur model.Cursor) error {
	if err := store.Cursors.Write(ctx, c.S, []model.Cursor{cur}); err != nil {
		return fmt.Errorf("save cursor %s: %w", cur.Collector, err)
	}
	return nil
}
