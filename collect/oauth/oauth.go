// Package oauth gets the bearer tokens collectors present to providers:
// OAuth 2.0 client credentials (RFC 6749 §4.4) with a client secret
// (Microsoft Graph, Keycloak) or a private_key_jwt assertion (RFC 7523
// §2.2, Okta service apps), and the JWT bearer grant (RFC 7523 §2.1) of
// Google service accounts with domain-wide delegation. Tokens are cached
// until shortly before they expire and dropped when a provider refuses
// them.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/collect"
)

// Token is an access token and when it expires (zero: unknown).
type Token struct {
	Value  string
	Expiry time.Time
}

// Source fetches a new token.
type Source interface {
	Token(ctx context.Context) (Token, error)
}

// Bearer is a collect.Authorizer that sets "Authorization: <Scheme>
// <token>" with tokens from Source, fetching a new one when the cached one
// is within a minute of its expiry or was refused.
type Bearer struct {
	Source Source
	// Scheme is the authorization scheme (default "Bearer").
	Scheme string
	Clock  clockwork.Clock

	mu  sync.Mutex
	tok Token
}

// Authorize implements collect.Authorizer.
func (b *Bearer) Authorize(ctx context.Context, req *http.Request) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.tok.Value == "" || (!b.tok.Expiry.IsZero() && !now.Before(b.tok.Expiry.Add(-time.Minute))) {
		t, err := b.Source.Token(ctx)
		if err != nil {
			return err
		}
		b.tok = t
	}
	scheme := b.Scheme
	if scheme == "" {
		scheme = "Bearer"
	}
	req.Header.Set("Authorization", scheme+" "+b.tok.Value)
	return nil
}

// Invalidate implements collect.Authorizer: the next Authorize fetches a
// new token.
func (b *Bearer) Invalidate() bool {
	b.mu.Lock()
	b.tok = Token{}
	b.mu.Unlock()
	return true
}

func (b *Bearer) now() time.Time {
	if b.Clock == nil {
		return time.Now()
	}
	return b.Clock.Now()
}

// Static is a collect.Authorizer that sets one header to a fixed value
// (Okta's "SSWS <token>", HTTP basic auth).
type Static struct {
	Header string
	Value  string
}

// Authorize implements collect.Authorizer.
func (s Static) Authorize(_ context.Context, req *http.Request) error {
	req.Header.Set(s.Header, s.Value)
	return nil
}

// Invalidate implements collect.Authorizer: a static credential cannot be
// refreshed.
func (Static) Invalidate() bool { return false }

// ErrToken is wrapped by every failure to get a token.
var ErrToken = errors.New("get token")

// tokenResponse is RFC 6749 §5.1's successful token response.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// postForm sends an RFC 6749 token request and reads the token.
func postForm(ctx context.Context, c *collect.Client, tokenURL string, form url.Values, now time.Time) (Token, error) {
	body := form.Encode()
	resp, err := c.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrToken, err)
	}
	return ParseTokenResponse(resp.Body, now)
}

// ParseTokenResponse reads an RFC 6749 §5.1 token response; expires_in may
// be a number or a numeric string (some providers send one).
func ParseTokenResponse(body []byte, now time.Time) (Token, error) {
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return Token{}, fmt.Errorf("%w: decode token response: %w", ErrToken, err)
	}
	if tr.AccessToken == "" {
		return Token{}, fmt.Errorf("%w: token response has no access_token", ErrToken)
	}
	t := Token{Value: tr.AccessToken}
	if s := strings.Trim(string(tr.ExpiresIn), `"`); s != "" && s != "null" {
		var secs float64
		if _, err := fmt.Sscan(s, &secs); err == nil && secs > 0 {
			t.Expiry = now.Add(time.Duration(secs * float64(time.Second)))
		}
	}
	return t, nil
}

// ClientCredentials gets tokens with the client credentials grant (RFC 6749
// §4.4). The client authenticates with a secret in the request body
// (client_secret_post: Microsoft identity platform, Keycloak) or, when
// Assertion is set, with a signed JWT (private_key_jwt, RFC 7523 §2.2: Okta
// service apps).
type ClientCredentials struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Assertion signs the client assertion instead of sending a secret.
	Assertion *Signer
	Scopes    []string
	Client    *collect.Client
	Clock     clockwork.Clock
}

// Token implements Source.
func (c *ClientCredentials) Token(ctx context.Context) (Token, error) {
	now := clockNow(c.Clock)
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(c.Scopes) > 0 {
		form.Set("scope", strings.Join(c.Scopes, " "))
	}
	if c.Assertion != nil {
		jwt, err := c.Assertion.Sign(map[string]any{
			"iss": c.ClientID, "sub": c.ClientID, "aud": c.TokenURL,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": randomID(),
		})
		if err != nil {
			return Token{}, fmt.Errorf("%w: %w", ErrToken, err)
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", jwt)
	} else {
		form.Set("client_id", c.ClientID)
		form.Set("client_secret", c.ClientSecret)
	}
	return postForm(ctx, c.Client, c.TokenURL, form, now)
}

// JWTBearer gets tokens with the JWT bearer grant (RFC 7523 §2.1), as
// Google service accounts do: a JWT signed with the account's key, issued
// by its client_email, for Subject (the administrator it acts as through
// domain-wide delegation), with the scopes asked for, audience TokenURL and
// a lifetime of an hour.
type JWTBearer struct {
	TokenURL string
	Issuer   string
	Subject  string
	Scopes   []string
	Key      *Signer
	Client   *collect.Client
	Clock    clockwork.Clock
}

// Token implements Source.
func (j *JWTBearer) Token(ctx context.Context) (Token, error) {
	now := clockNow(j.Clock)
	claims := map[string]any{
		"iss": j.Issuer, "scope": strings.Join(j.Scopes, " "), "aud": j.TokenURL,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if j.Subject != "" {
		claims["sub"] = j.Subject
	}
	jwt, err := j.Key.Sign(claims)
	if err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrToken, err)
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jwt}}
	return postForm(ctx, j.Client, j.TokenURL, form, now)
}

func clockNow(c clockwork.Clock) time.Time {
	if c == nil {
		return time.Now()
	}
	return c.Now()
}
