package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/bus/memory"
	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/ingest/sources"
	"github.com/keytrail/keytrail/pipeline"
)

// downSink is the warehouse behind a switch: while down, every write fails.
type downSink struct {
	ingest.Sink
	down atomic.Bool
}

func (d *downSink) Write(ctx context.Context, b *ingest.Batch) (map[ingest.RecordID]string, error) {
	if d.down.Load() {
		return nil, errors.New("store down")
	}
	return d.Sink.Write(ctx, b)
}

// pages is a Stream over recs, n records a page, its cursor the number of
// pages read; it counts the reads.
type pages struct {
	recs  []bus.Record
	n     int
	mu    sync.Mutex
	reads int
}

func (p *pages) Name() string { return "pages" }

func (p *pages) Next(_ context.Context, cursor string) (collect.Page, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads++
	var i int
	fmt.Sscan(cursor, &i)
	if i*p.n >= len(p.recs) {
		return collect.Page{Cursor: cursor}, nil
	}
	return collect.Page{Records: p.recs[i*p.n : min((i+1)*p.n, len(p.recs))], Cursor: fmt.Sprint(i + 1), More: true}, nil
}

func (p *pages) read() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reads
}

// TestSendAheadCursorWaitsForStore: a collector on the in-process bus
// reads and sends pages ahead of the store, but while every store write
// fails no cursor is saved and no page is reported; once the store is back
// every record is stored and the cursor moves to the end.
func TestSendAheadCursorWaitsForStore(t *testing.T) {
	o := smallOrg(t)
	w := embedded(t)
	store := &downSink{Sink: w}
	store.down.Store(true)
	enr, err := enrich.New(context.Background(), w, nil)
	require.NoError(t, err)
	b := memory.New(0)
	defer b.Close()
	sub := b.Subscribe()
	defer sub.Close()
	sink := pipeline.NewSink(pipeline.SinkConfig{MaxWait: 10 * time.Millisecond,
		Backoff: pipeline.Backoff{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond}},
		sub, pipeline.NewWriter(store, enr, sources.Normalizer, nil), pipeline.Options{})

	recs := o.files[0]
	require.Greater(t, len(recs), 4)
	stream := &pages{recs: recs, n: max(1, len(recs)/8)}
	cursors := &collect.MemCursors{}
	col := &collect.Collector{Source: recs[0].Source, Instance: recs[0].Instance, Streams: []collect.Stream{stream},
		Poll: collect.PollConfig{Interval: 20 * time.Millisecond, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			SaveInterval: time.Millisecond, InFlight: 4}}
	r := collect.NewRunner(col, b, cursors, collect.Options{})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sink.Run(ctx) })
	wg.Go(func() { _ = r.Run(ctx) })
	defer func() { stop(); wg.Wait() }()

	require.Eventually(t, func() bool { return stream.read() >= 3 && sink.Stats().StoreFailures >= 3 }, 30*time.Second, 5*time.Millisecond)
	require.Greater(t, stream.read(), 1, "pages read ahead of the store")
	name := collect.CursorName(col.Source, col.Instance, stream.Name())
	_, saved, err := cursors.Load(ctx, name)
	require.NoError(t, err)
	require.False(t, saved, "no cursor saved while the store fails")
	require.Zero(t, r.Status()[0].Pages, "no page taken while the store fails")
	require.Zero(t, sink.Stats().Commits)

	store.down.Store(false)
	last := fmt.Sprint((len(recs) + stream.n - 1) / stream.n)
	require.Eventually(t, func() bool {
		pos, ok, err := cursors.Load(ctx, name)
		return err == nil && ok && pos == last
	}, 30*time.Second, 10*time.Millisecond, "the cursor reaches the end once the records are stored")
	require.EqualValues(t, o.manifest.Files[0].Records-o.manifest.Files[0].Malformed, count(t, w, "SELECT count() FROM raw_records FINAL"))
}
