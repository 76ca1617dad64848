package pipeline

import (
	"context"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// batcher is the ingest.Sink behind the runs of one Writer.Write: it
// gathers the batches their Ingesters store into one ingest.Batch, so a bus
// batch costs one insert per table (and one read-back) whatever the number
// of source instances in it, and stores it at flush. Until then Known
// answers for the gathered records as if they were stored.
//
// The store names records another writer stored first (preempted) by event
// id alone, so the gathered batch never holds one id under two source
// instances: a batch bringing such an id flushes what was gathered first.
type batcher struct {
	store   ingest.Sink
	res     Results
	pending ingest.Batch
	owners  []*run              // of pending.Raw: the run that stamped it
	ids     map[string]gathered // event id → what pending.Raw holds under it
}

// gathered is the source instance and digest of a gathered raw record.
type gathered struct {
	key Key
	sum string
}

func newBatcher(store ingest.Sink, res Results) *batcher {
	return &batcher{store: store, res: res, ids: map[string]gathered{}}
}

// Known implements ingest.Sink: the stored ids, and the gathered ones of
// source and instance.
func (bt *batcher) Known(ctx context.Context, source model.Source, instance string, ids []string) (map[string]string, error) {
	out, err := bt.store.Known(ctx, source, instance, ids)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = map[string]string{}
	}
	k := Key{source, instance}
	for _, id := range ids {
		if g, ok := bt.ids[id]; ok && g.key == k {
			out[id] = g.sum
		}
	}
	return out, nil
}

// TimeRange implements ingest.Sink.
func (bt *batcher) TimeRange() ingest.TimeRange { return bt.store.TimeRange() }

// add gathers b, stamped by owner. It reports nothing preempted: flush
// counts preemptions into the results of their source instances.
func (bt *batcher) add(ctx context.Context, owner *run, b *ingest.Batch) error {
	for _, r := range b.Raw {
		if g, ok := bt.ids[r.EventID]; ok && g.key != (Key{r.Source, r.Instance}) {
			if err := bt.flush(ctx); err != nil {
				return err
			}
			break
		}
	}
	p := &bt.pending
	p.Raw = append(p.Raw, b.Raw...)
	p.Auth = append(p.Auth, b.Auth...)
	p.Authenticators = append(p.Authenticators, b.Authenticators...)
	p.Airflow = append(p.Airflow, b.Airflow...)
	p.Runs = append(p.Runs, b.Runs...)
	p.DeadLetters = append(p.DeadLetters, b.DeadLetters...)
	p.Conflicts = append(p.Conflicts, b.Conflicts...)
	for _, r := range b.Raw {
		bt.owners = append(bt.owners, owner)
		bt.ids[r.EventID] = gathered{Key{r.Source, r.Instance}, r.SHA256}
	}
	return nil
}

// flush stores what was gathered in one store write. Records another
// writer stored first become duplicates (same bytes) or conflicts of its
// copy in their source instance's results, as ingest.Ingester counts them.
func (bt *batcher) flush(ctx context.Context) error {
	if bt.pending.Len() == 0 {
		return nil
	}
	b, owners := bt.pending, bt.owners
	bt.pending, bt.owners, bt.ids = ingest.Batch{}, nil, map[string]gathered{}
	preempted, err := bt.store.Write(ctx, &b)
	if err != nil {
		return err
	}
	var late []model.Conflict
	for i, r := range b.Raw {
		sum, ok := preempted[r.EventID]
		if !ok {
			continue
		}
		k := Key{r.Source, r.Instance}
		t := bt.res[k]
		t.Accepted--
		if sum == r.SHA256 {
			t.Duplicates++
		} else {
			t.Conflicts++
			c := model.Conflict{Source: r.Source, Instance: r.Instance, EventID: r.EventID, TS: r.TS,
				ReceivedAt: r.ReceivedAt, Raw: r.Raw, SHA256: r.SHA256, StoredSHA256: sum}
			if s, ok := owners[i].stampOf(r.SHA256); ok {
				c.ReceivedAt, c.Origin = s.received, s.origin
			}
			late = append(late, c)
		}
		bt.res[k] = t
	}
	if len(late) > 0 {
		if _, err := bt.store.Write(ctx, &ingest.Batch{Conflicts: late}); err != nil {
			return err
		}
	}
	return nil
}
