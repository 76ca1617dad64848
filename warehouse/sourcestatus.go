package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// sourceStatus is the source_status table.
var sourceStatus = store.Table[model.SourceStatus]{
	Name: "source_status",
	Columns: []string{"name", "type", "source", "instance", "cursor", "lag_ms", "backlog", "last_success", "last_error",
		"last_error_at", "stored", "duplicates", "conflicts", "dead_letters", "last_stored_at", "updated_at", "version"},
	ToRow: func(s model.SourceStatus, v uint64) []any {
		return []any{s.Name, s.Type, string(s.Source), s.Instance, s.Cursor, s.Lag.Milliseconds(), s.Backlog, s.LastSuccess, s.LastError,
			s.LastErrorAt, s.Stored, s.Duplicates, s.Conflicts, s.DeadLetters, s.LastStoredAt, s.UpdatedAt, v}
	},
	Scan: func(rs store.Rows) (s model.SourceStatus, err error) {
		var v uint64
		var lag int64
		err = rs.Scan(&s.Name, &s.Type, &s.Source, &s.Instance, &s.Cursor, &lag, &s.Backlog, &s.LastSuccess, &s.LastError,
			&s.LastErrorAt, &s.Stored, &s.Duplicates, &s.Conflicts, &s.DeadLetters, &s.LastStoredAt, &s.UpdatedAt, &v)
		s.Lag = time.Duration(lag) * time.Millisecond
		s.LastSuccess, s.LastErrorAt = zeroEpoch(s.LastSuccess), zeroEpoch(s.LastErrorAt)
		s.LastStoredAt, s.UpdatedAt = zeroEpoch(s.LastStoredAt), zeroEpoch(s.UpdatedAt)
		return
	},
}

// WriteSourceStatus records the state of the sources `keytrail collect`
// runs; the newest row per source name is the current one.
func (w *Warehouse) WriteSourceStatus(ctx context.Context, st []model.SourceStatus) error {
	if err := sourceStatus.Write(ctx, w.S, st); err != nil {
		return fmt.Errorf("write source status: %w", err)
	}
	return nil
}

// SourceStatus returns the current state of every source a `keytrail
// collect` has reported, by name.
func (w *Warehouse) SourceStatus(ctx context.Context) ([]model.SourceStatus, error) {
	out, err := sourceStatus.All(ctx, w.S, "ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("read source status: %w", err)
	}
	return out, nil
}
