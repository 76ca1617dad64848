package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Batch is what one write to the store carries. Rows of every kind that came
// from the same input are written together.
type Batch struct {
	Raw            []model.RawRecord
	Auth           []model.AuthEvent
	Authenticators []model.Authenticator
	Airflow        []model.AirflowEvent
	Runs           []model.DagRun
	DeadLetters    []model.DeadLetter
	Conflicts      []model.Conflict
}

// Len is the number of rows in the batch.
func (b *Batch) Len() int {
	return len(b.Raw) + len(b.Auth) + len(b.Authenticators) + len(b.Airflow) + len(b.Runs) + len(b.DeadLetters) + len(b.Conflicts)
}

func (b *Batch) add(o Output) {
	b.Raw = append(b.Raw, o.Raw)
	b.Auth = append(b.Auth, o.Auth...)
	b.Authenticators = append(b.Authenticators, o.Authenticators...)
	b.Airflow = append(b.Airflow, o.Airflow...)
	b.Runs = append(b.Runs, o.Runs...)
}

// grow makes room in b for the rows of every record of outs, so that adding
// them does not copy the batch over and over as it grows.
func (b *Batch) grow(outs []pending) {
	var auth, authn, af, runs int
	for i := range outs {
		o := &outs[i].out
		auth += len(o.Auth)
		authn += len(o.Authenticators)
		af += len(o.Airflow)
		runs += len(o.Runs)
	}
	b.Raw = slices.Grow(b.Raw, len(outs))
	b.Auth = slices.Grow(b.Auth, auth)
	b.Authenticators = slices.Grow(b.Authenticators, authn)
	b.Airflow = slices.Grow(b.Airflow, af)
	b.Runs = slices.Grow(b.Runs, runs)
}

// TimeRange is the span of times a sink stores faithfully, both ends
// included.
type TimeRange struct {
	First, Last time.Time
	// Why names what bounds the range, e.g. "DateTime64(3, 'UTC')".
	Why string
}

// Sink stores what ingest produces.
//
// Write must be idempotent on the provider's keys (source, instance, event id):
// writing a batch twice stores it once, so a failed write is retried whole. It
// returns only when the batch is durable; callers advance cursors and offsets
// after it returns nil, never before. Of several copies of one raw record
// (concurrent writers), the store keeps the first one written.
type Sink interface {
	// Known returns, for each of ids already stored for source and
	// instance, the SHA-256 (hex) of the stored raw record.
	Known(ctx context.Context, source model.Source, instance string, ids []string) (map[string]string, error)
	// Write stores b. It returns the event ids of b.Raw whose kept copy is
	// another writer's, stored first after Known was asked (concurrent
	// ingests of the same records), each with the SHA-256 of that copy.
	Write(ctx context.Context, b *Batch) (preempted map[string]string, err error)
	// TimeRange is the span of times the sink stores faithfully. Ingest
	// dead-letters records with a time outside it instead of writing them.
	TimeRange() TimeRange
}

// Enricher completes normalized output before it is stored: it resolves
// people and decides hardware for sign-ins from their credential's AAGUID.
// It sees batches in input order and may keep state across them.
type Enricher interface {
	Enrich(ctx context.Context, b *Batch) error
}

// Result counts what happened to one input. Records = Accepted + Duplicates +
// Conflicts + DeadLetters once the input is ingested whole.
type Result struct {
	File    string `json:"file"`
	Records int    `json:"records"`
	// Accepted records were new: this run stored them first.
	Accepted int `json:"accepted"`
	// Duplicates were already stored byte for byte (or repeated in the
	// input, or stored by a concurrent ingest first).
	Duplicates int `json:"duplicates"`
	// Conflicts have the id of a stored record but other bytes; they are
	// kept in the conflicts table, and the stored record stays.
	Conflicts   int `json:"conflicts"`
	DeadLetters int `json:"dead_letters"`
	// Batches is the number of store writes completed. When Ingest fails,
	// the counts above are what those batches stored.
	Batches int `json:"batches"`
}

// Ingester pushes inputs of one source through normalize → enrich → store.
type Ingester struct {
	Normalizer Normalizer
	Instance   string
	Sink       Sink
	// Enricher is optional.
	Enricher Enricher
	// BatchSize is the number of records per store write (default 5000).
	BatchSize int
	// Now stamps received_at (default time.Now).
	Now func() time.Time
	// Stored, if set, is called with every batch after it was stored, in
	// order; streaming correlation hangs off it.
	Stored func(ctx context.Context, b *Batch) error
}

// ErrStore marks failures of the store (as opposed to bad input, which is
// dead-lettered and never an error).
var ErrStore = errors.New("store write failed")

