package ingest

import (
	"context"
	"errors"
	"fmt"
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
}

// Len is the number of rows in the batch.
func (b *Batch) Len() int {
	return len(b.Raw) + len(b.Auth) + len(b.Authenticators) + len(b.Airflow) + len(b.Runs) + len(b.DeadLetters)
}

func (b *Batch) add(o Output) {
	b.Raw = append(b.Raw, o.Raw)
	b.Auth = append(b.Auth, o.Auth...)
	b.Authenticators = append(b.Authenticators, o.Authenticators...)
	b.Airflow = append(b.Airflow, o.Airflow...)
	b.Runs = append(b.Runs, o.Runs...)
}

// Sink stores what ingest produces.
//
// Write must be idempotent on the provider's keys (source, instance, event id):
// writing a batch twice stores it once, so a failed write is retried whole. It
// returns only when the batch is durable; callers advance cursors and offsets
// after it returns nil, never before.
type Sink interface {
	// Known returns the subset of ids already stored for source and instance.
	Known(ctx context.Context, source model.Source, instance string, ids []string) (map[string]bool, error)
	Write(ctx context.Context, b *Batch) error
}

// Enricher completes normalized output before it is stored: it resolves
// people and decides hardware for sign-ins from their credential's AAGUID.
// It sees batches in input order and may keep state across them.
type Enricher interface {
	Enrich(ctx context.Context, b *Batch) error
}

// Result counts what happened to one input.
type Result struct {
	File        string `json:"file"`
	Records     int    `json:"records"`
	Accepted    int    `json:"accepted"`
	Duplicates  int    `json:"duplicates"`
	DeadLetters int    `json:"dead_letters"`
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

// Ingest splits data into records, normalizes each, and stores the new ones.
// Bad records go to the dead-letter table with their raw bytes and the error;
// they never abort the run. Records already stored (or repeated within data)
// are counted as duplicates and not written again. The returned error is
// non-nil only when the store fails.
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
	pieces := Split(data, in.Normalizer.Envelopes())
	res.Records = len(pieces)
	seen := make(map[string]bool, len(pieces))
	for start := 0; start < len(pieces); start += size {
		end := min(start+size, len(pieces))
		received := model.Millis(now())
		var outs []Output
		var dead []model.DeadLetter
		for _, p := range pieces[start:end] {
			reject := func(err error) {
				dead = append(dead, model.DeadLetter{Source: src, Instance: in.Instance,
					Origin: fmt.Sprintf("%s#byte=%d", origin, p.Offset), ReceivedAt: received,
					Error: err.Error(), Raw: p.Raw, SHA256: model.SHA256Hex(p.Raw)})
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
			if seen[o.Raw.EventID] {
				res.Duplicates++
				continue
			}
			seen[o.Raw.EventID] = true
			stamp(&o, received)
			outs = append(outs, o)
		}
		ids := make([]string, len(outs))
		for i, o := range outs {
			ids[i] = o.Raw.EventID
		}
		known := map[string]bool{}
		if len(ids) > 0 {
			var err error
			if known, err = in.Sink.Known(ctx, src, in.Instance, ids); err != nil {
				return res, fmt.Errorf("%w: look up stored ids: %w", ErrStore, err)
			}
		}
		b := &Batch{DeadLetters: dead}
		for _, o := range outs {
			if known[o.Raw.EventID] {
				res.Duplicates++
				continue
			}
			b.add(o)
		}
		if in.Enricher != nil {
			if err := in.Enricher.Enrich(ctx, b); err != nil {
				return res, fmt.Errorf("enrich: %w", err)
			}
		}
		if b.Len() > 0 {
			if err := in.Sink.Write(ctx, b); err != nil {
				return res, fmt.Errorf("%w: %w", ErrStore, err)
			}
		}
		res.Accepted += len(b.Raw)
		res.DeadLetters += len(dead)
		if in.Stored != nil {
			if err := in.Stored(ctx, b); err != nil {
				return res, err
			}
		}
	}
	return res, nil
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
