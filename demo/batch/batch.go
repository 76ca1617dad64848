// Package batch runs a generated organisation (package demo) through
// keytrail's batch path for `keytrail demo`: its files are written, ingested
// the way `keytrail ingest` does, correlated the way `keytrail correlate`
// does, and turned into an evidence pack that is verified against the
// store; the verdicts are then checked against the generator's intent
// (package demo/intent).
package batch

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/demo/intent"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

// Layout of a demo directory.
const (
	InputDir    = "input"
	StoreDir    = "store"
	EvidenceDir = "evidence"
	KeyFile     = "keys/report-ed25519.pem"
)

// IngestPhases splits the demo's files into the order they are ingested:
// Airflow first, then the identity providers — the order in which no
// Airflow owner is known when its rows are stored, which correlation must
// resolve (identities do not depend on arrival order).
func IngestPhases(files []demo.FileInfo) [2][]demo.FileInfo {
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

// Bar shows one step's progress; it is safe for concurrent use.
type Bar interface {
	// Set records done of total.
	Set(done, total int64)
	// Add records n more done.
	Add(n int64)
	// Finish draws the final state with a summary.
	Finish(summary string)
}

// Deps are what a run uses of keytrail's commands.
type Deps struct {
	// Ingest ingests the file at path as f's source and instance into w
	// with enricher, exactly as `keytrail ingest` does, calling stored with
	// the number of records (stored or dead-lettered) of each stored batch.
	Ingest func(ctx context.Context, w *warehouse.Warehouse, enricher *enrich.Enricher, f demo.FileInfo, path string, stored func(n int)) (ingest.Result, error)
	// Bar starts a progress bar; total < 0 when the total is learnt from
	// the first Set.
	Bar func(label string, total int64) Bar
	// SigningKey signs the evidence pack.
	SigningKey ed25519.PrivateKey
	// Version is keytrail's version, written into the pack.
	Version string
}

// Result is what one run did, for the summary and the tests.
type Result struct {
	Dir       string
	Manifest  demo.Manifest
	Ingested  ingest.Result
	Intent    intent.Result
	EventRows int64
	Evidence  string
}

// Run generates cfg's organisation into dir (replacing earlier input and
// evidence there) and pushes it through ingest, correlate and report into
// w. dir must be absolute.
func Run(ctx context.Context, dir string, cfg demo.Config, w *warehouse.Warehouse, d Deps) (*Result, error) {
	r := &Result{Dir: dir}
	for _, sub := range []string{InputDir, EvidenceDir} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return nil, err
		}
	}
	p := d.Bar("generate", 0)
	org, err := demo.Generate(cfg)
	if err != nil {
		return nil, err
	}
	var wp Bar
	r.Manifest, err = org.WriteFiles(filepath.Join(dir, InputDir), func(done, total int) {
		if wp == nil {
			p.Finish(fmt.Sprintf("%d people, %d days", cfg.People, cfg.Days))
			wp = d.Bar("write", int64(total))
		}
		wp.Set(int64(done), int64(total))
	})
	if err != nil {
		return nil, err
	}
	p.Finish("")
	if wp != nil {
		wp.Finish(fmt.Sprintf("%d files in %s", len(r.Manifest.Files), filepath.Join(dir, InputDir)))
	}
	if err := r.ingest(ctx, w, d); err != nil {
		return nil, err
	}
	if err := r.correlate(ctx, w, d); err != nil {
		return nil, err
	}
	if err := r.report(ctx, w, d); err != nil {
		return nil, err
	}
	return r, nil
}

