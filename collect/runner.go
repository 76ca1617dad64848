package collect

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/model"
)

// Stream states reported in Status.State.
const (
	StateStarting    = "starting"
	StateReading     = "reading"
	StateCaughtUp    = "caught_up"
	StateBackoff     = "backoff"
	StateRateLimited = "rate_limited"
	StateStopped     = "stopped"
)

// Runner reads a Collector's streams and publishes their records, each
// stream in a goroutine of its own, until its context ends.
//
// For every page: read it (Stream.Next) from the last page's cursor,
// publish its records (skipping bytes this runner published recently), and
// only once they are stored save the page's cursor. On a bus.Sender (the
// in-process bus; Kafka, where stored means acknowledged by every in-sync
// replica) a stream sends up to PollConfig.InFlight pages
// ahead of the ones stored, so reading the provider overlaps storing; a
// page is taken (its cursor saved, its status reported) only after every
// page before it, once its records are stored. A cursor that did not move
// is not saved; one moved by records is saved in the background while the
// stream catches up — one save at a time, each of the newest page taken,
// and the stream takes at most InFlight pages past the saved cursor before
// it waits for the save under way, so a crash reads again at most
// PollConfig.CrashRereadPages pages — and at most every
// PollConfig.SaveInterval once it caught up (small pages, polled often);
// one moved only by pages without new records at most every
// PollConfig.IdleSave. Store writes are what a cursor save per poll would
// cost; the saved cursor only ever lags, so a restart reads again, never
// skips; a stopping stream saves the cursor it left. A stream that caught
// up reads again PollConfig.Interval after that read returned, its
// records' store inside the interval. A failed
// read, publish or save is retried with jittered exponential backoff
// capped at PollConfig.MaxBackoff, and nothing moves until it succeeds; a
// provider's rate limit is waited out until the reset it names. So a Kafka
// or store outage stops cursors, never loses a
// record.
type Runner struct {
	col     *Collector
	pub     bus.Publisher
	cursors CursorStore
	cfg     PollConfig
	clock   clockwork.Clock
	log     *slog.Logger
	seed    maphash.Seed

	mu     sync.Mutex
	status []*Status
}

// NewRunner returns a Runner for col that publishes to pub and keeps its
// cursors in cursors. opts supplies the clock and logger.
func NewRunner(col *Collector, pub bus.Publisher, cursors CursorStore, opts Options) *Runner {
	opts = opts.WithDefaults()
	r := &Runner{col: col, pub: pub, cursors: cursors, cfg: col.Poll.WithDefaults(), clock: opts.Clock,
		log: opts.Logger.With("collector", col.Name()), seed: maphash.MakeSeed()}
	for _, s := range col.Streams {
		r.status = append(r.status, &Status{Collector: col.Name(), Stream: s.Name(), State: StateStarting})
	}
	return r
}

// Status returns a copy of every stream's status, in stream order.
func (r *Runner) Status() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, len(r.status))
	for i, s := range r.status {
		out[i] = *s
	}
	return out
}

// Run reads every stream until ctx ends, then returns nil. It returns an
// error only for a collector it cannot run at all (no streams, two streams
// of one name).
func (r *Runner) Run(ctx context.Context) error {
	if len(r.col.Streams) == 0 {
		return fmt.Errorf("collector %s: no streams", r.col.Name())
	}
	seen := map[string]bool{}
	for _, s := range r.col.Streams {
		if seen[s.Name()] {
			return fmt.Errorf("collector %s: two streams named %q", r.col.Name(), s.Name())
		}
		seen[s.Name()] = true
	}
	var wg sync.WaitGroup
	for i, s := range r.col.Streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runStream(ctx, s, r.status[i])
		}()
	}
	wg.Wait()
	return nil
}

func (r *Runner) update(st *Status, fn func(*Status)) {
	r.mu.Lock()
	fn(st)
	r.mu.Unlock()
}

// streamRun is one stream's loop state.
type streamRun struct {
	r       *Runner
	s       Stream
	st      *Status
	name    string
	bo      *backoff.ExponentialBackOff
	failing bool
	dedupe  *recent
	unsaved bool   // records were stored past the saved cursor
	taken   string // the cursor of the last page taken

	// The cursor save running in the background, if any: closed when it
	// ended, with saveErr set.
	saving     chan struct{}
	savingPos  string
	savingSeq  int // the number of the page whose cursor is being saved
	saveErr    error
	savedSeq   int // the number of the page whose cursor was saved last
	seq        int // pages taken
	recordsSeq int // the number of the last page taken with records
}

