package correlate

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Update is one verdict the Engine emits.
type Update struct {
	model.Correlation
	// Final is set on the action's last update: the finality watermark
	// (see Engine) has passed the action's time plus clock skew plus grace
	// (twice the clock skew for runs, whose trigger may lie a skew after
	// them), or Flush was called. No update for the action follows it.
	Final bool
}

// Sink receives the Engine's updates, in the order the Engine makes them,
// on the goroutine that called Add or Flush, with the Engine locked: it must
// not call back into the Engine. For each action it receives a provisional
// update when the action arrives, an update whenever the verdict (or the
// assertion relied on) changes before finalisation — a re-emit of a changed
// verdict is how an alert gets resolved — and exactly one Final update, which
// may repeat the previous one. An action that arrives already past its
// finalisation gets a single Final update. The Sink owns nothing it is given
// beyond the call.
type Sink interface {
	Correlated(u Update)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Update)

// Correlated calls f(u).
func (f SinkFunc) Correlated(u Update) { f(u) }

// ErrUnsupported marks an event of a type the Engine does not take.
var ErrUnsupported = errors.New("unsupported event type")

// Stats is a snapshot of the Engine's gauges and counters.
type Stats struct {
	// Watermark is the latest event time seen.
	Watermark time.Time
	// Finality is the finality watermark: actions whose deadline it passed
	// are final. It is Watermark until Progress names a source, then the
	// earliest progress of the sources named; it never moves back.
	Finality time.Time
	// TrackedPersons is the number of people with held assertions or
	// pending actions.
	TrackedPersons int
	// PendingActions is the number of actions not yet finalised.
	PendingActions int
	// EventsHeld is the number of events held: authentications, credential
	// registrations and removals, and the enabling actions kept for runs.
	EventsHeld int
	// Credentials is the number of credentials with a registration or
	// removal held (kept regardless of age: one per credential).
	Credentials int
	// DAGs is the number of DAGs with state.
	DAGs int
	// Events counts events added.
	Events int64
	// Ignored counts events that cannot affect a verdict (failed or session
	// authentications, unresolved people, non-human Airflow rows) and
	// duplicates.
	Ignored int64
	// Late counts events that arrived after the finality watermark had
	// passed their time plus grace: finalised verdicts they would have
	// changed stay as they were.
	Late int64
	// Updates counts updates emitted.
	Updates int64
}

// Engine correlates events one at a time. It tolerates out-of-order
// arrival: an event whose time is at most the policy's grace behind the
// finality watermark is fully accounted for, and an action's verdict then
// equals Batch's over the same events. The finality watermark is, by
// default, the latest event time seen — right when every source's events
// arrive about in time order. Live sources do not: one lags (Google's
// Reports API lists activities hours late), another pages faster. Once
// Progress names the sources and how far each is complete, the finality
// watermark is the earliest of their progresses instead, so an action is
// final, and the state it was judged on dropped, only when no source can
// still deliver an event that changes it; until then its verdict is
// provisional and updated as events arrive. Memory is bounded by the
// lookback: assertions older than finality watermark − lookback − grace −
// 2·clock_skew are expired, with per-DAG enabling actions and
// per-credential registration records compacted to what later actions can
// still need. An Engine is safe for concurrent use; its Sink is called with
// the Engine locked.
type Engine struct {
	mu        sync.Mutex
	s         *state
	sink      Sink
	wm        int64 // the latest event time seen
	haveWM    bool
	fin       int64 // the finality watermark (see finality)
	haveFin   bool
	progress  map[SourceKey]int64 // per source, complete up to (0: unknown); nil until Progress
	lastSweep int64
	pending   itemHeap
	items     map[string]*item // pending, by action id
	done      map[uint64]int64 // finalised action ids (hashed) → deadline
	doneQ     []doneEntry      // done in finalisation order, for expiry
	seed      maphash.Seed
	credUsers map[string]map[string]struct{} // credential → people with assertions using it
	stats     Stats
}

type doneEntry struct {
	h        uint64
	deadline int64
}

// SourceKey names a source of events: a provider and its instance (an IdP
// tenant, an Airflow deployment).
type SourceKey struct {
	Source   model.Source
	Instance string
}

