package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// AlertRecorder is the alert.Recorder and alert.History of a store: it writes each alert state
// to the alerts table, keyed by (alert_id, target), so the latest state of
// an alert at a target replaces the earlier ones (firing, then resolved).
// Versions increase with every call, so a later record wins even within one
// millisecond. Safe for concurrent use.
type AlertRecorder struct{ w *Warehouse }

// AlertRecorder returns the store's alert recorder.
func (w *Warehouse) AlertRecorder() *AlertRecorder { return &AlertRecorder{w: w} }

var (
	_ alert.Recorder = (*AlertRecorder)(nil)
	_ alert.History  = (*AlertRecorder)(nil)
)

// AlertStates implements alert.History: the latest state of every alert at
// every target (the alerts table read with FINAL) for actions in [from, to).
func (r *AlertRecorder) AlertStates(ctx context.Context, from, to time.Time) ([]model.Alert, error) {
	out, err := store.Alerts.All(ctx, r.w.S, "WHERE action_ts >= ? AND action_ts < ?", model.Millis(from), model.Millis(to))
	if err != nil {
		return nil, fmt.Errorf("alert history: %w", err)
	}
	return out, nil
}

// RecordAlerts implements alert.Recorder. Of several records for one
// (alert_id, target) in alerts, the last is written.
func (r *AlertRecorder) RecordAlerts(ctx context.Context, alerts []model.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	type key struct{ id, target string }
	last := make(map[key]int, len(alerts))
	for i, a := range alerts {
		last[key{a.AlertID, a.Target}] = i
	}
	keep := make([]model.Alert, 0, len(last))
	for i, a := range alerts {
		if last[key{a.AlertID, a.Target}] == i {
			keep = append(keep, a)
		}
	}
	v := r.w.versions().Next()
	for _, part := range byMonth(keep) { // an insert may span at most 100 months
		if err := store.Alerts.WriteVersion(ctx, r.w.S, part, v); err != nil {
			return fmt.Errorf("record %d alerts: %w", len(keep), err)
		}
	}
	return nil
}
