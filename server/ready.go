package server

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// CheckFunc reports whether one dependency is ready; nil means ready.
type CheckFunc func(ctx context.Context) error

// Readiness is the registry of readiness checks /readyz runs: the store,
// the schema, Kafka when configured, each collector's last success.
// Components register their own checks (Register) before or after the
// server starts. It is safe for concurrent use.
type Readiness struct {
	mu     sync.Mutex
	checks map[string]CheckFunc
}

// NewReadiness returns an empty registry.
func NewReadiness() *Readiness { return &Readiness{checks: map[string]CheckFunc{}} }

// Register adds (or replaces) the check called name.
func (r *Readiness) Register(name string, check CheckFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[name] = check
}

// CheckResult is one check's outcome.
type CheckResult struct {
	Name       string `json:"name"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Run runs every check concurrently within ctx and reports each, sorted by
// name, and whether all passed.
func (r *Readiness) Run(ctx context.Context) ([]CheckResult, bool) {
	r.mu.Lock()
	names := make([]string, 0, len(r.checks))
	for n := range r.checks {
		names = append(names, n)
	}
	checks := make([]CheckFunc, len(names))
	slices.Sort(names)
	for i, n := range names {
		checks[i] = r.checks[n]
	}
	r.mu.Unlock()
	out := make([]CheckResult, len(names))
	var wg sync.WaitGroup
	for i := range names {
		wg.Go(func() {
			start := time.Now()
			err := checks[i](ctx)
			out[i] = CheckResult{Name: names[i], OK: err == nil, DurationMS: time.Since(start).Milliseconds()}
			if err != nil {
				out[i].Error = err.Error()
			}
		})
	}
	wg.Wait()
	ok := true
	for _, c := range out {
		ok = ok && c.OK
	}
	return out, ok
}

// ReadyTimeout bounds one /readyz.
const ReadyTimeout = 5 * time.Second

// readyz answers 200 when every check passes, else 503, with each check.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), ReadyTimeout)
	defer cancel()
	res, ok := s.ready.Run(ctx)
	status, code := http.StatusOK, "ready"
	if !ok {
		status, code = http.StatusServiceUnavailable, "not_ready"
	}
	return c.JSON(status, map[string]any{"status": code, "checks": res})
}
