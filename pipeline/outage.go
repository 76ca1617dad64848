package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"
)

// Backoff is a capped exponential backoff policy with jitter.
type Backoff struct {
	// Initial is the first wait after a failure. Default 200ms.
	Initial time.Duration
	// Max caps every wait. Default 30s.
	Max time.Duration
}

// Defaults of Backoff.
const (
	DefaultBackoffInitial = 200 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
)

func (b Backoff) policy() *backoff.ExponentialBackOff {
	p := backoff.NewExponentialBackOff()
	p.InitialInterval = or(b.Initial, DefaultBackoffInitial)
	p.MaxInterval = max(or(b.Max, DefaultBackoffMax), p.InitialInterval)
	return p
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// outage tracks one dependency (the store, the bus) of a component: the
// first failure of an outage is logged (with the error), the following ones
// are not, and the recovery is logged once with how long it lasted.
type outage struct {
	log   *slog.Logger
	clock clockwork.Clock
	what  string // e.g. "store"
	attrs []any

	mu       sync.Mutex
	down     bool
	since    time.Time
	failures int
	lastErr  error
	policy   *backoff.ExponentialBackOff
}

func newOutage(log *slog.Logger, clock clockwork.Clock, b Backoff, what string, attrs ...any) *outage {
	return &outage{log: log, clock: clock, what: what, attrs: attrs, policy: b.policy()}
}

// failed records a failure and returns how long to wait before trying again.
func (o *outage) failed(ctx context.Context, err error, attrs ...any) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failures++
	o.lastErr = err
	if !o.down {
		o.down, o.since = true, o.clock.Now()
		o.policy.Reset()
		o.log.WarnContext(ctx, o.what+" unavailable; retrying with backoff until it is back", append(append(o.attrs, attrs...), "err", err)...)
	}
	return o.policy.NextBackOff()
}

// ok records a success; it logs the end of an outage.
func (o *outage) ok(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.down {
		return
	}
	o.log.InfoContext(ctx, o.what+" available again", append(o.attrs, "down_for", o.clock.Since(o.since).Round(time.Millisecond).String(), "failures", o.failures)...)
	o.down, o.failures, o.lastErr = false, 0, nil
}

// sleep waits d on clock, or until ctx ends (false).
func sleep(ctx context.Context, clock clockwork.Clock, d time.Duration) bool {
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.Chan():
		return true
	}
}

// withGrace returns a context that lives while ctx does and for grace more
// after ctx ends: the time a component has to finish (flush, commit) once
// asked to stop.
func withGrace(ctx context.Context, clock clockwork.Clock, grace time.Duration) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var timer clockwork.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timer = clock.AfterFunc(grace, cancel)
		mu.Unlock()
	})
	return c, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// withDeadline is context.WithDeadline on clock.
func withDeadline(ctx context.Context, clock clockwork.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(ctx)
	t := clock.AfterFunc(d, cancel)
	return c, func() { t.Stop(); cancel() }
}
