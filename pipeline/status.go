package pipeline

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/keytrail/keytrail/model"
)

// CollectorState is what a source's collector reports about itself.
type CollectorState struct {
	// Cursor is its durable position.
	Cursor string
	// Lag is how far it is behind the provider.
	Lag time.Duration
	// Complete is the provider time up to which it has published every
	// record the provider will ever list (zero: not known yet): its
	// position, less a window it still re-reads for records listed late.
	Complete time.Time
	// Backlog counts records waiting upstream.
	Backlog     int64
	LastSuccess time.Time
	LastError   string
	LastErrorAt time.Time
}

// Status keeps the state of every source of one `keytrail collect`: what
// its collector reports (through a probe) and what the sink stored of it.
// It is safe for concurrent use; a nil *Status ignores everything.
type Status struct {
	mu     sync.Mutex
	by     map[Key]*model.SourceStatus
	names  map[string]*model.SourceStatus
	probes map[string]func() CollectorState
}

// NewStatus returns a Status for the configured sources (Name, Type,
// Source and Instance set). Records of a source instance not among them are
// tallied under "<source>/<instance>" with type "bus".
func NewStatus(sources []model.SourceStatus) *Status {
	s := &Status{by: map[Key]*model.SourceStatus{}, names: map[string]*model.SourceStatus{}, probes: map[string]func() CollectorState{}}
	for _, src := range sources {
		st := src
		s.names[st.Name] = &st
		s.by[Key{st.Source, st.Instance}] = &st
	}
	return s
}

// Probe registers how to ask source name's collector for its state.
func (s *Status) Probe(name string, probe func() CollectorState) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probes[name] = probe
}

func (s *Status) entry(k Key) *model.SourceStatus {
	if st, ok := s.by[k]; ok {
		return st
	}
	st := &model.SourceStatus{Name: string(k.Source) + "/" + k.Instance, Type: "bus", Source: k.Source, Instance: k.Instance}
	s.by[k] = st
	s.names[st.Name] = st
	return st
}

// stored tallies a successful store write.
func (s *Status) stored(res Results, at time.Time) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range res {
		st := s.entry(k)
		st.Stored += int64(r.Accepted)
		st.Duplicates += int64(r.Duplicates)
		st.Conflicts += int64(r.Conflicts)
		st.DeadLetters += int64(r.DeadLetters)
		st.LastStoredAt = at
	}
}

// complete returns what the probes of the named sources say they are
// complete up to, by source instance: the earliest when two sources share
// one, zero for a source without a probe or whose probe does not know yet.
func (s *Status) complete(names []string) map[Key]time.Time {
	type named struct {
		k     Key
		probe func() CollectorState
	}
	s.mu.Lock()
	ask := make([]named, 0, len(names))
	for _, n := range names {
		if st, ok := s.names[n]; ok {
			ask = append(ask, named{Key{st.Source, st.Instance}, s.probes[n]})
		}
	}
	s.mu.Unlock()
	out := make(map[Key]time.Time, len(ask))
	for _, a := range ask { // outside the lock: a probe may take a moment
		var t time.Time
		if a.probe != nil {
			t = a.probe().Complete
		}
		if prev, seen := out[a.k]; seen && (prev.IsZero() || prev.Before(t)) {
			t = prev
		}
		out[a.k] = t
	}
	return out
}

// Snapshot returns every source's state now, by name.
func (s *Status) Snapshot(now time.Time) []model.SourceStatus {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	probes := make(map[string]func() CollectorState, len(s.probes))
	for n, p := range s.probes {
		probes[n] = p
	}
	s.mu.Unlock()
	states := make(map[string]CollectorState, len(probes))
	for n, p := range probes { // outside the lock: a probe may take a moment
		states[n] = p()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]model.SourceStatus, 0, len(s.names))
	for name, st := range s.names {
		v := *st
		if c, ok := states[name]; ok {
			v.Cursor, v.Lag, v.Complete, v.Backlog = c.Cursor, c.Lag, c.Complete, c.Backlog
			v.LastSuccess, v.LastError, v.LastErrorAt = c.LastSuccess, c.LastError, c.LastErrorAt
		}
		v.UpdatedAt = now
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b model.SourceStatus) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// StatusStore keeps sources' states where `keytrail status` reads them.
type StatusStore interface {
	WriteSourceStatus(ctx context.Context, st []model.SourceStatus) error
}

// DefaultStatusInterval is how often a StatusWriter writes.
const DefaultStatusInterval = 10 * time.Second

// StatusWriter is the component that writes a Status to a StatusStore
// every interval, and once more when it stops.
type StatusWriter struct {
	status   *Status
	store    StatusStore
	interval time.Duration
	o        Options
	down     *outage
}

// NewStatusWriter returns a StatusWriter (interval 0: DefaultStatusInterval).
func NewStatusWriter(st *Status, store StatusStore, interval time.Duration, o Options) *StatusWriter {
	o = o.withDefaults()
	return &StatusWriter{status: st, store: store, interval: or(interval, DefaultStatusInterval), o: o,
		down: newOutage(o.Logger, o.Clock, Backoff{}, "store", "component", "status")}
}

// Run writes until ctx ends, then writes the final state (within a few
// seconds) and returns nil. A failed write is retried at the next tick.
func (w *StatusWriter) Run(ctx context.Context) error {
	t := w.o.Clock.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.write(ctx)
		select {
		case <-ctx.Done():
			fctx, cancel := withGrace(ctx, w.o.Clock, 5*time.Second)
			defer cancel()
			w.write(fctx)
			return nil
		case <-t.Chan():
		}
	}
}

func (w *StatusWriter) write(ctx context.Context) {
	if err := w.store.WriteSourceStatus(ctx, w.status.Snapshot(w.o.Clock.Now())); err != nil {
		if ctx.Err() != nil {
			return // cut short by the shutdown, not a store outage: the last write follows
		}
		w.down.failed(ctx, err)
		return
	}
	w.down.ok(ctx)
}
