package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Component is a long-running part of the pipeline, in the manner of
// Loki's services: Run works until ctx ends, then finishes what it holds
// and returns. An error it returns before ctx ends stops the pipeline.
type Component interface {
	Run(ctx context.Context) error
}

// ComponentFunc adapts a function to Component.
type ComponentFunc func(ctx context.Context) error

// Run calls f.
func (f ComponentFunc) Run(ctx context.Context) error { return f(ctx) }

// Stage is components that start together and stop together.
type Stage struct {
	Name       string
	Components []Component
}

// DefaultShutdownTimeout bounds a Pipeline's shutdown.
const DefaultShutdownTimeout = 30 * time.Second

// Pipeline runs stages of components: all start at once; on shutdown they
// stop one stage at a time, in order, each stage after the one before has
// returned — collectors first (no new records), then the sinks (they store
// and commit what they hold), then the correlator (it reads the last
// writes and writes the last verdicts) — so nothing accepted is lost.
type Pipeline struct {
	Stages []Stage
	// ShutdownTimeout bounds the whole shutdown once it starts; a stage
	// still running then is abandoned and Run returns an error. Default
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Logger receives the start and end of shutdown. Default discard.
	Logger *slog.Logger
}

// ErrShutdownTimeout is returned by Run when stages did not stop within
// ShutdownTimeout.
var ErrShutdownTimeout = errors.New("pipeline did not stop within its shutdown timeout")

// Run runs every stage until ctx ends or a component fails, then shuts the
// stages down in order. It returns nil after a clean stop on ctx, and the
// components' errors otherwise.
func (p *Pipeline) Run(ctx context.Context) error {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	failed := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var errs []error
	stages := make([]running, len(p.Stages))
	for i, st := range p.Stages {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		for _, c := range st.Components {
			wg.Go(func() {
				err := c.Run(sctx)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", st.Name, err))
					mu.Unlock()
					if sctx.Err() == nil {
						once.Do(func() { close(failed) })
					}
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		stages[i] = running{cancel, done}
	}
	select {
	case <-ctx.Done():
		log.Info("stopping: shutting the pipeline down in order", "timeout", or(p.ShutdownTimeout, DefaultShutdownTimeout).String())
	case <-failed:
		log.Error("a component failed; shutting the pipeline down")
	}
	deadline := time.NewTimer(or(p.ShutdownTimeout, DefaultShutdownTimeout))
	defer deadline.Stop()
	for i, st := range stages {
		st.cancel()
		select {
		case <-st.done:
		case <-deadline.C:
			for _, rest := range stages[i:] {
				rest.cancel()
			}
			mu.Lock()
			defer mu.Unlock()
			return errors.Join(append(errs, fmt.Errorf("%w (stage %s still running)", ErrShutdownTimeout, p.Stages[i].Name))...)
		}
	}
	log.Info("pipeline stopped")
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(errs...)
}
