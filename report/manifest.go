package report

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/keytrail/keytrail/model"
)

// CanonicalManifest encodes m as canonical JSON: times in UTC at millisecond
// precision, object keys sorted, two-space indentation, no HTML escaping, nil
// slices and maps as [] and {}, and a trailing newline. manifest.json holds
// exactly these bytes and manifest.sig signs them.
func CanonicalManifest(m model.Manifest) ([]byte, error) {
	m.GeneratedAt, m.PeriodFrom, m.PeriodTo = model.Millis(m.GeneratedAt), model.Millis(m.PeriodFrom), model.Millis(m.PeriodTo)
	// Copy the slices normalised below so the caller's manifest is untouched.
	m.Queries = append([]model.ManifestQuery(nil), m.Queries...)
	m.Coverage = append([]model.SourceCoverage(nil), m.Coverage...)
	if m.Queries == nil {
		m.Queries = []model.ManifestQuery{}
	}
	for i := range m.Queries {
		if m.Queries[i].Params == nil {
			m.Queries[i].Params = map[string]string{}
		}
	}
	if m.Coverage == nil {
		m.Coverage = []model.SourceCoverage{}
	}
	for i := range m.Coverage {
		m.Coverage[i].First, m.Coverage[i].Last = model.Millis(m.Coverage[i].First), model.Millis(m.Coverage[i].Last)
	}
	if m.Files == nil {
		m.Files = []model.ManifestFile{}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal manifest: %w", err)
	}
	// Round-trip through generic values so every object's keys come out sorted.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonicalize manifest: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// dataFiles are the files the data digest covers, in name order.
var dataFiles = []string{FileAuthenticators, FileExceptions, FilePopulationCSV, FilePopulationJSONL, FileSample}

// DataDigest returns the pack's data digest, the value printed on the PDF cover:
// the hex SHA-256 of the sha256sum(1) listing ("<hex sha256>  <name>\n" per
// line) of the data files — every file except evidence.pdf, manifest.json and
// manifest.sig — sorted by name. It needs no PDF, so the cover can carry it
// without a cycle, and an auditor can recompute it with
//
//	sha256sum authenticators.csv exceptions.csv population.csv population.jsonl sample.csv | sha256sum
func DataDigest(files []model.ManifestFile) string {
	byName := map[string]string{}
	for _, f := range files {
		byName[f.Name] = f.SHA256
	}
	var b strings.Builder
	for _, n := range dataFiles {
		fmt.Fprintf(&b, "%s  %s\n", byName[n], n)
	}
	return model.SHA256Hex([]byte(b.String()))
}

// Fingerprint returns "SHA256:" and the hex SHA-256 of the raw 32-byte public key.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

// GenerateKey creates a new Ed25519 signing key at path as a PEM "PRIVATE KEY"
// (PKCS#8) block, mode 0600, and returns its public key. It refuses to overwrite
// an existing file. It backs `keytrail report --init-key`.
func GenerateKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal pkcs8 key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close key file %s: %w", path, err)
	}
	return pub, nil
}

// ErrKeyFormat reports a key file in none of the accepted formats.
var ErrKeyFormat = errors.New("unrecognised key format")

// LoadPrivateKey reads a signing key file; see ParsePrivateKey for the formats.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	k, err := ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return k, nil
}

// ParsePrivateKey accepts a PEM "PRIVATE KEY" block holding a PKCS#8 Ed25519 key
// (what GenerateKey and `openssl genpkey -algorithm ed25519` write), or the
// standard base64 encoding of a raw 32-byte Ed25519 seed (surrounding
// whitespace ignored).
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("%w: PEM block %q, want PRIVATE KEY (PKCS#8)", ErrKeyFormat, blk.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse pkcs8: %w", err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#8 key is %T, want Ed25519", ErrKeyFormat, k)
		}
		return ek, nil
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%w: want PEM PKCS#8 or base64 of a 32-byte seed", ErrKeyFormat)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParsePublicKey accepts a PEM "PUBLIC KEY" (PKIX) block or the standard base64
// of a raw 32-byte Ed25519 public key (the manifest's public_key field).
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse pkix: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: public key is %T, want Ed25519", ErrKeyFormat, k)
		}
		return ek, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: want PEM PKIX or base64 of a 32-byte key", ErrKeyFormat)
	}
	return ed25519.PublicKey(raw), nil
}

// PublicKeyPEM returns pub as a PEM "PUBLIC KEY" block, usable with
// `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in manifest.json -sigfile manifest.sig`.
func PublicKeyPEM(pub ed25519.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// sortFiles orders manifest files by name.
func sortFiles(fs []model.ManifestFile) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
}

// policySHA256 is the manifest's policy_sha256: the hex SHA-256 of the policy
// text, or "" when the pack carries none.
func policySHA256(text string) string {
	if text == "" {
		return ""
	}
	return model.SHA256Hex([]byte(text))
}

// checkPolicy re-checks the policy text a manifest carries against its
// recorded SHA-256. (That the text is the rule of policy_version — it loads
// to that version — needs the correlator, so the store's verify checks it.)
func checkPolicy(r *Result, m model.Manifest) {
	if got := policySHA256(m.PolicyText); got != m.PolicySHA256 {
		r.add(FileManifest, "policy_text has SHA-256 %q, policy_sha256 says %q", got, m.PolicySHA256)
	}
}

// jsonString returns s as encoding/json round-trips it: each byte of invalid
// UTF-8 becomes U+FFFD. The manifest's hashes cover the text it carries.
func jsonString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
