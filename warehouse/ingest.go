package warehouse

import (
	"context"
	"fmt"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// Warehouse is keytrail's view of a store.
type Warehouse struct {
	S store.Store
}

// New wraps s.
func New(s store.Store) *Warehouse { return &Warehouse{S: s} }

var _ ingest.Sink = (*Warehouse)(nil)

// Known implements ingest.Sink: which of ids are already in raw_records.
func (w *Warehouse) Known(ctx context.Context, source model.Source, instance string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	const chunk = 2000
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		rows, err := w.S.Query(ctx, "SELECT DISTINCT event_id FROM raw_records WHERE source = ? AND instance = ? AND event_id IN (SELECT arrayJoin(?))",
			string(source), instance, part)
		if err != nil {
			return nil, fmt.Errorf("known ids: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Write implements ingest.Sink. Rows that reference others are written
// first (authenticators before sign-ins), raw records last: an id present in
// raw_records means the whole record was stored, so Known never hides a
// record whose events were lost.
func (w *Warehouse) Write(ctx context.Context, b *ingest.Batch) error {
	if err := store.Authenticators.Write(ctx, w.S, b.Authenticators); err != nil {
		return err
	}
	if err := store.AuthEvents.Write(ctx, w.S, b.Auth); err != nil {
		return err
	}
	if err := store.AirflowEvents.Write(ctx, w.S, b.Airflow); err != nil {
		return err
	}
	if err := store.DagRuns.Write(ctx, w.S, b.Runs); err != nil {
		return err
	}
	if err := store.DeadLetters.Write(ctx, w.S, b.DeadLetters); err != nil {
		return err
	}
	return store.RawRecords.Write(ctx, w.S, b.Raw)
}
