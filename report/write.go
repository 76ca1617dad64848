package report

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crypto/sha256"
	"encoding/hex"

	"github.com/keytrail/keytrail/model"
)

// Defaults of Options.
const (
	DefaultSampleSize         = 25
	DefaultExceptionsTableCap = 500
	DefaultInventoryTableCap  = 500
	DefaultClockSkew          = 5 * time.Second
	DefaultVersion            = "dev"
)

// Options parameterise an evidence pack.
type Options struct {
	From     time.Time // start of the period, inclusive; required
	To       time.Time // end of the period, exclusive; required, after From
	Instance string    // Airflow instance; "" (default) means every instance

	Organisation  string        // printed on the cover; default "(organisation not set)"
	ReportID      string        // default "KT-" + 12 hex digits derived from period, scope, organisation and GeneratedAt
	Version       string        // keytrail version; default "dev"
	PolicyVersion string        // the correlation policy's version; default: the versions seen in the rows, comma-joined
	PolicyText    string        // the canonical text of PolicyVersion (as correlate recorded it), printed under Methodology and carried in the manifest; default none (the PDF says so)
	ClockSkew     time.Duration // the policy's clock skew, for the clock control (A.8.17); default 5s

	// GeneratedAt is the generation time printed and recorded; default now. Pin it
	// for byte-identical packs.
	GeneratedAt time.Time

	SampleSize int    // 25, 40 or 60; default 25
	Seed       string // sampling seed; default the report id

	SigningKey ed25519.PrivateKey // required; signs manifest.json

	ExceptionsTableCap int // exception rows listed one by one in the PDF, most severe first; default 500 (exceptions.csv is always complete)
	InventoryTableCap  int // authenticator rows printed in the PDF; default 500
}

// Validate reports every problem with o, joined.
func (o Options) Validate() error {
	var errs []error
	if o.From.IsZero() || o.To.IsZero() {
		errs = append(errs, errors.New("period from and to are required"))
	} else if !o.To.After(o.From) {
		errs = append(errs, fmt.Errorf("period end %s is not after its start %s", FormatTime(o.To), FormatTime(o.From)))
	}
	if o.SampleSize != 0 && !slices.Contains(SampleSizes, o.SampleSize) {
		errs = append(errs, fmt.Errorf("sample size %d: want one of %v", o.SampleSize, SampleSizes))
	}
	if len(o.SigningKey) != ed25519.PrivateKeySize {
		errs = append(errs, errors.New("an Ed25519 signing key is required"))
	}
	if o.ExceptionsTableCap < 0 || o.InventoryTableCap < 0 {
		errs = append(errs, errors.New("table caps must not be negative"))
	}
	if o.ClockSkew < 0 {
		errs = append(errs, errors.New("clock skew must not be negative"))
	}
	return errors.Join(errs...)
}

// withDefaults returns o with every default applied.
func (o Options) withDefaults() Options {
	o.From, o.To = model.Millis(o.From), model.Millis(o.To)
	if o.GeneratedAt.IsZero() {
		o.GeneratedAt = time.Now()
	}
	o.GeneratedAt = model.Millis(o.GeneratedAt)
	if o.Organisation == "" {
		o.Organisation = "(organisation not set)"
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.ReportID == "" {
		id := model.SHA256Hex([]byte(strings.Join([]string{FormatTime(o.From), FormatTime(o.To), o.Instance, o.Organisation, FormatTime(o.GeneratedAt)}, "\x00")))
		o.ReportID = "KT-" + strings.ToUpper(id[:12])
	}
	if o.SampleSize == 0 {
		o.SampleSize = DefaultSampleSize
	}
	if o.Seed == "" {
		o.Seed = o.ReportID
	}
	if o.ClockSkew == 0 {
		o.ClockSkew = DefaultClockSkew
	}
	if o.ExceptionsTableCap == 0 {
		o.ExceptionsTableCap = DefaultExceptionsTableCap
	}
	if o.InventoryTableCap == 0 {
		o.InventoryTableCap = DefaultInventoryTableCap
	}
	return o
}

func (o Options) query() Query { return Query{From: o.From, To: o.To, Instance: o.Instance} }

// packFile is a pack file being written: buffered, hashed and counted on the way.
type packFile struct {
	name string
	f    *os.File
	bw   *bufio.Writer
	h    hash.Hash
	n    int64
}

func createFile(dir, name string) (*packFile, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	p := &packFile{name: name, f: f, h: sha256.New()}
	p.bw = bufio.NewWriterSize(hashWriter{p}, 256<<10)
	return p, nil
}

type hashWriter struct{ p *packFile }

func (w hashWriter) Write(b []byte) (int, error) {
	w.p.h.Write(b)
	n, err := w.p.f.Write(b)
	w.p.n += int64(n)
	return n, err
}

func (p *packFile) Write(b []byte) (int, error) { return p.bw.Write(b) }

// close flushes and closes the file and returns its manifest entry.
func (p *packFile) close() (model.ManifestFile, error) {
	err := p.bw.Flush()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return model.ManifestFile{}, fmt.Errorf("write %s: %w", p.name, err)
	}
	return model.ManifestFile{Name: p.name, SHA256: hex.EncodeToString(p.h.Sum(nil)), Bytes: p.n}, nil
}

