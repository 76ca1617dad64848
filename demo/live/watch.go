package live

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/demo/intent"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

// watcher prints a live run's progress and decides when it is over.
type watcher struct {
	w      *warehouse.Warehouse
	srv    *emulator.Server
	out    io.Writer
	alerts *receiver
	began  time.Time
	clock  *emulator.Accelerated
	start  time.Time // the period's start, where the collectors begin
	// expected are the records every collector must have stored once the
	// demo clock passed the end; served, what the emulators had served
	// when they all were.
	expected map[string]bool
	served   map[string]int
}

// until prints a progress line every cfg.Progress until the demo clock has
// passed end and every record the emulators served is stored; an error
// when collect stops first, ctx ends, or the records are not all stored
// within cfg.Settle of end.
func (wt *watcher) until(ctx context.Context, done <-chan error, end time.Time, cfg Config) error {
	tick := time.NewTicker(cfg.Progress)
	defer tick.Stop()
	var ended time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			return fmt.Errorf("collect stopped before the demo ended: %v", err)
		case <-tick.C:
		}
		now := wt.clock.Now()
		if err := wt.progress(ctx, now); err != nil {
			return err
		}
		if now.Before(end) {
			continue
		}
		if ended.IsZero() {
			ended = time.Now()
		}
		if wt.expected == nil {
			var feeds []*demo.Feed
			for _, f := range wt.srv.Data.Feeds() {
				if f.Stream != demo.StreamAirflowDagRuns { // a run is served in the states it was polled in
					feeds = append(feeds, f)
				}
			}
			exp, err := wt.srv.Data.Expected(feeds, wt.start, end)
			if err != nil {
				return err
			}
			wt.expected = exp
		}
		served, stored, err := wt.ids(ctx)
		if err != nil {
			return err
		}
		missing := 0
		for id := range wt.expected {
			if stored[id] == 0 {
				missing++
			}
		}
		for id := range served {
			if stored[id] == 0 && !wt.expected[id] {
				missing++
			}
		}
		if missing == 0 {
			wt.served = served
			return nil
		}
		if time.Since(ended) > cfg.Settle {
			return fmt.Errorf("%s after the demo's end, %d records served or due are still not stored", cfg.Settle, missing)
		}
	}
}

// progress prints one line: real and demo time, records stored, the
// streaming verdicts so far and the alerts received.
func (wt *watcher) progress(ctx context.Context, now time.Time) error {
	n, err := store.CountRows(ctx, wt.w.S, "SELECT count() FROM raw_records")
	if err != nil {
		return err
	}
	verdicts := map[model.Verdict]int{}
	// The streaming correlator writes under the config's policy, which
	// becomes the current one when it closes; a fresh store has no other.
	version, err := wt.w.CurrentPolicy(ctx)
	if err != nil {
		return err
	}
	q, args := "SELECT verdict, count() FROM correlations FINAL GROUP BY verdict", []any(nil)
	if version != "" {
		q, args = "SELECT verdict, count() FROM correlations FINAL WHERE policy_version = ? GROUP BY verdict", []any{version}
	}
	rows, err := pairs(ctx, wt.w.S, q, args...)
	if err != nil {
		return err
	}
	for v, k := range rows {
		verdicts[model.Verdict(v)] = k
	}
	firing, resolved := wt.alerts.counts()
	fmt.Fprintf(wt.out, "  %5.1fs  demo %s  %7d records stored  verdicts: %s  alerts: %d firing, %d resolved\n",
		time.Since(wt.began).Seconds(), now.UTC().Format("2006-01-02 15:04"), n, intent.Counts(verdicts), firing, resolved)
	return nil
}

// ids returns the ids of the records the emulators served and of the
// records stored, each with how many times.
func (wt *watcher) ids(ctx context.Context) (served, stored map[string]int, err error) {
	served, err = wt.srv.EventIDs()
	if err != nil {
		return nil, nil, err
	}
	stored, err = pairs(ctx, wt.w.S, "SELECT concat(source, '/', instance, '/', event_id), count() FROM raw_records FINAL GROUP BY source, instance, event_id")
	return served, stored, err
}

// storedOnce fills res's counts of the records served and stored: those
// served by the time every record was stored, for a collector stopped
// between a read and its publish has served what it never stored (it reads
// it again after a restart, from its saved cursor).
func (wt *watcher) storedOnce(ctx context.Context, res *Result) error {
	all, stored, err := wt.ids(ctx)
	if err != nil {
		return err
	}
	served := wt.served
	res.Served = len(served)
	for id := range served {
		switch stored[id] {
		case 0:
			res.Missing++
		case 1:
			res.StoredOnce++
		default:
			res.Doubled++
		}
	}
	snapshots := 0
	for _, l := range wt.srv.Ledgers() {
		for _, n := range l.Snapshots() {
			snapshots += n
		}
	}
	notServed := 0
	for id, n := range stored {
		if all[id] == 0 {
			notServed++
		}
		if n > 1 && served[id] == 0 {
			res.Doubled++
		}
	}
	// The stored records no event id of the emulators names are inventory
	// snapshots, of which the emulators may have served more than were
	// published before collect stopped.
	res.Snapshots = min(notServed, snapshots)
	res.Extra = notServed - res.Snapshots
	return nil
}

// pairs runs a query of (string, count) rows.
func pairs(ctx context.Context, s store.Store, q string, args ...any) (map[string]int, error) {
	rows, err := s.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n uint64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = int(n)
	}
	return out, rows.Err()
}