// saveAsync starts saving pos in the background, so that the stream reads
// on while the store writes it; saveDone takes the result.
func (sr *streamRun) saveAsync(ctx context.Context, pos string) {
	r := sr.r
	done := make(chan struct{})
	sr.saving, sr.savingPos, sr.savingSeq = done, pos, sr.seq
	at := model.Millis(r.clock.Now())
	go func() {
		defer close(done)
		sr.saveErr = r.cursors.Save(ctx, model.Cursor{Collector: sr.name, Position: pos, UpdatedAt: at})
	}()
}

// saveDone takes the result of the save that ended: the saved position
// moves, or the failure is reported and a later page saves again.
func (sr *streamRun) saveDone(saved *string, savedAt *time.Time) {
	r := sr.r
	sr.saving = nil
	if err := sr.saveErr; err != nil {
		err = fmt.Errorf("save cursor %s: %w", sr.name, err)
		r.log.Warn("cursor not saved; a later page saves it", "stream", sr.s.Name(), "err", err)
		now := r.clock.Now()
		r.update(sr.st, func(st *Status) { st.LastError, st.LastErrorAt = err.Error(), now })
		sr.failing = true
		return
	}
	*saved, *savedAt = sr.savingPos, r.clock.Now()
	sr.savedSeq = sr.savingSeq
	if sr.savingSeq >= sr.recordsSeq {
		sr.unsaved = false // every page with records is behind the saved cursor
	}
}

// stopSaveTimeout bounds the cursor save of a stream that stops.
const stopSaveTimeout = 5 * time.Second

func (r *Runner) runStream(ctx context.Context, s Stream, st *Status) {
	sr := &streamRun{r: r, s: s, st: st, name: CursorName(r.col.Source, r.col.Instance, s.Name()),
		bo: &backoff.ExponentialBackOff{InitialInterval: r.cfg.InitialBackoff, RandomizationFactor: 0.5,
			Multiplier: 2, MaxInterval: r.cfg.MaxBackoff},
		dedupe: newRecent(r.cfg.Dedupe, r.seed)}
	sr.bo.Reset()
	defer r.update(st, func(st *Status) { st.State = StateStopped })

	// cursor is where the next read starts; saved is the position the
	// store holds, written at savedAt (or loaded).
	var cursor, saved string
	var savedAt time.Time
	sent := &sentPages{}
	// On the way out, take the pages sent whose records the sink stores
	// within stopSaveTimeout, and save the cursor of the last page taken
	// (its records are stored) if it was left for SaveInterval: a stop
	// then reads nothing again.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopSaveTimeout)
		defer cancel()
		for _, p := range sent.q {
			if p.pending != nil && p.pending.Wait(sctx) != nil {
				break // not stored (in time): read again after a restart
			}
			if !sr.stored(sctx, p, &saved, &savedAt) {
				break
			}
		}
		if sr.saving != nil {
			<-sr.saving
			sr.saveDone(&saved, &savedAt)
		}
		if sr.unsaved && sr.taken != saved {
			if err := r.cursors.Save(sctx, model.Cursor{Collector: sr.name, Position: sr.taken, UpdatedAt: model.Millis(r.clock.Now())}); err != nil {
				r.log.Warn("cursor not saved at stop; its pages will be read again", "stream", s.Name(), "err", err)
			}
		}
	}()
	for {
		pos, _, err := r.cursors.Load(ctx, sr.name)
		if err == nil {
			cursor, saved, savedAt = pos, pos, r.clock.Now()
			break
		}
		if !sr.retry(ctx, fmt.Errorf("load cursor %s: %w", sr.name, err)) {
			return
		}
	}
	r.update(st, func(st *Status) { st.Cursor = cursor })
	sr.recovered()

	for ctx.Err() == nil {
		r.update(st, func(st *Status) { st.State = StateReading })
		page, err := s.Next(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !sr.retry(ctx, fmt.Errorf("read %s: %w", sr.name, err)) {
				return
			}
			continue
		}
		// A stream that caught up reads again Interval after this read
		// returned: the interval starts now, so the time its pages take
		// to be stored is inside it, not added to it.
		var next clockwork.Timer
		if !page.More {
			next = r.clock.NewTimer(r.cfg.Interval)
		}
		ok := func() bool {
			if next != nil {
				defer next.Stop()
			}
			fresh, keys, dups := sr.dedupe.filter(page.Records)
			p := &sentPage{page: page, fresh: fresh, dups: dups}
			if !sr.send(ctx, p) {
				return false
			}
			sr.dedupe.add(keys)
			cursor = page.Cursor
			sent.add(p)
			// A page that names a wait settles every page sent before
			// the stream waits; otherwise only those already stored, and
			// the oldest while too many are in flight.
			settle := func(all bool) bool {
				for p := range sent.settle(ctx, sr, all) {
					if !sr.stored(ctx, p, &saved, &savedAt) {
						return false
					}
				}
				return ctx.Err() == nil
			}
			if !settle(!page.NotBefore.IsZero()) {
				return false
			}
			if !page.NotBefore.IsZero() {
				r.update(st, func(st *Status) { st.State = StateRateLimited })
				if !sr.wait(ctx, min(page.NotBefore.Sub(r.clock.Now()), r.cfg.MaxRateLimitWait)) {
					return false
				}
			}
			// A stream that caught up takes its pages as the sink stores
			// them while it waits for its interval, and reads again when
			// the interval ends even if some are still being stored (up
			// to InFlight): a slow store write does not delay the read.
			for next != nil {
				select {
				case <-next.Chan():
					next = nil
				case <-sent.headDone():
					if !settle(false) {
						return false
					}
				case <-ctx.Done():
					return false
				}
			}
			return true
		}()
		if !ok {
			return
		}
	}
}