// abort closes the file after a failure, ignoring errors.
func (p *packFile) abort() { _ = p.f.Close() }

// pack is everything the PDF renders.
type pack struct {
	opts          Options
	summary       Summary
	manifest      model.Manifest                // without the PDF's own entry
	exceptions    [numTiers][]model.Correlation // the first rows of each severity tier, by time (unattributed runs are listed per DAG instead)
	auths         []AuthenticatorRow
	authTruncated bool
	sample        []sampled
	pub           ed25519.PublicKey
	headings      []string // subheadings and table headers, as renderPDF drew them
}

// Write builds the evidence pack for opts from src into outDir (created if
// missing; existing pack files are overwritten): population.csv,
// population.jsonl, exceptions.csv, authenticators.csv, sample.csv,
// evidence.pdf, manifest.json and, last, manifest.sig. Rows are streamed: memory
// is bounded by the PDF table caps and the sample size, not by the population.
// It returns the manifest as written.
func Write(ctx context.Context, src Source, opts Options, outDir string) (model.Manifest, error) {
	m, _, err := writePack(ctx, src, opts, outDir)
	return m, err
}

// writePack is Write, also returning what the PDF was rendered from (the
// report model, and the headings the PDF drew).
func writePack(ctx context.Context, src Source, opts Options, outDir string) (model.Manifest, *pack, error) {
	if err := opts.Validate(); err != nil {
		return model.Manifest{}, nil, fmt.Errorf("report options: %w", err)
	}
	if err := fontCoverage(); err != nil {
		return model.Manifest{}, nil, fmt.Errorf("load fonts: %w", err)
	}
	opts = opts.withDefaults()
	q := opts.query()
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return model.Manifest{}, nil, fmt.Errorf("create pack directory: %w", err)
	}
	// A stale signature must never vouch for a half-written pack.
	if err := os.Remove(filepath.Join(outDir, FileSignature)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return model.Manifest{}, nil, fmt.Errorf("remove old signature: %w", err)
	}

	// The coverage and the authenticator inventory are read while the
	// population streams: the engine computes them while Go writes rows.
	// Each has its own aggregator; their sections join the summary after.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := &pack{opts: opts, pub: opts.SigningKey.Public().(ed25519.PublicKey)}
	var (
		cov             []model.SourceCoverage
		covErr, authErr error
		authRows        int64
		authFiles       []model.ManifestFile
		authAgg         = newAggregator(opts.From, opts.To, opts.ClockSkew)
		side            sync.WaitGroup
	)
	side.Go(func() {
		if cov, covErr = src.Coverage(ctx, q); covErr != nil {
			covErr = fmt.Errorf("query coverage: %w", covErr)
			cancel()
		}
	})
	side.Go(func() {
		if authRows, authErr = writeAuthenticators(ctx, src, q, opts, outDir, authAgg, p, &authFiles); authErr != nil {
			cancel()
		}
	})
	agg := newAggregator(opts.From, opts.To, opts.ClockSkew)
	var files []model.ManifestFile
	popRows, samp, err := writePopulation(ctx, src, q, opts, outDir, agg, p, &files)
	if err != nil {
		cancel()
	}
	side.Wait()
	// The first failure, not the cancellations it caused.
	if err := firstCause(covErr, err, authErr); err != nil {
		return model.Manifest{}, nil, err
	}
	files = append(files, authFiles...)
	agg.addCoverage(cov)
	agg.s.Authenticators = authAgg.s.Authenticators
	p.sample = samp.rows()
	mf, err := writeSample(outDir, opts.Seed, p.sample)
	if err != nil {
		return model.Manifest{}, nil, err
	}
	files = append(files, mf)

	agg.s.ReportID, agg.s.Organisation, agg.s.Scope = opts.ReportID, opts.Organisation, q.Scope()
	agg.s.PeriodFrom, agg.s.PeriodTo = opts.From, opts.To
	agg.s.Sample = SampleInfo{Size: opts.SampleSize, Seed: opts.Seed, Drawn: len(p.sample)}
	p.summary = agg.finish()

	queries := src.Queries(q)
	for i := range queries {
		queries[i].SHA256 = model.SHA256Hex([]byte(queries[i].SQL))
		switch queries[i].Name {
		case QueryCorrelations:
			queries[i].Rows = popRows
		case QueryAuthenticators:
			queries[i].Rows = authRows
		case QueryCoverage:
			queries[i].Rows = int64(len(cov))
		}
	}
	policy := opts.PolicyVersion
	if policy == "" {
		policy = strings.Join(p.summary.PolicyVersions, ",")
	}
	sortFiles(files)
	p.manifest = model.Manifest{
		ReportID:      opts.ReportID,
		GeneratedAt:   opts.GeneratedAt,
		PeriodFrom:    opts.From,
		PeriodTo:      opts.To,
		Scope:         q.Scope(),
		Version:       opts.Version,
		PolicyVersion: policy,
		PolicyText:    jsonString(opts.PolicyText),
		PolicySHA256:  policySHA256(jsonString(opts.PolicyText)),
		Queries:       queries,
		Coverage:      cov,
		Organisation:  opts.Organisation,
		DataDigest:    DataDigest(files),
		Sample:        &model.ManifestSample{Size: opts.SampleSize, Seed: opts.Seed, Algorithm: SampleAlgorithm, Rows: len(p.sample)},
		PublicKey:     base64.StdEncoding.EncodeToString(p.pub),
	}
	p.manifest.Files = files

	pdfFile, err := createFile(outDir, FilePDF)
	if err != nil {
		return model.Manifest{}, nil, err
	}
	if err := renderPDF(p, pdfFile); err != nil {
		pdfFile.abort()
		return model.Manifest{}, nil, fmt.Errorf("render %s: %w", FilePDF, err)
	}
	mf, err = pdfFile.close()
	if err != nil {
		return model.Manifest{}, nil, err
	}
	m := p.manifest
	m.Files = append(append([]model.ManifestFile(nil), files...), mf)
	sortFiles(m.Files)

	body, err := CanonicalManifest(m)
	if err != nil {
		return model.Manifest{}, nil, err
	}
	if err := os.WriteFile(filepath.Join(outDir, FileManifest), body, 0o644); err != nil {
		return model.Manifest{}, nil, fmt.Errorf("write %s: %w", FileManifest, err)
	}
	sig := ed25519.Sign(opts.SigningKey, body)
	if err := os.WriteFile(filepath.Join(outDir, FileSignature), sig, 0o644); err != nil {
		return model.Manifest{}, nil, fmt.Errorf("write %s: %w", FileSignature, err)
	}
	return m, p, nil
}

