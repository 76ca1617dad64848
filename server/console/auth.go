package console

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"
)

// oidcClient is keytrail's relying party at the issuer: discovery on first
// use (retried after a failure, so keytrail starts while the issuer is
// down), the authorization-code exchange and ID-token verification.
type oidcClient struct {
	opts   Options
	client *http.Client
	now    func() time.Time

	mu       sync.Mutex
	cfg      *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newOIDCClient(opts Options, client *http.Client, now func() time.Time) *oidcClient {
	return &oidcClient{opts: opts, client: client, now: now}
}

// ctx carries the HTTP client for go-oidc and oauth2.
func (o *oidcClient) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.client)
}

// get returns the OAuth 2 config and the ID-token verifier, discovering the
// issuer when needed.
func (o *oidcClient) get(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cfg != nil {
		return o.cfg, o.verifier, nil
	}
	dctx, cancel := context.WithTimeout(o.ctx(context.WithoutCancel(ctx)), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, o.opts.Issuer)
	if err != nil {
		return nil, nil, echo.NewHTTPError(http.StatusServiceUnavailable, fmt.Sprintf("the sign-in provider %s cannot be reached: %v", o.opts.Issuer, err))
	}
	ep := p.Endpoint()
	if o.opts.ClientSecret == "" {
		// A public client sends its id in the form (RFC 6749 §2.3, 4.1.3):
		// oauth2's auto-detection would first try HTTP Basic, spending the
		// single-use code on a refused attempt.
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	o.cfg = &oauth2.Config{ClientID: o.opts.ClientID, ClientSecret: o.opts.ClientSecret, Endpoint: ep,
		RedirectURL: o.opts.RedirectURL, Scopes: o.opts.Scopes}
	o.verifier = p.VerifierContext(o.ctx(context.WithoutCancel(ctx)),
		&oidc.Config{ClientID: o.opts.ClientID, SupportedSigningAlgs: o.opts.Algorithms, Now: o.now})
	return o.cfg, o.verifier, nil
}

// localPath returns next when it is a path on this site, else "/".
func localPath(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}

// login starts a sign-in: a fresh state, nonce and PKCE verifier sealed in
// a short-lived cookie, then the issuer's authorization endpoint.
func (c *Console) login(ec echo.Context) error {
	cfg, _, err := c.oidc.get(ec.Request().Context())
	if err != nil {
		return err
	}
	st := loginState{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: localPath(ec.QueryParam("next")), Expires: c.d.Now().Add(loginTTL).Unix()}
	v, err := c.sealer.seal(loginCookie, st)
	if err != nil {
		return err
	}
	ec.SetCookie(c.cookie(loginCookie, v, loginTTL))
	return ec.Redirect(http.StatusFound, cfg.AuthCodeURL(st.State, oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce)))
}