// ErrTimeRange marks a record with a time the store cannot hold.
var ErrTimeRange = errors.New("time outside the range the store holds")

// digest is a raw SHA-256.
type digest [32]byte

func parseDigest(s string) digest {
	var d digest
	hex.Decode(d[:], []byte(s)) //nolint:errcheck // a malformed digest matches nothing
	return d
}

// pending is a normalized record waiting for its store check.
type pending struct {
	out    Output
	origin string
}

// Ingest splits data into records, normalizes each, and stores the new ones.
// Bad records (unparseable, missing fields, a time the store cannot hold) go
// to the dead-letter table with their raw bytes and the error; they never
// abort the run. A record whose id is already stored (or seen earlier in
// data) is a duplicate when its bytes are the same and a conflict when they
// differ: conflicts are stored in the conflicts table, the first record
// stays. The returned error is non-nil only when the store fails; it then
// says how much was stored before (re-running the input is safe: storage is
// idempotent).
func (in *Ingester) Ingest(ctx context.Context, origin string, data []byte) (Result, error) {
	res := Result{File: origin}
	size := in.BatchSize
	if size <= 0 {
		size = 5000
	}
	now := in.Now
	if now == nil {
		now = time.Now
	}
	src := in.Normalizer.Source()
	times := in.Sink.TimeRange()
	pieces := Split(data, in.Normalizer.Envelopes())
	res.Records = len(pieces)
	// Normalizing the next batches overlaps storing this one, on every
	// core: a goroutine starts one normalizer per batch, at most
	// normalizers ahead, and queues their results in input order. The
	// store, the enricher and the counts see batches in that order.
	ctx, cancel := context.WithCancel(ctx)
	normalizers := min(max(runtime.GOMAXPROCS(0), 1), 4)
	queue := make(chan chan normalizedBatch, normalizers)
	defer func() {
		// The normalizer and the clock are not used after Ingest returns.
		cancel()
		for c := range queue {
			<-c
		}
	}()
	go func() {
		defer close(queue)
		for start := 0; start < len(pieces); start += size {
			c := make(chan normalizedBatch, 1)
			select {
			case queue <- c:
			case <-ctx.Done():
				return
			}
			received := model.Millis(now())
			go func() {
				nb := in.normalize(pieces[start:min(start+size, len(pieces))], origin, src, received, times)
				nb.start = start
				c <- nb
			}()
		}
	}()
	// Checking a batch against the store, classifying and enriching it
	// (here) overlaps writing the batch before it (a writer goroutine that
	// writes, counts and calls Stored in input order).
	ck := checker{settled: make(map[string]settledID, len(pieces)), conflicted: map[string]bool{}}
	toWrite := make(chan *checkedBatch)
	writerDone := make(chan struct{})
	var werr error // the writer's, read once writerDone is closed
	var writerFailed atomic.Bool
	go func() {
		defer close(writerDone)
		for cb := range toWrite {
			if werr == nil {
				if werr = in.store(ctx, cb, &ck, &res, len(pieces)); werr != nil {
					writerFailed.Store(true)
				}
			}
			close(cb.written)
		}
	}()
	// finish waits for the writer and returns the first error: the
	// writer's (an earlier batch), else fail's (nil: none), which sees
	// the writer's final counts.
	finish := func(fail func() error) (Result, error) {
		close(toWrite)
		<-writerDone
		if werr != nil {
			return res, werr
		}
		if fail != nil {
			return res, fail()
		}
		return res, nil
	}
	done := 0 // pieces handled
	var prev *checkedBatch
	for c := range queue {
		if writerFailed.Load() {
			break
		}
		nb := <-c
		cb, err := in.check(ctx, nb, &ck, src, prev)
		if err != nil {
			return finish(func() error { return storeFailure(err, nb.start, nb.start+nb.n, len(pieces), res) })
		}
		done = nb.start + nb.n
		toWrite <- cb
		prev = cb
	}
	if res, err := finish(nil); err != nil {
		return res, err
	}
	if done < len(pieces) { // the normalizer stopped: ctx is done
		return res, fmt.Errorf("%w (before records %d–%d of %d); the %d batches before them were stored whole; re-running the input is safe: storage is idempotent",
			context.Cause(ctx), done+1, len(pieces), len(pieces), res.Batches)
	}
	return res, nil
}

// storeFailure is err of the batch of records start+1…end of total, saying
// what the batches before it stored.
func storeFailure(err error, start, end, total int, res Result) error {
	return fmt.Errorf("%w (storing records %d–%d of %d); the %d batches before them were stored whole (%d accepted, %d duplicates, %d conflicts, %d dead letters); re-running the input is safe: storage is idempotent",
		err, start+1, end, total, res.Batches, res.Accepted, res.Duplicates, res.Conflicts, res.DeadLetters)
}

