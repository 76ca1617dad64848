package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/airflow"
	"github.com/keytrail/keytrail/collect/entra"
	"github.com/keytrail/keytrail/collect/google"
	"github.com/keytrail/keytrail/collect/keycloak"
	"github.com/keytrail/keytrail/collect/okta"
	"github.com/keytrail/keytrail/config"
	"github.com/keytrail/keytrail/pipeline"
	"github.com/keytrail/keytrail/warehouse"
)

// The polled source types run collect's pollers (collect/<type>).
func init() {
	for _, t := range []string{config.TypeOkta, config.TypeEntra, config.TypeGoogle, config.TypeKeycloak, config.TypeAirflow} {
		collectorFactories[t] = newPoller
	}
}

// newPoller is the collectorFactory of a polled source: its collect/<type>
// collector, run by a collect.Runner that publishes to pub and keeps its
// cursors in the store's cursors table.
func newPoller(_ context.Context, src *config.Source, pub bus.Publisher, w *warehouse.Warehouse, e *env) (pipeline.Component, func() pipeline.CollectorState, error) {
	opts := collect.Options{Logger: e.log.With("source", src.Name), Clock: e.clock}
	var col *collect.Collector
	var err error
	switch {
	case src.Okta != nil:
		col, err = okta.New(*src.Okta, opts)
	case src.Entra != nil:
		col, err = entra.New(*src.Entra, opts)
	case src.Google != nil:
		col, err = google.New(*src.Google, opts)
	case src.Keycloak != nil:
		col, err = keycloak.New(*src.Keycloak, opts)
	case src.Airflow != nil:
		col, err = airflow.New(*src.Airflow, opts)
	default:
		return nil, nil, fmt.Errorf("source type %s: %w", src.Type, errNoCollector)
	}
	if err != nil {
		return nil, nil, err
	}
	r := collect.NewRunner(col, pub, w.Cursors(), opts)
	return r, func() pipeline.CollectorState { return collectorState(r.Status()) }, nil
}

// collectorState sums a runner's streams for status: every stream's
// cursor, the largest lag, the earliest completeness, the latest success
// and the latest error.
func collectorState(streams []collect.Status) pipeline.CollectorState {
	var st pipeline.CollectorState
	cursors := make([]string, 0, len(streams))
	for i, s := range streams {
		if s.Cursor != "" {
			cursors = append(cursors, s.Stream+"="+s.Cursor)
		}
		st.Lag = max(st.Lag, s.Lag)
		if i == 0 || (!st.Complete.IsZero() && s.Complete.Before(st.Complete)) {
			st.Complete = s.Complete // the earliest; zero while one stream's is unknown
		}
		if s.LastSuccess.After(st.LastSuccess) {
			st.LastSuccess = s.LastSuccess
		}
		if s.LastError != "" && s.LastErrorAt.After(st.LastErrorAt) {
			st.LastError = s.Stream + ": " + s.LastError
			st.LastErrorAt = s.LastErrorAt
		}
	}
	st.Cursor = strings.Join(cursors, " ")
	return st
}
