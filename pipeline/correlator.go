package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/correlate"
)

// Live is the streaming correlator a Correlator drives: correlation.Live,
// which feeds the events stored since its last poll to correlate.Engine and
// writes the verdicts (and hands alerts to its Notifier).
type Live interface {
	// Preload warms the engine with the stored events that actions from
	// since on depend on.
	Preload(ctx context.Context, since time.Time) error
	// Poll correlates the events stored since the last poll.
	Poll(ctx context.Context) (int, error)
	// Progress says how far each source's events are stored; from then
	// on an action is final only when every source has passed it.
	Progress(ctx context.Context, p map[correlate.SourceKey]time.Time) error
	// Close finalises pending actions and writes their verdicts.
	Close(ctx context.Context) error
}

// Defaults of CorrelatorConfig.
const (
	DefaultPollInterval    = 5 * time.Second
	DefaultMinPollInterval = 100 * time.Millisecond
	DefaultCloseTimeout    = 30 * time.Second
)

// CorrelatorConfig configures a Correlator.
type CorrelatorConfig struct {
	// Since is where the engine's state starts: Preload reads the events
	// that actions from Since on depend on; earlier actions are batch
	// correlate's. Required.
	Since time.Time
	// Interval is the longest between two polls. Default DefaultPollInterval.
	Interval time.Duration
	// MinInterval is the shortest between two polls: the sink's
	// notifications within it coalesce into one poll. Default
	// DefaultMinPollInterval.
	MinInterval time.Duration
	// CloseTimeout bounds the last poll and Close once Run is asked to
	// stop. Default DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Backoff paces retries while the store is unavailable.
	Backoff Backoff
	// Progress, when set, tells how far each source's records are stored
	// (Progress.Stored): the correlator's per-source watermarks, so that
	// verdicts do not depend on which source was polled first. Nil: actions
	// are final by the latest event time seen.
	Progress func(ctx context.Context) (map[correlate.SourceKey]time.Time, error)
}

// Correlator is the streaming correlation component. It reads the events
// the sinks stored — polling the store when a sink says it wrote (Notify)
// and at least every Interval — so verdicts and alerts follow a record's
// arrival within about a sink flush plus MinInterval.
//
// It consumes stored events rather than a topic of normalized events:
// correlation needs what only the store has — the people the enricher
// resolved, hardware decided from registrations stored earlier, and
// identities learned after an action was stored — and reading the same
// rows as batch correlate keeps the two in step. Correlator replicas that
// split people through a consumer-group assignment would each feed Live
// from a normalized topic keyed by person instead of polling; the Live
// interface is where that source plugs in.
type Correlator struct {
	cfg   CorrelatorConfig
	live  Live
	o     Options
	nudge chan struct{}
	down  *outage
}

// NewCorrelator returns a Correlator driving live.
func NewCorrelator(cfg CorrelatorConfig, live Live, o Options) *Correlator {
	o = o.withDefaults()
	cfg.Interval = or(cfg.Interval, DefaultPollInterval)
	cfg.MinInterval = or(cfg.MinInterval, DefaultMinPollInterval)
	cfg.CloseTimeout = or(cfg.CloseTimeout, DefaultCloseTimeout)
	return &Correlator{cfg: cfg, live: live, o: o, nudge: make(chan struct{}, 1),
		down: newOutage(o.Logger, o.Clock, cfg.Backoff, "store", "component", "correlator")}
}

// Notify tells the correlator that events were stored; it polls soon. It
// never blocks.
func (c *Correlator) Notify() {
	select {
	case c.nudge <- struct{}{}:
	default:
	}
}

// Run preloads, then polls until ctx ends — each poll reads the sources'
// progress before it reads the store, and hands it on after; then it polls once more (what
// the sinks stored last) and closes the engine, writing every pending
// verdict, within CloseTimeout.
func (c *Correlator) Run(ctx context.Context) error {
	gctx, cancel := withGrace(ctx, c.o.Clock, c.cfg.CloseTimeout)
	defer cancel()
	for ctx.Err() == nil {
		var err error
		if p := c.stored(ctx); p != nil { // names the sources first: preloaded actions wait for them
			err = c.live.Progress(ctx, p)
		}
		if err == nil {
			err = c.live.Preload(ctx, c.cfg.Since)
		}
		if err == nil {
			c.down.ok(ctx)
			break
		}
		if ctx.Err() != nil {
			break
		}
		sleep(ctx, c.o.Clock, c.down.failed(ctx, err))
	}
	tick := c.o.Clock.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			continue
		case <-c.nudge:
		case <-tick.Chan():
		}
		c.poll(ctx)
		sleep(ctx, c.o.Clock, c.cfg.MinInterval)
	}
	var errs []error
	if _, err := c.live.Poll(gctx); err != nil {
		errs = append(errs, fmt.Errorf("last poll: %w", err))
	}
	if err := c.live.Close(gctx); err != nil {
		errs = append(errs, fmt.Errorf("close: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("correlator: %w", err)
	}
	return nil
}

// stored returns how far each source's records are stored now (nil
// without CorrelatorConfig.Progress). Not knowing newer progress (the bus
// unreachable) only delays finality: it is logged, and the last known
// returned.
func (c *Correlator) stored(ctx context.Context) map[correlate.SourceKey]time.Time {
	if c.cfg.Progress == nil {
		return nil
	}
	p, err := c.cfg.Progress(ctx)
	if err != nil {
		c.o.Logger.DebugContext(ctx, "source progress unknown", "component", "correlator", "err", err)
	}
	return p
}

func (c *Correlator) poll(ctx context.Context) {
	p := c.stored(ctx) // before the poll: what it reads includes all of it
	_, err := c.live.Poll(ctx)
	if err == nil && p != nil {
		err = c.live.Progress(ctx, p) // after the poll read what was stored by then
	}
	c.o.Metrics.polled(err)
	if err == nil {
		c.down.ok(ctx)
		return
	}
	if ctx.Err() != nil {
		return
	}
	sleep(ctx, c.o.Clock, c.down.failed(ctx, err))
}
