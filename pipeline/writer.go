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
// normalizer), and pushes them through the same ingest code — normalize,
// drop duplicates, enrich, store — all source instances of a write in one
// batch, through one ingest.Session: Prepare (normalize, look up, classify,
// enrich) of one write may overlap Store of the write before it, which is
// how the sink hides the store's look-up behind its inserts. Write does
// both in turn. A Writer is safe for concurrent use: Prepare, Store and
// Write wait for their turn (see ingest.Session).
type Writer struct {
	store      ingest.Sink
	normalizer NormalizerFunc
	now        func() time.Time

	session *ingest.Session
	write   sync.Mutex // Write's Prepare and Store, as one
	mu      sync.Mutex // norms
	norms   map[model.Source]ingest.Normalizer
}

// NewWriter returns a Writer storing into store (required), completing
// batches with enricher (optional) and normalizing each source's records
// with normalizer (required). now stamps records without a received time
// (default time.Now).
func NewWriter(store ingest.Sink, enricher ingest.Enricher, normalizer NormalizerFunc, now func() time.Time) *Writer {
	if now == nil {
		now = time.Now
	}
	in := &ingest.Ingester{Sink: store, Enricher: enricher, Now: now}
	return &Writer{store: store, normalizer: normalizer, now: now, norms: map[model.Source]ingest.Normalizer{},
		session: in.Session()}
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

// wrap says which source instances a failed prepare or store was of.
func (p *Prepared) wrap(err error) error {
	return fmt.Errorf("%d source instances (%s/%s first): %w", len(p.keys), p.keys[0].Source, p.keys[0].Instance, err)
}

// Prepared is a write checked against the store, for Store.
type Prepared struct {
	keys    []Key
	lost    []model.DeadLetter // records of no known source
	lostRes Results
	checked *ingest.Checked // nil: no record of a known source
}

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
	w.write.Lock()
	defer w.write.Unlock()
	p, err := w.Prepare(ctx, recs)
	if err != nil {
		return nil, err
	}
	res, err := w.Store(ctx, p)
	if err != nil {
		w.session.Reset() // the caller writes recs again, checked again
	}
	return res, err
}

// Prepare normalizes recs, looks their ids up in the store, classifies and
// enriches them, ready for Store. It waits until every write prepared
// before the last one is stored. An error means the store (or the
// enricher) failed; prepare recs again.
func (w *Writer) Prepare(ctx context.Context, recs []bus.Record) (*Prepared, error) {
	p := &Prepared{lostRes: Results{}}
	var groups []ingest.Group
	index := map[Key]int{}
	w.mu.Lock()
	for _, r := range recs {
		k := Key{r.Source, r.Instance}
		n, err := w.normalizerLocked(r.Source)
		if err != nil {
			p.lost = append(p.lost, model.DeadLetter{Source: r.Source, Instance: r.Instance, Origin: r.Origin,
				ReceivedAt: w.received(r), Error: err.Error(), Raw: r.Raw, SHA256: model.SHA256Hex(r.Raw)})
			p.lostRes.add(k, ingest.Result{Records: 1, DeadLetters: 1})
			continue
		}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			p.keys = append(p.keys, k)
			groups = append(groups, ingest.Group{Normalizer: n, Instance: r.Instance})
		}
		groups[i].Inputs = append(groups[i].Inputs, ingest.Input{Origin: r.Origin, Data: r.Raw, ReceivedAt: w.received(r)})
	}
	w.mu.Unlock()
	if len(groups) == 0 {
		return p, nil
	}
	c, err := w.session.Check(ctx, groups)
	if err != nil {
		return nil, p.wrap(err)
	}
	p.checked = c
	return p, nil
}

// Store writes p, after every write prepared before it, and returns what
// it did per source instance. An error means the store failed: store p
// again (or, giving up on it, Reset before preparing again).
func (w *Writer) Store(ctx context.Context, p *Prepared) (Results, error) {
	res := Results{}
	for k, r := range p.lostRes {
		res.add(k, r)
	}
	if len(p.lost) > 0 {
		if _, err := w.store.Write(ctx, &ingest.Batch{DeadLetters: p.lost}); err != nil {
			return nil, fmt.Errorf("%w: dead letters: %w", ingest.ErrStore, err)
		}
	}
	if p.checked == nil {
		return res, nil
	}
	got, err := w.session.Store(ctx, p.checked)
	if err != nil {
		return nil, p.wrap(err)
	}
	for i, k := range p.keys {
		res.add(k, got[i])
	}
	return res, nil
}

// Reset forgets the writes prepared and not stored: for a caller that
// gives up on them.
func (w *Writer) Reset() { w.session.Reset() }

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
