package console

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLocalPath holds the post-sign-in redirect to paths of this site over
// the forms an open redirect takes.
func TestLocalPath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/", "/"},
		{"/exceptions?verdict=stale&from=2025-03-01", "/exceptions?verdict=stale&from=2025-03-01"},
		{"/actions/af-prod%3A42", "/actions/af-prod%3A42"},
		{"", "/"},
		{"exceptions", "/"},
		{"//evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/ok\r\nSet-Cookie: x=1", "/"},
		{"/ok\nx", "/"},
	} {
		require.Equal(t, c.want, localPath(c.in), "%q", c.in)
	}
}

// TestSealer: a sealed value opens only unchanged, under its own cookie
// name and the key it was sealed with.
func TestSealer(t *testing.T) {
	key := bytes.Repeat([]byte{7}, MinCookieKey)
	s, err := newSealer(key)
	require.NoError(t, err)
	in := session{Subject: "ana", Name: "Ana", Admin: true, CSRF: "tok", Expires: 42}
	v, err := s.seal(sessionCookie, in)
	require.NoError(t, err)
	var out session
	require.NoError(t, s.open(sessionCookie, v, &out))
	require.Equal(t, in, out)

	raw, err := base64.RawURLEncoding.DecodeString(v)
	require.NoError(t, err)
	other, err := newSealer(bytes.Repeat([]byte{8}, MinCookieKey))
	require.NoError(t, err)
	for name, c := range map[string]struct {
		s          *sealer
		name, text string
	}{
		"another cookie's name": {s, loginCookie, v},
		"another key":           {other, sessionCookie, v},
		"a flipped bit":         {s, sessionCookie, base64.RawURLEncoding.EncodeToString(append(append([]byte{}, raw[:len(raw)-1]...), raw[len(raw)-1]^1))},
		"truncated":             {s, sessionCookie, v[:10]},
		"empty":                 {s, sessionCookie, ""},
		"not base64":            {s, sessionCookie, "!!!"},
		"plain JSON":            {s, sessionCookie, base64.RawURLEncoding.EncodeToString(mustJSON(t, in))},
	} {
		require.ErrorIs(t, c.s.open(c.name, c.text, &out), errBadCookie, name)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// TestSessionExpiry: a session past its expiry is no session.
func TestSessionExpiry(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	c := &Console{d: Deps{Now: func() time.Time { return now }}}
	var err error
	c.sealer, err = newSealer(bytes.Repeat([]byte{1}, MinCookieKey))
	require.NoError(t, err)
	for _, c2 := range []struct {
		exp  time.Time
		want bool
	}{{now.Add(time.Second), true}, {now, false}, {now.Add(-time.Hour), false}} {
		v, err := c.sealer.seal(sessionCookie, session{Subject: "ana", Expires: c2.exp.Unix()})
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: v})
		var s session
		require.Equal(t, c2.want, c.readSealed(r, sessionCookie, &s, func() int64 { return s.Expires }) == nil, c2.exp)
	}
}

// TestNewRefuses lists what New refuses.
func TestNewRefuses(t *testing.T) {
	ok := Options{Issuer: "https://idp.example", ClientID: "kt", RedirectURL: "https://kt.example/auth/callback",
		CookieKey: bytes.Repeat([]byte{1}, MinCookieKey), Roles: func(map[string]json.RawMessage) (bool, bool) { return true, false }}
	deps := Deps{Reader: nil, Packs: nil}
	_, err := New(ok, deps)
	require.ErrorContains(t, err, "a reader and packs are required")
	for name, mod := range map[string]func(*Options){
		"short cookie key":      func(o *Options) { o.CookieKey = o.CookieKey[:MinCookieKey-1] },
		"relative redirect":     func(o *Options) { o.RedirectURL = "/auth/callback" },
		"redirect without path": func(o *Options) { o.RedirectURL = "https://kt.example" },
		"no client":             func(o *Options) { o.ClientID = "" },
		"no roles":              func(o *Options) { o.Roles = nil },
	} {
		o := ok
		mod(&o)
		_, err := New(o, deps)
		require.Error(t, err, name)
	}
}

// TestTemplatesParse: every page parses with the layout.
func TestTemplatesParse(t *testing.T) {
	p, err := parsePages()
	require.NoError(t, err)
	require.Len(t, p.t, len(pageNames))
}