// settledID is the digest of the record stored (or being stored) under an
// id, and the batch that stores it (-1: found stored).
type settledID struct {
	sum   digest
	batch int
}

// checker is what one input's ingest knows of the ids it touched: settled
// for each id, and the conflicting versions already kept. The writer
// changes it when another ingest stored a record first, hence mu.
type checker struct {
	mu         sync.Mutex
	settled    map[string]settledID
	conflicted map[string]bool
}

// checkedBatch is a batch classified and enriched, ready to be written.
type checkedBatch struct {
	start, end int // its pieces
	b          *Batch
	origins    []string // of b.Raw
	st         Result   // its counts, before the write
	// written is closed when the writer is done with the batch.
	written chan struct{}
}

// check asks the store which ids of nb are stored, classifies its records
// (new, duplicate, conflict) and enriches the new ones. prev is the batch
// before, which may still be being written: a record whose id prev stores
// waits for that write, which may find another ingest's copy first.
func (in *Ingester) check(ctx context.Context, nb normalizedBatch, ck *checker, src model.Source, prev *checkedBatch) (*checkedBatch, error) {
	b, outs := nb.b, nb.outs
	cb := &checkedBatch{start: nb.start, end: nb.start + nb.n, b: b, written: make(chan struct{})}
	var ask []string
	asked := map[string]bool{}
	waitPrev := false
	ck.mu.Lock()
	for _, p := range outs {
		id := p.out.Raw.EventID
		if s, ok := ck.settled[id]; ok {
			waitPrev = waitPrev || prev != nil && s.batch == prev.start
			continue
		}
		if !asked[id] {
			ask = append(ask, id)
			asked[id] = true
		}
	}
	ck.mu.Unlock()
	if len(ask) > 0 {
		known, err := in.Sink.Known(ctx, src, in.Instance, ask)
		if err != nil {
			return nil, fmt.Errorf("%w: look up stored ids: %w", ErrStore, err)
		}
		ck.mu.Lock()
		for id, sum := range known {
			ck.settled[id] = settledID{parseDigest(sum), -1}
		}
		ck.mu.Unlock()
	}
	if waitPrev {
		<-prev.written
	}
	b.grow(outs)
	st := &cb.st
	ck.mu.Lock()
	for _, p := range outs {
		raw := p.out.Raw
		have, ok := ck.settled[raw.EventID]
		switch sum := parseDigest(raw.SHA256); {
		case !ok:
			ck.settled[raw.EventID] = settledID{sum, cb.start}
			b.add(p.out)
			cb.origins = append(cb.origins, p.origin)
			st.Accepted++
		case have.sum == sum || ck.conflicted[raw.EventID+"\x00"+raw.SHA256]:
			st.Duplicates++
		default:
			ck.conflicted[raw.EventID+"\x00"+raw.SHA256] = true
			b.Conflicts = append(b.Conflicts, conflict(raw, p.origin, have.sum))
			st.Conflicts++
		}
	}
	ck.mu.Unlock()
	st.DeadLetters = len(b.DeadLetters)
	if in.Enricher != nil {
		if err := in.Enricher.Enrich(ctx, b); err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
	}
	return cb, nil
}

// store writes cb, settles the records another ingest stored first, adds
// its counts to res and calls Stored.
func (in *Ingester) store(ctx context.Context, cb *checkedBatch, ck *checker, res *Result, total int) error {
	b, st := cb.b, cb.st
	fail := func(err error) error { return storeFailure(err, cb.start, cb.end, total, *res) }
	if b.Len() > 0 {
		preempted, err := in.Sink.Write(ctx, b)
		if err != nil {
			return fail(fmt.Errorf("%w: %w", ErrStore, err))
		}
		// Another ingest stored some of these records first: they are
		// its, not ours, and ours are duplicates or conflicts of them.
		var late []model.Conflict
		ck.mu.Lock()
		for i, r := range b.Raw {
			sum, ok := preempted[r.EventID]
			if !ok {
				continue
			}
			st.Accepted--
			ck.settled[r.EventID] = settledID{parseDigest(sum), -1}
			if sum == r.SHA256 {
				st.Duplicates++
				continue
			}
			st.Conflicts++
			ck.conflicted[r.EventID+"\x00"+r.SHA256] = true
			late = append(late, conflict(r, cb.origins[i], parseDigest(sum)))
		}
		ck.mu.Unlock()
		if len(late) > 0 {
			if _, err := in.Sink.Write(ctx, &Batch{Conflicts: late}); err != nil {
				return fail(fmt.Errorf("%w: store conflicts found after the write: %w", ErrStore, err))
			}
		}
	}
	res.Batches++
	res.Accepted += st.Accepted
	res.Duplicates += st.Duplicates
	res.Conflicts += st.Conflicts
	res.DeadLetters += st.DeadLetters
	if in.Stored != nil {
		return in.Stored(ctx, b)
	}
	return nil
}