// NewEngine returns an Engine that correlates under p and emits to sink.
func NewEngine(p Policy, sink Sink) (*Engine, error) {
	if sink == nil {
		return nil, errors.New("new correlate engine: nil sink")
	}
	r, err := compile(p)
	if err != nil {
		return nil, fmt.Errorf("new correlate engine: %w", err)
	}
	return &Engine{
		s:         newState(r),
		sink:      sink,
		items:     map[string]*item{},
		done:      map[uint64]int64{},
		seed:      maphash.MakeSeed(),
		credUsers: map[string]map[string]struct{}{},
	}, nil
}

// PolicyVersion returns the version of the Engine's policy.
func (e *Engine) PolicyVersion() string { return e.s.r.version }

// Add feeds one event: a model.AuthEvent, model.Authenticator,
// model.AirflowEvent or model.DagRun, or a pointer to one (not retained).
// It updates and emits the verdicts the event affects, advances the
// watermark, and finalises the actions it passed. It fails, changing
// nothing, when ctx is done, the event has no time, or its type is not one
// of these.
func (e *Engine) Add(ctx context.Context, ev any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("correlate add: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch v := ev.(type) { // pointers are read, not retained
	case *model.AuthEvent:
		if v != nil {
			ev = *v
		}
	case *model.Authenticator:
		if v != nil {
			ev = *v
		}
	case *model.AirflowEvent:
		if v != nil {
			ev = *v
		}
	case *model.DagRun:
		if v != nil {
			ev = *v
		}
	}
	var ts time.Time
	var apply func()
	switch v := ev.(type) {
	case model.AuthEvent:
		ts, apply = v.TS, func() { e.addAuth(&v) }
	case model.Authenticator:
		ts, apply = v.TS, func() { e.addAuthenticator(&v) }
	case model.AirflowEvent:
		ts, apply = v.TS, func() { e.addAirflow(&v) }
	case model.DagRun:
		ts, apply = v.TS, func() { e.addRun(&v) }
	default:
		return fmt.Errorf("correlate add %T: %w", ev, ErrUnsupported)
	}
	if ts.IsZero() {
		return fmt.Errorf("correlate add %T: %w", ev, ErrNoTime)
	}
	e.stats.Events++
	t := nanos(ts)
	if e.haveFin && t+e.s.r.grace < e.fin {
		e.stats.Late++
	}
	apply()
	if !e.haveWM || t > e.wm {
		e.wm, e.haveWM = t, true
	}
	e.advance()
	return nil
}

// Progress tells the Engine how far sources are complete: every event of
// source k with a time at or before p[k] has been added (a zero time: the
// source is known, its progress is not yet). From the first call on, the
// finality watermark is the earliest progress of every source named so far
// — not the latest event time — so a source that lags holds back the
// finalisation (and the state expiry) of every action it could still
// change, and an idle source holds back nothing once its collector reports
// it caught up. A source's progress never moves back, nor does the
// finality watermark (name every source before the first event); sources
// not in p keep theirs. Events of sources never named count as on time if they arrive
// within grace of the finality watermark. Progress finalises the actions the
// new finality watermark passed.
func (e *Engine) Progress(p map[SourceKey]time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.progress == nil {
		e.progress = make(map[SourceKey]int64, len(p))
	}
	for k, t := range p {
		n := int64(0)
		if !t.IsZero() {
			n = nanos(t)
		}
		e.progress[k] = max(e.progress[k], n)
	}
	e.advance()
}

// Flush finalises every pending action, in deadline order, as if the
// stream had ended. The watermark and held state are unchanged; events
// added afterwards start new pending actions.
func (e *Engine) Flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.pending.Len() > 0 {
		e.finalise(heap.Pop(&e.pending).(*item))
	}
}

// Stats returns a snapshot of the Engine's gauges and counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.stats
	if e.haveWM {
		st.Watermark = fromNanos(e.wm)
	}
	if e.haveFin {
		st.Finality = fromNanos(e.fin)
	}
	st.TrackedPersons = len(e.s.persons)
	st.PendingActions = e.pending.Len()
	st.Credentials = len(e.s.creds)
	st.DAGs = len(e.s.dags)
	st.EventsHeld = e.s.eventsHeld()
	return st
}

