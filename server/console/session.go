package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Cookie names.
const (
	sessionCookie = "keytrail_session"
	loginCookie   = "keytrail_login"
)

// loginTTL bounds a sign-in round trip through the issuer.
const loginTTL = 10 * time.Minute

// errBadCookie is an absent, altered, foreign or expired cookie.
var errBadCookie = errors.New("bad cookie")

// sealer seals cookie values with AES-256-GCM: confidential and
// authenticated, bound to the cookie's name, under a key derived from the
// configured cookie key with HKDF-SHA256.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	k, err := hkdf.Key(sha256.New, key, nil, "keytrail console cookie v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive cookie key: %w", err)
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encodes v for the cookie name.
func (s *sealer) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

// open decodes a value seal made for the cookie name into v.
func (s *sealer) open(name, value string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < s.aead.NonceSize() {
		return errBadCookie
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(name))
	if err != nil {
		return errBadCookie
	}
	if json.Unmarshal(plain, v) != nil {
		return errBadCookie
	}
	return nil
}

// session is a signed-in person.
type session struct {
	Subject string `json:"sub"`
	Issuer  string `json:"iss"`
	Name    string `json:"name,omitempty"`
	Admin   bool   `json:"admin,omitempty"`
	// CSRF is the token every POST form of this session carries.
	CSRF    string `json:"csrf"`
	Expires int64  `json:"exp"` // Unix seconds
}

// Role is the role the session holds, as shown on pages.
func (s session) Role() string {
	if s.Admin {
		return "admin"
	}
	return "auditor"
}

// loginState is what a sign-in carries through the issuer: the state and
// nonce it must come back with, the PKCE verifier and the page to return to.
type loginState struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
	Expires  int64  `json:"exp"`
}

// randomToken is 32 random bytes, URL-safe base64.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookie makes a console cookie: HttpOnly, SameSite=Lax, Secure over TLS.
func (c *Console) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(maxAge / time.Second)
	}
	return ck
}

// readSealed opens the sealed cookie name of r into v, refusing one past exp.
func (c *Console) readSealed(r *http.Request, name string, v any, exp func() int64) error {
	ck, err := r.Cookie(name)
	if err != nil {
		return errBadCookie
	}
	if err := c.sealer.open(name, ck.Value, v); err != nil {
		return err
	}
	if c.d.Now().Unix() >= exp() {
		return errBadCookie
	}
	return nil
}