// firstCause returns the first of errs that is not a cancellation, else
// the first error.
func firstCause(errs ...error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// writePopulation streams the correlations into population.csv,
// population.jsonl and exceptions.csv, feeding the aggregator, the sampler
// and the PDF's exception tables. The rows arrive on the caller's goroutine,
// which aggregates them and hands them on in batches to two writers: one
// formats, hashes and writes the CSV files, the other the JSONL file and the
// sample. Each file has one writer, so its rows keep the source's order.
func writePopulation(ctx context.Context, src Source, q Query, opts Options, dir string, agg *aggregator, p *pack, files *[]model.ManifestFile) (int64, *sampler, error) {
	var open []*packFile
	fail := func(err error) (int64, *sampler, error) {
		for _, f := range open {
			f.abort()
		}
		return 0, nil, err
	}
	mk := func(name string) (*packFile, error) {
		f, err := createFile(dir, name)
		if err == nil {
			open = append(open, f)
		}
		return f, err
	}
	popCSV, err := mk(FilePopulationCSV)
	if err != nil {
		return fail(err)
	}
	popJSON, err := mk(FilePopulationJSONL)
	if err != nil {
		return fail(err)
	}
	excCSV, err := mk(FileExceptions)
	if err != nil {
		return fail(err)
	}
	for _, f := range []*packFile{popCSV, excCSV} {
		w := csv.NewWriter(f)
		if err := w.Write(PopulationHeader); err != nil {
			return fail(fmt.Errorf("write %s header: %w", f.name, err))
		}
		if w.Flush(); w.Error() != nil {
			return fail(fmt.Errorf("write %s header: %w", f.name, w.Error()))
		}
	}
	samp := newSampler(opts.Seed, opts.SampleSize)
	pipe := newPopulationPipe(
		func(rows []model.Correlation) error { return writeCSVRows(rows, popCSV, excCSV) },
		func(rows []model.Correlation) error { return writeJSONRows(rows, popJSON, samp) },
	)
	var rows int64
	err = src.Correlations(ctx, q, func(c model.Correlation) error {
		rows++
		if IsException(c) {
			if t := TierOf(c); t != TierUnattributed && len(p.exceptions[t]) < opts.ExceptionsTableCap {
				p.exceptions[t] = append(p.exceptions[t], c)
			}
		}
		agg.addCorrelation(c)
		return pipe.add(c)
	})
	if werr := pipe.close(); werr != nil && (err == nil || errors.Is(err, errWriterFailed)) {
		err = werr
	}
	if err != nil {
		return fail(fmt.Errorf("stream correlations: %w", err))
	}
	for _, f := range open {
		mf, err := f.close()
		if err != nil {
			return fail(err)
		}
		*files = append(*files, mf)
	}
	return rows, samp, nil
}

// writeCSVRows appends rows to population.csv, and the exceptions among
// them to exceptions.csv.
func writeCSVRows(rows []model.Correlation, pop, exc *packFile) error {
	var line []byte
	for _, c := range rows {
		line = AppendCSVLine(line[:0], c)
		if _, err := pop.Write(line); err != nil {
			return fmt.Errorf("write %s: %w", pop.name, err)
		}
		if IsException(c) {
			if _, err := exc.Write(line); err != nil {
				return fmt.Errorf("write %s: %w", exc.name, err)
			}
		}
	}
	return nil
}

// writeJSONRows appends rows to population.jsonl and offers them to the sampler.
func writeJSONRows(rows []model.Correlation, f *packFile, samp *sampler) error {
	var line []byte
	for _, c := range rows {
		line = AppendJSONRow(line[:0], c)
		if _, err := f.Write(line); err != nil {
			return fmt.Errorf("write %s: %w", f.name, err)
		}
		samp.add(c)
	}
	return nil
}

// Population pipe sizes: rows per batch, and batches in flight (bounding
// the rows held while the writers catch up).
const (
	pipeBatchRows = 512
	pipeBatches   = 8
)

// popBatch is a run of consecutive population rows, shared read-only by
// the writers; the last writer done with it returns it to the free list.
type popBatch struct {
	rows    []model.Correlation
	pending atomic.Int32
}

// populationPipe hands batches of rows to one goroutine per writer, in
// order. A writer that fails stops writing and its error ends the stream.
type populationPipe struct {
	batch  *popBatch
	free   chan *popBatch
	queues []chan *popBatch
	errs   []error
	failed atomic.Bool
	wg     sync.WaitGroup
}

func newPopulationPipe(writers ...func([]model.Correlation) error) *populationPipe {
	pp := &populationPipe{free: make(chan *popBatch, pipeBatches), errs: make([]error, len(writers))}
	for range pipeBatches {
		pp.free <- &popBatch{rows: make([]model.Correlation, 0, pipeBatchRows)}
	}
	for i, write := range writers {
		queue := make(chan *popBatch, pipeBatches)
		pp.queues = append(pp.queues, queue)
		pp.wg.Add(1)
		go func() {
			defer pp.wg.Done()
			for b := range queue {
				if pp.errs[i] == nil {
					if pp.errs[i] = write(b.rows); pp.errs[i] != nil {
						pp.failed.Store(true)
					}
				}
				pp.done(b)
			}
		}()
	}
	return pp
}

// done releases a writer's hold on b.
func (pp *populationPipe) done(b *popBatch) {
	if b.pending.Add(-1) == 0 {
		clear(b.rows) // drop the strings before the batch waits for reuse
		b.rows = b.rows[:0]
		pp.free <- b
	}
}

// add appends c to the current batch, handing the batch on when it is full.
func (pp *populationPipe) add(c model.Correlation) error {
	if pp.batch == nil {
		pp.batch = <-pp.free
	}
	pp.batch.rows = append(pp.batch.rows, c)
	if len(pp.batch.rows) < pipeBatchRows {
		return nil
	}
	return pp.flush()
}

func (pp *populationPipe) flush() error {
	b := pp.batch
	pp.batch = nil
	if b == nil || len(b.rows) == 0 {
		if b != nil {
			pp.free <- b
		}
		return nil
	}
	if pp.failed.Load() {
		pp.free <- b
		return errWriterFailed
	}
	b.pending.Store(int32(len(pp.queues)))
	for _, q := range pp.queues {
		q <- b
	}
	return nil
}

// errWriterFailed stops the stream when a writer has failed; close returns
// the writer's own error.
var errWriterFailed = errors.New("a pack writer failed")

// close hands on the last batch, waits for the writers and returns the
// first writer's error.
func (pp *populationPipe) close() error {
	ferr := pp.flush()
	for _, q := range pp.queues {
		close(q)
	}
	pp.wg.Wait()
	if err := errors.Join(pp.errs...); err != nil {
		return err
	}
	return ferr
}

// writeAuthenticators streams the authenticator inventory into authenticators.csv.
func writeAuthenticators(ctx context.Context, src Source, q Query, opts Options, dir string, agg *aggregator, p *pack, files *[]model.ManifestFile) (int64, error) {
	f, err := createFile(dir, FileAuthenticators)
	if err != nil {
		return 0, err
	}
	w := csv.NewWriter(f)
	if err := w.Write(authenticatorHeader); err != nil {
		f.abort()
		return 0, fmt.Errorf("write %s header: %w", FileAuthenticators, err)
	}
	var rows int64
	err = src.Authenticators(ctx, q, func(a AuthenticatorRow) error {
		rows++
		if err := w.Write(authenticatorRecord(a, q.From, q.To)); err != nil {
			return fmt.Errorf("write %s: %w", FileAuthenticators, err)
		}
		agg.addAuthenticator(a)
		if len(p.auths) < opts.InventoryTableCap {
			p.auths = append(p.auths, a)
		} else {
			p.authTruncated = true
		}
		return nil
	})
	if err != nil {
		f.abort()
		return 0, fmt.Errorf("stream authenticators: %w", err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.abort()
		return 0, fmt.Errorf("flush %s: %w", FileAuthenticators, err)
	}
	mf, err := f.close()
	if err != nil {
		return 0, err
	}
	*files = append(*files, mf)
	return rows, nil
}

// sampleHeader is the field list of sample.csv.
var sampleHeader = append([]string{"sample_rank", "sample_key"}, PopulationHeader...)

func writeSample(dir, seed string, rows []sampled) (model.ManifestFile, error) {
	f, err := createFile(dir, FileSample)
	if err != nil {
		return model.ManifestFile{}, err
	}
	w := csv.NewWriter(f)
	werr := w.Write(sampleHeader)
	for i, r := range rows {
		if werr != nil {
			break
		}
		rec := AppendCSVRecord([]string{strconv.Itoa(i + 1), hex.EncodeToString(r.key[:])}, r.row)
		werr = w.Write(rec)
	}
	w.Flush()
	if err := errors.Join(werr, w.Error()); err != nil {
		f.abort()
		return model.ManifestFile{}, fmt.Errorf("write %s: %w", FileSample, err)
	}
	return f.close()
}
