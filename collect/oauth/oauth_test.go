package oauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/oauth"
)

func key(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}

func TestParseRSAKey(t *testing.T) {
	k := key(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	for name, pemBytes := range map[string][]byte{
		"pkcs8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"pkcs1": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}),
	} {
		got, err := oauth.ParseRSAKey(pemBytes)
		require.NoError(t, err, name)
		require.True(t, got.Equal(k), name)
	}
	for name, bad := range map[string][]byte{
		"no pem":    []byte("-----"),
		"cert":      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"garbage":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("secret-material")}),
		"not rsa 1": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("secret-material")}),
	} {
		_, err := oauth.ParseRSAKey(bad)
		require.ErrorIs(t, err, oauth.ErrKey, name)
		require.NotContains(t, err.Error(), "secret-material")
	}
}

// tokenServer answers RFC 6749 token requests after check, counting them.
func tokenServer(t *testing.T, check func(form url.Values) bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		require.NoError(t, r.ParseForm())
		if !check(r.PostForm) {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"tok` + string(rune('0'+n.Load())) + `","token_type":"Bearer","expires_in":"3600"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestClientCredentialsSecret(t *testing.T) {
	srv, n := tokenServer(t, func(f url.Values) bool {
		return f.Get("grant_type") == "client_credentials" && f.Get("client_id") == "app" && f.Get("client_secret") == "s" && f.Get("scope") == "a b"
	})
	clock := clockwork.NewFakeClockAt(time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC))
	b := &oauth.Bearer{Clock: clock, Source: &oauth.ClientCredentials{TokenURL: srv.URL, ClientID: "app", ClientSecret: "s",
		Scopes: []string{"a", "b"}, Client: &collect.Client{HTTP: srv.Client()}, Clock: clock}}
	auth := func() string {
		req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		require.NoError(t, b.Authorize(context.Background(), req))
		return req.Header.Get("Authorization")
	}
	require.Equal(t, "Bearer tok1", auth())
	require.Equal(t, "Bearer tok1", auth(), "cached")
	clock.Advance(59*time.Minute + time.Second)
	require.Equal(t, "Bearer tok2", auth(), "renewed a minute before it expires")
	b.Invalidate()
	require.Equal(t, "Bearer tok3", auth(), "renewed after the provider refused it")
	require.EqualValues(t, 3, n.Load())

	bad := &oauth.ClientCredentials{TokenURL: srv.URL, ClientID: "app", ClientSecret: "wrong", Client: &collect.Client{HTTP: srv.Client()}}
	_, err := bad.Token(context.Background())
	require.ErrorIs(t, err, oauth.ErrToken)
	require.Equal(t, http.StatusUnauthorized, collect.StatusOf(err))
	require.NotContains(t, err.Error(), "wrong")
}

func TestAssertions(t *testing.T) {
	k := key(t)
	now := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(now)
	for _, tc := range []struct {
		name   string
		source func(url string, c *collect.Client) oauth.Source
		check  func(f url.Values, tokenURL string) bool
	}{
		{"private_key_jwt (RFC 7523 §2.2)", func(u string, c *collect.Client) oauth.Source {
			return &oauth.ClientCredentials{TokenURL: u, ClientID: "0oa1", Assertion: &oauth.Signer{Key: k}, Client: c, Clock: clock}
		}, func(f url.Values, u string) bool {
			claims, err := oauth.Verify(f.Get("client_assertion"), &k.PublicKey)
			return err == nil && f.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" &&
				f.Get("client_secret") == "" && claims["iss"] == "0oa1" && claims["sub"] == "0oa1" && claims["aud"] == u &&
				claims["exp"].(float64) == float64(now.Add(5*time.Minute).Unix()) && claims["jti"] != ""
		}},
		{"JWT bearer grant (RFC 7523 §2.1)", func(u string, c *collect.Client) oauth.Source {
			return &oauth.JWTBearer{TokenURL: u, Issuer: "sa@p.iam.gserviceaccount.com", Subject: "admin@acme.example",
				Scopes: []string{"https://www.googleapis.com/auth/admin.reports.audit.readonly"}, Key: &oauth.Signer{KeyID: "k1", Key: k}, Client: c, Clock: clock}
		}, func(f url.Values, u string) bool {
			claims, err := oauth.Verify(f.Get("assertion"), &k.PublicKey)
			return err == nil && f.Get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer" &&
				claims["iss"] == "sa@p.iam.gserviceaccount.com" && claims["sub"] == "admin@acme.example" && claims["aud"] == u &&
				claims["scope"] == "https://www.googleapis.com/auth/admin.reports.audit.readonly" &&
				claims["exp"].(float64)-claims["iat"].(float64) == 3600
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tokenURL string
			srv, _ := tokenServer(t, func(f url.Values) bool { return tc.check(f, tokenURL) })
			tokenURL = srv.URL + "/token"
			tok, err := tc.source(tokenURL, &collect.Client{HTTP: srv.Client()}).Token(context.Background())
			require.NoError(t, err)
			require.Equal(t, "tok1", tok.Value)
			require.Equal(t, now.Add(time.Hour), tok.Expiry)
		})
	}
	// a signature by another key does not verify
	jwt, err := (&oauth.Signer{Key: k}).Sign(map[string]any{"iss": "x"})
	require.NoError(t, err)
	_, err = oauth.Verify(jwt, &key(t).PublicKey)
	require.Error(t, err)
}
