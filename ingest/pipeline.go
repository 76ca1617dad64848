package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
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
	// normalizers ahead, and queues their results in input order;
	// everything that touches the store, the enricher and the counts stays
	// here, in order.
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
	// The digest of the record stored (or being stored) under each id this
	// input touched, and the conflicting versions already kept.
	settled := make(map[string]digest, len(pieces))
	conflicted := map[string]bool{}
	done := 0 // pieces handled
	for c := range queue {
		nb := <-c
		start, end := nb.start, nb.start+nb.n
		done = end
		fail := func(err error) (Result, error) {
			return res, fmt.Errorf("%w (storing records %d–%d of %d); the %d batches before them were stored whole (%d accepted, %d duplicates, %d conflicts, %d dead letters); re-running the input is safe: storage is idempotent",
				err, start+1, end, len(pieces), res.Batches, res.Accepted, res.Duplicates, res.Conflicts, res.DeadLetters)
		}
		b, outs := nb.b, nb.outs
		var origins []string // of b.Raw
		var ask []string
		asked := map[string]bool{}
		for _, p := range outs {
			if id := p.out.Raw.EventID; !asked[id] {
				if _, ok := settled[id]; !ok {
					ask = append(ask, id)
					asked[id] = true
				}
			}
		}
		if len(ask) > 0 {
			known, err := in.Sink.Known(ctx, src, in.Instance, ask)
			if err != nil {
				return fail(fmt.Errorf("%w: look up stored ids: %w", ErrStore, err))
			}
			for id, sum := range known {
				settled[id] = parseDigest(sum)
			}
		}
		b.grow(outs)
		var st Result
		for _, p := range outs {
			raw := p.out.Raw
			have, ok := settled[raw.EventID]
			switch sum := parseDigest(raw.SHA256); {
			case !ok:
				settled[raw.EventID] = sum
				b.add(p.out)
				origins = append(origins, p.origin)
				st.Accepted++
			case have == sum || conflicted[raw.EventID+"\x00"+raw.SHA256]:
				st.Duplicates++
			default:
				conflicted[raw.EventID+"\x00"+raw.SHA256] = true
				b.Conflicts = append(b.Conflicts, conflict(raw, p.origin, have))
				st.Conflicts++
			}
		}
		st.DeadLetters = len(b.DeadLetters)
		if in.Enricher != nil {
			if err := in.Enricher.Enrich(ctx, b); err != nil {
				return fail(fmt.Errorf("enrich: %w", err))
			}
		}
		if b.Len() > 0 {
			preempted, err := in.Sink.Write(ctx, b)
			if err != nil {
				return fail(fmt.Errorf("%w: %w", ErrStore, err))
			}
			// Another ingest stored some of these records first: they are
			// its, not ours, and ours are duplicates or conflicts of them.
			var late []model.Conflict
			for i, r := range b.Raw {
				sum, ok := preempted[r.EventID]
				if !ok {
					continue
				}
				st.Accepted--
				settled[r.EventID] = parseDigest(sum)
				if sum == r.SHA256 {
					st.Duplicates++
					continue
				}
				st.Conflicts++
				conflicted[r.EventID+"\x00"+r.SHA256] = true
				late = append(late, conflict(r, origins[i], parseDigest(sum)))
			}
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
			if err := in.Stored(ctx, b); err != nil {
				return res, err
			}
		}
	}
	if done < len(pieces) { // the normalizer stopped: ctx is done
		return res, fmt.Errorf("%w (before records %d–%d of %d); the %d batches before them were stored whole; re-running the input is safe: storage is idempotent",
			context.Cause(ctx), done+1, len(pieces), len(pieces), res.Batches)
	}
	return res, nil
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
		at := fmt.Sprintf("%s#byte=%d", origin, p.Offset)
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
