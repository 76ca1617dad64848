package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/config"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/demo/intent"
	"github.com/keytrail/keytrail/demo/live"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name: "demo",
		summary: `generate a realistic organisation and run it through ingest, correlation and the evidence pack;
with --live, serve it from local provider emulators in accelerated time and watch the real collectors,
in-process bus, store and streaming correlator turn it into verdicts and alerts as they happen
(--people and --days then default to 30 and 3, and the period plays in about a minute)`,
		usage: "demo [--out DIR] [--people N] [--days N] [--seed S] [--live [--speed X]]",
		run:   runDemo,
	})
}

// Sizes of a live demo's organisation when --people and --days are not
// given.
const (
	livePeople = 30
	liveDays   = 3
)

// Demo directory layout.
const (
	demoInput    = "input"
	demoStore    = "store"
	demoEvidence = "evidence"
	demoKey      = "keys/report-ed25519.pem"
)

// ingestPhases splits the demo's files into the order they are ingested:
// Airflow first, then the identity providers — the order in which no
// Airflow owner is known when its rows are stored, which correlation must
// resolve (identities do not depend on arrival order).
func ingestPhases(files []demo.FileInfo) [2][]demo.FileInfo {
	var out [2][]demo.FileInfo
	for _, f := range files {
		i := 1
		if f.Source == model.SourceAirflow {
			i = 0
		}
		out[i] = append(out[i], f)
	}
	return out
}

