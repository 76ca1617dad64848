// Package live plays a generated organisation in accelerated time for
// `keytrail demo --live`: the provider emulators (internal/emulator) serve
// it on loopback as the demo clock passes each record's time, the real
// collectors poll them into the in-process bus, the sink stores into the
// store and the streaming correlator writes verdicts and alerts, which are
// printed as they happen. The run ends with the batch demo's check: every
// streaming verdict against the generator's intent (package demo/intent),
// and every record the emulators served stored exactly once.
package live

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/demo/intent"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/internal/emulator"
	"github.com/keytrail/keytrail/warehouse"
)

// Defaults of Config.
const (
	DefaultDuration  = time.Minute
	DefaultPollEvery = 2 * time.Second
	DefaultProgress  = 2 * time.Second
	DefaultMaxAlerts = 10
	DefaultSettle    = 5 * time.Minute
)

// Airflow activity of a live organisation when its Config leaves it zero.
const (
	LiveViewsPerDay = 10
	LiveTasksPerDAG = 3
)

// Tail is how long after the period's end the demo clock keeps running:
// the generator lists records up to 3 h late, the collectors that re-read
// a lag window (Lag) read each span once more when it is Lag old, and Okta's
// collector counts its log complete only Lag back.
const (
	Lag  = 4 * time.Hour
	Tail = Lag + time.Hour
)

// Config configures a live run.
type Config struct {
	// Org is the organisation to generate. A zero Start becomes midnight
	// UTC Days+1 days ago, so that the whole period is in the past; zero
	// ViewsPerDay and TasksPerDAG become LiveViewsPerDay and
	// LiveTasksPerDAG.
	Org demo.Config
	// Dir receives the generated input (mapping and intent), the collect
	// config and its secrets. Required.
	Dir string
	// Speed is how many seconds of demo time pass per real second. Zero:
	// the period and its Tail play in Duration.
	Speed float64
	// Duration is how long the period plays when Speed is zero (default
	// DefaultDuration).
	Duration time.Duration
	// PollEvery is how long, in real time, a caught-up collector waits
	// before it polls again (default DefaultPollEvery); the collect
	// config's poll interval is PollEvery × Speed of demo time.
	PollEvery time.Duration
	// Progress is the real time between two progress lines (default
	// DefaultProgress).
	Progress time.Duration
	// MaxAlerts is how many alerts are printed in full; later ones are
	// counted (default DefaultMaxAlerts; negative: none).
	MaxAlerts int
	// Settle bounds how long, in real time, the run waits after the demo
	// clock passed the Tail for every served record to be stored (default
	// DefaultSettle).
	Settle time.Duration
}

func (c Config) withDefaults(now time.Time) Config {
	c.Duration = cmp.Or(c.Duration, DefaultDuration)
	c.PollEvery = cmp.Or(c.PollEvery, DefaultPollEvery)
	c.Progress = cmp.Or(c.Progress, DefaultProgress)
	c.MaxAlerts = cmp.Or(c.MaxAlerts, DefaultMaxAlerts)
	c.Settle = cmp.Or(c.Settle, DefaultSettle)
	// Page views and task-state rows are most of Airflow's audit log; a
	// live organisation has fewer, so that its collectors keep up.
	c.Org.ViewsPerDay = cmp.Or(c.Org.ViewsPerDay, LiveViewsPerDay)
	c.Org.TasksPerDAG = cmp.Or(c.Org.TasksPerDAG, LiveTasksPerDAG)
	if c.Org.Start.IsZero() {
		days := cmp.Or(c.Org.Days, 30)
		c.Org.Start = now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(days + 1))
	}
	if c.Speed == 0 {
		days := cmp.Or(c.Org.Days, 30)
		c.Speed = float64(time.Duration(days)*24*time.Hour+Tail) / float64(c.Duration)
	}
	return c
}

// Validate reports every problem with c together.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("live demo: dir is required"))
	}
	if c.Speed < 0 {
		errs = append(errs, fmt.Errorf("speed %g: must not be negative", c.Speed))
	}
	if c.Duration < 0 || c.PollEvery < 0 || c.Progress < 0 || c.Settle < 0 {
		errs = append(errs, errors.New("live demo: durations must not be negative"))
	}
	if err := c.Org.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Collect runs `keytrail collect` with the config file at path until ctx
// ends, its collectors telling time on clock, and returns once it has
// flushed and stopped.
type Collect func(ctx context.Context, path string, clock clockwork.Clock) error

// Result is what a live run did.
type Result struct {
	// Manifest describes the generated organisation.
	Manifest demo.Manifest
	// Speed is the demo seconds per real second played.
	Speed float64
	// Elapsed is the real time from the first poll to the end.
	Elapsed time.Duration
	// Served is the number of distinct records the emulators served;
	// StoredOnce of them are stored exactly once, Missing not at all,
	// Doubled more than once.
	Served, StoredOnce, Missing, Doubled int
	// Snapshots is the number of inventory snapshots stored beside them;
	// Extra the stored records no emulator served beyond the snapshots it
	// served.
	Snapshots, Extra int
	// Alerts counts the alerts received, firing and resolved.
	Alerts, Resolved int
	// Intent compares the streaming verdicts with the generator's intent.
	Intent intent.Result
}