// sentPage is a page read and sent, and its records' Pending (nil once
// they are stored).
type sentPage struct {
	page    Page
	fresh   []bus.Record
	dups    int
	pending bus.Pending
}

// send hands p's records to the bus, retrying until the bus takes them
// (false when ctx ended): sent ahead on a bus.Sender, else published.
func (sr *streamRun) send(ctx context.Context, p *sentPage) bool {
	r := sr.r
	p.pending = nil
	for len(p.fresh) > 0 {
		var err error
		if snd, ok := r.pub.(bus.Sender); ok && r.cfg.InFlight > 0 {
			p.pending, err = snd.Send(ctx, p.fresh...)
		} else {
			err = r.pub.Publish(ctx, p.fresh...)
		}
		if err == nil {
			return true
		}
		if !sr.retry(ctx, fmt.Errorf("publish %d records of %s: %w", len(p.fresh), sr.name, err)) {
			return false
		}
	}
	return ctx.Err() == nil
}

// sentPages are a stream's pages sent and not yet known stored, oldest
// first.
type sentPages struct{ q []*sentPage }

func (s *sentPages) add(p *sentPage) { s.q = append(s.q, p) }

// headDone is closed once the oldest page's records are stored (or can no
// longer be); nil, which never fires, when no page waits.
func (s *sentPages) headDone() <-chan struct{} {
	if len(s.q) == 0 || s.q[0].pending == nil {
		return nil
	}
	return s.q[0].pending.Done()
}

// settle yields the oldest pages in order once their records are stored:
// those already stored, then — while more than InFlight are in flight, or
// every one when all — waiting for them. A page whose records may never be
// stored (the bus closed under them) is sent again with every page after
// it, in order, after a backoff. It stops when ctx ends.
func (s *sentPages) settle(ctx context.Context, sr *streamRun, all bool) func(func(*sentPage) bool) {
	return func(yield func(*sentPage) bool) {
		for len(s.q) > 0 && ctx.Err() == nil {
			head := s.q[0]
			if head.pending != nil {
				select {
				case <-head.pending.Done():
				default:
					if !all && len(s.q) <= sr.r.cfg.InFlight {
						return
					}
				}
				if err := head.pending.Wait(ctx); err != nil {
					if ctx.Err() != nil {
						return
					}
					if !sr.retry(ctx, fmt.Errorf("publish %d records of %s: %w", len(head.fresh), sr.name, err)) {
						return
					}
					for _, p := range s.q {
						if !sr.send(ctx, p) {
							return
						}
					}
					continue
				}
			}
			s.q = s.q[1:]
			if !yield(head) {
				return
			}
		}
	}
}

