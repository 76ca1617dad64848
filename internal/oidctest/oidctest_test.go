package oidctest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/internal/oidctest"
)

func TestIssuerRotationAndForgeries(t *testing.T) {
	ctx := context.Background()
	iss := oidctest.New(t)
	p, err := oidc.NewProvider(ctx, iss.URL)
	require.NoError(t, err)
	v := p.Verifier(&oidc.Config{ClientID: "kt", SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256}})

	tok, err := v.Verify(ctx, iss.Mint(iss.Claims("ana", "kt")))
	require.NoError(t, err)
	require.Equal(t, "ana", tok.Subject)

	// A rotated key (of another algorithm) is fetched on first sight.
	kid := iss.Rotate(oidctest.ES256)
	require.Equal(t, kid, iss.KeyID())
	_, err = v.Verify(ctx, iss.Mint(iss.Claims("ben", "kt")))
	require.NoError(t, err)

	for name, opt := range map[string]oidctest.MintOption{
		"none":       oidctest.WithAlgNone(),
		"hs256":      oidctest.WithHS256(iss.PublicKeyPEM()),
		"unknownkid": oidctest.WithUnpublishedKey(),
		"tampered":   oidctest.WithTamperedSignature(),
	} {
		_, err := v.Verify(ctx, iss.Mint(iss.Claims("eve", "kt"), opt))
		require.Error(t, err, name)
	}
}

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	iss := oidctest.New(t)
	const redirect = "http://127.0.0.1:1/callback"
	iss.RegisterClient("console", redirect)
	iss.SetLogin(oidctest.Claims{"sub": "ana", "groups": []string{"auditors"}})
	verifier := "a-verifier-of-sufficient-length-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {"console"}, "redirect_uri": {redirect}, "response_type": {"code"}, "state": {"s1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "nonce": {"n1"}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(iss.URL + "/authorize?" + q.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "s1", loc.Query().Get("state"))
	code := loc.Query().Get("code")

	exchange := func(v string) (int, map[string]any) {
		resp, err := http.PostForm(iss.URL+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"client_id": {"console"}, "redirect_uri": {redirect}, "code_verifier": {v}})
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	code2 := code
	status, out := exchange(verifier)
	require.Equal(t, http.StatusOK, status)
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, iss.URL)
	require.NoError(t, err)
	tok, err := p.Verifier(&oidc.Config{ClientID: "console"}).Verify(ctx, out["id_token"].(string))
	require.NoError(t, err)
	require.Equal(t, "n1", tok.Nonce)
	var claims struct{ Groups []string }
	require.NoError(t, tok.Claims(&claims))
	require.Equal(t, []string{"auditors"}, claims.Groups)
	// The code is single-use, and a wrong verifier is refused.
	code = code2
	status, out = exchange(verifier)
	require.Equal(t, http.StatusBadRequest, status)
	require.True(t, strings.Contains(out["error"].(string), "invalid_grant"))
}
