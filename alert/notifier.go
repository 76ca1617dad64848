package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/keytrail/keytrail/model"
)

// Recorder stores alerts: the store's alerts table, wired by the caller.
//
// RecordAlerts receives the current state of alerts, each for one target and one
// status: when the alert is queued (Attempts 0), after every delivery attempt
// (Attempts, LastError, and SentAt once delivered), and when it is given up
// (LastError says why, SentAt stays zero). Records for one (AlertID, Target,
// Status) are passed in order, and a later one supersedes an earlier one; an
// alert was delivered iff SentAt is set. LastError keeps the last failed
// attempt's error even after a later attempt succeeded.
//
// RecordAlerts is called from several goroutines and must be safe for concurrent
// use. The slice belongs to the caller and must not be retained. An error is
// logged and counted; it does not stop delivery.
type Recorder interface {
	RecordAlerts(ctx context.Context, alerts []model.Alert) error
}

// Sentinel errors.
var (
	// ErrClosed is returned by Handle after Close.
	ErrClosed = errors.New("alert notifier closed")
	// ErrQueueFull is returned by Handle when a target's queue is full.
	ErrQueueFull = errors.New("alert queue full")
	// ErrNoActionID is returned by Handle for a correlation without an action id.
	ErrNoActionID = errors.New("correlation has no action id")
)

// errUndelivered is the LastError of alerts still queued when Close gave up.
var errUndelivered = errors.New("undelivered: notifier closed before delivery")

// ErrUndelivered is returned by Close when alerts were finally not delivered,
// whatever the cause: an error status, a refused connection, a receiver that
// never answered, or Close's deadline.
var ErrUndelivered = errors.New("alerts undelivered")

// History is what earlier runs delivered: the store's alerts table, wired by
// the caller, so that an alert delivered by an earlier process is not sent
// again (see Options.History).
type History interface {
	// AlertStates returns the latest recorded state of every alert at every
	// target whose action time is in [from, to): one model.Alert per
	// (AlertID, Target), as the Recorder last wrote it.
	AlertStates(ctx context.Context, from, to time.Time) ([]model.Alert, error)
}

// Options are a Notifier's collaborators; all are optional.
type Options struct {
	// Logger receives delivery failures and retries. Default: discard.
	Logger *slog.Logger
	// Registerer receives the metrics. Default: none (not exported).
	Registerer prometheus.Registerer
	// Recorder stores alerts. Default: none.
	Recorder Recorder
	// HTTPClient sends webhook, Slack and Alertmanager requests; attempts are
	// bounded by retry.timeout. Default: a client that does not follow
	// redirects (a redirect must not carry the secret header elsewhere).
	HTTPClient *http.Client
	// Getenv resolves url_env and secret_env. Default os.Getenv.
	Getenv func(string) string
	// Clock is the clock for alert times, rate limits, backoff and expiry.
	// Default the real clock.
	Clock clockwork.Clock
	// History, when set, is consulted once per month of action time the
	// first time an alert of that month is handled: alerts whose firing (or
	// resolution) an earlier run delivered to a target are not sent to it
	// again. Default none: deduplication within this Notifier only.
	History History
}

// Notifier applies the alert rule to correlations and delivers alerts to the
// configured targets. It is safe for concurrent use.
type Notifier struct {
	cfg     Config
	log     *slog.Logger
	rec     Recorder
	hist    History
	clock   clockwork.Clock
	m       *metrics
	targets []*target

	histMu sync.Mutex         // serialises history loads
	loaded map[time.Time]bool // months of action time whose history is in states (guarded by mu)

	mu        sync.Mutex
	states    map[string]*alertState
	lastSweep time.Time
	closed    bool
	progress  chan struct{} // closed and replaced when a delivery ends (Flush waits on it)

	closing     chan struct{}   // closed by Close: drain without rate limit
	hard        context.Context // cancelled when Close's deadline passes
	stop        context.CancelFunc
	wg          sync.WaitGroup
	undelivered atomic.Int64                    // alerts whose delivery finally failed
	lastErr     atomic.Pointer[deliveryFailure] // the last such failure
}

// target is one destination with its queue and worker.
type target struct {
	name         string
	kind         string
	sendResolved bool
	rl           RateLimit
	retry        Retry
	sender       sender

	mu       sync.Mutex
	queue    []*item
	reserved int // queued by Handle, not yet appended
	inflight int
	limiter  *rate.Limiter
	wake     chan struct{}
}

