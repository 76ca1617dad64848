package pipeline

import (
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
// normalize, drop duplicates, enrich, store — all source instances of a
// write in one batch (ingest.Ingester.IngestGroups). A Writer is safe for
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
	t.Add(res)
	r[k] = t
}

// Total sums r.
func (r Results) Total() ingest.Result {
	var t ingest.Result
	for _, v := range r {
		t.Add(v)
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
// record's part. The records of every source instance in recs are stored
// together: one look-up of stored ids, one insert per table and one
// read-back for the whole of recs.
func (w *Writer) Write(ctx context.Context, recs []bus.Record) (Results, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	res := Results{}
	var keys []Key
	var groups []ingest.Group
	index := map[Key]int{}
	var lost []model.DeadLetter
	for _, r := range recs {
		k := Key{r.Source, r.Instance}
		n, err := w.normalizerLocked(r.Source)
		if err != nil {
			lost = append(lost, model.DeadLetter{Source: r.Source, Instance: r.Instance, Origin: r.Origin,
				ReceivedAt: w.received(r), Error: err.Error(), Raw: r.Raw, SHA256: model.SHA256Hex(r.Raw)})
			res.add(k, ingest.Result{Records: 1, DeadLetters: 1})
			continue
		}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			keys = append(keys, k)
			groups = append(groups, ingest.Group{Normalizer: n, Instance: r.Instance})
		}
		groups[i].Inputs = append(groups[i].Inputs, ingest.Input{Origin: r.Origin, Data: r.Raw, ReceivedAt: w.received(r)})
	}
	if len(lost) > 0 {
		if _, err := w.store.Write(ctx, &ingest.Batch{DeadLetters: lost}); err != nil {
			return nil, fmt.Errorf("%w: dead letters: %w", ingest.ErrStore, err)
		}
	}
	if len(groups) == 0 {
		return res, nil
	}
	in := &ingest.Ingester{Sink: w.store, Enricher: w.enricher, Now: w.now}
	got, err := in.IngestGroups(ctx, groups)
	if err != nil {
		return nil, fmt.Errorf("%d source instances (%s/%s first): %w", len(keys), keys[0].Source, keys[0].Instance, err)
	}
	for i, k := range keys {
		res.add(k, got[i])
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
