package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keytrail/keytrail/evidence"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
)

// Reader reads what the pages show. Implemented by warehouse.API.
type Reader interface {
	// Overview is the summary of q, the numbers its evidence pack prints.
	Overview(ctx context.Context, policyVersion string, q report.Query) (evidence.Overview, error)
	// Exceptions is one page of exceptions, most severe first.
	Exceptions(ctx context.Context, f evidence.Filter, after *evidence.ExceptionCursor) (evidence.ExceptionPage, error)
	// Stream calls fn for every correlation f selects, in (action time,
	// action id) order.
	Stream(ctx context.Context, f evidence.Filter, fn func(model.Correlation) error) error
	// Chain is the evidence behind one action's verdict; its error wraps
	// evidence.ErrNotFound for an unknown action.
	Chain(ctx context.Context, policyVersion, actionID string) (evidence.Chain, error)
	// LatestAction is the time of the latest correlated action; zero for none.
	LatestAction(ctx context.Context, policyVersion string) (time.Time, error)
	// PolicyText is the canonical text of a policy version, ok false when
	// the store records none.
	PolicyText(ctx context.Context, version string) (text string, ok bool, err error)
}

// Pack states.
const (
	PackRunning = "running"
	PackDone    = "done"
	PackFailed  = "failed"
)

// Verification states.
const (
	VerifyRunning  = "running"
	VerifyOK       = "ok"       // signature by a trusted key, files and store agree
	VerifyMismatch = "mismatch" // the pack does not verify: Differences say where
	VerifyFailed   = "failed"   // verification could not run: Error says why
)

// Pack is an evidence pack made by the server, finished or not.
type Pack struct {
	ID                    string
	State                 string // PackRunning, PackDone or PackFailed
	From, To              time.Time
	Instance              string
	StartedAt, FinishedAt time.Time
	Done, Total           int64 // population rows written so far, and in all
	Error                 string
	Files                 []PackFile
	PolicyVersion         string
	DataDigest            string
	// Verification is the latest verification's result; nil before any.
	Verification *Verification
}

// PackFile is one file of a finished pack.
type PackFile struct {
	Name   string
	SHA256 string // "" for manifest.json and manifest.sig
	Bytes  int64
}

// Verification is the result of verifying a pack against the store.
type Verification struct {
	State       string // VerifyRunning, VerifyOK, VerifyMismatch or VerifyFailed
	StartedAt   time.Time
	CheckedAt   time.Time
	RowsChecked int64
	Differences []string
	Notes       []string
	Error       string
}

// PackRequest asks for an evidence pack of [From, To).
type PackRequest struct {
	From, To   time.Time
	Instance   string
	SampleSize int
}

// Packs are the server's evidence packs. Implemented by package server over
// the same jobs as /v1/reports.
type Packs interface {
	// List returns every pack, newest first.
	List() []Pack
	// Get returns one pack.
	Get(id string) (Pack, bool)
	// Start begins writing a pack in the background.
	Start(req PackRequest) (Pack, error)
	// File returns the path of one file of a finished pack; its error wraps
	// evidence.ErrNotFound for a file the pack does not list.
	File(id, name string) (string, error)
	// Verify begins verifying a finished pack in the background.
	Verify(id string) error
	// Enabled reports whether packs can be made (a directory and a key are
	// configured).
	Enabled() bool
}

// Options configure the console. Package server fills them from its
// `console` config section, secrets read.
type Options struct {
	// Issuer is the OIDC issuer people sign in with.
	Issuer string
	// ClientID and ClientSecret are keytrail's client at the issuer; the
	// secret is empty for a public client (PKCE protects the code).
	ClientID, ClientSecret string
	// RedirectURL is where the issuer sends people back
	// (https://keytrail.example/auth/callback); its path is the callback route.
	RedirectURL string
	// Scopes requested; default openid, profile, email.
	Scopes []string
	// Algorithms the ID token may be signed with; default RS256, ES256.
	Algorithms []string
	// CookieKey seals the session cookie; at least 32 bytes.
	CookieKey []byte
	// SessionTTL is how long a sign-in lasts; default 8h.
	SessionTTL time.Duration
	// Roles maps an ID token's claims to what the person may do: read (the
	// auditor role) and administer (the admin role, which also reads).
	Roles func(claims map[string]json.RawMessage) (read, admin bool)
	// OverviewTTL is how long an overview is served from memory; default 1m.
	OverviewTTL time.Duration
}

// Defaults of Options.
const (
	DefaultSessionTTL  = 8 * time.Hour
	DefaultOverviewTTL = time.Minute
	MinCookieKey       = 32
)

// Deps are what the console works with.
type Deps struct {
	Reader Reader
	Packs  Packs
	// HTTPClient talks to the issuer; default a client with a 10 s timeout.
	HTTPClient *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
	Version    string
}