// Alert states.
const (
	stateFiring   = iota + 1 // an unverified verdict fired the alert
	stateResolved            // a verified verdict resolved it
	stateVerified            // verified before any alert: nothing to send
)

// Delivery marks per (target, status).
const (
	markQueued = iota + 1
	markSent
)

type markKey struct{ target, status string }

type alertState struct {
	actionTS   time.Time // the action's time, for the history month
	status     int
	fired      model.Correlation
	resolved   model.Correlation
	createdAt  time.Time
	resolvedAt time.Time
	computed   time.Time // latest ComputedAt seen
	updated    time.Time // last change, for dedup_window expiry
	marks      map[markKey]int
	// fromHistory: built from an earlier run's records, not yet seen here;
	// fired holds only what the alerts table keeps.
	fromHistory bool
}

// New starts a Notifier with one delivery worker per target. Defaults are
// applied to cfg and it is validated; url_env and secret_env must be set.
func New(cfg Config, o Options) (*Notifier, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("register alert metrics: %w", err)
	}
	n := &Notifier{
		cfg:      cfg,
		log:      o.Logger,
		rec:      o.Recorder,
		hist:     o.History,
		clock:    o.Clock,
		m:        m,
		states:   map[string]*alertState{},
		loaded:   map[time.Time]bool{},
		progress: make(chan struct{}),
		closing:  make(chan struct{}),
	}
	n.hard, n.stop = context.WithCancel(context.Background())
	for _, tc := range cfg.Targets {
		t := &target{name: tc.Name, kind: tc.kind(), sendResolved: *tc.SendResolved,
			rl: *tc.RateLimit, retry: *tc.Retry, wake: make(chan struct{}, 1)}
		t.limiter = rate.NewLimiter(rate.Limit(float64(t.rl.Max)/t.rl.Per.Seconds()), t.rl.Burst)
		switch t.kind {
		case KindWebhook:
			t.sender, err = newHTTPSender(KindWebhook, *tc.Webhook, 0, cfg, o.HTTPClient, o.Getenv, o.Clock.Now)
		case KindSlack:
			t.sender, err = newHTTPSender(KindSlack, *tc.Slack, 0, cfg, o.HTTPClient, o.Getenv, o.Clock.Now)
		case KindAlertmanager:
			t.sender, err = newHTTPSender(KindAlertmanager, tc.Alertmanager.HTTPTarget, tc.Alertmanager.AlertTTL, cfg, o.HTTPClient, o.Getenv, o.Clock.Now)
		case KindKafka:
			t.sender = newKafkaSender(*tc.Kafka, t.rl, t.retry, cfg)
		}
		if err != nil {
			n.closeSenders()
			return nil, fmt.Errorf("alert target %s: %w", tc.Name, err)
		}
		n.targets = append(n.targets, t)
	}
	for _, t := range n.targets {
		n.wg.Add(1)
		go n.run(t)
	}
	return n, nil
}

