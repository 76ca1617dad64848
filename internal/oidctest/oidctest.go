// Package oidctest is a local OpenID Connect issuer for tests: a discovery
// document, a JWKS whose keys rotate, ID tokens signed with any claims, the
// forged tokens a verifier must refuse (alg none, HS256 keyed with the public
// key, an unknown kid, a bad signature), and the authorization-code flow
// with PKCE (S256) for browser tests. It listens on loopback only.
//
//	iss := oidctest.New(t)
//	tok := iss.Mint(iss.Claims("ana", "keytrail"))
//	p, _ := oidc.NewProvider(ctx, iss.URL)
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Signing algorithms the issuer's keys use.
const (
	RS256 = "RS256"
	ES256 = "ES256"
)

// Claims are a token's claims, marshalled as JSON.
type Claims map[string]any

// Issuer is a running OIDC issuer on loopback. Its methods are safe for
// concurrent use.
type Issuer struct {
	// URL is the issuer identifier and base URL (http://127.0.0.1:port).
	URL string

	srv *httptest.Server
	now func() time.Time

	mu      sync.Mutex
	keys    []*signingKey // published in the JWKS; the last one signs
	clients map[string]string
	codes   map[string]grant
	login   Claims
	fetches atomic.Int64
}

type signingKey struct {
	kid    string
	alg    string
	signer crypto.Signer
}

// grant is an authorization code waiting to be exchanged.
type grant struct {
	clientID, redirectURI, challenge, nonce string
	claims                                  Claims
}

// Option configures New.
type Option func(*Issuer)

// WithClock makes the issuer stamp iat, exp and auth_time from now.
func WithClock(now func() time.Time) Option { return func(i *Issuer) { i.now = now } }

// WithAlgorithm makes the first signing key use alg (RS256, the default, or ES256).
func WithAlgorithm(alg string) Option {
	return func(i *Issuer) { i.keys = []*signingKey{newKey(alg)} }
}

// New starts an issuer, stopped when tb ends.
func New(tb testing.TB, opts ...Option) *Issuer {
	tb.Helper()
	i := &Issuer{now: time.Now, clients: map[string]string{}, codes: map[string]grant{}}
	for _, o := range opts {
		o(i)
	}
	if len(i.keys) == 0 {
		i.keys = []*signingKey{newKey(RS256)}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET /keys", i.jwks)
	mux.HandleFunc("GET /authorize", i.authorize)
	mux.HandleFunc("POST /token", i.token)
	i.srv = httptest.NewServer(mux)
	i.URL = i.srv.URL
	tb.Cleanup(i.srv.Close)
	return i
}

var keySeq atomic.Int64

func newKey(alg string) *signingKey {
	k := &signingKey{alg: alg, kid: fmt.Sprintf("key-%d", keySeq.Add(1))}
	var err error
	switch alg {
	case ES256:
		k.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		k.signer, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		panic("oidctest: unsupported algorithm " + alg)
	}
	if err != nil {
		panic(err)
	}
	return k
}

// Rotate publishes a new signing key of alg ("" = the current key's) and
// signs with it from now on; the older keys stay published until Retire. It
// returns the new key's id.
func (i *Issuer) Rotate(alg string) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	if alg == "" {
		alg = i.keys[len(i.keys)-1].alg
	}
	k := newKey(alg)
	i.keys = append(i.keys, k)
	return k.kid
}

// Retire removes every key but the current one from the JWKS.
func (i *Issuer) Retire() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = i.keys[len(i.keys)-1:]
}

// KeyID returns the current signing key's id.
func (i *Issuer) KeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1].kid
}

// JWKSFetches counts the requests for the JWKS so far.
func (i *Issuer) JWKSFetches() int64 { return i.fetches.Load() }

