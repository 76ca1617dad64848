package collect_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/oauth"
)

// tokens is an Authorizer handing out numbered tokens.
type tokens struct{ n atomic.Int32 }

func (a *tokens) Authorize(_ context.Context, req *http.Request) error {
	req.Header.Set("Authorization", "Bearer t"+string(rune('0'+a.n.Load())))
	return nil
}
func (a *tokens) Invalidate() bool { a.n.Add(1); return true }

func TestClient(t *testing.T) {
	now := time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		status  int       // of the error, 0 for success
		retryAt time.Time // of the error
		calls   int32
	}{
		{name: "ok", handler: func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`[]`)) }, calls: 1},
		{name: "Retry-After seconds", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(429)
		}, status: 429, retryAt: now.Add(30 * time.Second), calls: 1},
		{name: "Retry-After date", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", now.Add(2*time.Minute).Format(http.TimeFormat))
			w.WriteHeader(503)
		}, status: 503, retryAt: now.Add(2 * time.Minute), calls: 1},
		{name: "X-Rate-Limit-Reset", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Rate-Limit-Reset", "1741003300") // 2025-03-03T12:01:40Z
			w.WriteHeader(429)
		}, status: 429, retryAt: time.Unix(1741003300, 0), calls: 1},
		{name: "the later of both", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "10")
			w.Header().Set("X-Rate-Limit-Reset", "1741003300")
			w.WriteHeader(429)
		}, status: 429, retryAt: time.Unix(1741003300, 0), calls: 1},
		{name: "429 without a reset", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) }, status: 429, calls: 1},
		{name: "401 once: a fresh token", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer t0" {
				w.WriteHeader(401)
				return
			}
			w.Write([]byte(`{}`))
		}, calls: 2},
		{name: "401 twice", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, status: 401, calls: 2},
		{name: "403 once: a fresh token", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "Bearer t0" {
				w.WriteHeader(403)
				w.Write([]byte(`{"detail":"Invalid JWT token"}`))
				return
			}
			w.Write([]byte(`{}`))
		}, calls: 2},
		{name: "Okta's reset on a 500 is not a rate limit", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Rate-Limit-Reset", "1741003300")
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(500)
		}, status: 500, calls: 1},
		{name: "Okta's reset on a 403 is not a rate limit", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Rate-Limit-Reset", "1741003300")
			w.WriteHeader(403)
		}, status: 403, calls: 2},
		{name: "Retry-After on a 503, not Okta's reset", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Rate-Limit-Reset", "1741003300")
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(503)
		}, status: 503, retryAt: now.Add(30 * time.Second), calls: 1},
		{name: "500", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			w.Write([]byte(`{"errorCode":"E0000009"}`))
		}, status: 500, calls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				tc.handler(w, r)
			}))
			defer srv.Close()
			c := &collect.Client{HTTP: srv.Client(), Auth: &tokens{}, Timeout: time.Second, Clock: clockwork.NewFakeClockAt(now)}
			_, err := c.Get(context.Background(), srv.URL+"/x?token=secret", nil)
			require.Equal(t, tc.calls, calls.Load())
			if tc.status == 0 {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tc.status, collect.StatusOf(err))
			require.NotContains(t, err.Error(), "secret", "query values that may be credentials are not printed")
			at, ok := collect.RetryAt(err)
			require.Equal(t, !tc.retryAt.IsZero(), ok)
			require.True(t, at.Equal(tc.retryAt), "retry at %s, want %s", at, tc.retryAt)
		})
	}
}

// TestClientFixedCredentialRefused: a refused API token or password is not
// sent again: it cannot be refreshed, and the refusal is the answer.
func TestClientFixedCredentialRefused(t *testing.T) {
	for _, status := range []int{401, 403} {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(status)
		}))
		c := &collect.Client{HTTP: srv.Client(), Auth: oauth.Static{Header: "Authorization", Value: "SSWS secret"}}
		_, err := c.Get(context.Background(), srv.URL, nil)
		srv.Close()
		require.Equal(t, status, collect.StatusOf(err))
		require.EqualValues(t, 1, calls.Load(), "status %d", status)
	}
}

// TestClientHoldsAfter429: after a 429 with a reset, nothing is sent before
// the reset; every caller gets the 429 with the same reset.
func TestClientHoldsAfter429(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC))
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(429)
			return
		}
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	c := &collect.Client{HTTP: srv.Client(), Clock: clock}
	reset := clock.Now().Add(time.Minute)
	_, err := c.Get(context.Background(), srv.URL, nil)
	require.Equal(t, 429, collect.StatusOf(err))
	for range 3 {
		clock.Advance(10 * time.Second)
		_, err = c.Get(context.Background(), srv.URL, nil)
		require.Equal(t, 429, collect.StatusOf(err))
		at, _ := collect.RetryAt(err)
		require.Equal(t, reset, at)
	}
	require.EqualValues(t, 1, calls.Load())
	clock.Advance(30 * time.Second)
	_, err = c.Get(context.Background(), srv.URL, nil)
	require.NoError(t, err)
	require.EqualValues(t, 2, calls.Load())
}

func TestClientLimits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(300 * time.Millisecond)
		}
		w.Write([]byte(strings.Repeat("x", 100)))
	}))
	defer srv.Close()
	c := &collect.Client{HTTP: srv.Client(), Timeout: 50 * time.Millisecond, MaxBody: 10}
	_, err := c.Get(context.Background(), srv.URL+"/slow", nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	c.Timeout = time.Second
	_, err = c.Get(context.Background(), srv.URL+"/big", nil)
	require.ErrorContains(t, err, "larger than 10 bytes")
}