// Handle applies the rule to c and queues what it calls for: a firing alert for
// each target the first time an unverified privileged action is seen, a resolve
// for each target that was sent (or queued) the firing alert when a later
// correlation is verified. Repeated calls are idempotent. Handle does not wait
// for delivery; it returns an error wrapping ErrQueueFull when a target's queue
// is full (the alert is recorded with that error and a later Handle retries it).
func (n *Notifier) Handle(ctx context.Context, c model.Correlation) error {
	if !c.Privileged {
		return nil
	}
	if c.ActionID == "" {
		return fmt.Errorf("handle correlation: %w", ErrNoActionID)
	}
	n.loadHistory(ctx, c.ActionTS)
	now := n.clock.Now()
	id := AlertID(c.ActionID, c.PolicyVersion)
	bad := Unverified(c)

	type planned struct {
		t  *target
		it *item
	}
	var (
		plan     []planned
		rejected []model.Alert
		errs     []error
	)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	n.sweepLocked(now)
	st := n.states[id]
	if st != nil && st.fromHistory {
		// An earlier run's alert. The table keeps the verdict that fired it;
		// the rest of the action (labels of the firing alert) is c's.
		st.fromHistory = false
		verdict := st.fired.Verdict
		st.fired = c
		st.fired.Verdict = verdict
		if st.status == stateResolved {
			st.resolved = c
		}
	}
	if st == nil {
		if !bad {
			n.states[id] = &alertState{actionTS: c.ActionTS, status: stateVerified, computed: c.ComputedAt, updated: now}
			n.mu.Unlock()
			return nil
		}
		st = &alertState{actionTS: c.ActionTS, status: stateFiring, fired: c, createdAt: now, computed: c.ComputedAt, updated: now, marks: map[markKey]int{}}
		n.states[id] = st
	} else if !c.ComputedAt.IsZero() && c.ComputedAt.Before(st.computed) {
		n.mu.Unlock()
		n.log.DebugContext(ctx, "ignoring out-of-order correlation", "alert_id", id, "action_id", c.ActionID)
		return nil
	}
	if c.ComputedAt.After(st.computed) {
		st.computed = c.ComputedAt
	}
	var status string
	switch {
	case st.status == stateFiring && bad:
		status = model.AlertFiring
	case st.status == stateFiring && !bad:
		st.status, st.resolved, st.resolvedAt, st.updated = stateResolved, c, now, now
		status = model.AlertResolved
	case st.status == stateResolved && !bad:
		status = model.AlertResolved
	}
	if status != "" {
		for _, t := range n.targets {
			key := markKey{t.name, status}
			if _, ok := st.marks[key]; ok {
				continue
			}
			if status == model.AlertResolved {
				if _, fired := st.marks[markKey{t.name, model.AlertFiring}]; !fired || !t.sendResolved {
					continue
				}
			}
			it := &item{rec: st.record(id, t.name, status), fired: st.fired, resolved: st.resolved, queuedAt: n.clock.Now()}
			if !t.reserve() {
				it.rec.LastError = ErrQueueFull.Error()
				rejected = append(rejected, it.rec)
				errs = append(errs, fmt.Errorf("alert %s to %s: %w (max_queue %d)", id, t.name, ErrQueueFull, t.rl.MaxQueue))
				n.m.dropped.WithLabelValues(t.name).Inc()
				continue
			}
			st.marks[key] = markQueued
			st.updated = now
			plan = append(plan, planned{t, it})
		}
	}
	n.mu.Unlock()

	recs := rejected
	for _, p := range plan {
		recs = append(recs, p.it.rec)
	}
	n.record(ctx, recs)
	for _, p := range plan {
		p.t.push(p.it)
		n.m.queue.WithLabelValues(p.t.name).Set(float64(p.t.length()))
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		n.log.WarnContext(ctx, "alert not queued", "alert_id", id, "action_id", c.ActionID, "err", err)
		return err
	}
	return nil
}