// PublicKeyPEM returns the current signing key's public half as PEM, the
// "secret" of the classic HS256 key-confusion forgery.
func (i *Issuer) PublicKeyPEM() []byte {
	i.mu.Lock()
	k := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(k.signer.Public())
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Claims returns the claims of a fresh ID token for sub and audience aud:
// iss, sub, aud, iat, auth_time (now), exp (in an hour) and a unique jti.
func (i *Issuer) Claims(sub, aud string) Claims {
	now := i.now()
	return Claims{
		"iss": i.URL, "sub": sub, "aud": aud,
		"iat": now.Unix(), "auth_time": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": fmt.Sprintf("jti-%d-%d", now.UnixNano(), keySeq.Add(1)),
	}
}

// MintOption changes how Mint signs, to forge tokens.
type MintOption func(*mint)

type mint struct {
	header map[string]any
	key    *signingKey
	hmac   []byte
	none   bool
	tamper bool
}

// WithKeyID sets the kid header (without changing the signing key).
func WithKeyID(kid string) MintOption { return func(m *mint) { m.header["kid"] = kid } }

// WithUnpublishedKey signs with a fresh key the JWKS does not hold, under a
// kid of its own.
func WithUnpublishedKey() MintOption {
	return func(m *mint) {
		m.key = newKey(m.key.alg)
		m.header["kid"] = m.key.kid
		m.header["alg"] = m.key.alg
	}
}

// WithAlgNone makes an unsigned token (alg "none", empty signature).
func WithAlgNone() MintOption { return func(m *mint) { m.none = true; m.header["alg"] = "none" } }

// WithHS256 signs with HMAC-SHA256 under secret (alg "HS256").
func WithHS256(secret []byte) MintOption {
	return func(m *mint) { m.hmac = secret; m.header["alg"] = "HS256" }
}

// WithTamperedSignature flips a bit of the signature.
func WithTamperedSignature() MintOption { return func(m *mint) { m.tamper = true } }

// Mint signs claims with the current key (or as the options say) and
// returns the compact JWS.
func (i *Issuer) Mint(c Claims, opts ...MintOption) string {
	i.mu.Lock()
	k := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	m := &mint{header: map[string]any{"alg": k.alg, "kid": k.kid, "typ": "JWT"}, key: k}
	for _, o := range opts {
		o(m)
	}
	h, err := json.Marshal(m.header)
	if err != nil {
		panic(err)
	}
	p, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	input := b64(h) + "." + b64(p)
	var sig []byte
	switch {
	case m.none:
	case m.hmac != nil:
		mac := hmac.New(sha256.New, m.hmac)
		mac.Write([]byte(input))
		sig = mac.Sum(nil)
	default:
		sig = sign(m.key, []byte(input))
	}
	if m.tamper && len(sig) > 0 {
		sig[len(sig)/2] ^= 0x01
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func sign(k *signingKey, input []byte) []byte {
	sum := sha256.Sum256(input)
	switch s := k.signer.(type) {
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, sv, err := ecdsa.Sign(rand.Reader, s, sum[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		sv.FillBytes(out[32:])
		return out
	}
	panic("oidctest: unsupported key")
}

func (i *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.URL,
		"jwks_uri":                              i.URL + "/keys",
		"authorization_endpoint":                i.URL + "/authorize",
		"token_endpoint":                        i.URL + "/token",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{RS256, ES256},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "amr", "acr", "email", "groups"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	i.fetches.Add(1)
	i.mu.Lock()
	var set jose.JSONWebKeySet
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
	}
	i.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// RegisterClient allows clientID to use the authorization-code flow with
// redirectURI.
func (i *Issuer) RegisterClient(clientID, redirectURI string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.clients[clientID] = redirectURI
}

// SetLogin sets the claims of the user /authorize signs in (it consents at
// once, as if the user had authenticated). sub is required.
func (i *Issuer) SetLogin(c Claims) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.login = c
}

// authorize implements the authorization endpoint: a registered client, its
// redirect URI, response_type=code and an S256 code_challenge are required;
// the signed-in user is SetLogin's.
func (i *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	i.mu.Lock()
	want, ok := i.clients[q.Get("client_id")]
	login := i.login
	i.mu.Unlock()
	switch {
	case !ok || q.Get("redirect_uri") != want:
		http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "want response_type=code and an S256 code_challenge", http.StatusBadRequest)
		return
	case login == nil:
		http.Error(w, "no user signed in (SetLogin)", http.StatusForbidden)
		return
	}
	code := b64(randBytes(16))
	i.mu.Lock()
	i.codes[code] = grant{clientID: q.Get("client_id"), redirectURI: want, challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), claims: login}
	i.mu.Unlock()
	u, _ := url.Parse(want)
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// token implements the token endpoint for authorization_code grants: the
// code is single-use and the code_verifier must hash to its challenge.
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	i.mu.Lock()
	g, ok := i.codes[r.PostForm.Get("code")]
	delete(i.codes, r.PostForm.Get("code"))
	i.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	case !ok || g.clientID != r.PostForm.Get("client_id") || g.redirectURI != r.PostForm.Get("redirect_uri") || b64(sum[:]) != g.challenge:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	c := i.Claims(fmt.Sprint(g.claims["sub"]), g.clientID)
	for k, v := range g.claims {
		c[k] = v
	}
	if g.nonce != "" {
		c["nonce"] = g.nonce
	}
	idt := i.Mint(c)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": idt, "id_token": idt, "token_type": "Bearer", "expires_in": 3600})
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}