// normalizedBatch is one batch's records normalized, before the store is
// asked about them: the dead letters are in b, the rest in outs.
type normalizedBatch struct {
	start, n int // the batch's first piece and its number of pieces
	b        *Batch
	outs     []pending
}

// normalize normalizes pieces received at received; records that fail
// (unparseable, missing fields, a time the store cannot hold) become dead
// letters.
func (in *Ingester) normalize(pieces []Piece, origin string, src model.Source, received time.Time, times TimeRange) normalizedBatch {
	nb := normalizedBatch{n: len(pieces), b: &Batch{}, outs: make([]pending, 0, len(pieces))}
	for _, p := range pieces {
		at := origin + "#byte=" + strconv.FormatInt(p.Offset, 10)
		reject := func(err error) {
			nb.b.DeadLetters = append(nb.b.DeadLetters, model.DeadLetter{Source: src, Instance: in.Instance,
				Origin: at, ReceivedAt: received, Error: err.Error(), Raw: p.Raw, SHA256: model.SHA256Hex(p.Raw)})
		}
		if p.Err != nil {
			reject(p.Err)
			continue
		}
		o, err := in.Normalizer.Normalize(p.Raw, in.Instance)
		if err != nil {
			reject(err)
			continue
		}
		stamp(&o, received)
		if err := checkTimes(&o, times); err != nil {
			reject(err)
			continue
		}
		nb.outs = append(nb.outs, pending{o, at})
	}
	return nb
}

// conflict is r kept as a conflict with the stored record whose digest is stored.
func conflict(r model.RawRecord, origin string, stored digest) model.Conflict {
	return model.Conflict{Source: r.Source, Instance: r.Instance, EventID: r.EventID, TS: r.TS, Origin: origin,
		ReceivedAt: r.ReceivedAt, Raw: r.Raw, SHA256: r.SHA256, StoredSHA256: hex.EncodeToString(stored[:])}
}

// stamp sets received_at on every row of o.
func stamp(o *Output, t time.Time) {
	o.Raw.ReceivedAt = t
	for i := range o.Auth {
		o.Auth[i].ReceivedAt = t
	}
	for i := range o.Authenticators {
		o.Authenticators[i].ReceivedAt = t
	}
	for i := range o.Airflow {
		o.Airflow[i].ReceivedAt = t
	}
	for i := range o.Runs {
		o.Runs[i].ReceivedAt = t
	}
}

// checkTimes rejects o when any time of any of its rows is outside r. Zero
// times are absent values (NULL), not times.
func checkTimes(o *Output, r TimeRange) error {
	for field, t := range o.times {
		if t.IsZero() || !t.Before(r.First) && !t.After(r.Last) {
			continue
		}
		return fmt.Errorf("%w: %s is %s, outside %s … %s (%s)", ErrTimeRange, field,
			t.UTC().Format(time.RFC3339Nano), r.First.UTC().Format(time.RFC3339Nano), r.Last.UTC().Format(time.RFC3339Nano), r.Why)
	}
	return nil
}

// times yields every time field of every row of o, named table.column.
func (o *Output) times(yield func(string, time.Time) bool) {
	if !yield("raw_records.ts", o.Raw.TS) || !yield("raw_records.received_at", o.Raw.ReceivedAt) {
		return
	}
	for _, e := range o.Auth {
		if !yield("auth_events.ts", e.TS) || !yield("auth_events.received_at", e.ReceivedAt) {
			return
		}
	}
	for _, a := range o.Authenticators {
		if !yield("authenticators.ts", a.TS) || !yield("authenticators.received_at", a.ReceivedAt) {
			return
		}
	}
	for _, e := range o.Airflow {
		if !yield("airflow_events.ts", e.TS) || !yield("airflow_events.logical_date", e.LogicalDate) || !yield("airflow_events.received_at", e.ReceivedAt) {
			return
		}
	}
	for _, r := range o.Runs {
		if !yield("dag_runs.ts", r.TS) || !yield("dag_runs.logical_date", r.LogicalDate) || !yield("dag_runs.start_date", r.StartDate) ||
			!yield("dag_runs.end_date", r.EndDate) || !yield("dag_runs.received_at", r.ReceivedAt) {
			return
		}
	}
}