// month is the start of t's month, the unit of history loads.
func month(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// loadHistory makes sure the History of ts's month is in n.states: for each
// alert an earlier run recorded, the delivery marks it earned. A load that
// fails is logged and retried with the next correlation of that month;
// meanwhile alerts are sent (at least once, never silently dropped).
func (n *Notifier) loadHistory(ctx context.Context, ts time.Time) {
	if n.hist == nil {
		return
	}
	m := month(ts)
	n.mu.Lock()
	done := n.loaded[m]
	n.mu.Unlock()
	if done {
		return
	}
	n.histMu.Lock()
	defer n.histMu.Unlock()
	n.mu.Lock()
	done = n.loaded[m]
	n.mu.Unlock()
	if done {
		return
	}
	recs, err := n.hist.AlertStates(ctx, m, m.AddDate(0, 1, 0))
	if err != nil {
		n.log.WarnContext(ctx, "read alert history; alerts of this month may be sent again", "month", m.Format("2006-01"), "err", err)
		return
	}
	now := n.clock.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loaded[m] = true
	for _, r := range recs {
		st := n.states[r.AlertID]
		if st == nil {
			st = &alertState{actionTS: r.ActionTS, status: stateFiring, createdAt: r.CreatedAt, updated: now, marks: map[markKey]int{}, fromHistory: true,
				fired: model.Correlation{ActionID: r.ActionID, ActionTS: r.ActionTS, Verdict: r.Verdict, PolicyVersion: r.PolicyVersion}}
			n.states[r.AlertID] = st
		} else if !st.fromHistory {
			continue // this Notifier already knows better
		}
		switch {
		case r.Status == model.AlertFiring && !r.SentAt.IsZero():
			st.marks[markKey{r.Target, model.AlertFiring}] = markSent
		case r.Status == model.AlertResolved:
			// A resolve is only ever queued behind a delivered (or queued) firing alert.
			st.marks[markKey{r.Target, model.AlertFiring}] = markSent
			st.status, st.resolvedAt = stateResolved, r.ResolvedAt
			if !r.SentAt.IsZero() {
				st.marks[markKey{r.Target, model.AlertResolved}] = markSent
			}
		}
	}
}

func (st *alertState) record(id, targetName, status string) model.Alert {
	it := item{rec: model.Alert{
		AlertID:       id,
		ActionID:      st.fired.ActionID,
		ActionTS:      model.Millis(st.fired.ActionTS),
		Verdict:       st.fired.Verdict,
		Status:        status,
		Target:        targetName,
		PolicyVersion: st.fired.PolicyVersion,
		CreatedAt:     model.Millis(st.createdAt),
	}, fired: st.fired, resolved: st.resolved}
	if status == model.AlertResolved {
		it.rec.ResolvedAt = model.Millis(st.resolvedAt)
	}
	it.rec.Summary = summary(&it)
	return it.rec
}

// sweepLocked forgets alert states unchanged for dedup_window, except those with
// deliveries in progress.
func (n *Notifier) sweepLocked(now time.Time) {
	every := min(n.cfg.DedupWindow/4, time.Minute)
	if now.Sub(n.lastSweep) < every {
		return
	}
	n.lastSweep = now
outer:
	for id, st := range n.states {
		if now.Sub(st.updated) <= n.cfg.DedupWindow {
			continue
		}
		for _, m := range st.marks {
			if m == markQueued {
				continue outer
			}
		}
		delete(n.states, id)
		delete(n.loaded, month(st.actionTS)) // reload what the store remembers
	}
}

func (n *Notifier) record(ctx context.Context, alerts []model.Alert) {
	if n.rec == nil || len(alerts) == 0 {
		return
	}
	if err := n.rec.RecordAlerts(context.WithoutCancel(ctx), alerts); err != nil {
		n.m.records.Inc()
		n.log.ErrorContext(ctx, "record alerts", "alerts", len(alerts), "err", err)
	}
}

// reserve claims a queue slot.
func (t *target) reserve() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.queue)+t.reserved+t.inflight >= t.rl.MaxQueue {
		return false
	}
	t.reserved++
	return true
}

func (t *target) push(it *item) {
	t.mu.Lock()
	t.reserved--
	t.queue = append(t.queue, it)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *target) length() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue) + t.inflight
}

func (t *target) idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue) == 0 && t.reserved == 0 && t.inflight == 0
}

// run is a target's delivery worker.
func (n *Notifier) run(t *target) {
	defer n.wg.Done()
	for {
		batch := n.next(t)
		if batch == nil {
			return
		}
		n.deliver(t, batch)
	}
}

// next waits for queued alerts and a rate-limit token (none once closing) and
// returns up to max_batch alerts; nil when closing and nothing is left.
func (n *Notifier) next(t *target) []*item {
	for {
		closing := isDone(n.closing)
		t.mu.Lock()
		if len(t.queue) > 0 {
			if !closing {
				now := n.clock.Now()
				if !t.limiter.AllowN(now, 1) {
					r := t.limiter.ReserveN(now, 1)
					wait := r.DelayFrom(now)
					r.CancelAt(now)
					t.mu.Unlock()
					timer := n.clock.NewTimer(wait)
					select {
					case <-timer.Chan():
					case <-n.closing:
						timer.Stop()
					}
					continue
				}
			}
			k := min(len(t.queue), t.rl.MaxBatch)
			batch := make([]*item, k)
			copy(batch, t.queue)
			clear(t.queue[:k])
			t.queue = t.queue[k:]
			t.inflight += k
			t.mu.Unlock()
			return batch
		}
		if closing && t.reserved == 0 {
			t.mu.Unlock()
			return nil
		}
		t.mu.Unlock()
		if closing {
			<-t.wake // a reserved slot is pushed, and push wakes us
			continue
		}
		select {
		case <-t.wake:
		case <-n.closing:
		}
	}
}

