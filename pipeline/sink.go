package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/bus"
)

// Defaults of SinkConfig.
const (
	DefaultBatchSize    = 5000
	DefaultMaxWait      = time.Second
	DefaultFlushTimeout = 10 * time.Second
)

// SinkConfig configures a Sink.
type SinkConfig struct {
	// Name labels the sink in logs, metrics and status. Default "bus".
	Name string
	// BatchSize is the most records one store write carries. Default
	// DefaultBatchSize.
	BatchSize int
	// MaxWait is how long a batch waits for more records after its first
	// before it is written; while the batch before it is being written it
	// keeps gathering (up to BatchSize) until the store is free. Default
	// DefaultMaxWait.
	MaxWait time.Duration
	// Idle, when set, hands a batch over before MaxWait once the bus
	// delivered nothing new for Idle (and the writer is free): the bus is
	// drained, and waiting longer only delays the records at hand (the
	// tail of a backlog waited the whole MaxWait). Zero waits MaxWait
	// (the in-process bus, whose collectors send their next pages only
	// after a write). BatchSize and MaxWait still bound every batch.
	Idle time.Duration
	// Backoff paces retries while the store (or the bus) is unavailable.
	Backoff Backoff
	// FlushTimeout bounds the last write and commit once Run is asked to
	// stop. Default DefaultFlushTimeout.
	FlushTimeout time.Duration
}

// Options are what every pipeline component may be given.
type Options struct {
	// Logger receives one line per outage and per recovery. Default discard.
	Logger *slog.Logger
	// Clock paces batching, backoff and polling. Default the real clock.
	Clock clockwork.Clock
	// Metrics, when set, counts what the component does.
	Metrics *Metrics
	// Status, when set, tallies what the sink stored per source.
	Status *Status
	// Stored, when set, is called after each batch is stored and committed
	// (the streaming correlator polls then; benchmarks time it).
	Stored func(recs []bus.Record, res Results)
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	return o
}

// SinkStats are a Sink's counters since it started.
type SinkStats struct {
	Records     int64 // fetched from the bus
	Accepted    int64 // stored new
	Duplicates  int64 // already stored
	Conflicts   int64 // an id already stored with other bytes (kept in the conflicts table)
	DeadLetters int64 // stored as dead letters
	Writes      int64 // store writes that succeeded
	// WriteTime sums each successful write's time preparing (look-up,
	// enrichment) and storing it. One write's preparing overlaps the
	// store of the write before, so it can exceed the time that passed.
	WriteTime     time.Duration
	StoreFailures int64 // store writes that failed (and were retried)
	Commits       int64
	CommitErrors  int64 // commits that failed (their records come again)
}

// Sink is the bus → store component: it fetches records from a
// bus.Subscriber, gathers them into batches by size (BatchSize) and time
// (MaxWait), stores each batch through a Writer, and commits the batch's
// deliveries only after the write succeeded. While the store is down it
// keeps the batch, retries with capped backoff, commits nothing and drops
// nothing, and says so once per outage.
type Sink struct {
	cfg   SinkConfig
	sub   bus.Subscriber
	w     *Writer
	o     Options
	store *outage
	bus   *outage

	mu    sync.Mutex
	stats SinkStats
}

// NewSink returns a Sink from sub into w.
func NewSink(cfg SinkConfig, sub bus.Subscriber, w *Writer, o Options) *Sink {
	o = o.withDefaults()
	cfg.Name = or(cfg.Name, "bus")
	cfg.BatchSize = or(cfg.BatchSize, DefaultBatchSize)
	cfg.MaxWait = or(cfg.MaxWait, DefaultMaxWait)
	cfg.FlushTimeout = or(cfg.FlushTimeout, DefaultFlushTimeout)
	return &Sink{cfg: cfg, sub: sub, w: w, o: o,
		store: newOutage(o.Logger, o.Clock, cfg.Backoff, "store", "sink", cfg.Name),
		bus:   newOutage(o.Logger, o.Clock, cfg.Backoff, "bus", "sink", cfg.Name)}
}

// Name is the sink's name.
func (s *Sink) Name() string { return s.cfg.Name }

// Stats returns the sink's counters.
func (s *Sink) Stats() SinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// ErrUnflushed is returned by Run when it had to stop with records fetched
// and not stored; they were not committed and will be delivered again.
var ErrUnflushed = errors.New("records fetched but not stored at shutdown")

