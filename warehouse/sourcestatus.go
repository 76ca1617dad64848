package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// sourceStatus is the source_status table.
var sourceStatus = store.NewTable("source_status",
	store.String("name", func(s *model.SourceStatus) *string { return &s.Name }),
	store.String("type", func(s *model.SourceStatus) *string { return &s.Type }),
	store.String("source", func(s *model.SourceStatus) *model.Source { return &s.Source }),
	store.String("instance", func(s *model.SourceStatus) *string { return &s.Instance }),
	store.String("cursor", func(s *model.SourceStatus) *string { return &s.Cursor }),
	store.Int64("lag_ns", func(s *model.SourceStatus) *time.Duration { return &s.Lag }),
	store.Time("complete", func(s *model.SourceStatus) *time.Time { return &s.Complete }),
	store.Int64("backlog", func(s *model.SourceStatus) *int64 { return &s.Backlog }),
	store.Time("last_success", func(s *model.SourceStatus) *time.Time { return &s.LastSuccess }),
	store.String("last_error", func(s *model.SourceStatus) *string { return &s.LastError }),
	store.Time("last_error_at", func(s *model.SourceStatus) *time.Time { return &s.LastErrorAt }),
	store.Int64("stored", func(s *model.SourceStatus) *int64 { return &s.Stored }),
	store.Int64("duplicates", func(s *model.SourceStatus) *int64 { return &s.Duplicates }),
	store.Int64("conflicts", func(s *model.SourceStatus) *int64 { return &s.Conflicts }),
	store.Int64("dead_letters", func(s *model.SourceStatus) *int64 { return &s.DeadLetters }),
	store.Time("last_stored_at", func(s *model.SourceStatus) *time.Time { return &s.LastStoredAt }),
	store.Time("updated_at", func(s *model.SourceStatus) *time.Time { return &s.UpdatedAt }),
)

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
	for i := range out {
		s := &out[i]
		s.LastSuccess, s.LastErrorAt, s.Complete = zeroEpoch(s.LastSuccess), zeroEpoch(s.LastErrorAt), zeroEpoch(s.Complete)
		s.LastStoredAt, s.UpdatedAt = zeroEpoch(s.LastStoredAt), zeroEpoch(s.UpdatedAt)
	}
	return out, nil
}