// Err is the run's verdict: the intent check's error, or the records not
// stored exactly once.
func (r *Result) Err() error {
	var errs []error
	if r.Missing > 0 || r.Doubled > 0 || r.Extra > 0 {
		errs = append(errs, fmt.Errorf("of %d records served, %d are not stored, %d are stored more than once, and %d stored records were never served",
			r.Served, r.Missing, r.Doubled, r.Extra))
	}
	if err := r.Intent.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Run generates cfg.Org, serves it from the emulators on cfg's accelerated
// clock, runs collect against them into w (a fresh store) and checks the
// outcome. Progress and alerts go to out as they happen.
func Run(ctx context.Context, cfg Config, w *warehouse.Warehouse, collect Collect, out io.Writer) (*Result, error) {
	cfg = cfg.withDefaults(time.Now())
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	org, err := demo.Generate(cfg.Org)
	if err != nil {
		return nil, err
	}
	in := filepath.Join(cfg.Dir, "input")
	if err := os.RemoveAll(in); err != nil {
		return nil, err
	}
	m, err := org.WriteFiles(in, nil)
	if err != nil {
		return nil, err
	}
	if err := importMapping(ctx, w, filepath.Join(in, m.Mapping)); err != nil {
		return nil, err
	}
	want, err := intent.ReadFile(filepath.Join(in, m.Intent))
	if err != nil {
		return nil, err
	}
	res := &Result{Manifest: m, Speed: cfg.Speed}

	alerts, err := startReceiver(out, cfg.MaxAlerts)
	if err != nil {
		return nil, err
	}
	defer alerts.close()

	clock := emulator.NewAccelerated(m.Start, cfg.Speed)
	end := m.End.Add(Tail)
	srv, err := emulator.Start(org, emulator.Options{Clock: clock, Faults: emulator.Faults{TokenTTL: end.Sub(m.Start) + 24*time.Hour}})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	path, err := srv.WriteCollectConfig(cfg.Dir, emulator.CollectConfig{
		Head:  collectHead(cfg, time.Since(m.Start)+24*time.Hour, alerts.url),
		Poll:  pollConfig(cfg),
		Start: m.Start,
		Lag:   Lag,
	})
	if err != nil {
		return nil, err
	}

	fmt.Fprintf(out, "keytrail demo --live — %d people, %d days from %s at %.0f× (a demo hour every %s), collectors → in-process bus → store → streaming correlator\n",
		m.People, m.Days, m.Start.Format("2006-01-02"), cfg.Speed, clock.Real(time.Hour).Round(time.Millisecond))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- collect(cctx, path, clock) }()

	watch := &watcher{w: w, srv: srv, out: out, alerts: alerts, began: began, clock: clock, start: m.Start}
	runErr := watch.until(ctx, done, end, cfg)
	cancel()
	if runErr == nil {
		runErr = <-done
	} else {
		<-done
	}
	res.Elapsed = time.Since(began)
	if runErr != nil {
		return res, runErr
	}
	res.Alerts, res.Resolved = alerts.counts()
	if err := watch.storedOnce(ctx, res); err != nil {
		return res, err
	}
	res.Intent, err = intent.Compare(ctx, w, want)
	if err != nil {
		return res, err
	}
	return res, nil
}

// importMapping imports the generated identity mapping, as `keytrail
// identities import` does before collection starts.
func importMapping(ctx context.Context, w *warehouse.Warehouse, path string) error {
	rows, err := identity.ReadMappingFile(path)
	if err != nil {
		return fmt.Errorf("demo mapping: %w", err)
	}
	return w.ImportIdentities(ctx, rows, time.Now())
}

// collectHead is the collect config's top level: the in-process bus, a
// sink and correlator that flush within a fraction of a second, a
// correlator window that takes the whole period, and the alert receiver.
func collectHead(cfg Config, window time.Duration, alertURL string) string {
	return fmt.Sprintf(`bus: memory
sink: {max_wait: 20ms, flush_timeout: 30s}
correlator: {window: %s, interval: 1s}
status_interval: 2s
shutdown_timeout: 60s
alerts:
  rate_limit: {max: 100000, per: 1s, burst: 10000, max_batch: 500}
  targets:
    - name: demo-receiver
      webhook: {url: %q}
`, window.Round(time.Hour), alertURL)
}

// pollConfig is every collector's poll setting in demo time: a caught-up
// collector polls again after PollEvery of real time, and its retries wait
// fractions of a second of real time.
func pollConfig(cfg Config) string {
	demo := func(real time.Duration) time.Duration {
		return time.Duration(float64(real) * cfg.Speed).Round(time.Millisecond)
	}
	return fmt.Sprintf("{interval: %s, timeout: 30s, initial_backoff: %s, max_backoff: %s, max_rate_limit_wait: %s}",
		demo(cfg.PollEvery), demo(100*time.Millisecond), demo(2*time.Second), demo(5*time.Second))
}

// WriteSummary writes r as the live demo's closing summary.
func (r *Result) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "\nkeytrail demo --live — %d people, %d days from %s played at %.0f× in %s\n",
		r.Manifest.People, r.Manifest.Days, r.Manifest.Start.Format("2006-01-02"), r.Speed, r.Elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  records   %d served by the emulators: %d stored once, %d missing, %d stored more than once (+%d inventory snapshots, %d others)\n",
		r.Served, r.StoredOnce, r.Missing, r.Doubled, r.Snapshots, r.Extra)
	fmt.Fprintf(w, "  alerts    %d firing, %d resolved, received by the local webhook\n", r.Alerts, r.Resolved)
	fmt.Fprintf(w, "  actions   %d correlated by the streaming correlator\n", r.Intent.Actions)
	r.Intent.WriteSummary(w)
}