// Run fetches, stores and commits until ctx ends, then stores and commits
// what it holds within FlushTimeout and returns. It returns nil on a clean
// stop, ErrUnflushed when the last batch could not be stored in time, and
// an error when the subscriber is closed under it.
//
// Fetching, checking and storing overlap: one goroutine gathers the next
// batch from the bus; this one prepares a batch (Writer.Prepare: normalize,
// look up the stored ids, classify, enrich) while a third stores the batch
// before it (Writer.Store: the inserts and the read-back) and commits it. A
// gathered batch is handed over once it holds BatchSize records, or once
// the preparer is free — the batch before it handed to the store stage, and
// the one before that stored — and MaxWait has passed since the batch's
// first record (and, when the preparer was busy, since it became free) or,
// with Idle set, the bus delivered nothing for Idle; while a write is under
// way the batch keeps growing, so batches grow with the store's latency (a
// group commit). At most one batch waits while another is prepared and a
// third is stored.
//
// Exactly once (with idempotent storage) holds as in a sequential sink:
//   - a batch is committed only by the store stage, after its own store
//     returned nil, and batches are stored and committed one at a time in
//     the order they were fetched, so no commit precedes its write nor the
//     commit of an earlier batch; a store that fails is retried (the
//     batches behind it wait, uncommitted) until it succeeds or the
//     shutdown's bound passes, and then nothing after it is committed;
//   - a batch's duplicate look-up (in Prepare) starts only after every
//     batch but the one being stored was stored, and that one's ids are
//     settled by it, not looked up (ingest.Session): the look-up sees every
//     row of earlier batches. Fetching ahead reads only the bus.
func (s *Sink) Run(ctx context.Context) error {
	gctx, cancel := withGrace(ctx, s.o.Clock, s.cfg.FlushTimeout)
	defer cancel()
	// Batches prepared and not stored are delivered again, checked again.
	defer s.w.Reset()
	ready := make(chan gathered)   // the gatherer's batches, taken by the preparer when it is free
	free := make(chan struct{}, 1) // holds a token while the preparer waits for a batch
	quit := make(chan struct{})    // closed when the preparer returns
	gatherErr := make(chan error, 1)
	gatherDone := make(chan struct{})
	go func() {
		defer close(gatherDone)
		gatherErr <- s.gather(ctx, ready, free, quit)
	}()
	defer func() { close(quit); <-gatherDone }()

	// The store stage: stores and commits prepared batches in order.
	toStore := make(chan prepared)
	storeErr := make(chan error, 1)
	storeDone := make(chan struct{})
	go func() {
		defer close(storeDone)
		for p := range toStore {
			if err := s.storeBatch(ctx, gctx, p); err != nil {
				storeErr <- err // the preparer stops at it
				return
			}
		}
	}()
	// stopStore ends the store stage and returns its failure, if it had
	// one still unread, else err.
	stopStore := func(err error) error {
		close(toStore)
		<-storeDone
		select {
		case serr := <-storeErr:
			return serr
		default:
			return err
		}
	}
	for {
		select {
		case free <- struct{}{}:
		default:
		}
		select {
		case g := <-ready:
			select {
			case <-free: // a token the gatherer did not take is stale now
			default:
			}
			p, err := s.prepare(ctx, gctx, g)
			if err != nil {
				return stopStore(err)
			}
			select {
			case toStore <- p: // once the store stage finished the batch before
			case err := <-storeErr:
				return stopStore(err)
			}
		case err := <-gatherErr:
			return stopStore(err)
		case err := <-storeErr:
			return stopStore(err)
		}
	}
}

// prepared is a gathered batch prepared for the store stage.
type prepared struct {
	g    gathered
	recs []bus.Record
	p    *Prepared
	took time.Duration // preparing it
}

// gathered is batches fetched from the bus, to be stored as one.
type gathered struct {
	batches []bus.Batch
	n       int // records
}

func (g *gathered) add(b bus.Batch) {
	g.batches = append(g.batches, b)
	g.n += len(b.Records)
}

// gather fetches batches from the bus and hands them to the writer
// through ready, in fetch order, until ctx ends; then it hands over what
// it holds and returns nil. free holds a token while the writer waits for
// a batch; quit is closed when the writer stops taking them.
func (s *Sink) gather(ctx context.Context, ready chan<- gathered, free <-chan struct{}, quit <-chan struct{}) error {
	hand := func(g *gathered) bool {
		select {
		case ready <- *g:
			return true
		case <-quit:
			return false
		}
	}
	for ctx.Err() == nil {
		first, err := s.sub.Fetch(ctx, s.cfg.BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, bus.ErrClosed) {
				return fmt.Errorf("sink %s: %w", s.cfg.Name, err)
			}
			s.o.Metrics.busError(s.cfg.Name)
			sleep(ctx, s.o.Clock, s.bus.failed(ctx, err))
			continue
		}
		s.bus.ok(ctx)
		g := &gathered{}
		g.add(first)
		// More records: for MaxWait after the first, then for as long as
		// the writer is busy (waiting costs nothing), and once it is free
		// after a write, for MaxWait more (on the in-process bus the
		// collectors whose pages that write stored send their next ones
		// now: without the wait they would start a batch of their own).
		// With Idle set, a fetch that brought nothing for Idle ends the
		// wait early: the bus has no more for now.
		fill := func() {
			wctx, wcancel := withDeadline(ctx, s.o.Clock, s.cfg.MaxWait)
			defer wcancel()
			for g.n < s.cfg.BatchSize {
				fctx, fcancel := wctx, context.CancelFunc(func() {})
				if s.cfg.Idle > 0 {
					fctx, fcancel = withDeadline(wctx, s.o.Clock, s.cfg.Idle)
				}
				b, err := s.sub.Fetch(fctx, s.cfg.BatchSize-g.n)
				fcancel()
				if err != nil {
					return
				}
				g.add(b)
			}
		}
		fill()
		waited := false
		for g.n < s.cfg.BatchSize && ctx.Err() == nil {
			b, err, writerFree := s.fetchWhileBusy(ctx, s.cfg.BatchSize-g.n, free)
			if err == nil {
				g.add(b)
			}
			if writerFree {
				if waited {
					fill()
				}
				break
			}
			if err != nil && ctx.Err() == nil {
				break // the bus failed: store what is here
			}
			waited = true
		}
		if !hand(g) {
			return nil
		}
	}
	return nil
}