// stored takes p, whose records are stored: it saves p's cursor when it
// moved — in the background, once the previous save ended: when records
// moved it and the stream is catching up (p has more), once p is
// CatchUpSavePages past the saved cursor; at most every SaveInterval when
// records moved it and the stream caught up; at most every IdleSave when
// only pages without records did — and reports p in the status. It
// returns false when ctx ended.
func (sr *streamRun) stored(ctx context.Context, p *sentPage, saved *string, savedAt *time.Time) bool {
	r := sr.r
	page := p.page
	sr.unsaved = sr.unsaved || len(p.fresh) > 0
	sr.taken = page.Cursor
	sr.seq++
	if len(p.fresh) > 0 {
		sr.recordsSeq = sr.seq
	}
	busy := false
	if sr.saving != nil {
		// A stream takes at most InFlight pages past the saved cursor
		// before it waits for the save under way, so a crash reads
		// again at most PollConfig.CrashReread pages; a later page
		// saves the newer cursor.
		if sr.seq-sr.savedSeq > r.cfg.InFlight {
			<-sr.saving
		}
		select {
		case <-sr.saving:
			sr.saveDone(saved, savedAt)
		default:
			busy = true // one save at a time: a later page saves the newer cursor
		}
	}
	since := r.clock.Since(*savedAt)
	catchingUp := page.More && sr.seq-sr.savedSeq >= r.cfg.CatchUpSavePages()
	due := since >= r.cfg.IdleSave || (sr.unsaved && (catchingUp || since >= r.cfg.SaveInterval))
	if page.Cursor != *saved && due && !busy {
		sr.saveAsync(ctx, page.Cursor)
	}
	sr.bo.Reset()
	sr.recovered()
	now := r.clock.Now()
	r.update(sr.st, func(st *Status) {
		st.Cursor = page.Cursor
		st.Pages++
		st.Published += int64(len(p.fresh))
		st.Duplicates += int64(p.dups)
		st.LastSuccess = now
		if !page.Position.IsZero() {
			st.Position = page.Position
			st.Lag = max(now.Sub(page.Position), 0)
		}
		if page.Complete.After(st.Complete) {
			st.Complete = page.Complete
		}
		if !page.More {
			st.State = StateCaughtUp
		}
	})
	return true
}

// retry records err and waits before the next attempt: until the
// provider's rate-limit reset when err names one, else the next backoff.
// It returns false when ctx ended.
func (sr *streamRun) retry(ctx context.Context, err error) bool {
	r := sr.r
	now := r.clock.Now()
	d := sr.bo.NextBackOff()
	state := StateBackoff
	if at, ok := RetryAt(err); ok {
		state = StateRateLimited
		d = min(max(at.Sub(now), 0), r.cfg.MaxRateLimitWait)
	}
	if !sr.failing {
		r.log.Warn("stream failing, retrying", "stream", sr.s.Name(), "wait", d, "err", err)
		sr.failing = true
	} else {
		r.log.Debug("stream still failing", "stream", sr.s.Name(), "wait", d, "err", err)
	}
	r.update(sr.st, func(st *Status) {
		st.State = state
		st.LastError = err.Error()
		st.LastErrorAt = now
	})
	return sr.wait(ctx, d)
}

// recovered logs the end of a failure streak and clears the status error.
func (sr *streamRun) recovered() {
	if !sr.failing {
		return
	}
	sr.failing = false
	sr.r.log.Info("stream recovered", "stream", sr.s.Name())
	sr.r.update(sr.st, func(st *Status) { st.LastError, st.LastErrorAt = "", time.Time{} })
}

// wait sleeps d on the runner's clock; false when ctx ended first.
func (sr *streamRun) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := sr.r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return true
	case <-ctx.Done():
		return false
	}
}

// recent remembers the digests of the last n records published, so that a
// record read again in an overlap is not published again.
type recent struct {
	n    int
	seed maphash.Seed
	set  map[[2]uint64]struct{}
	ring [][2]uint64
	next int
}

func newRecent(n int, seed maphash.Seed) *recent {
	if n < 0 {
		n = 0
	}
	return &recent{n: n, seed: seed, set: make(map[[2]uint64]struct{}, min(n, 4096))}
}

func (rc *recent) key(b []byte) [2]uint64 {
	var h maphash.Hash
	h.SetSeed(rc.seed)
	_, _ = h.Write(b)
	a := h.Sum64()
	_ = h.WriteByte(0xff)
	return [2]uint64{a, h.Sum64()}
}

// filter returns the records of recs not published recently (and not
// repeated within recs) with their digests, and how many it left out.
func (rc *recent) filter(recs []bus.Record) ([]bus.Record, [][2]uint64, int) {
	if rc.n == 0 || len(recs) == 0 {
		return recs, nil, 0
	}
	out := make([]bus.Record, 0, len(recs))
	keys := make([][2]uint64, 0, len(recs))
	inPage := make(map[[2]uint64]bool, len(recs))
	for _, rec := range recs {
		k := rc.key(rec.Raw)
		if _, ok := rc.set[k]; ok || inPage[k] {
			continue
		}
		inPage[k] = true
		out = append(out, rec)
		keys = append(keys, k)
	}
	return out, keys, len(recs) - len(out)
}

// add remembers the digests of published records.
func (rc *recent) add(keys [][2]uint64) {
	for _, k := range keys {
		if _, ok := rc.set[k]; ok {
			continue
		}
		if len(rc.ring) < rc.n {
			rc.ring = append(rc.ring, k)
		} else {
			delete(rc.set, rc.ring[rc.next])
			rc.ring[rc.next] = k
			rc.next = (rc.next + 1) % rc.n
		}
		rc.set[k] = struct{}{}
	}
}
