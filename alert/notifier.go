package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	// Now is the clock for alert times. Default time.Now.
	Now func() time.Time
}

// Notifier applies the alert rule to correlations and delivers alerts to the
// configured targets. It is safe for concurrent use.
type Notifier struct {
	cfg     Config
	log     *slog.Logger
	rec     Recorder
	now     func() time.Time
	m       *metrics
	targets []*target

	mu        sync.Mutex
	states    map[string]*alertState
	lastSweep time.Time
	closed    bool

	closing     chan struct{}   // closed by Close: drain without rate limit
	hard        context.Context // cancelled when Close's deadline passes
	stop        context.CancelFunc
	wg          sync.WaitGroup
	undelivered atomic.Int64
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
	bucket   bucket
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
	status     int
	fired      model.Correlation
	resolved   model.Correlation
	createdAt  time.Time
	resolvedAt time.Time
	computed   time.Time // latest ComputedAt seen
	updated    time.Time // last change, for dedup_window expiry
	marks      map[markKey]int
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
	if o.Now == nil {
		o.Now = time.Now
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
		cfg:     cfg,
		log:     o.Logger,
		rec:     o.Recorder,
		now:     o.Now,
		m:       m,
		states:  map[string]*alertState{},
		closing: make(chan struct{}),
	}
	n.hard, n.stop = context.WithCancel(context.Background())
	for _, tc := range cfg.Targets {
		t := &target{name: tc.Name, kind: tc.kind(), sendResolved: *tc.SendResolved,
			rl: *tc.RateLimit, retry: *tc.Retry, wake: make(chan struct{}, 1)}
		t.bucket = newBucket(t.rl, time.Now())
		switch t.kind {
		case KindWebhook:
			t.sender, err = newHTTPSender(KindWebhook, *tc.Webhook, 0, cfg, o.HTTPClient, o.Getenv, o.Now)
		case KindSlack:
			t.sender, err = newHTTPSender(KindSlack, *tc.Slack, 0, cfg, o.HTTPClient, o.Getenv, o.Now)
		case KindAlertmanager:
			t.sender, err = newHTTPSender(KindAlertmanager, tc.Alertmanager.HTTPTarget, tc.Alertmanager.AlertTTL, cfg, o.HTTPClient, o.Getenv, o.Now)
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
	now := n.now()
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
	if st == nil {
		if !bad {
			n.states[id] = &alertState{status: stateVerified, computed: c.ComputedAt, updated: now}
			n.mu.Unlock()
			return nil
		}
		st = &alertState{status: stateFiring, fired: c, createdAt: now, computed: c.ComputedAt, updated: now, marks: map[markKey]int{}}
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
			it := &item{rec: st.record(id, t.name, status), fired: st.fired, resolved: st.resolved, queuedAt: time.Now()}
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
				if wait := t.bucket.take(time.Now()); wait > 0 {
					t.mu.Unlock()
					timer := time.NewTimer(wait)
					select {
					case <-timer.C:
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
			select {
			case <-t.wake:
			case <-time.After(5 * time.Millisecond):
			}
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
		now := model.Millis(n.now())
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
		d := backoff(t.retry, attempt, after)
		n.log.Debug("alert delivery failed, retrying", "target", t.name, "alerts", len(batch), "attempt", attempt, "backoff", d, "err", err)
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-n.hard.Done():
			timer.Stop()
		}
	}

	n.mu.Lock()
	now := n.now()
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
		if errors.Is(err, errUndelivered) {
			n.undelivered.Add(int64(len(batch)))
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
}

// backoff is the wait after a failed attempt: exponential, with jitter uniform
// in [b/2, b], at least retryAfter, at most max_backoff.
func backoff(r Retry, attempt int, retryAfter time.Duration) time.Duration {
	b := r.InitialBackoff
	for i := 1; i < attempt && b < r.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, r.MaxBackoff)
	d := b/2 + rand.N(b/2+1)
	d = max(d, retryAfter)
	return min(d, r.MaxBackoff)
}

// Flush waits until every queued alert has been delivered or given up, or ctx
// ends. Rate limits still apply.
func (n *Notifier) Flush(ctx context.Context) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
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
		case <-tick.C:
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
		err = errors.Join(fmt.Errorf("close alert notifier: %d alerts undelivered: %w", u, ctx.Err()), err)
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

// bucket is a token bucket.
type bucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rl RateLimit, now time.Time) bucket {
	return bucket{rate: float64(rl.Max) / rl.Per.Seconds(), burst: float64(rl.Burst), tokens: float64(rl.Burst), last: now}
}

// take consumes a token and returns 0, or returns how long until one is due.
func (b *bucket) take(now time.Time) time.Duration {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}
