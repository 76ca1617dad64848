package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/evidence"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/server/console"
)

// Reader reads what the API serves. Its errors wrap evidence.ErrNotFound
// for an action it does not hold. Implemented by warehouse.API.
type Reader interface {
	Correlations(ctx context.Context, f evidence.Filter) (evidence.Page, error)
	Chain(ctx context.Context, policyVersion, actionID string) (evidence.Chain, error)
	Coverage(ctx context.Context, policyVersion string, from, to time.Time, g evidence.GroupBy) (evidence.Coverage, error)
	Stats(ctx context.Context) (evidence.Stats, error)
}

// Reporter writes an evidence pack for opts into dir, calling progress
// with the rows written so far and the total. Implemented by
// warehouse.Warehouse.Report.
type Reporter interface {
	Report(ctx context.Context, opts report.Options, dir string, progress func(done, total int64)) (model.Manifest, error)
}

// Deps are what a Server works with. Publisher is required when any
// intake is configured; Reader for the API; Reporter and SigningKey for
// POST /v1/reports.
type Deps struct {
	// Publisher takes pushed records; its Publish returns only when they
	// are durable (bus.Publisher).
	Publisher bus.Publisher
	Reader    Reader
	Reporter  Reporter
	// SigningKey signs evidence packs made through the API.
	SigningKey ed25519.PrivateKey
	// Ready holds the readiness checks; default an empty Readiness.
	Ready *Readiness
	// Registry receives the server's metrics and serves /metrics (with
	// every other collector registered in it). Default a new registry.
	Registry *prometheus.Registry
	// Logger gets structured logs; default discard.
	Logger *slog.Logger
	// Now is the clock (signature windows, report times). Default time.Now.
	Now func() time.Time
	// HTTPClient fetches OIDC discovery documents and JWKS. Default
	// http.DefaultClient with a 10 s timeout.
	HTTPClient *http.Client
	// Version is keytrail's version, stamped in evidence packs.
	Version string
	// Console reads what the console's pages show; required with
	// server.console. Implemented by warehouse.API.
	Console console.Reader
	// Verifier verifies packs for the console; nil hides verification.
	Verifier Verifier
}

// Server is `keytrail serve`'s HTTP service on echo: health, readiness,
// metrics, push intake, the OIDC-protected API and its OpenAPI document.
type Server struct {
	cfg     Config
	d       Deps
	e       *echo.Echo
	log     *slog.Logger
	metrics *Metrics
	auth    *authenticator
	intake  *intake
	reports *reportJobs
	console *console.Console
	ready   *Readiness
	routes  []Route

	srvMu sync.Mutex
	srv   *http.Server
}

// Route is a registered method and path (echo syntax, :param).
type Route struct {
	Method, Path string
}

// New builds a Server for cfg (defaults applied, validated) with d. It
// reads the configured secrets now, so a missing one fails here.
func New(cfg Config, d Deps) (*Server, error) {
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Ready == nil {
		d.Ready = NewReadiness()
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Server{cfg: cfg, d: d, log: d.Logger, ready: d.Ready}
	m, err := NewMetrics(d.Registry, d.Reader, d.Now)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	s.metrics = m
	if s.intake, err = newIntake(cfg, d, m); err != nil {
		return nil, err
	}
	s.auth = newAuthenticator(cfg.API, d.HTTPClient, d.Now)
	s.reports = newReportJobs(cfg.Reports, d, m)
	if err := s.reports.load(); err != nil {
		return nil, err
	}
	if s.console, err = s.newConsole(cfg, d); err != nil {
		return nil, err
	}
	s.e = s.echo()
	return s, nil
}

// Routes lists every registered route.
func (s *Server) Routes() []Route { return s.routes }

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.e }

// echo builds the router: middleware, then every route.
func (s *Server) echo() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestIDs, s.observe, s.recoverPanics, s.deadline)
	add := func(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		e.Add(method, path, h, mw...)
		s.routes = append(s.routes, Route{method, path})
	}
	add(http.MethodGet, "/healthz", s.healthz)
	add(http.MethodGet, "/readyz", s.readyz)
	add(http.MethodGet, "/metrics", echo.WrapHandler(s.metrics.handler(s.d.Registry)))
	add(http.MethodGet, "/v1/openapi.json", s.openapi)

	// Push intake: each sender authenticated by its own secret, never OIDC.
	add(http.MethodGet, "/v1/hooks/okta/:instance", s.intake.oktaVerify)
	add(http.MethodPost, "/v1/hooks/okta/:instance", s.intake.oktaDeliver)
	add(http.MethodPost, "/v1/ingest/oidc", s.intake.idToken)
	add(http.MethodPost, "/v1/ingest/:source", s.intake.ship)

	// The API: OIDC bearer tokens with roles.
	auditor := []echo.MiddlewareFunc{s.auth.authenticate, requireRole(RoleAuditor)}
	add(http.MethodGet, "/v1/correlations", s.listCorrelations, auditor...)
	add(http.MethodGet, "/v1/actions/:action_id", s.actionChain, auditor...)
	add(http.MethodGet, "/v1/coverage", s.coverage, auditor...)
	add(http.MethodPost, "/v1/reports", s.startReport, auditor...)
	add(http.MethodGet, "/v1/reports", s.listReports, auditor...)
	add(http.MethodGet, "/v1/reports/:id", s.getReport, auditor...)
	add(http.MethodGet, "/v1/reports/:id/files/:name", s.reportFile, auditor...)
	add(http.MethodGet, "/v1/whoami", s.whoami, s.auth.authenticate)

	// The auditor's console: sessions from the OIDC code flow, its own
	// middleware (sign-in, CSRF, roles) applied by the console.
	if s.console != nil {
		for _, r := range s.console.Routes() {
			add(r.Method, r.Path, r.Handler)
		}
	}
	return e
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Run listens on the configured address and serves until ctx ends, then
// shuts down gracefully (see Serve).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends. Then it stops accepting, lets requests
// in flight finish (an intake request returns only after the bus took its
// records) and waits for running reports, all within timeouts.shutdown; it
// returns nil after a clean drain.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	t := s.cfg.Timeouts
	srv := &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.srvMu.Lock()
	s.srv = srv
	s.srvMu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "drain_timeout", t.Shutdown.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.Shutdown)
	defer cancel()
	err := srv.Shutdown(sctx)
	if rerr := s.reports.wait(sctx); err == nil {
		err = rerr
	}
	if serr := <-errc; err == nil && !errors.Is(serr, http.ErrServerClosed) {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	s.log.Info("stopped")
	return nil
}