// demoRun is what one demo run did, for the summary and the tests.
type demoRun struct {
	Dir       string
	Manifest  demo.Manifest
	Ingested  ingest.Result
	Intent    intent.Result
	EventRows int64
	Evidence  string
}

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := flags("demo", e)
	out := fs.String("out", "keytrail-demo", "directory for the generated input, the embedded store and the evidence pack")
	people := fs.Int("people", 200, "people in the organisation")
	days := fs.Int("days", 30, "days of activity")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same organisation and verdicts")
	liveMode := fs.Bool("live", false, "serve the organisation from provider emulators on loopback in accelerated time and run the live pipeline (collectors → bus → store → streaming correlator) on it")
	speed := fs.Float64("speed", 0, "with --live: seconds of demo time per real second; collectors poll every 250ms of real time (0 = the period plays in about a minute)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg := demo.Config{People: *people, Days: *days, Seed: *seed}
	if *liveMode {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["people"] {
			cfg.People = livePeople
		}
		if !set["days"] {
			cfg.Days = liveDays
		}
	} else if *speed != 0 {
		return usagef("--speed needs --live")
	}
	if *speed < 0 {
		return usagef("--speed %g: must not be negative", *speed)
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if *liveMode {
		return runLiveDemo(ctx, e, *out, live.Config{Org: cfg, Speed: *speed, Logger: e.log})
	}
	r, err := demoPipeline(ctx, e, *out, cfg)
	if err != nil {
		return err
	}
	printDemoSummary(e, r)
	return r.Intent.Err()
}

// runLiveDemo wires `demo --live`: a fresh store in dir (unless --store
// names one), and keytrail collect's pipeline on it for each config the
// live run writes.
func runLiveDemo(ctx context.Context, e *env, dir string, cfg live.Config) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	cfg.Dir = abs
	if !e.storeExplicit {
		if err := os.RemoveAll(filepath.Join(abs, demoStore)); err != nil {
			return err
		}
		e.storeURL = "chdb://" + filepath.Join(abs, demoStore)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	s, err := e.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	w := warehouse.New(s)
	collect := func(ctx context.Context, path string, clock clockwork.Clock) error {
		c, err := config.LoadFile(path)
		if err != nil {
			return err
		}
		ce := *e
		ce.clock = clock
		return collectWith(ctx, &ce, c, w)
	}
	r, err := live.Run(ctx, cfg, w, collect, e.stdout)
	if err != nil {
		return err
	}
	r.WriteSummary(e.stdout)
	fmt.Fprintf(e.stdout, "  explore   keytrail --store %s export correlations | head\n", store.Redact(e.storeURL))
	return r.Err()
}

// demoPipeline generates the organisation into dir and pushes it through
// the same code paths as keytrail ingest, correlate and report.
func demoPipeline(ctx context.Context, e *env, dir string, cfg demo.Config) (*demoRun, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r := &demoRun{Dir: abs}
	// A demo starts fresh: earlier input, store and pack in dir are replaced.
	for _, sub := range []string{demoInput, demoEvidence} {
		if err := os.RemoveAll(filepath.Join(abs, sub)); err != nil {
			return nil, err
		}
	}
	if !e.storeExplicit {
		if err := os.RemoveAll(filepath.Join(abs, demoStore)); err != nil {
			return nil, err
		}
		e.storeURL = "chdb://" + filepath.Join(abs, demoStore)
	}

	p := newProgress(e.stderr, "generate", 0)
	org, err := demo.Generate(cfg)
	if err != nil {
		return nil, err
	}
	var wp *progress
	r.Manifest, err = org.WriteFiles(filepath.Join(abs, demoInput), func(done, total int) {
		if wp == nil {
			p.finish(fmt.Sprintf("%d people, %d days", cfg.People, cfg.Days))
			wp = newProgress(e.stderr, "write", int64(total))
		}
		wp.set(int64(done))
	})
	if err != nil {
		return nil, err
	}
	p.finish("")
	if wp != nil {
		wp.finish(fmt.Sprintf("%d files in %s", len(r.Manifest.Files), filepath.Join(dir, demoInput)))
	}

	s, err := e.openMigrated(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	w := warehouse.New(s)
	if err := demoIngest(ctx, e, w, r); err != nil {
		return nil, err
	}
	if err := demoCorrelate(ctx, e, w, r); err != nil {
		return nil, err
	}
	if err := demoReport(ctx, e, w, r); err != nil {
		return nil, err
	}
	return r, nil
}

// demoIngest imports the identity mapping, then ingests every file, IdPs
// first, exactly as keytrail ingest would.
func demoIngest(ctx context.Context, e *env, w *warehouse.Warehouse, r *demoRun) error {
	in := filepath.Join(r.Dir, demoInput)
	f, err := os.Open(filepath.Join(in, r.Manifest.Mapping))
	if err != nil {
		return err
	}
	rows, err := identity.ParseMapping(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("demo mapping: %w", err)
	}
	if err := w.ImportIdentities(ctx, rows, time.Now()); err != nil {
		return err
	}
	enr, err := enrich.New(ctx, w, nil)
	if err != nil {
		return err
	}
	files := r.Manifest.Files
	var total int64
	for _, fi := range files {
		total += int64(fi.Records)
	}
	p := newProgress(e.stderr, "ingest", total)
	// Airflow first, then the identity providers; within each phase the files
	// are ingested concurrently (the store serialises its own writes, so
	// this overlaps parsing with storing).
	var mu sync.Mutex
	for _, phase := range ingestPhases(files) {
		var wg sync.WaitGroup
		errs := make([]error, len(phase))
		for i, fi := range phase {
			wg.Add(1)
			go func() {
				defer wg.Done()
				job := &ingestJob{w: w, enricher: enr, source: string(fi.Source), instance: fi.Instance, batchSize: 20000,
					stored: func(_ context.Context, b *ingest.Batch) error {
						p.add(int64(len(b.Raw) + len(b.DeadLetters)))
						return nil
					}}
				res, err := job.ingestFile(ctx, nil, filepath.Join(in, fi.Path))
				if err != nil {
					errs[i] = fmt.Errorf("ingest %s: %w", fi.Path, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				r.Ingested.Records += res.Records
				r.Ingested.Accepted += res.Accepted
				r.Ingested.Duplicates += res.Duplicates
				r.Ingested.Conflicts += res.Conflicts
				r.Ingested.DeadLetters += res.DeadLetters
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	p.finish(fmt.Sprintf("%d records: %d stored, %d duplicates, %d dead letters",
		r.Ingested.Records, r.Ingested.Accepted, r.Ingested.Duplicates, r.Ingested.DeadLetters))
	n, err := store.CountRows(ctx, w.S, "SELECT (SELECT count() FROM auth_events FINAL) + (SELECT count() FROM authenticators FINAL) + (SELECT count() FROM airflow_events FINAL) + (SELECT count() FROM dag_runs FINAL)")
	if err != nil {
		return err
	}
	r.EventRows = n
	return nil
}

func printDemoSummary(e *env, r *demoRun) {
	x := r.Manifest.Expected
	fmt.Fprintf(e.stdout, "\nkeytrail demo — %d people, %d days from %s, seed %d\n", r.Manifest.People, r.Manifest.Days, r.Manifest.Start.Format("2006-01-02"), r.Manifest.Seed)
	fmt.Fprintf(e.stdout, "  records   %d read, %d stored, %d duplicates dropped, %d dead letters (expected %d)\n",
		r.Ingested.Records, r.Ingested.Accepted, r.Ingested.Duplicates, r.Ingested.DeadLetters, x.DeadLetters)
	if r.Ingested.Conflicts > 0 { // the generator plants none
		fmt.Fprintf(e.stdout, "  conflicts %d records with a stored id and other bytes (kept in the conflicts table)\n", r.Ingested.Conflicts)
	}
	fmt.Fprintf(e.stdout, "  events    %d normalized rows (sign-ins, key registrations, Airflow audit rows, DAG runs)\n", r.EventRows)
	fmt.Fprintf(e.stdout, "  actions   %d correlated (%d audit actions, %d DAG runs intended)\n", r.Intent.Actions, x.AuditActions, x.Runs)
	r.Intent.WriteSummary(e.stdout)
	for _, g := range x.Gaps {
		fmt.Fprintf(e.stdout, "  coverage  %s: event_log_id gap %d–%d (deliberate)\n", g.Instance, g.FirstID, g.LastID)
	}
	if r.Evidence != "" {
		fmt.Fprintf(e.stdout, "  evidence  %s\n", filepath.Join(r.Evidence, "evidence.pdf"))
		fmt.Fprintf(e.stdout, "            check it with: keytrail --store %s verify %s --key %s\n", store.Redact(e.storeURL), r.Evidence, filepath.Join(r.Dir, demoKey))
	}
	fmt.Fprintf(e.stdout, "  explore   keytrail --store %s export correlations | head\n", store.Redact(e.storeURL))
}

// demoReport writes the evidence pack for the generated period with a key
// kept in the demo directory, the same way keytrail report does, and
// verifies it against the store.
func demoReport(ctx context.Context, e *env, w *warehouse.Warehouse, r *demoRun) error {
	key, err := loadSigningKey(e, filepath.Join(r.Dir, demoKey), "the demo key", true)
	if err != nil {
		return err
	}
	opts := report.Options{From: r.Manifest.Start, To: r.Manifest.End, SigningKey: key, Organisation: "Example Corp (keytrail demo)",
		Version: buildVersion(), GeneratedAt: r.Manifest.End}
	if err := opts.Validate(); err != nil {
		return err
	}
	dir := filepath.Join(r.Dir, demoEvidence)
	bar := newStage(e.stderr, "report")
	m, err := w.Report(ctx, opts, dir, bar.update)
	if err != nil {
		return err
	}
	bar.finish(fmt.Sprintf("evidence pack %s", m.ReportID))
	res, _, err := w.VerifyReport(ctx, dir, []ed25519.PublicKey{key.Public().(ed25519.PublicKey)})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("the demo's evidence pack does not verify: %w", err)
	}
	r.Evidence = dir
	return nil
}

// demoCorrelate correlates everything stored under the default policy,
// exactly as keytrail correlate does, then checks the verdicts against the
// generator's intent.
func demoCorrelate(ctx context.Context, e *env, w *warehouse.Warehouse, r *demoRun) error {
	bar := newStage(e.stderr, "correlate")
	res, err := correlation.Correlate(ctx, w, correlate.DefaultPolicy(), correlation.CorrelateOptions{Progress: func(done, total int) {
		bar.update(int64(done), int64(total))
	}})
	if err != nil {
		return err
	}
	bar.finish(fmt.Sprintf("%d actions under policy %s", res.Actions, res.PolicyVersion))
	want, err := intent.ReadFile(filepath.Join(r.Dir, demoInput, r.Manifest.Intent))
	if err != nil {
		return err
	}
	r.Intent, err = intent.Compare(ctx, w, want)
	return err
}
