package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name:    "correlate",
		summary: "link stored Airflow actions and DAG runs to hardware-key assertions; alert on the rest",
		usage:   "correlate [--from T] [--to T] [--policy FILE] [--alerts FILE] [--follow [--interval D]] [--quiet]",
		run:     runCorrelate,
	})
}

// Environment variables naming the policy and alert files.
const (
	policyEnv = "KEYTRAIL_POLICY"
	alertsEnv = "KEYTRAIL_ALERTS"
)

// loadPolicy reads the correlation policy from path ("" = the built-in
// default policy).
func loadPolicy(path string) (correlate.Policy, error) {
	if path == "" {
		return correlate.DefaultPolicy(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return correlate.Policy{}, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	p, err := correlate.LoadPolicy(f)
	if err != nil {
		return correlate.Policy{}, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// openNotifier starts the alert notifier configured in path, recording
// alerts in w's alerts table; "" means no alerts (nil). Target secrets come
// from the environment and are never logged.
func openNotifier(e *env, path string, w *warehouse.Warehouse) (*alert.Notifier, error) {
	if path == "" {
		return nil, nil
	}
	cfg, err := alert.LoadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alerts config: %w", err)
	}
	n, err := alert.New(cfg, alert.Options{Logger: e.log, Recorder: w.AlertRecorder(), History: w.AlertRecorder()})
	if err != nil {
		return nil, fmt.Errorf("alerts config %s: %w", path, err)
	}
	return n, nil
}

// closeNotifier delivers what is queued, for at most a minute even when ctx
// is already done (an interrupted run still sends its alerts).
func closeNotifier(ctx context.Context, e *env, n *alert.Notifier) error {
	if n == nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := n.Close(cctx); err != nil {
		return fmt.Errorf("deliver alerts: %w", err)
	}
	return nil
}

func runCorrelate(ctx context.Context, e *env, args []string) error {
	fs := flags("correlate", e)
	from := fs.String("from", "", "first action time, inclusive (RFC 3339, YYYY-MM-DD, or an age such as 30d; default the earliest stored; with --follow default now − grace)")
	to := fs.String("to", "", "end of the actions, exclusive (default just after the latest stored)")
	policyPath := fs.String("policy", os.Getenv(policyEnv), "policy YAML (env "+policyEnv+"; default the built-in policy)")
	alertsPath := fs.String("alerts", os.Getenv(alertsEnv), "alert targets YAML (env "+alertsEnv+"; default no alerts)")
	follow := fs.Bool("follow", false, "keep correlating newly stored events with the streaming engine until interrupted")
	interval := fs.Duration("interval", 5*time.Second, "with --follow, how often to poll the store")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	workers := fs.Int("workers", 1, "batch sweep goroutines, each the people of a hash range: more pays only where cores are spare beside the store's engine (on 2 cores one is faster)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	now := time.Now()
	var fromT, toT time.Time
	if fromT, err = parseTime(*from, now); err != nil {
		return usagef("--from: %v", err)
	}
	if toT, err = parseTime(*to, now); err != nil {
		return usagef("--to: %v", err)
	}
	if !fromT.IsZero() && !toT.IsZero() && !fromT.Before(toT) {
		return usagef("--from must be before --to")
	}
	if *follow && *to != "" {
		return usagef("--to cannot be used with --follow")
	}
	if *interval <= 0 {
		return usagef("--interval must be positive")
	}
	if *workers < 1 {
		return usagef("--workers must be at least 1")
	}
	if *follow && *workers != 1 {
		return usagef("--workers applies to a batch run, not --follow")
	}
	p, err := loadPolicy(*policyPath)
	if err != nil {
		return err
	}

	s, err := e.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	w := warehouse.New(s)
	n, err := openNotifier(e, *alertsPath, w)
	if err != nil {
		return err
	}
	if *follow {
		err = correlateFollow(ctx, e, w, p, n, fromT, *interval)
	} else {
		err = correlateBatch(ctx, e, w, p, n, fromT, toT, *workers, *quiet)
	}
	if cerr := closeNotifier(ctx, e, n); err == nil {
		err = cerr
	}
	return err
}

func correlateBatch(ctx context.Context, e *env, w *warehouse.Warehouse, p correlate.Policy, n *alert.Notifier, from, to time.Time, workers int, quiet bool) error {
	start := time.Now()
	bar := newStage(e.stderr, "correlate")
	if !quiet {
		fmt.Fprintln(e.stderr, "correlate: loading events")
	}
	res, err := correlation.Correlate(ctx, w, p, correlation.CorrelateOptions{From: from, To: to, Notifier: n, Workers: workers, Progress: func(done, total int) {
		if !quiet {
			bar.update(int64(done), int64(total))
		}
	}})
	if err != nil {
		return err
	}
	if !quiet {
		bar.finish(fmt.Sprintf("%d actions", res.Actions))
	}
	if res.Actions == 0 {
		fmt.Fprintf(e.stdout, "no actions stored in the period; policy %s is current\n", res.PolicyVersion)
		return nil
	}
	fmt.Fprintf(e.stdout, "correlated %d actions from %s to %s in %s\npolicy %s (current)\n",
		res.Actions, FormatTime(res.From), FormatTime(res.To), time.Since(start).Round(time.Millisecond), res.PolicyVersion)
	printVerdicts(e.stdout, res.Verdicts)
	if res.AlertErrors > 0 {
		fmt.Fprintf(e.stderr, "warning: %d alerts could not be queued (recorded in the alerts table with the error)\n", res.AlertErrors)
	}
	return nil
}

func printVerdicts(w io.Writer, m map[model.Verdict]int) {
	for _, v := range model.Verdicts {
		fmt.Fprintf(w, "  %-17s %d\n", v, m[v])
	}
}

func correlateFollow(ctx context.Context, e *env, w *warehouse.Warehouse, p correlate.Policy, n *alert.Notifier, since time.Time, interval time.Duration) error {
	if since.IsZero() {
		since = time.Now().Add(-p.Grace - 2*p.ClockSkew)
	}
	l, err := correlation.NewLive(ctx, w, p, correlation.LiveOptions{Notifier: n, Logger: e.log})
	if err != nil {
		return err
	}
	e.log.Info("correlate: preloading stored events", "since", FormatTime(since), "policy_version", l.PolicyVersion())
	if err := l.Preload(ctx, since); err != nil && ctx.Err() == nil {
		return err
	}
	e.log.Info("correlate: following newly stored events", "interval", interval.String())
	ferr := l.Follow(ctx, interval, func(n int) {
		if n > 0 {
			e.log.Debug("correlate: polled", "events", n)
		}
	})
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := l.Close(cctx); err != nil {
		return err
	}
	st := l.Stats()
	fmt.Fprintf(e.stdout, "followed: %d events polled, %d correlation rows written, %d persons tracked\npolicy %s (current)\nfinal verdicts:\n",
		st.Polled, st.Written, st.Engine.TrackedPersons, l.PolicyVersion())
	printVerdicts(e.stdout, st.Final)
	return ferr
}