// ingest imports the identity mapping, then ingests every file, Airflow
// first (IngestPhases), exactly as keytrail ingest would.
func (r *Result) ingest(ctx context.Context, w *warehouse.Warehouse, d Deps) error {
	in := filepath.Join(r.Dir, InputDir)
	rows, err := identity.ReadMappingFile(filepath.Join(in, r.Manifest.Mapping))
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
	p := d.Bar("ingest", total)
	// Within each phase the files are ingested concurrently (the store
	// serialises its own writes, so this overlaps parsing with storing).
	var mu sync.Mutex
	for _, phase := range IngestPhases(files) {
		var wg sync.WaitGroup
		errs := make([]error, len(phase))
		for i, fi := range phase {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := d.Ingest(ctx, w, enr, fi, filepath.Join(in, fi.Path), func(n int) { p.Add(int64(n)) })
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
	n, err := store.CountRows(ctx, w.S, "SELECT (SELECT count() FROM auth_events FINAL) + (SELECT count() FROM authenticators FINAL) + (SELECT count() FROM airflow_events FINAL) + (SELECT count() FROM dag_runs FINAL)")
	if err != nil {
		return err
	}
	r.EventRows = n
	p.Finish(fmt.Sprintf("%d records: %d stored, %d duplicates, %d dead letters",
		r.Ingested.Records, r.Ingested.Accepted, r.Ingested.Duplicates, r.Ingested.DeadLetters))
	return nil
}

// correlate correlates everything stored under the default policy,
// exactly as keytrail correlate does, then checks the verdicts against the
// generator's intent.
func (r *Result) correlate(ctx context.Context, w *warehouse.Warehouse, d Deps) error {
	bar := d.Bar("correlate", -1)
	res, err := correlation.Correlate(ctx, w, correlate.DefaultPolicy(), correlation.CorrelateOptions{Progress: func(done, total int) {
		bar.Set(int64(done), int64(total))
	}})
	if err != nil {
		return err
	}
	bar.Finish(fmt.Sprintf("%d actions under policy %s", res.Actions, res.PolicyVersion))
	check := d.Bar("intent", -1)
	want, err := intent.ReadFile(filepath.Join(r.Dir, InputDir, r.Manifest.Intent))
	if err != nil {
		return err
	}
	if r.Intent, err = intent.Compare(ctx, w, want); err != nil {
		return err
	}
	check.Finish(fmt.Sprintf("%d verdicts compared with the generator's intent", len(want)))
	return nil
}

// report writes the evidence pack for the generated period, the same way
// keytrail report does, and verifies it against the store.
func (r *Result) report(ctx context.Context, w *warehouse.Warehouse, d Deps) error {
	opts := report.Options{From: r.Manifest.Start, To: r.Manifest.End, SigningKey: d.SigningKey, Organisation: "Example Corp (keytrail demo)",
		Version: d.Version, GeneratedAt: r.Manifest.End}
	if err := opts.Validate(); err != nil {
		return err
	}
	dir := filepath.Join(r.Dir, EvidenceDir)
	bar := d.Bar("report", -1)
	m, err := w.Report(ctx, opts, dir, func(done, total int64) { bar.Set(done, total) })
	if err != nil {
		return err
	}
	bar.Finish(fmt.Sprintf("evidence pack %s", m.ReportID))
	vbar := d.Bar("verify", -1)
	res, _, err := w.VerifyReport(ctx, dir, []ed25519.PublicKey{d.SigningKey.Public().(ed25519.PublicKey)})
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("the demo's evidence pack does not verify: %w", err)
	}
	vbar.Finish("hashes, signature and queries re-run against the store")
	r.Evidence = dir
	return nil
}

// WriteSummary writes r as the demo's closing summary; storeURL (redacted)
// names the store in the commands it suggests.
func (r *Result) WriteSummary(w io.Writer, storeURL string) {
	x := r.Manifest.Expected
	fmt.Fprintf(w, "\nkeytrail demo — %d people, %d days from %s, seed %d\n", r.Manifest.People, r.Manifest.Days, r.Manifest.Start.Format("2006-01-02"), r.Manifest.Seed)
	fmt.Fprintf(w, "  records   %d read, %d stored, %d duplicates dropped, %d dead letters (expected %d)\n",
		r.Ingested.Records, r.Ingested.Accepted, r.Ingested.Duplicates, r.Ingested.DeadLetters, x.DeadLetters)
	if r.Ingested.Conflicts > 0 { // the generator plants none
		fmt.Fprintf(w, "  conflicts %d records with a stored id and other bytes (kept in the conflicts table)\n", r.Ingested.Conflicts)
	}
	fmt.Fprintf(w, "  events    %d normalized rows (sign-ins, key registrations, Airflow audit rows, DAG runs)\n", r.EventRows)
	fmt.Fprintf(w, "  actions   %d correlated (%d audit actions, %d DAG runs intended)\n", r.Intent.Actions, x.AuditActions, x.Runs)
	r.Intent.WriteSummary(w)
	for _, g := range x.Gaps {
		fmt.Fprintf(w, "  coverage  %s: event_log_id gap %d–%d (deliberate)\n", g.Instance, g.FirstID, g.LastID)
	}
	if r.Evidence != "" {
		fmt.Fprintf(w, "  evidence  %s\n", filepath.Join(r.Evidence, "evidence.pdf"))
		fmt.Fprintf(w, "            check it with: keytrail --store %s verify %s --key %s\n", store.Redact(storeURL), r.Evidence, filepath.Join(r.Dir, KeyFile))
	}
	fmt.Fprintf(w, "  explore   keytrail --store %s export correlations | head\n", store.Redact(storeURL))
}
