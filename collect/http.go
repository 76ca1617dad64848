package collect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Authorizer sets the credentials of a provider request.
type Authorizer interface {
	// Authorize sets req's credentials, fetching a token when it has none
	// or the one it has expired.
	Authorize(ctx context.Context, req *http.Request) error
	// Invalidate drops a token the provider refused (401, or 403: Airflow
	// 3 answers 403 "Invalid JWT token" for a token signed with a key it no
	// longer has), so that the next Authorize fetches a new one. It reports
	// whether it will: a fixed credential cannot be refreshed, and sending
	// it again would only repeat the refusal.
	Invalidate() bool
}

// HTTPError is a provider answer that was not a success.
type HTTPError struct {
	Method string
	URL    string
	Status int
	// RetryAt is when the provider said to try again (Retry-After,
	// X-Rate-Limit-Reset); zero when it did not say.
	RetryAt time.Time
	// Body is the start of the answer, for the log.
	Body string
}

// Error implements error.
func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	if !e.RetryAt.IsZero() {
		msg += " (retry at " + e.RetryAt.UTC().Format(time.RFC3339) + ")"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// RetryAt returns when err says the provider can be asked again: the reset
// of a rate limit it answered. ok is false when err carries no such time.
func RetryAt(err error) (at time.Time, ok bool) {
	var he *HTTPError
	if errors.As(err, &he) && !he.RetryAt.IsZero() {
		return he.RetryAt, true
	}
	return time.Time{}, false
}

// StatusOf returns the HTTP status err carries, or 0.
func StatusOf(err error) int {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// Response is a provider's successful answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Client sends a provider's requests: one timeout per request, the
// collector's credentials, one retry with a fresh token after a 401, and
// every answer that is not 2xx turned into an *HTTPError. After a 429 that
// names its reset, the Client sends nothing until then: its other streams
// get the same 429 without a request, so no stream asks again early.
type Client struct {
	HTTP *http.Client
	// Auth sets credentials; nil sends none.
	Auth Authorizer
	// Timeout bounds each request (default DefaultTimeout).
	Timeout time.Duration
	Clock   clockwork.Clock
	// MaxBody caps a response body (default 256 MiB).
	MaxBody int64

	mu      sync.Mutex
	limited time.Time // no request before this
}

// NewClient returns a Client over opts' HTTP client and clock.
func NewClient(opts Options, auth Authorizer, timeout time.Duration) *Client {
	opts = opts.WithDefaults()
	return &Client{HTTP: opts.Client, Auth: auth, Timeout: timeout, Clock: opts.Clock}
}

// Get fetches url with header (may be nil) and returns a 2xx answer.
func (c *Client) Get(ctx context.Context, url string, header http.Header) (*Response, error) {
	return c.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		return req, nil
	})
}

// Do sends the request build makes and returns a 2xx answer. A 401 or 403
// with a token that can be refreshed is sent once more with a new token
// (build is called again): a token the provider no longer honours is
// refused before it expires when the provider's signing key changed.
func (c *Client) Do(ctx context.Context, build func(ctx context.Context) (*http.Request, error)) (*Response, error) {
	resp, err := c.do(ctx, build)
	if s := StatusOf(err); (s == http.StatusUnauthorized || s == http.StatusForbidden) && c.Auth != nil && c.Auth.Invalidate() {
		resp, err = c.do(ctx, build)
	}
	return resp, err
}

func (c *Client) do(ctx context.Context, build func(ctx context.Context) (*http.Request, error)) (*Response, error) {
	clock := c.Clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	c.mu.Lock()
	limited := c.limited
	c.mu.Unlock()
	if clock.Now().Before(limited) {
		return nil, &HTTPError{Method: "GET", URL: "(not sent)", Status: http.StatusTooManyRequests, RetryAt: limited,
			Body: "waiting for the provider's rate limit to reset"}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := build(ctx)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if c.Auth != nil {
		if err := c.Auth.Authorize(ctx, req); err != nil {
			return nil, fmt.Errorf("authorize %s %s: %w", req.Method, redactURL(req.URL.String()), err)
		}
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, redactURL(req.URL.String()), err)
	}
	defer res.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = 256 << 20
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", req.Method, redactURL(req.URL.String()), err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%s %s: body larger than %d bytes", req.Method, redactURL(req.URL.String()), limit)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		he := &HTTPError{Method: req.Method, URL: redactURL(req.URL.String()), Status: res.StatusCode,
			RetryAt: retryAt(res.StatusCode, res.Header, clock.Now()), Body: snippet(body)}
		if res.StatusCode == http.StatusTooManyRequests && !he.RetryAt.IsZero() {
			c.mu.Lock()
			if he.RetryAt.After(c.limited) {
				c.limited = he.RetryAt
			}
			c.mu.Unlock()
		}
		return nil, he
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: body}, nil
}

// retryAt reads when a provider says to try again after an answer of
// status: Retry-After (seconds or an HTTP date; Microsoft Graph, RFC 9110)
// on a 429 or 503, and X-Rate-Limit-Reset (Unix seconds; Okta) on a 429.
// The later wins. Okta sends its rate-limit headers on every answer, so on
// any other error the reset says nothing about when to retry: that error
// takes the caller's own backoff.
func retryAt(status int, h http.Header, now time.Time) time.Time {
	var at time.Time
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return at
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			at = now.Add(time.Duration(secs) * time.Second)
		} else if t, err := http.ParseTime(v); err == nil {
			at = t
		}
	}
	if v := strings.TrimSpace(h.Get("X-Rate-Limit-Reset")); v != "" && status == http.StatusTooManyRequests {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs > 0 {
			if t := time.Unix(secs, 0); t.After(at) {
				at = t
			}
		}
	}
	return at
}

// snippet is the start of a body, on one line, for messages.
func snippet(b []byte) string {
	const n = 300
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// redactURL hides the values of query parameters that may carry
// credentials in a URL shown in a message.
func redactURL(u string) string {
	i := strings.IndexByte(u, '?')
	if i < 0 {
		return u
	}
	parts := strings.Split(u[i+1:], "&")
	for k, p := range parts {
		name, _, found := strings.Cut(p, "=")
		switch strings.ToLower(name) {
		case "access_token", "token", "key", "client_secret", "password", "code", "assertion", "client_assertion":
			if found {
				parts[k] = name + "=xxxxx"
			}
		}
	}
	return u[:i+1] + strings.Join(parts, "&")
}
