package oauth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Signer signs JWTs with RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518
// §3.3), the algorithm Google service accounts and Okta private_key_jwt
// use.
type Signer struct {
	// KeyID goes into the JWT header as kid when set.
	KeyID string
	Key   *rsa.PrivateKey
}

// ErrKey is wrapped by errors about a private key; they never include key
// material.
var ErrKey = errors.New("private key")

// ParseRSAKey reads an RSA private key in PEM, PKCS#8 ("PRIVATE KEY", as in
// Google service account files) or PKCS#1 ("RSA PRIVATE KEY").
func ParseRSAKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKey)
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PKCS#8: %w", ErrKey, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#8 key is %T, want RSA", ErrKey, k)
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PKCS#1: %w", ErrKey, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: PEM block %q, want PRIVATE KEY or RSA PRIVATE KEY", ErrKey, block.Type)
}

// Sign returns the compact JWS of claims.
func (s *Signer) Sign(claims map[string]any) (string, error) {
	if s == nil || s.Key == nil {
		return "", fmt.Errorf("%w: none to sign with", ErrKey)
	}
	header := map[string]string{"alg": "RS256", "typ": "JWT"}
	if s.KeyID != "" {
		header["kid"] = s.KeyID
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.Key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// Verify checks an RS256 JWT's signature against pub and returns its
// claims. It checks nothing else (expiry, audience): callers do.
func Verify(jwt string, pub *rsa.PublicKey) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("JWT: want three parts")
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("JWT header: %w", err)
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		return nil, fmt.Errorf("JWT header: %w", err)
	}
	if header.Alg != "RS256" {
		return nil, fmt.Errorf("JWT alg %q, want RS256", header.Alg)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("JWT signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("JWT signature: %w", err)
	}
	cb, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("JWT claims: %w", err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(cb, &claims); err != nil {
		return nil, fmt.Errorf("JWT claims: %w", err)
	}
	return claims, nil
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