// eventsHeld counts the authentications, credential registrations and
// removals, and enabling actions s holds.
func (s *state) eventsHeld() int {
	held := 0
	for _, p := range s.persons {
		held += len(p.auths)
	}
	for _, evs := range s.creds {
		held += len(evs)
	}
	for _, d := range s.dags {
		held += len(d.unpauses) + len(d.backfills) + len(d.triggers)
	}
	return held
}

func (e *Engine) emit(it *item) {
	e.stats.Updates++
	e.sink.Correlated(Update{Correlation: it.c, Final: it.final})
}

func (e *Engine) addAuth(ev *model.AuthEvent) {
	if !isAuthentication(ev) || ev.Person == "" {
		e.stats.Ignored++
		return
	}
	a := toAssertion(ev)
	p := e.s.personOf(ev.Person)
	if !insertAssertion(p, a) {
		e.stats.Ignored++
		return
	}
	if a.cred != "" {
		u := e.credUsers[a.cred]
		if u == nil {
			u = map[string]struct{}{}
			e.credUsers[a.cred] = u
		}
		u[ev.Person] = struct{}{}
	}
	e.rejudgePerson(ev.Person)
}

func (e *Engine) addAuthenticator(ev *model.Authenticator) {
	k, ce, ok := toCredEvent(ev)
	if !ok {
		e.stats.Ignored++
		return
	}
	evs := e.s.creds[k]
	i, found := slices.BinarySearchFunc(evs, ce, cmpCred)
	if found {
		e.stats.Ignored++
		return
	}
	e.s.creds[k] = slices.Insert(evs, i, ce)
	people := make([]string, 0, len(e.credUsers[k])+1)
	for p := range e.credUsers[k] {
		people = append(people, p)
	}
	if ev.Person != "" && !slices.Contains(people, ev.Person) {
		people = append(people, ev.Person)
	}
	slices.Sort(people)
	for _, p := range people {
		e.rejudgePerson(p)
	}
}

// known reports whether action id is pending or was finalised recently.
func (e *Engine) known(id string) bool {
	if e.items[id] != nil {
		return true
	}
	_, ok := e.done[maphash.String(e.seed, id)]
	return ok
}

func (e *Engine) addAirflow(ev *model.AirflowEvent) {
	if !isAction(ev) || e.known(auditID(ev)) {
		e.stats.Ignored++
		return
	}
	it := e.s.newAuditItem(ev)
	e.s.judge(it)
	var d *dag
	if it.linked {
		d = e.s.link(it, insertItem)
	}
	e.track(it)
	if d != nil {
		e.rejudgeRuns(d)
	}
}

func (e *Engine) addRun(r *model.DagRun) {
	if e.known(runID(r)) {
		e.stats.Ignored++
		return
	}
	it := e.s.newRunItem(r)
	e.s.judge(it)
	e.track(it)
}

