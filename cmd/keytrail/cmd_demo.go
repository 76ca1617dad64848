package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/config"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/demo/batch"
	"github.com/keytrail/keytrail/demo/live"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

func init() {
	register(&command{
		name: "demo",
		summary: `generate a realistic organisation and run it through ingest, correlation and the evidence pack;
with --live, serve it from local provider emulators in accelerated time and watch the real collectors,
in-process bus, store and streaming correlator turn it into verdicts and alerts as they happen
(--people and --days then default to 20 and 2, and the period plays in about a minute)`,
		usage: "demo [--out DIR] [--people N] [--days N] [--seed S] [--live [--speed X]]",
		run:   runDemo,
	})
}

// Sizes of a live demo's organisation when --people and --days are not
// given.
const (
	livePeople = 20
	liveDays   = 2
)

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := flags("demo", e)
	out := fs.String("out", "keytrail-demo", "directory for the generated input, the embedded store and the evidence pack")
	people := fs.Int("people", 200, "people in the organisation (20 with --live)")
	days := fs.Int("days", 30, "days of activity (2 with --live)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same organisation and verdicts")
	liveMode := fs.Bool("live", false, "serve the organisation from provider emulators on loopback in accelerated time and run the live pipeline (collectors → bus → store → streaming correlator) on it")
	speed := fs.Float64("speed", 0, "with --live: seconds of demo time per real second; a caught-up collector polls again after two real seconds (0 = the period plays in about a minute)")
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
		return runLiveDemo(ctx, e, *out, live.Config{Org: cfg, Speed: *speed})
	}
	return runBatchDemo(ctx, e, *out, cfg)
}

// runBatchDemo wires `demo`: a fresh store in dir (unless --store names
// one), the demo's signing key, keytrail ingest's file ingestion and the
// CLI's progress bars.
func runBatchDemo(ctx context.Context, e *env, dir string, cfg demo.Config) error {
	abs, err := demoDir(e, dir)
	if err != nil {
		return err
	}
	key, err := loadSigningKey(e, filepath.Join(abs, batch.KeyFile), "the demo key", true)
	if err != nil {
		return err
	}
	st := newStage(e.stderr, "store")
	s, err := e.openMigrated(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	st.finish(store.Redact(e.storeURL) + ", schema migrated")
	r, err := batch.Run(ctx, abs, cfg, warehouse.New(s), batch.Deps{
		Ingest: func(ctx context.Context, w *warehouse.Warehouse, enr *enrich.Enricher, f demo.FileInfo, path string, stored func(int)) (ingest.Result, error) {
			job := &ingestJob{w: w, enricher: enr, source: string(f.Source), instance: f.Instance, batchSize: 20000,
				stored: func(_ context.Context, b *ingest.Batch) error {
					stored(len(b.Raw) + len(b.DeadLetters))
					return nil
				}}
			return job.ingestFile(ctx, nil, path)
		},
		Bar: func(label string, total int64) batch.Bar {
			st := newStage(e.stderr, label)
			if total >= 0 {
				st.bar(total)
			}
			return cliBar{st}
		},
		SigningKey: key,
		Version:    buildVersion(),
	})
	if err != nil {
		return err
	}
	r.WriteSummary(e.stdout, e.storeURL)
	return r.Intent.Err()
}

// cliBar is a batch.Bar drawn on stderr.
type cliBar struct{ s *stage }

func (b cliBar) Set(done, total int64) { b.s.update(done, total) }
func (b cliBar) Add(n int64)           { b.s.bar(0).add(n) }
func (b cliBar) Finish(summary string) { b.s.finish(summary) }

// demoDir returns dir made absolute and, unless --store named a store,
// points the store at a fresh embedded one in it.
func demoDir(e *env, dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if !e.storeExplicit {
		if err := os.RemoveAll(filepath.Join(abs, batch.StoreDir)); err != nil {
			return "", err
		}
		e.storeURL = "chdb://" + filepath.Join(abs, batch.StoreDir)
	}
	return abs, os.MkdirAll(abs, 0o755)
}

// runLiveDemo wires `demo --live`: a fresh store in dir (unless --store
// names one), and keytrail collect's pipeline on it for each config the
// live run writes.
func runLiveDemo(ctx context.Context, e *env, dir string, cfg live.Config) error {
	abs, err := demoDir(e, dir)
	if err != nil {
		return err
	}
	cfg.Dir = abs
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