// Console serves the auditor's console.
type Console struct {
	opts     Options
	d        Deps
	log      *slog.Logger
	oidc     *oidcClient
	sealer   *sealer
	secure   bool
	callback string
	pages    *pages
	cop      *http.CrossOriginProtection
	cache    *overviewCache
}

// New builds a console. It validates opts and parses its templates; the
// issuer is discovered on the first sign-in.
func New(opts Options, d Deps) (*Console, error) {
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{"openid", "profile", "email"}
	}
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = []string{"RS256", "ES256"}
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.OverviewTTL == 0 {
		opts.OverviewTTL = DefaultOverviewTTL
	}
	var errs []error
	u, err := url.Parse(opts.RedirectURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !strings.HasPrefix(u.Path, "/") || len(u.Path) < 2 {
		errs = append(errs, fmt.Errorf("console redirect URL %q: want an absolute http(s) URL with a path", opts.RedirectURL))
	}
	if opts.Issuer == "" || opts.ClientID == "" {
		errs = append(errs, errors.New("console: issuer and client id are required"))
	}
	if len(opts.CookieKey) < MinCookieKey {
		errs = append(errs, fmt.Errorf("console: the cookie key must be at least %d bytes", MinCookieKey))
	}
	if opts.Roles == nil {
		errs = append(errs, errors.New("console: no role mapping"))
	}
	if d.Reader == nil || d.Packs == nil {
		errs = append(errs, errors.New("console: a reader and packs are required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := newSealer(opts.CookieKey)
	if err != nil {
		return nil, err
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{opts: opts, d: d, log: d.Logger, sealer: s, secure: u.Scheme == "https", callback: u.Path, pages: p,
		cop: http.NewCrossOriginProtection(), cache: newOverviewCache(opts.OverviewTTL, d.Now)}
	c.oidc = newOIDCClient(opts, d.HTTPClient, d.Now)
	return c, nil
}

// Route is one of the console's routes (echo syntax).
type Route struct {
	Method, Path string
	Handler      echo.HandlerFunc
}

// Routes lists the console's routes, each with its middleware applied.
func (c *Console) Routes() []Route {
	page := func(h echo.HandlerFunc) echo.HandlerFunc { return c.headers(c.signedIn(h)) }
	post := func(h echo.HandlerFunc) echo.HandlerFunc { return c.headers(c.signedIn(c.checkPost(h))) }
	admin := func(h echo.HandlerFunc) echo.HandlerFunc { return post(c.requireAdmin(h)) }
	return []Route{
		{http.MethodGet, "/", page(c.overview)},
		{http.MethodGet, "/exceptions", page(c.exceptions)},
		{http.MethodGet, "/exceptions.csv", page(c.exceptionsCSV)},
		{http.MethodGet, "/actions/:action_id", page(c.action)},
		{http.MethodGet, "/packs", page(c.packList)},
		{http.MethodPost, "/packs", admin(c.packStart)},
		{http.MethodGet, "/packs/:id", page(c.packShow)},
		{http.MethodGet, "/packs/:id/files/:name", page(c.packFile)},
		{http.MethodPost, "/packs/:id/verify", post(c.packVerify)},
		{http.MethodGet, "/login", c.headers(c.login)},
		{http.MethodGet, c.callback, c.headers(c.authCallback)},
		{http.MethodPost, "/logout", post(c.logout)},
		{http.MethodGet, "/signed-out", c.headers(c.signedOut)},
		{http.MethodGet, "/static/*", c.static},
	}
}

// Owns reports whether a matched route template is one of the console's:
// its errors are rendered as pages (RenderError), not JSON.
func (c *Console) Owns(route string) bool {
	for _, r := range c.Routes() {
		if r.Path == route {
			return true
		}
	}
	return false
}

// contentSecurityPolicy allows no script, styles and images from this
// origin only, forms posting to this origin only and no framing.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// headers sets the console's security headers: a policy that allows no
// script, no framing and forms posting to this origin only; no caching of
// pages that show evidence.
func (c *Console) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		h := ec.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		return next(ec)
	}
}

// RenderError answers err's status (classified by the server) as a page.
// A 401 on a page sends the person to sign in instead.
func (c *Console) RenderError(ec echo.Context, status int, code, message, requestID string) {
	if status == http.StatusUnauthorized && ec.Request().Method == http.MethodGet {
		_ = ec.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(ec.Request().URL.RequestURI()))
		return
	}
	ec.Response().Header().Set("Content-Security-Policy", contentSecurityPolicy)
	ec.Response().Header().Set("Cache-Control", "no-store")
	s, _ := c.session(ec)
	v := c.view(ec, s, "Error", "")
	v.Page = errorPage{Status: status, StatusText: http.StatusText(status), Code: code, Message: message, RequestID: requestID}
	if err := c.pages.render(ec.Response(), status, "error", v); err != nil {
		c.log.Error("render error page", "err", err)
	}
}

type errorPage struct {
	Status                               int
	StatusText, Code, Message, RequestID string
}