// Resolve gives a pending action the person ev names: ev is the
// model.AirflowEvent or model.DagRun (or a pointer to one) added before,
// now with the Person its actor resolves to, learned after it arrived — it
// arrived without a person, or with a provisional one that has since moved
// (identities do not depend on arrival order). The action is judged again
// and an update emitted when its verdict changes. It reports whether a
// pending action took the person; an action already finalised keeps its
// verdict, as it keeps it against a late event.
func (e *Engine) Resolve(ev any) bool {
	var id, person string
	switch v := ev.(type) {
	case model.AirflowEvent:
		id, person = auditID(&v), v.Person
	case *model.AirflowEvent:
		id, person = auditID(v), v.Person
	case model.DagRun:
		id, person = runID(&v), v.Person
	case *model.DagRun:
		id, person = runID(v), v.Person
	default:
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	it := e.items[id]
	if it == nil || person == "" || it.base.Person == person {
		return false
	}
	if p := it.personOf(); p != "" {
		if pp := e.s.persons[p]; pp != nil {
			pp.pending = removeItem(pp.pending, it)
		}
	}
	it.base.Person = person
	if p := it.personOf(); p != "" {
		pp := e.s.personOf(p)
		pp.pending = append(pp.pending, it)
	}
	e.rejudge(it)
	return true
}

// track registers a judged new item as pending (or finalises it at once when
// it is already past its deadline) and emits it.
func (e *Engine) track(it *item) {
	if e.haveFin && it.deadline < e.fin {
		it.final = true
		e.emit(it)
		e.remember(it)
		return
	}
	e.items[it.base.ActionID] = it
	heap.Push(&e.pending, it)
	if p := it.personOf(); p != "" {
		pp := e.s.personOf(p)
		pp.pending = append(pp.pending, it)
	}
	if it.isRun() {
		d := e.s.dagOf(dagKey{it.base.Instance, it.base.DagID})
		d.pendingRuns = append(d.pendingRuns, it)
	}
	e.emit(it)
}

func (e *Engine) rejudgePerson(id string) {
	p := e.s.persons[id]
	if p == nil {
		return
	}
	for _, it := range p.pending {
		e.rejudge(it)
	}
}

func (e *Engine) rejudge(it *item) {
	if !e.s.judge(it) {
		return
	}
	e.emit(it)
	if it.linked {
		if d := e.s.dags[dagKey{it.base.Instance, it.base.DagID}]; d != nil {
			e.rejudgeRuns(d)
		}
	}
}

func (e *Engine) rejudgeRuns(d *dag) {
	for _, it := range d.pendingRuns {
		if e.s.judge(it) {
			e.emit(it)
		}
	}
}

// finality returns the finality watermark: the latest event time seen
// until Progress names a source, then the earliest progress of the sources
// named (none while one of them has no progress yet).
func (e *Engine) finality() (int64, bool) {
	if len(e.progress) == 0 {
		return e.wm, e.haveWM
	}
	first, ok := int64(0), false
	for _, t := range e.progress {
		if t == 0 {
			return 0, false
		}
		if !ok || t < first {
			first, ok = t, true
		}
	}
	return first, ok
}

// advance moves the finality watermark forward (never back), finalises the
// actions it passed and, now and then, expires the state it makes useless.
func (e *Engine) advance() {
	fin, ok := e.finality()
	if !ok || (e.haveFin && fin <= e.fin) {
		return
	}
	e.fin, e.haveFin = fin, true
	for e.pending.Len() > 0 && e.pending[0].deadline < e.fin {
		e.finalise(heap.Pop(&e.pending).(*item))
	}
	if e.fin-e.lastSweep >= e.sweepEvery() {
		e.sweep()
		e.lastSweep = e.fin
	}
}

func (e *Engine) sweepEvery() int64 {
	return max(e.s.r.lookback/64, int64(time.Minute))
}

// finalise marks a popped item final, emits it and drops its pending links.
func (e *Engine) finalise(it *item) {
	it.final = true
	e.emit(it)
	delete(e.items, it.base.ActionID)
	e.remember(it)
	if p := it.personOf(); p != "" {
		if pp := e.s.persons[p]; pp != nil {
			pp.pending = removeItem(pp.pending, it)
		}
	}
	if it.isRun() {
		if d := e.s.dags[dagKey{it.base.Instance, it.base.DagID}]; d != nil {
			d.pendingRuns = removeItem(d.pendingRuns, it)
		}
	}
}

// remember keeps a finalised action id, so a redelivery is not correlated
// again, until the finality watermark passes its deadline plus the lookback.
func (e *Engine) remember(it *item) {
	h := maphash.String(e.seed, it.base.ActionID)
	e.done[h] = it.deadline
	e.doneQ = append(e.doneQ, doneEntry{h, it.deadline})
}

func removeItem(l []*item, it *item) []*item {
	if i := slices.Index(l, it); i >= 0 {
		return slices.Delete(l, i, i+1)
	}
	return l
}

// sweep expires state no pending or future on-time action can need.
func (e *Engine) sweep() {
	r := e.s.r
	cutoff := e.fin - r.lookback - r.grace - 2*r.skew // oldest assertion still needed
	runCut := e.fin - r.grace - 2*r.skew              // oldest run still to be judged
	for id, p := range e.s.persons {
		n, _ := slices.BinarySearchFunc(p.auths, cutoff, cmpTS)
		if n > 0 {
			p.auths = append(p.auths[:0:0], p.auths[n:]...)
		}
		if len(p.auths) == 0 && len(p.pending) == 0 {
			delete(e.s.persons, id)
		}
	}
	for k, evs := range e.s.creds {
		e.s.creds[k] = compactCred(evs, cutoff)
	}
	for k, u := range e.credUsers {
		for p := range u {
			if e.s.persons[p] == nil {
				delete(u, p)
			}
		}
		if len(u) == 0 {
			delete(e.credUsers, k)
		}
	}
	for k, d := range e.s.dags {
		if d.compact(runCut, r.trigWin) {
			delete(e.s.dags, k)
		}
	}
	n := 0
	for n < len(e.doneQ) && e.doneQ[n].deadline < e.fin-r.lookback {
		if e.done[e.doneQ[n].h] == e.doneQ[n].deadline {
			delete(e.done, e.doneQ[n].h)
		}
		n++
	}
	if n > 0 {
		e.doneQ = append(e.doneQ[:0:0], e.doneQ[n:]...)
	}
}

// compact keeps what runs at or after cut can inherit from: the unpauses
// and backfill requests at or after cut and the latest of each before, and
// the triggers of the trigger window before cut. It reports whether d is
// left empty.
func (d *dag) compact(cut, trigWin int64) bool {
	d.unpauses = compactLatest(d.unpauses, cut)
	d.backfills = compactLatest(d.backfills, cut)
	n, _ := slices.BinarySearchFunc(d.triggers, cut-trigWin, func(x *item, t int64) int { return cmp.Compare(x.ts, t) })
	if n > 0 {
		d.triggers = append(d.triggers[:0:0], d.triggers[n:]...)
	}
	return len(d.unpauses)+len(d.backfills)+len(d.triggers)+len(d.pendingRuns) == 0
}

// compactLatest keeps the items at or after cut and the latest one before.
func compactLatest(l []*item, cut int64) []*item {
	n, _ := slices.BinarySearchFunc(l, cut, func(x *item, t int64) int { return cmp.Compare(x.ts, t) })
	if n <= 1 {
		return l
	}
	return append(l[:0:0], l[n-1:]...)
}

// compactCred keeps a credential's events at or after cut, the latest one
// before it, and the latest registration before it: all that assertions at
// or after cut can be judged on.
func compactCred(evs []credEvent, cut int64) []credEvent {
	n, _ := slices.BinarySearchFunc(evs, cut, func(x credEvent, t int64) int { return cmp.Compare(x.ts, t) })
	if n <= 1 {
		return evs
	}
	reg := -1
	for i := n - 1; i >= 0; i-- {
		if evs[i].register {
			reg = i
			break
		}
	}
	if reg >= 0 {
		// The kept registration carries what earlier ones said and it
		// leaves blank (see credentialAt).
		merged := evs[reg]
		for i := reg - 1; i >= 0; i-- {
			if r := &evs[i]; r.register {
				merged.aaguid = cmp.Or(merged.aaguid, r.aaguid)
				merged.model = cmp.Or(merged.model, r.model)
				merged.factor = cmp.Or(merged.factor, r.factor)
				if merged.hw < 0 {
					merged.hw = r.hw
				}
			}
		}
		evs[reg] = merged
	}
	out := make([]credEvent, 0, len(evs)-n+2)
	if reg >= 0 && reg != n-1 {
		out = append(out, evs[reg])
	}
	out = append(out, evs[n-1:]...)
	return out
}

// itemHeap orders pending items by deadline, then time, then id.
type itemHeap []*item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if h[i].deadline != h[j].deadline {
		return h[i].deadline < h[j].deadline
	}
	if h[i].ts != h[j].ts {
		return h[i].ts < h[j].ts
	}
	return strings.Compare(h[i].base.ActionID, h[j].base.ActionID) < 0
}
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *itemHeap) Push(x any) {
	it := x.(*item)
	it.heapIdx = len(*h)
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.heapIdx = -1
	return it
}
