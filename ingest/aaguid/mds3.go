package aaguid

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// ErrMDS3 is wrapped by every error ImportMDS3 returns.
var ErrMDS3 = errors.New("invalid FIDO MDS3 blob")

// ImportMDS3 parses a FIDO Metadata Service v3 blob (a JWS in compact form)
// and returns an entry for every authenticator in it that has an AAGUID
// (FIDO2 authenticators; U2F and UAF entries have none and are skipped).
//
// When root is non-nil, the blob is accepted only if the certificate chain in
// the JWS header (x5c) verifies up to root at the current time and the JWS
// signature (ES256/384/512, RS256/384/512 or PS256/384/512) verifies with the
// leaf certificate's key; entries then have Source "mds3". When root is nil
// nothing is verified and entries have Source "mds3-unverified".
//
// An entry is Hardware when its metadata statement's keyProtection includes
// "hardware" or "secure_element", and Platform when its attachmentHint
// includes "internal". An authenticator whose latest status report is
// REVOKED or a compromise is never Hardware.
func ImportMDS3(blob []byte, root *x509.Certificate) ([]Entry, error) {
	return importMDS3(blob, root, time.Now())
}

func importMDS3(blob []byte, root *x509.Certificate, now time.Time) ([]Entry, error) {
	blob = bytes.TrimSpace(blob)
	parts := bytes.Split(blob, []byte("."))
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: want 3 dot-separated parts, got %d", ErrMDS3, len(parts))
	}
	headerJSON, err := b64(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMDS3, err)
	}
	payload, err := b64(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMDS3, err)
	}
	sig, err := b64(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrMDS3, err)
	}
	var header struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(headerJSON, &header); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrMDS3, err)
	}
	source := SourceMDS3Unverified
	if root != nil {
		leaf, err := verifyChain(header.X5C, root, now)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMDS3, err)
		}
		signed := blob[:len(parts[0])+1+len(parts[1])]
		if err := verifySignature(header.Alg, leaf, signed, sig); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMDS3, err)
		}
		source = SourceMDS3
	}
	var body struct {
		No      int `json:"no"`
		Entries []struct {
			AAGUID            string `json:"aaguid"`
			MetadataStatement struct {
				AAGUID         string   `json:"aaguid"`
				Description    string   `json:"description"`
				KeyProtection  []string `json:"keyProtection"`
				AttachmentHint []string `json:"attachmentHint"`
			} `json:"metadataStatement"`
			StatusReports []struct {
				Status        string `json:"status"`
				EffectiveDate string `json:"effectiveDate"`
			} `json:"statusReports"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(payload, &body); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrMDS3, err)
	}
	var out []Entry
	for _, e := range body.Entries {
		raw := e.AAGUID
		if raw == "" {
			raw = e.MetadataStatement.AAGUID
		}
		if raw == "" {
			continue
		}
		id, err := Canonical(raw)
		if err != nil || id == Zero {
			continue
		}
		ms := e.MetadataStatement
		ent := Entry{
			AAGUID:   id,
			Model:    ms.Description,
			Hardware: slices.Contains(ms.KeyProtection, "hardware") || slices.Contains(ms.KeyProtection, "secure_element"),
			Platform: slices.Contains(ms.AttachmentHint, "internal"),
			Source:   source,
		}
		if n := len(e.StatusReports); n > 0 {
			// Status reports are in chronological order; the last is current.
			ent.Status = e.StatusReports[n-1].Status
			if ent.Status == "REVOKED" || strings.HasSuffix(ent.Status, "_COMPROMISE") {
				ent.Hardware = false
			}
		}
		out = append(out, ent)
	}
	return out, nil
}

func b64(p []byte) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(string(p), "="))
}

// verifyChain parses x5c (leaf first, base64 DER) and verifies it up to root.
func verifyChain(x5c []string, root *x509.Certificate, now time.Time) (*x509.Certificate, error) {
	if len(x5c) == 0 {
		return nil, errors.New("header has no x5c certificate chain")
	}
	certs := make([]*x509.Certificate, 0, len(x5c))
	for i, s := range x5c {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("x5c[%d]: %w", i, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("x5c[%d]: %w", i, err)
		}
		certs = append(certs, c)
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return nil, fmt.Errorf("verify certificate chain: %w", err)
	}
	return certs[0], nil
}

// verifySignature checks a JWS signature over signed with the leaf's key.
func verifySignature(alg string, leaf *x509.Certificate, signed, sig []byte) error {
	var h crypto.Hash
	switch alg[len(alg)-min(len(alg), 3):] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	default:
		return fmt.Errorf("unsupported JWS alg %q", alg)
	}
	digest := hashSum(h, signed)
	switch {
	case strings.HasPrefix(alg, "ES"):
		pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("alg %s needs an ECDSA key, leaf has %T", alg, leaf.PublicKey)
		}
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return fmt.Errorf("%s signature is %d bytes, want %d", alg, len(sig), 2*size)
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return errors.New("JWS signature does not verify")
		}
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		pub, ok := leaf.PublicKey.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("alg %s needs an RSA key, leaf has %T", alg, leaf.PublicKey)
		}
		var err error
		if alg[0] == 'R' {
			err = rsa.VerifyPKCS1v15(pub, h, digest, sig)
		} else {
			err = rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		if err != nil {
			return fmt.Errorf("JWS signature does not verify: %w", err)
		}
	default:
		return fmt.Errorf("unsupported JWS alg %q", alg)
	}
	return nil
}

func hashSum(h crypto.Hash, b []byte) []byte {
	switch h {
	case crypto.SHA384:
		s := sha512.Sum384(b)
		return s[:]
	case crypto.SHA512:
		s := sha512.Sum512(b)
		return s[:]
	}
	s := sha256.Sum256(b)
	return s[:]
}
