package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// NormalizerFunc returns the normalizer of a source's records.
type NormalizerFunc func(model.Source) (ingest.Normalizer, error)

// Writer is the sink's store stage: it splits each record's bytes the way
// `keytrail ingest` splits a file (ingest.Split with the source's
// normalizer), and pushes them through the same ingest.Ingester —
// normalize, drop duplicates, enrich, store. A Writer is safe for
// concurrent use; writes are serialised (the Enricher's state is one
// process's).
type Writer struct {
	store      ingest.Sink
	enricher   ingest.Enricher
	normalizer NormalizerFunc
	now        func() time.Time

	mu    sync.Mutex
	norms map[model.Source]ingest.Normalizer
}

// NewWriter returns a Writer storing into store (required), completing
// batches with enricher (optional) and normalizing each source's records
// with normalizer (required). now stamps records without a received time
// (default time.Now).
func NewWriter(store ingest.Sink, enricher ingest.Enricher, normalizer NormalizerFunc, now func() time.Time) *Writer {
	if now == nil {
		now = time.Now
	}
	return &Writer{store: store, enricher: enricher, normalizer: normalizer, now: now, norms: map[model.Source]ingest.Normalizer{}}
}

// Key names the source instance records belong to.
type Key struct {
	Source   model.Source
	Instance string
}

// Results are what a write did, per source instance.
type Results map[Key]ingest.Result

func (r Results) add(k Key, res ingest.Result) {
	t := r[k]
	t.Records += res.Records
	t.Accepted += res.Accepted
	t.Duplicates += res.Duplicates
	t.Conflicts += res.Conflicts
	t.DeadLetters += res.DeadLetters
	t.Batches += res.Batches
	r[k] = t
}

// Total sums r.
func (r Results) Total() ingest.Result {
	var t ingest.Result
	for _, v := range r {
		t.Records += v.Records
		t.Accepted += v.Accepted
		t.Duplicates += v.Duplicates
		t.Conflicts += v.Conflicts
		t.DeadLetters += v.DeadLetters
		t.Batches += v.Batches
	}
	return t
}

// ErrNoSource marks a record whose source no normalizer reads; it is
// dead-lettered.
var ErrNoSource = errors.New("no normalizer for the record's source")