// authCallback completes a sign-in: the state must be the one sealed in the
// login cookie, the code is exchanged with the PKCE verifier, the ID token
// verified (issuer, audience, expiry, algorithm, nonce) and its claims
// mapped to a role. Without a role nobody is signed in.
func (c *Console) authCallback(ec echo.Context) error {
	r := ec.Request()
	var st loginState
	if err := c.readSealed(r, loginCookie, &st, func() int64 { return st.Expires }); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "This sign-in has expired or was started elsewhere. Sign in again.")
	}
	ec.SetCookie(c.cookie(loginCookie, "", -1))
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		return echo.NewHTTPError(http.StatusBadRequest, "The sign-in response does not belong to this sign-in. Sign in again.")
	}
	if e := q.Get("error"); e != "" {
		return echo.NewHTTPError(http.StatusUnauthorized, "The sign-in provider refused the sign-in: "+e)
	}
	cfg, verifier, err := c.oidc.get(r.Context())
	if err != nil {
		return err
	}
	ctx := c.oidc.ctx(r.Context())
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		c.log.Info("console sign-in: code exchange refused", "err", err)
		return echo.NewHTTPError(http.StatusBadRequest, "The sign-in provider did not accept the sign-in code. Sign in again.")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return echo.NewHTTPError(http.StatusBadRequest, "The sign-in provider returned no ID token.")
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		c.log.Info("console sign-in: ID token refused", "err", err)
		return echo.NewHTTPError(http.StatusUnauthorized, "The ID token was refused: "+strings.TrimPrefix(err.Error(), "oidc: "))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return echo.NewHTTPError(http.StatusUnauthorized, "The ID token does not carry this sign-in's nonce.")
	}
	var claims map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return echo.NewHTTPError(http.StatusUnauthorized, "The ID token's claims cannot be read.")
	}
	read, admin := c.opts.Roles(claims)
	name := claimString(claims, "name")
	if name == "" {
		name = claimString(claims, "email")
	}
	if name == "" {
		name = idt.Subject
	}
	if !read && !admin {
		c.log.Info("console sign-in refused: no role", "subject", idt.Subject)
		return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("You signed in as %s, but your account holds neither the auditor nor the admin role in keytrail.", name))
	}
	s := session{Subject: idt.Subject, Issuer: idt.Issuer, Name: name, Admin: admin, CSRF: randomToken(),
		Expires: c.d.Now().Add(c.opts.SessionTTL).Unix()}
	v, err := c.sealer.seal(sessionCookie, s)
	if err != nil {
		return err
	}
	ec.SetCookie(c.cookie(sessionCookie, v, c.opts.SessionTTL))
	c.log.Info("console sign-in", "subject", idt.Subject, "role", s.Role())
	return ec.Redirect(http.StatusSeeOther, localPath(st.Next))
}

func claimString(claims map[string]json.RawMessage, name string) string {
	var s string
	if json.Unmarshal(claims[name], &s) != nil {
		return ""
	}
	return s
}

// logout ends the session.
func (c *Console) logout(ec echo.Context) error {
	ec.SetCookie(c.cookie(sessionCookie, "", -1))
	return ec.Redirect(http.StatusSeeOther, "/signed-out")
}

func (c *Console) signedOut(ec echo.Context) error {
	if _, ok := c.session(ec); ok {
		return ec.Redirect(http.StatusSeeOther, "/")
	}
	return c.pages.render(ec.Response(), http.StatusOK, "signedout", c.view(ec, session{}, "Signed out", ""))
}

const ctxSession = "keytrail.console.session"

// session returns the request's valid session.
func (c *Console) session(ec echo.Context) (session, bool) {
	if s, ok := ec.Get(ctxSession).(session); ok {
		return s, true
	}
	var s session
	if c.readSealed(ec.Request(), sessionCookie, &s, func() int64 { return s.Expires }) != nil {
		return session{}, false
	}
	return s, true
}

// signedIn requires a session: a page without one sends the person to
// sign in (RenderError turns the 401 into that redirect).
func (c *Console) signedIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		s, ok := c.session(ec)
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "Sign in to use the console.")
		}
		ec.Set(ctxSession, s)
		return next(ec)
	}
}

// maxForm bounds a POSTed form.
const maxForm = 64 << 10

// errCSRF refuses a POST that does not come from the console's own form.
var errCSRF = errors.New("this form was not sent from the console's own page (cross-site request or expired form); reload the page and try again")

// checkPost refuses cross-origin POSTs and POSTs without the session's
// CSRF token.
func (c *Console) checkPost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		r := ec.Request()
		if err := c.cop.Check(r); err != nil {
			return echo.NewHTTPError(http.StatusForbidden, errCSRF.Error())
		}
		tooLarge := echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than %d KiB.", maxForm>>10))
		if r.ContentLength > maxForm {
			return tooLarge
		}
		r.Body = http.MaxBytesReader(ec.Response().Writer, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return tooLarge
			}
			return echo.NewHTTPError(http.StatusBadRequest, "The form cannot be read.")
		}
		s, _ := c.session(ec)
		tok := ec.FormValue("csrf")
		if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) != 1 {
			return echo.NewHTTPError(http.StatusForbidden, errCSRF.Error())
		}
		return next(ec)
	}
}

// requireAdmin refuses people without the admin role.
func (c *Console) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		if s, _ := c.session(ec); !s.Admin {
			return echo.NewHTTPError(http.StatusForbidden, "This needs the admin role; you hold the auditor role.")
		}
		return next(ec)
	}
}
