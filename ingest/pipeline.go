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

// RecordID names a stored raw record: the provider's event id within a
// source instance.
type RecordID struct {
	Source   model.Source
	Instance string
	EventID  string
}

// Sink stores what ingest produces.
//
// Write must be idempotent on the provider's keys (source, instance, event id):
// writing a batch twice stores it once, so a failed write is retried whole. It
// returns only when the batch is durable; callers advance cursors and offsets
// after it returns nil, never before. Of several copies of one raw record
// (concurrent writers), the store keeps the first one written. A batch may
// hold the records of several source instances.
type Sink interface {
	// Known returns, for each of ids that is already stored, the SHA-256
	// (hex) of the stored raw record. ids may name several source
	// instances.
	Known(ctx context.Context, ids []RecordID) (map[RecordID]string, error)
	// Write stores b. It returns the records of b.Raw whose kept copy is
	// another writer's, stored first after Known was asked (concurrent
	// ingests of the same records), each with the SHA-256 of that copy.
	Write(ctx context.Context, b *Batch) (preempted map[RecordID]string, err error)
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

// Add adds o's counts to r's (File stays r's).
func (r *Result) Add(o Result) {
	r.Records += o.Records
	r.Accepted += o.Accepted
	r.Duplicates += o.Duplicates
	r.Conflicts += o.Conflicts
	r.DeadLetters += o.DeadLetters
	r.Batches += o.Batches
}

// Ingester pushes inputs through normalize → enrich → store: the inputs of
// one source instance (Ingest), or of several at once (IngestGroups).
type Ingester struct {
	// Normalizer and Instance are the source instance Ingest reads.
	Normalizer Normalizer
	Instance   string
	Sink       Sink
	// Enricher is optional.
	Enricher Enricher
	// BatchSize is the number of records per store write of Ingest
	// (default 5000).
	BatchSize int
	// Now stamps received_at (default time.Now).
	Now func() time.Time
	// Stored, if set, is called with every batch after it was stored, in
	// order; streaming correlation hangs off it.
	Stored func(ctx context.Context, b *Batch) error
}

// Group is inputs of one source instance, for IngestGroups.
type Group struct {
	Normalizer Normalizer
	Instance   string
	// Inputs are split like files, in order.
	Inputs []Input
}

// Input is bytes holding records: a file, an API page, a pushed envelope, a
// single record.
type Input struct {
	// Origin names the input; a dead letter's or conflict's origin is it
	// with the byte offset of the record's part ("ORIGIN#byte=N").
	Origin string
	Data   []byte
	// ReceivedAt stamps every row of the input (zero: the Ingester's Now).
	ReceivedAt time.Time
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
	group  int
}

// group is one source instance of an ingest run.
type group struct {
	norm     Normalizer
	src      model.Source
	instance string
	// scope numbers the group's source and instance (the same for every
	// group of the run, or of a Session, with the same source and
	// instance): records are told apart by scope and id.
	scope int
}

// span is pieces of one input of a group, received at one time.
type span struct {
	group    int
	origin   string
	received time.Time // zero: when the batch is normalized
	pieces   []Piece
}

// run is what one ingest run reads: its groups and its batches of spans,
// each batch one store write.
type run struct {
	groups  []group
	scopes  map[RecordID]int // {source, instance} → scope
	batches [][]span
	total   int // pieces
}

// addGroup adds the group of n and instance and returns its index.
func (r *run) addGroup(n Normalizer, instance string) int {
	src := n.Source()
	k := RecordID{Source: src, Instance: instance}
	scope, ok := r.scopes[k]
	if !ok {
		scope = len(r.scopes)
		r.scopes[k] = scope
	}
	r.groups = append(r.groups, group{norm: n, src: src, instance: instance, scope: scope})
	return len(r.groups) - 1
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
	size := in.BatchSize
	if size <= 0 {
		size = 5000
	}
	r := &run{scopes: map[RecordID]int{}}
	g := r.addGroup(in.Normalizer, in.Instance)
	pieces := Split(data, in.Normalizer.Envelopes())
	r.total = len(pieces)
	for start := 0; start < len(pieces); start += size {
		r.batches = append(r.batches, []span{{group: g, origin: origin, pieces: pieces[start:min(start+size, len(pieces))]}})
	}
	res, err := in.ingest(ctx, r)
	res[0].File = origin
	return res[0], err
}

// IngestGroups ingests the inputs of several source instances as one batch,
// the way Ingest ingests one batch of one file: one look-up of the stored
// ids, one enrichment, one store write (one insert per table) for all of
// them. Each group is normalized with its own normalizer; its records keep
// their order. results[i] counts groups[i] (Batches is 1 for each group once
// the write succeeded). The Ingester's Normalizer, Instance and BatchSize
// are not used. An error means the store failed and nothing of the batch
// may be counted stored; storage is idempotent, so the caller retries the
// whole of groups.
func (in *Ingester) IngestGroups(ctx context.Context, groups []Group) ([]Result, error) {
	r := &run{scopes: map[RecordID]int{}}
	if batch := r.addGroups(groups); len(batch) > 0 {
		r.batches = [][]span{batch}
	}
	return in.ingest(ctx, r)
}

// countRecords adds the records of spans to their groups' counts.
func countRecords(res []Result, spans []span) {
	for _, s := range spans {
		res[s.group].Records += len(s.pieces)
	}
}

// clock is in.Now, or time.Now.
func (in *Ingester) clock() func() time.Time {
	if in.Now == nil {
		return time.Now
	}
	return in.Now
}

// addGroups adds groups to r and returns their inputs split, as one batch.
func (r *run) addGroups(groups []Group) []span {
	var batch []span
	for _, gr := range groups {
		g := r.addGroup(gr.Normalizer, gr.Instance)
		env := gr.Normalizer.Envelopes()
		for _, input := range gr.Inputs {
			pieces := Split(input.Data, env)
			r.total += len(pieces)
			batch = append(batch, span{group: g, origin: input.Origin, received: input.ReceivedAt, pieces: pieces})
		}
	}
	return batch
}

// ingest runs r's batches through normalize → check → enrich → store and
// counts each group's records.
func (in *Ingester) ingest(ctx context.Context, r *run) ([]Result, error) {
	res := make([]Result, len(r.groups))
	for _, b := range r.batches {
		countRecords(res, b)
	}
	now := in.clock()
	times := in.Sink.TimeRange()
	// Normalizing the next batches overlaps storing this one, on every
	// core: a goroutine starts one normalizer per batch, at most
	// normalizers ahead, and queues their results in input order. The
	// store, the enricher and the counts see batches in that order.
	ctx, cancel := context.WithCancel(ctx)
	normalizers := min(max(runtime.GOMAXPROCS(0), 1), 4)
	queue := make(chan chan normalizedBatch, normalizers)
	defer func() {
		// The normalizer and the clock are not used after ingest returns.
		cancel()
		for c := range queue {
			<-c
		}
	}()
	go func() {
		defer close(queue)
		start := 0
		for _, spans := range r.batches {
			c := make(chan normalizedBatch, 1)
			select {
			case queue <- c:
			case <-ctx.Done():
				return
			}
			received := model.Millis(now())
			go func(start int) {
				nb := in.normalize(r, spans, received, times)
				nb.start, nb.seq = start, start
				c <- nb
			}(start)
			for _, s := range spans {
				start += len(s.pieces)
			}
		}
	}()
	// Checking a batch against the store, classifying and enriching it
	// (here) overlaps writing the batch before it (a writer goroutine that
	// writes, counts and calls Stored in input order).
	ck := checker{settled: make(map[scopedID]settledID, r.total), conflicted: map[conflictKey]bool{}}
	toWrite := make(chan *checkedBatch)
	writerDone := make(chan struct{})
	var werr error // the writer's, read once writerDone is closed
	var writerFailed atomic.Bool
	go func() {
		defer close(writerDone)
		for cb := range toWrite {
			if werr == nil {
				if werr = in.store(ctx, r, cb, &ck, res); werr != nil {
					writerFailed.Store(true)
				}
			}
			cb.wrote()
		}
	}()
	// finish waits for the writer and returns the first error: the
	// writer's (an earlier batch), else fail's (nil: none), which sees
	// the writer's final counts.
	finish := func(fail func() error) ([]Result, error) {
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
		cb, err := in.check(ctx, r, nb, &ck, prev)
		if err != nil {
			return finish(func() error { return storeFailure(err, nb.start, nb.start+nb.n, r.total, sum(res)) })
		}
		done = nb.start + nb.n
		toWrite <- cb
		prev = cb
	}
	if res, err := finish(nil); err != nil {
		return res, err
	}
	if done < r.total { // the normalizer stopped: ctx is done
		return res, fmt.Errorf("%w (before records %d–%d of %d); the %d batches before them were stored whole; re-running the input is safe: storage is idempotent",
			context.Cause(ctx), done+1, r.total, r.total, sum(res).Batches)
	}
	return res, nil
}

// sum adds up the counts of res; Batches is the most of any group.
func sum(res []Result) Result {
	var t Result
	for _, r := range res {
		batches := max(t.Batches, r.Batches)
		t.Add(r)
		t.Batches = batches
	}
	return t
}

// storeFailure is err of the batch of records start+1…end of total, saying
// what the batches before it stored.
func storeFailure(err error, start, end, total int, res Result) error {
	return fmt.Errorf("%w (storing records %d–%d of %d); the %d batches before them were stored whole (%d accepted, %d duplicates, %d conflicts, %d dead letters); re-running the input is safe: storage is idempotent",
		err, start+1, end, total, res.Batches, res.Accepted, res.Duplicates, res.Conflicts, res.DeadLetters)
}

// scopedID is an event id within the scope (source instance) of a run.
type scopedID struct {
	scope int
	id    string
}

// conflictKey is a conflicting version of a record.
type conflictKey struct {
	scopedID
	sha string
}

// settledID is the digest of the record stored (or being stored) under an
// id, and the batch (its seq) that stores it (-1: found stored).
type settledID struct {
	sum   digest
	batch int
}

// checker is what one run knows of the ids it touched: settled for each id,
// and the conflicting versions already kept. The writer changes it when
// another ingest stored a record first, hence mu.
type checker struct {
	mu         sync.Mutex
	settled    map[scopedID]settledID
	conflicted map[conflictKey]bool
}

// checkedBatch is a batch classified and enriched, ready to be written.
type checkedBatch struct {
	start, end int // its pieces
	seq        int // tells the batch apart within its run or Session
	b          *Batch
	origins    []string // of b.Raw
	groups     []int    // of b.Raw
	st         []Result // its counts per group, before the write
	// written is closed when the writer is done with the batch (its first
	// attempt, in a Session); wrote closes it.
	written chan struct{}
	once    sync.Once
}

// wrote closes written, once.
func (cb *checkedBatch) wrote() { cb.once.Do(func() { close(cb.written) }) }

// check asks the store which ids of nb are stored, classifies its records
// (new, duplicate, conflict) and enriches the new ones. prev is the batch
// before, which may still be being written: a record whose id prev stores
// waits for that write, which may find another ingest's copy first.
func (in *Ingester) check(ctx context.Context, r *run, nb normalizedBatch, ck *checker, prev *checkedBatch) (*checkedBatch, error) {
	b, outs := nb.b, nb.outs
	cb := &checkedBatch{start: nb.start, end: nb.start + nb.n, seq: nb.seq, b: b, st: make([]Result, len(r.groups)), written: make(chan struct{})}
	var ask []RecordID
	asked := map[scopedID]bool{}
	waitPrev := false
	ck.mu.Lock()
	for _, p := range outs {
		g := &r.groups[p.group]
		k := scopedID{g.scope, p.out.Raw.EventID}
		if s, ok := ck.settled[k]; ok {
			waitPrev = waitPrev || prev != nil && s.batch == prev.seq
			continue
		}
		if !asked[k] {
			ask = append(ask, RecordID{Source: g.src, Instance: g.instance, EventID: k.id})
			asked[k] = true
		}
	}
	ck.mu.Unlock()
	if len(ask) > 0 {
		known, err := in.Sink.Known(ctx, ask)
		if err != nil {
			return nil, fmt.Errorf("%w: look up stored ids: %w", ErrStore, err)
		}
		ck.mu.Lock()
		for id, sum := range known {
			if scope, ok := r.scopes[RecordID{Source: id.Source, Instance: id.Instance}]; ok {
				ck.settled[scopedID{scope, id.EventID}] = settledID{parseDigest(sum), -1}
			}
		}
		ck.mu.Unlock()
	}
	if waitPrev {
		select {
		case <-prev.written:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	b.grow(outs)
	ck.mu.Lock()
	for _, p := range outs {
		raw := p.out.Raw
		k := scopedID{r.groups[p.group].scope, raw.EventID}
		st := &cb.st[p.group]
		have, ok := ck.settled[k]
		switch sum := parseDigest(raw.SHA256); {
		case !ok:
			ck.settled[k] = settledID{sum, cb.seq}
			b.add(p.out)
			cb.origins = append(cb.origins, p.origin)
			cb.groups = append(cb.groups, p.group)
			st.Accepted++
		case have.sum == sum || ck.conflicted[conflictKey{k, raw.SHA256}]:
			st.Duplicates++
		default:
			ck.conflicted[conflictKey{k, raw.SHA256}] = true
			b.Conflicts = append(b.Conflicts, conflict(raw, p.origin, have.sum))
			st.Conflicts++
		}
	}
	ck.mu.Unlock()
	for _, g := range nb.deadGroups {
		cb.st[g].DeadLetters++
	}
	if in.Enricher != nil {
		if err := in.Enricher.Enrich(ctx, b); err != nil {
			return nil, fmt.Errorf("enrich: %w", err)
		}
	}
	return cb, nil
}

// store writes cb, settles the records another ingest stored first, adds
// its counts to res and calls Stored.
func (in *Ingester) store(ctx context.Context, r *run, cb *checkedBatch, ck *checker, res []Result) error {
	// The counts change on a copy, kept once the write succeeded: a
	// Session stores a batch again after a failed attempt.
	b, st := cb.b, slices.Clone(cb.st)
	fail := func(err error) error { return storeFailure(err, cb.start, cb.end, r.total, sum(res)) }
	if b.Len() > 0 {
		preempted, err := in.Sink.Write(ctx, b)
		if err != nil {
			return fail(fmt.Errorf("%w: %w", ErrStore, err))
		}
		// Another ingest stored some of these records first: they are
		// its, not ours, and ours are duplicates or conflicts of them.
		var late []model.Conflict
		ck.mu.Lock()
		for i, raw := range b.Raw {
			if len(preempted) == 0 {
				break
			}
			sum, ok := preempted[RecordID{Source: raw.Source, Instance: raw.Instance, EventID: raw.EventID}]
			if !ok {
				continue
			}
			g := cb.groups[i]
			k := scopedID{r.groups[g].scope, raw.EventID}
			st[g].Accepted--
			ck.settled[k] = settledID{parseDigest(sum), -1}
			if sum == raw.SHA256 {
				st[g].Duplicates++
				continue
			}
			st[g].Conflicts++
			ck.conflicted[conflictKey{k, raw.SHA256}] = true
			late = append(late, conflict(raw, cb.origins[i], parseDigest(sum)))
		}
		ck.mu.Unlock()
		if len(late) > 0 {
			if _, err := in.Sink.Write(ctx, &Batch{Conflicts: late}); err != nil {
				return fail(fmt.Errorf("%w: store conflicts found after the write: %w", ErrStore, err))
			}
		}
	}
	cb.st = st
	in.count(cb, res)
	if in.Stored != nil {
		return in.Stored(ctx, b)
	}
	return nil
}

// count adds the counts of the stored batch cb to res: each group with
// records in cb counts one more batch.
func (in *Ingester) count(cb *checkedBatch, res []Result) {
	for g, st := range cb.st {
		if st.Accepted+st.Duplicates+st.Conflicts+st.DeadLetters == 0 {
			continue // no records of the group in cb
		}
		res[g].Batches++
		res[g].Accepted += st.Accepted
		res[g].Duplicates += st.Duplicates
		res[g].Conflicts += st.Conflicts
		res[g].DeadLetters += st.DeadLetters
	}
}

// normalizedBatch is one batch's records normalized, before the store is
// asked about them: the dead letters are in b, the rest in outs.
type normalizedBatch struct {
	start, n   int // the batch's first piece and its number of pieces
	seq        int // tells the batch apart (checkedBatch.seq)
	b          *Batch
	outs       []pending
	deadGroups []int // the group of each of b.DeadLetters
}

// normalize normalizes the pieces of spans, those without a received time
// received at received; records that fail (unparseable, missing fields, a
// time the store cannot hold) become dead letters.
func (in *Ingester) normalize(r *run, spans []span, received time.Time, times TimeRange) normalizedBatch {
	n := 0
	for _, s := range spans {
		n += len(s.pieces)
	}
	nb := normalizedBatch{n: n, b: &Batch{}, outs: make([]pending, 0, n)}
	for _, s := range spans {
		g := &r.groups[s.group]
		at := received
		if !s.received.IsZero() {
			at = model.Millis(s.received)
		}
		for _, p := range s.pieces {
			origin := s.origin + "#byte=" + strconv.FormatInt(p.Offset, 10)
			reject := func(err error) {
				nb.b.DeadLetters = append(nb.b.DeadLetters, model.DeadLetter{Source: g.src, Instance: g.instance,
					Origin: origin, ReceivedAt: at, Error: err.Error(), Raw: p.Raw, SHA256: model.SHA256Hex(p.Raw)})
				nb.deadGroups = append(nb.deadGroups, s.group)
			}
			if p.Err != nil {
				reject(p.Err)
				continue
			}
			o, err := g.norm.Normalize(p.Raw, g.instance)
			if err != nil {
				reject(err)
				continue
			}
			stamp(&o, at)
			if err := checkTimes(&o, times); err != nil {
				reject(err)
				continue
			}
			nb.outs = append(nb.outs, pending{o, origin, s.group})
		}
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