// Write stores recs and returns only when all of them are stored (or
// dead-lettered); an error means the store failed and the whole of recs
// must be written again (storage is idempotent: what was stored before the
// failure counts as duplicates then). Records of one source instance keep
// their order. Every stored row carries its record's received time, and a
// dead letter or conflict its record's origin and the byte offset of the
// record's part.
func (w *Writer) Write(ctx context.Context, recs []bus.Record) (Results, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res := Results{}
	var order []Key
	groups := map[Key][]bus.Record{}
	var lost []model.DeadLetter
	for _, r := range recs {
		k := Key{r.Source, r.Instance}
		if _, err := w.normalizerLocked(r.Source); err != nil {
			lost = append(lost, model.DeadLetter{Source: r.Source, Instance: r.Instance, Origin: r.Origin,
				ReceivedAt: w.received(r), Error: err.Error(), Raw: r.Raw, SHA256: model.SHA256Hex(r.Raw)})
			res.add(k, ingest.Result{Records: 1, DeadLetters: 1})
			continue
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	if len(lost) > 0 {
		if _, err := w.store.Write(ctx, &ingest.Batch{DeadLetters: lost}); err != nil {
			return nil, fmt.Errorf("%w: dead letters: %w", ingest.ErrStore, err)
		}
	}
	for _, k := range order {
		if err := w.writeGroup(ctx, k, groups[k], res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (w *Writer) normalizerLocked(src model.Source) (ingest.Normalizer, error) {
	if n, ok := w.norms[src]; ok {
		return n, nil
	}
	n, err := w.normalizer(src)
	if err != nil || n == nil {
		return nil, fmt.Errorf("%w %q: %v", ErrNoSource, src, err)
	}
	w.norms[src] = n
	return n, nil
}

func (w *Writer) received(r bus.Record) time.Time {
	if r.ReceivedAt.IsZero() {
		return model.Millis(w.now())
	}
	return model.Millis(r.ReceivedAt)
}

// writeGroup stores the records of one source instance. Records that split
// cleanly into JSON objects are stored together, as one JSON array of
// their pieces (one store write); a record with a damaged part is ingested
// on its own, so its dead letters name its origin.
func (w *Writer) writeGroup(ctx context.Context, k Key, recs []bus.Record, res Results) error {
	n, _ := w.normalizerLocked(k.Source)
	run := newRun(w.store)
	flush := func() error {
		if run.n == 0 {
			return nil
		}
		r, err := w.ingest(ctx, n, k.Instance, run, run.n, "bus", run.array())
		if err != nil {
			return err
		}
		res.add(k, r)
		run = newRun(w.store)
		return nil
	}
	for _, r := range recs {
		pieces := ingest.Split(r.Raw, n.Envelopes())
		clean := true
		for _, p := range pieces {
			if p.Err != nil {
				clean = false
				break
			}
		}
		if clean {
			run.add(r, pieces, w.received(r))
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		alone := newRun(w.store)
		alone.received[""] = stamp{received: w.received(r)}
		got, err := w.ingest(ctx, n, k.Instance, alone, len(pieces), r.Origin, r.Raw)
		if err != nil {
			return err
		}
		res.add(k, got)
	}
	return flush()
}

// ingest runs data, holding pieces records, through one ingest.Ingester
// and one store write.
func (w *Writer) ingest(ctx context.Context, n ingest.Normalizer, instance string, sink *run, pieces int, origin string, data []byte) (ingest.Result, error) {
	in := &ingest.Ingester{Normalizer: n, Instance: instance, Sink: sink, Enricher: w.enricher, BatchSize: pieces + 1, Now: w.now}
	r, err := in.Ingest(ctx, origin, data)
	if err != nil {
		return r, fmt.Errorf("%s/%s: %w", n.Source(), instance, err)
	}
	return r, nil
}

// stamp is what a record tells about the rows it yields.
type stamp struct {
	received time.Time
	origin   string // with the piece's byte offset
}

// run is records of one source instance written in one Ingest, and the
// ingest.Sink that Ingest writes through: it stamps every row with the
// received time of the record it came from, and every dead letter and
// conflict with that record's origin, found by the SHA-256 of the piece.
type run struct {
	ingest.Sink
	buf      bytes.Buffer
	n        int
	received map[string]stamp // piece SHA-256 → its record; "" is the default
}

func newRun(s ingest.Sink) *run {
	r := &run{Sink: s, received: map[string]stamp{}}
	r.buf.WriteByte('[')
	return r
}

func (r *run) add(rec bus.Record, pieces []ingest.Piece, at time.Time) {
	for _, p := range pieces {
		if r.n > 0 {
			r.buf.WriteByte(',')
		}
		r.buf.Write(p.Raw)
		r.n++
		sum := model.SHA256Hex(p.Raw)
		if _, ok := r.received[sum]; !ok {
			r.received[sum] = stamp{received: at, origin: fmt.Sprintf("%s#byte=%d", rec.Origin, p.Offset)}
		}
	}
}

// array is the run's pieces as one JSON array.
func (r *run) array() []byte {
	r.buf.WriteByte(']')
	return r.buf.Bytes()
}

func (r *run) stampOf(sum string) (stamp, bool) {
	if s, ok := r.received[sum]; ok {
		return s, true
	}
	s, ok := r.received[""]
	return s, ok
}

// Write implements ingest.Sink: it stamps b's rows, then stores them.
func (r *run) Write(ctx context.Context, b *ingest.Batch) (map[string]string, error) {
	at := func(sum string, t *time.Time) {
		if s, ok := r.stampOf(sum); ok {
			*t = s.received
		}
	}
	for i := range b.Raw {
		at(b.Raw[i].SHA256, &b.Raw[i].ReceivedAt)
	}
	for i := range b.Auth {
		at(b.Auth[i].RawSHA256, &b.Auth[i].ReceivedAt)
	}
	for i := range b.Authenticators {
		at(b.Authenticators[i].RawSHA256, &b.Authenticators[i].ReceivedAt)
	}
	for i := range b.Airflow {
		at(b.Airflow[i].RawSHA256, &b.Airflow[i].ReceivedAt)
	}
	for i := range b.Runs {
		at(b.Runs[i].RawSHA256, &b.Runs[i].ReceivedAt)
	}
	origin := func(sum string, t *time.Time, o *string) {
		if s, ok := r.received[sum]; ok {
			*t, *o = s.received, s.origin
		} else if s, ok := r.received[""]; ok {
			*t = s.received
		}
	}
	for i := range b.DeadLetters {
		origin(b.DeadLetters[i].SHA256, &b.DeadLetters[i].ReceivedAt, &b.DeadLetters[i].Origin)
	}
	for i := range b.Conflicts {
		origin(b.Conflicts[i].SHA256, &b.Conflicts[i].ReceivedAt, &b.Conflicts[i].Origin)
	}
	return r.Sink.Write(ctx, b)
}