// deliver sends one batch with retries and records every attempt.
func (n *Notifier) deliver(t *target, batch []*item) {
	var err error
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     t.retry.InitialBackoff,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         t.retry.MaxBackoff,
	}
	bo.Reset()
	for attempt := 1; ; attempt++ {
		if n.hard.Err() != nil {
			err = errUndelivered
			break
		}
		actx, cancel := context.WithTimeout(n.hard, t.retry.Timeout)
		start := time.Now()
		err = t.sender.send(actx, batch)
		cancel()
		n.m.delivery.WithLabelValues(t.name).Observe(time.Since(start).Seconds())
		now := model.Millis(n.clock.Now())
		recs := make([]model.Alert, len(batch))
		for i, it := range batch {
			it.rec.Attempts++
			if err != nil {
				it.rec.LastError = err.Error()
			} else {
				it.rec.SentAt = now
			}
			recs[i] = it.rec
		}
		n.record(n.hard, recs)
		if err == nil {
			break
		}
		n.m.failures.WithLabelValues(t.name).Inc()
		var de *deliveryError
		permanent := errors.As(err, &de) && de.permanent
		if permanent || attempt >= t.retry.Attempts {
			break
		}
		var after time.Duration
		if de != nil {
			after = de.retryAfter
		}
		d := min(max(bo.NextBackOff(), after), t.retry.MaxBackoff)
		n.log.Debug("alert delivery failed, retrying", "target", t.name, "alerts", len(batch), "attempt", attempt, "backoff", d, "err", err)
		timer := n.clock.NewTimer(d)
		select {
		case <-timer.Chan():
		case <-n.hard.Done():
			timer.Stop()
		}
	}

	n.mu.Lock()
	now := n.clock.Now()
	for _, it := range batch {
		st := n.states[it.rec.AlertID]
		if st == nil {
			continue
		}
		key := markKey{t.name, it.rec.Status}
		if err == nil {
			st.marks[key] = markSent
		} else {
			delete(st.marks, key) // a later Handle queues it again
		}
		st.updated = now
	}
	n.mu.Unlock()

	if err == nil {
		for _, it := range batch {
			n.m.sent.WithLabelValues(t.name, it.rec.Status).Inc()
		}
	} else {
		n.m.dropped.WithLabelValues(t.name).Add(float64(len(batch)))
		n.undelivered.Add(int64(len(batch)))
		n.lastErr.Store(&deliveryFailure{target: t.name, err: err})
		if errors.Is(err, errUndelivered) {
			recs := make([]model.Alert, len(batch))
			for i, it := range batch {
				it.rec.LastError = errUndelivered.Error()
				recs[i] = it.rec
			}
			n.record(context.Background(), recs)
		}
		n.log.Error("alert delivery failed", "target", t.name, "alerts", len(batch),
			"alert_id", batch[0].rec.AlertID, "attempts", batch[0].rec.Attempts, "err", err)
	}
	t.mu.Lock()
	t.inflight -= len(batch)
	t.mu.Unlock()
	n.m.queue.WithLabelValues(t.name).Set(float64(t.length()))
	n.signalProgress()
}

// deliveryFailure is the last alert delivery that finally failed.
type deliveryFailure struct {
	target string
	err    error
}

// signalProgress wakes Flush.
func (n *Notifier) signalProgress() {
	n.mu.Lock()
	close(n.progress)
	n.progress = make(chan struct{})
	n.mu.Unlock()
}

// Flush waits until every queued alert has been delivered or given up, or ctx
// ends. Rate limits still apply.
func (n *Notifier) Flush(ctx context.Context) error {
	for {
		n.mu.Lock()
		progress := n.progress
		n.mu.Unlock()
		idle := true
		for _, t := range n.targets {
			if !t.idle() {
				idle = false
				break
			}
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush alerts: %w", ctx.Err())
		case <-progress:
		}
	}
}

// Close stops intake (Handle returns ErrClosed), sends what is queued without
// waiting for rate-limit tokens, and waits for deliveries and their retries
// until ctx ends. Then in-flight requests are cancelled and alerts still queued
// are recorded as undelivered; Close reports how many.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	close(n.closing)
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		n.stop()
		<-done
	}
	n.stop()
	err := n.closeSenders()
	if u := n.undelivered.Load(); u > 0 {
		last := n.lastErr.Load()
		err = errors.Join(fmt.Errorf("%w: %d alert deliveries failed (last, to %s: %v); they are in the alerts table with their errors, and the next run sends them again",
			ErrUndelivered, u, last.target, last.err), err)
	}
	return err
}

func (n *Notifier) closeSenders() error {
	var errs []error
	for _, t := range n.targets {
		if t.sender == nil {
			continue
		}
		if err := t.sender.close(); err != nil {
			errs = append(errs, fmt.Errorf("close alert target %s: %w", t.name, err))
		}
	}
	return errors.Join(errs...)
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
