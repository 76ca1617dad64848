package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Roles of the API.
const (
	// RoleAuditor reads correlations, evidence chains and coverage, and
	// makes and downloads evidence packs.
	RoleAuditor = "auditor"
	// RoleAdmin may do everything an auditor may, and administration.
	RoleAdmin = "admin"
)

// Principal is an authenticated API caller.
type Principal struct {
	Subject string   `json:"subject"`
	Issuer  string   `json:"issuer"`
	Roles   []string `json:"roles"`
}

// Has reports whether p holds role (admin holds every role).
func (p Principal) Has(role string) bool {
	return slices.Contains(p.Roles, role) || slices.Contains(p.Roles, RoleAdmin)
}

const ctxPrincipal = "keytrail.principal"

func principal(c echo.Context) (Principal, bool) {
	p, ok := c.Get(ctxPrincipal).(Principal)
	return p, ok
}

// JWKSRefetchEvery and JWKSRefetchBurst bound how often a verifier fetches
// its issuer's JWKS. go-oidc re-fetches the key set whenever a token does
// not verify against the cached keys (a rotation, but also any forged or
// unknown-kid token), so without a bound every forged request would be a
// request to the IdP. Beyond the bound such tokens are refused without a
// fetch; tokens signed with a cached key are unaffected.
const (
	JWKSRefetchEvery = 10 * time.Second
	JWKSRefetchBurst = 3
)

// verifier verifies tokens of one issuer with go-oidc: discovery on first
// use (retried on the next request after a failure, so keytrail starts
// while the IdP is unreachable), JWKS fetched and re-fetched when a token
// names a key it does not hold (rotation) — at most JWKSRefetchBurst fetches
// at once and one per JWKSRefetchEvery after that —, audience, expiry and
// the allowed algorithms checked.
type verifier struct {
	issuer, audience string
	algs             []string
	client           *http.Client
	now              func() time.Time

	mu sync.Mutex
	v  *oidc.IDTokenVerifier
}

func newVerifier(issuer, audience string, algs []string, client *http.Client, now func() time.Time) *verifier {
	return &verifier{issuer: issuer, audience: audience, algs: algs, client: client, now: now}
}

// get returns the go-oidc verifier, discovering the issuer when needed.
func (v *verifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.v != nil {
		return v.v, nil
	}
	cctx := oidc.ClientContext(context.WithoutCancel(ctx), v.client)
	dctx, cancel := context.WithTimeout(cctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discover OIDC issuer %s: %w", ErrUnavailable, v.issuer, err)
	}
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKS == "" {
		return nil, fmt.Errorf("%w: OIDC issuer %s publishes no jwks_uri", ErrUnavailable, v.issuer)
	}
	base := v.client
	if base == nil {
		base = http.DefaultClient
	}
	limited := &http.Client{Timeout: base.Timeout, Transport: &limitedTransport{
		base: base.Transport, now: v.now, lim: rate.NewLimiter(rate.Every(JWKSRefetchEvery), JWKSRefetchBurst)}}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.WithoutCancel(ctx), limited), meta.JWKS)
	v.v = oidc.NewVerifier(v.issuer, keys, &oidc.Config{ClientID: v.audience, SupportedSigningAlgs: v.algs, Now: v.now})
	return v.v, nil
}

// errJWKSLimited is the key fetch refused by limitedTransport.
var errJWKSLimited = fmt.Errorf("signing key not in the cached key set, and the key set was re-fetched %d times in the last %s", JWKSRefetchBurst, JWKSRefetchBurst*JWKSRefetchEvery)

// limitedTransport lets requests through while lim allows (on the clock
// now) and refuses the rest without touching the network.
type limitedTransport struct {
	base http.RoundTripper
	now  func() time.Time
	lim  *rate.Limiter
}

func (t *limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.lim.AllowN(t.now(), 1) {
		return nil, errJWKSLimited
	}
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// verify checks token and returns it; a refused token is ErrUnauthenticated
// with go-oidc's reason (which never quotes the token).
func (v *verifier) verify(ctx context.Context, token string) (*oidc.IDToken, error) {
	ov, err := v.get(ctx)
	if err != nil {
		return nil, err
	}
	t, err := ov.Verify(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("%w: token refused: %s", ErrUnauthenticated, strings.TrimPrefix(err.Error(), "oidc: "))
	}
	return t, nil
}

// authenticator authenticates API callers by OIDC bearer token and maps the
// role claim to keytrail's roles.
type authenticator struct {
	cfg APIAuth
	v   *verifier
}

func newAuthenticator(cfg APIAuth, client *http.Client, now func() time.Time) *authenticator {
	a := &authenticator{cfg: cfg}
	if cfg.Issuer != "" {
		a.v = newVerifier(cfg.Issuer, cfg.Audience, cfg.Algorithms, client, now)
	}
	return a
}

// authenticate requires a valid bearer token and records its Principal.
// Without a configured issuer the API does not exist (404).
func (a *authenticator) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if a.v == nil {
			return fmt.Errorf("%w: the API is not configured (server.api.issuer)", ErrNotFound)
		}
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return fmt.Errorf("%w: want Authorization: Bearer <OIDC token>", ErrUnauthenticated)
		}
		t, err := a.v.verify(c.Request().Context(), strings.TrimSpace(tok))
		if err != nil {
			return err
		}
		var claims map[string]json.RawMessage
		if err := t.Claims(&claims); err != nil {
			return fmt.Errorf("%w: token claims: %w", ErrUnauthenticated, err)
		}
		c.Set(ctxPrincipal, Principal{Subject: t.Subject, Issuer: t.Issuer, Roles: a.roles(claims[a.cfg.RoleClaim])})
		return next(c)
	}
}

// roles maps the role claim (a string or a list of strings) to roles.
func (a *authenticator) roles(raw json.RawMessage) []string {
	var vals []string
	if err := json.Unmarshal(raw, &vals); err != nil {
		var one string
		if json.Unmarshal(raw, &one) == nil {
			vals = strings.Fields(one)
		}
	}
	var out []string
	for role, want := range map[string][]string{RoleAuditor: a.cfg.Roles.Auditor, RoleAdmin: a.cfg.Roles.Admin} {
		for _, v := range vals {
			if slices.Contains(want, v) {
				out = append(out, role)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// requireRole refuses callers without role (403).
func requireRole(role string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := principal(c)
			if !ok {
				return fmt.Errorf("%w: not authenticated", ErrUnauthenticated)
			}
			if !p.Has(role) {
				return fmt.Errorf("%w: the %s role is required (none of the token's %s claim values maps to it)", ErrForbidden, role, "role")
			}
			return next(c)
		}
	}
}

// whoami answers the caller's principal.
func (s *Server) whoami(c echo.Context) error {
	p, _ := principal(c)
	return c.JSON(http.StatusOK, p)
}