// fetchWhileBusy fetches up to max records until the writer is free
// (takes free's token: the caller must then hand its batch over).
func (s *Sink) fetchWhileBusy(ctx context.Context, max int, free <-chan struct{}) (b bus.Batch, err error, writerFree bool) {
	select {
	case <-free:
		return bus.Batch{}, context.Canceled, true
	default:
	}
	fctx, cancel := context.WithCancel(ctx)
	took := make(chan bool, 1)
	go func() {
		select {
		case <-free:
			cancel()
			took <- true
		case <-fctx.Done():
			took <- false
		}
	}()
	b, err = s.sub.Fetch(fctx, max)
	cancel()
	return b, err, <-took
}

// prepare prepares g's records for the store stage, retrying while the
// store is unavailable until it succeeds or gctx ends.
func (s *Sink) prepare(ctx, gctx context.Context, g gathered) (prepared, error) {
	recs := make([]bus.Record, 0, g.n)
	for _, b := range g.batches {
		recs = append(recs, b.Records...)
	}
	s.mu.Lock()
	s.stats.Records += int64(g.n)
	s.mu.Unlock()
	for {
		start := s.o.Clock.Now()
		p, err := s.w.Prepare(gctx, recs)
		if err == nil {
			return prepared{g: g, recs: recs, p: p, took: s.o.Clock.Since(start)}, nil
		}
		if err := s.failed(ctx, gctx, err, g.n); err != nil {
			return prepared{}, err
		}
	}
}

// failed counts a failed prepare or store of n records and waits out the
// backoff; it returns the error to stop with when gctx ended.
func (s *Sink) failed(ctx, gctx context.Context, err error, n int) error {
	// A write cut short by the shutdown's bound is not an outage of
	// the store: say only that the records were not stored.
	stopping := gctx.Err() != nil
	if !stopping {
		s.mu.Lock()
		s.stats.StoreFailures++
		s.mu.Unlock()
		s.o.Metrics.storeError(s.cfg.Name)
		stopping = !sleep(gctx, s.o.Clock, s.store.failed(ctx, err, "records", n))
	}
	if stopping {
		s.o.Logger.Error("stopping with records not stored; they were not committed and will be delivered again",
			"sink", s.cfg.Name, "records", n, "err", err)
		return fmt.Errorf("sink %s: %d %w: %w", s.cfg.Name, n, ErrUnflushed, err)
	}
	return nil
}

// storeBatch stores a prepared batch and commits its deliveries in order,
// retrying the store until it succeeds or gctx ends.
func (s *Sink) storeBatch(ctx, gctx context.Context, p prepared) error {
	n := p.g.n
	var res Results
	for {
		start := s.o.Clock.Now()
		var err error
		res, err = s.w.Store(gctx, p.p)
		if err == nil {
			took := p.took + s.o.Clock.Since(start)
			s.store.ok(ctx)
			t := res.Total()
			s.mu.Lock()
			s.stats.Writes++
			s.stats.WriteTime += took
			s.stats.Accepted += int64(t.Accepted)
			s.stats.Duplicates += int64(t.Duplicates)
			s.stats.Conflicts += int64(t.Conflicts)
			s.stats.DeadLetters += int64(t.DeadLetters)
			s.mu.Unlock()
			s.o.Metrics.stored(s.cfg.Name, res, n, took)
			s.o.Logger.Debug("batch stored", "sink", s.cfg.Name, "records", n, "accepted", t.Accepted, "duplicates", t.Duplicates,
				"conflicts", t.Conflicts, "dead_letters", t.DeadLetters, "took", took.Round(time.Millisecond).String())
			s.o.Status.stored(res, s.o.Clock.Now())
			break
		}
		if err := s.failed(ctx, gctx, err, n); err != nil {
			return err
		}
	}
	for _, b := range p.g.batches {
		if b.Commit == nil {
			continue
		}
		if err := b.Commit(gctx); err != nil {
			// Stored but not acknowledged: delivered again later, stored once.
			s.mu.Lock()
			s.stats.CommitErrors++
			s.mu.Unlock()
			s.o.Metrics.commitError(s.cfg.Name)
			s.o.Logger.Warn("commit failed; the stored records will be delivered again (harmless)", "sink", s.cfg.Name, "records", len(b.Records), "err", err)
			continue
		}
		s.mu.Lock()
		s.stats.Commits++
		s.mu.Unlock()
	}
	if s.o.Stored != nil {
		s.o.Stored(p.recs, res)
	}
	return nil
}
