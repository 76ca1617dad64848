package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/internal/oidctest"
	"github.com/keytrail/keytrail/server"
)

// TestOpenAPIInSync fails when a registered route is not described in
// openapi.json, or a described one is not registered.
func TestOpenAPIInSync(t *testing.T) {
	h := start(t, nil, nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(server.OpenAPI, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	param := regexp.MustCompile(`:([a-z_]+)`)
	var registered, described []string
	for _, r := range h.Srv.Routes() {
		registered = append(registered, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			described = append(described, strings.ToUpper(m)+" "+path)
		}
	}
	slices.Sort(registered)
	slices.Sort(described)
	require.Equal(t, registered, described)
	status, body, _ := do(t, http.MethodGet, h.URL+"/v1/openapi.json", nil, nil)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, string(server.OpenAPI), string(body))
}

// errorCode decodes an error body and checks its shape.
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	var e struct {
		Error     struct{ Code, Message string }
		RequestID string `json:"request_id"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.NotEmpty(t, e.Error.Code, string(body))
	require.NotEmpty(t, e.Error.Message, string(body))
	require.NotEmpty(t, e.RequestID, string(body))
	return e.Error.Code
}

// TestForgedTokens: every forged or unfit token is refused with 401 or
// 403 and a JSON error, and a good one passes.
func TestForgedTokens(t *testing.T) {
	var ahead atomic.Int64 // how far the server's clock runs ahead
	h := start(t, nil, func(_ *server.Config, d *server.Deps) {
		d.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	})
	iss := h.Issuer
	other := oidctest.New(t)
	claims := func(mod func(oidctest.Claims)) oidctest.Claims {
		c := iss.Claims("ana", audience)
		c["groups"] = []string{"kt-auditors"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	now := time.Now()
	cases := []struct {
		name   string
		token  string
		status int
	}{
		{"wrong audience", iss.Mint(claims(func(c oidctest.Claims) { c["aud"] = "someone-else" })), 401},
		{"wrong issuer (another issuer's valid token)", other.Mint(func() oidctest.Claims {
			c := other.Claims("ana", audience)
			c["groups"] = []string{"kt-auditors"}
			return c
		}()), 401},
		{"issuer claim lies", iss.Mint(claims(func(c oidctest.Claims) { c["iss"] = other.URL })), 401},
		{"expired", iss.Mint(claims(func(c oidctest.Claims) { c["exp"] = now.Add(-time.Minute).Unix() })), 401},
		{"not yet valid", iss.Mint(claims(func(c oidctest.Claims) { c["nbf"] = now.Add(time.Hour).Unix() })), 401},
		{"bad signature", iss.Mint(claims(nil), oidctest.WithTamperedSignature()), 401},
		{"alg none", iss.Mint(claims(nil), oidctest.WithAlgNone()), 401},
		{"HS256 keyed with the public key", iss.Mint(claims(nil), oidctest.WithHS256(iss.PublicKeyPEM())), 401},
		{"unknown kid", iss.Mint(claims(nil), oidctest.WithUnpublishedKey()), 401},
		{"kid of the published key, signed by another", iss.Mint(claims(nil), oidctest.WithUnpublishedKey(), oidctest.WithKeyID(iss.KeyID())), 401},
		{"missing role", iss.Mint(claims(func(c oidctest.Claims) { delete(c, "groups") })), 403},
		{"role claim of other groups", iss.Mint(claims(func(c oidctest.Claims) { c["groups"] = []string{"staff"} })), 403},
		{"not a JWT", "not-a-token-at-all", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret(tc.token)
			status, body, hdr := do(t, http.MethodGet, h.URL+"/v1/correlations", nil, map[string]string{"Authorization": "Bearer " + tc.token})
			require.Equal(t, tc.status, status, string(body))
			code := errorCode(t, body)
			if tc.status == 401 {
				require.Equal(t, "unauthenticated", code)
				require.Contains(t, hdr.Get("WWW-Authenticate"), "Bearer")
			} else {
				require.Equal(t, "forbidden", code)
			}
		})
	}
	// No credentials at all, and another scheme.
	for _, hdr := range []map[string]string{nil, {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}} {
		status, body, _ := do(t, http.MethodGet, h.URL+"/v1/coverage", nil, hdr)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "unauthenticated", errorCode(t, body))
	}
	// Good tokens pass, after a key rotation too (the new kid is fetched).
	for _, groups := range [][]string{{"kt-auditors"}, {"kt-admins"}} {
		status, body, _ := do(t, http.MethodGet, h.URL+"/v1/whoami", nil, map[string]string{"Authorization": "Bearer " + h.token(groups...)})
		require.Equal(t, http.StatusOK, status, string(body))
	}
	// The forgeries above used up the JWKS re-fetch budget; a rotation is
	// seen once the budget refills.
	ahead.Add(int64(server.JWKSRefetchBurst * server.JWKSRefetchEvery))
	iss.Rotate(oidctest.ES256)
	iss.Retire()
	status, body, _ := do(t, http.MethodGet, h.URL+"/v1/whoami", nil, map[string]string{"Authorization": "Bearer " + h.token("kt-admins")})
	require.Equal(t, http.StatusOK, status, string(body))
	var p server.Principal
	require.NoError(t, json.Unmarshal(body, &p))
	require.Equal(t, []string{"admin"}, p.Roles)
	// A flood of tokens naming keys the issuer never published costs the
	// IdP a bounded number of JWKS fetches, not one per request; tokens
	// signed with the cached key still pass.
	before := iss.JWKSFetches()
	for range 20 {
		status, _, _ := do(t, http.MethodGet, h.URL+"/v1/whoami", nil, map[string]string{"Authorization": "Bearer " + iss.Mint(claims(nil), oidctest.WithUnpublishedKey())})
		require.Equal(t, http.StatusUnauthorized, status)
	}
	require.LessOrEqual(t, iss.JWKSFetches()-before, int64(server.JWKSRefetchBurst))
	status, body, _ = do(t, http.MethodGet, h.URL+"/v1/whoami", nil, map[string]string{"Authorization": "Bearer " + h.token("kt-admins")})
	require.Equal(t, http.StatusOK, status, string(body))
}

// TestIntakeRefusals covers the webhook and push authentication failures,
// oversize bodies and malformed input, each with a JSON error.
func TestIntakeRefusals(t *testing.T) {
	h := start(t, nil, nil)
	hook := h.URL + "/v1/hooks/okta/acme"
	auth := h.secretOf("OKTA_HOOK")
	body := []byte(`[{"event_log_id":1}]`)
	now := time.Now()
	sig := h.signed("SHIP_AIRFLOW", body, now)
	resign := func(mod func(map[string]string)) map[string]string {
		m := map[string]string{}
		for k, v := range sig {
			m[k] = v
		}
		mod(m)
		return m
	}
	big := []byte(`{"data":{"events":[` + strings.Repeat(`{"x":1},`, 1<<20) + `{}]}}`)
	cases := []struct {
		name, method, url string
		body              []byte
		hdr               map[string]string
		status            int
		code              string
	}{
		{"okta verification without auth", "GET", hook, nil, map[string]string{"X-Okta-Verification-Challenge": "c"}, 401, "unauthenticated"},
		{"okta verification wrong auth", "GET", hook, nil, map[string]string{"X-Okta-Verification-Challenge": "c", "Authorization": auth + "x"}, 401, "unauthenticated"},
		{"okta verification without challenge", "GET", hook, nil, map[string]string{"Authorization": auth}, 400, "bad_request"},
		{"okta unknown instance", "GET", h.URL + "/v1/hooks/okta/other", nil, map[string]string{"Authorization": auth}, 404, "not_found"},
		{"okta delivery wrong auth", "POST", hook, []byte(`{}`), map[string]string{"Authorization": "nope"}, 401, "unauthenticated"},
		{"okta delivery not json", "POST", hook, []byte(`{{{`), map[string]string{"Authorization": auth}, 400, "bad_request"},
		{"okta delivery too large", "POST", hook, big, map[string]string{"Authorization": auth}, 413, "too_large"},
		{"push without signature", "POST", h.URL + "/v1/ingest/airflow", body, nil, 401, "unauthenticated"},
		{"push bad signature", "POST", h.URL + "/v1/ingest/airflow", body, resign(func(m map[string]string) { m[server.DefaultSignatureHeader] = "v1=00" }), 401, "unauthenticated"},
		{"push signed with another sender's key", "POST", h.URL + "/v1/ingest/airflow", body, h.signed("SHIP_OKTA", body, now), 401, "unauthenticated"},
		{"push body changed", "POST", h.URL + "/v1/ingest/airflow", append([]byte(" "), body...), sig, 401, "unauthenticated"},
		{"push replayed (6 min old)", "POST", h.URL + "/v1/ingest/airflow", body, h.signed("SHIP_AIRFLOW", body, now.Add(-6*time.Minute)), 401, "unauthenticated"},
		{"push future-dated", "POST", h.URL + "/v1/ingest/airflow", body, h.signed("SHIP_AIRFLOW", body, now.Add(2*time.Minute)), 401, "unauthenticated"},
		{"push timestamp not a number", "POST", h.URL + "/v1/ingest/airflow", body, resign(func(m map[string]string) { m[server.DefaultTimestampHeader] = "yesterday" }), 401, "unauthenticated"},
		{"push unknown source", "POST", h.URL + "/v1/ingest/ldap", body, sig, 404, "not_found"},
		{"push unconfigured instance", "POST", h.URL + "/v1/ingest/airflow?instance=staging", body, sig, 401, "unauthenticated"},
		{"push too large", "POST", h.URL + "/v1/ingest/airflow", big, h.signed("SHIP_AIRFLOW", big, now), 413, "too_large"},
		{"id token unsigned push", "POST", h.URL + "/v1/ingest/oidc", []byte("a.b.c"), nil, 401, "unauthenticated"},
		{"unknown route", "GET", h.URL + "/v1/nothing", nil, nil, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, b, _ := do(t, tc.method, tc.url, tc.body, tc.hdr)
			require.Equal(t, tc.status, status, string(b))
			require.Equal(t, tc.code, errorCode(t, b))
		})
	}
	// ID tokens: signed pushes of forged or unfit tokens are refused.
	iss := h.Issuer
	good := func() oidctest.Claims { c := iss.Claims("ana", idAudience); c["amr"] = []string{"hwk"}; return c }
	for name, tok := range map[string]string{
		"wrong audience":   iss.Mint(iss.Claims("ana", "elsewhere")),
		"expired":          iss.Mint(func() oidctest.Claims { c := good(); c["exp"] = now.Add(-time.Hour).Unix(); return c }()),
		"alg none":         iss.Mint(good(), oidctest.WithAlgNone()),
		"hs256 public key": iss.Mint(good(), oidctest.WithHS256(iss.PublicKeyPEM())),
		"unknown kid":      iss.Mint(good(), oidctest.WithUnpublishedKey()),
		"tampered":         iss.Mint(good(), oidctest.WithTamperedSignature()),
	} {
		b := []byte(secret(tok))
		status, body, _ := do(t, "POST", h.URL+"/v1/ingest/oidc", b, h.signed("IDTOK", b, now))
		require.Equal(t, http.StatusUnauthorized, status, name+": "+string(body))
		require.Equal(t, "unauthenticated", errorCode(t, body), name)
	}
	b := []byte("not a token")
	status, body, _ := do(t, "POST", h.URL+"/v1/ingest/oidc", b, h.signed("IDTOK", b, now))
	require.Equal(t, http.StatusBadRequest, status, string(body))
	// The Okta handshake itself.
	status, body, _ = do(t, "GET", hook, nil, map[string]string{"X-Okta-Verification-Challenge": "X9a-challenge", "Authorization": auth})
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"verification":"X9a-challenge"}`, string(body))
	// Health and metrics.
	status, _, _ = do(t, "GET", h.URL+"/healthz", nil, nil)
	require.Equal(t, http.StatusOK, status)
	status, body, _ = do(t, "GET", h.URL+"/metrics", nil, nil)
	require.Equal(t, http.StatusOK, status)
	for _, want := range []string{`keytrail_http_requests_total{code="401",method="POST",route="/v1/ingest/:source"}`,
		`keytrail_ingest_records_total{result="unauthenticated",source="airflow"}`,
		`keytrail_http_request_duration_seconds_bucket`, `route="unmatched"`} {
		require.Contains(t, string(body), want)
	}
}
