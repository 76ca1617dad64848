package report

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// TrustedKey is a public key the verifier trusts, with where it came from.
type TrustedKey struct {
	Key    ed25519.PublicKey
	Source string // the file that named it
}

// ParseTrustFile reads the public keys in a trust file: PEM "PUBLIC KEY"
// blocks and lines holding the standard base64 of a raw 32-byte Ed25519 public
// key (the manifest's public_key), in any mix; blank lines and lines starting
// with "#" are ignored. A file with no key, or with anything else, is an error
// (a private key in particular: trust files hold public keys only). Errors
// name lines, never their content.
func ParseTrustFile(b []byte) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	var block []string
	start := 0
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case block != nil:
			block = append(block, line)
			if !strings.HasPrefix(line, "-----END") {
				continue
			}
			blk, _ := pem.Decode([]byte(strings.Join(block, "\n")))
			block = nil
			if blk == nil {
				return nil, fmt.Errorf("%w: the PEM block at line %d does not parse", ErrKeyFormat, start)
			}
			if blk.Type != "PUBLIC KEY" {
				return nil, fmt.Errorf("%w: line %d: PEM block %q, want PUBLIC KEY", ErrKeyFormat, start, blk.Type)
			}
			k, err := ParsePublicKey(pem.EncodeToMemory(blk))
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", start, err)
			}
			keys = append(keys, k)
		case strings.HasPrefix(line, "-----BEGIN"):
			block, start = []string{line}, n+1
		case line == "", strings.HasPrefix(line, "#"):
		default:
			raw, err := base64.StdEncoding.DecodeString(line)
			if err != nil || len(raw) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("%w: line %d is neither a comment nor the base64 of a 32-byte Ed25519 public key", ErrKeyFormat, n+1)
			}
			keys = append(keys, ed25519.PublicKey(raw))
		}
	}
	if block != nil {
		return nil, fmt.Errorf("%w: the PEM block at line %d has no END line", ErrKeyFormat, start)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no public key in the file", ErrKeyFormat)
	}
	return keys, nil
}

// TrustDirSuffix is the file name suffix of keys in a trust directory.
const TrustDirSuffix = ".pub"

// LoadTrust reads the trusted keys from files (each a trust file; a missing or
// malformed file is an error) and from every *.pub file in dir (a missing
// directory holds no keys; a malformed file in it is an error).
func LoadTrust(files []string, dir string) ([]TrustedKey, error) {
	var out []TrustedKey
	add := func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read trusted key: %w", err)
		}
		keys, err := ParseTrustFile(b)
		if err != nil {
			return fmt.Errorf("trusted key file %s: %w", path, err)
		}
		for _, k := range keys {
			out = append(out, TrustedKey{Key: k, Source: path})
		}
		return nil
	}
	for _, f := range files {
		if err := add(f); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read trust directory: %w", err)
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), TrustDirSuffix) {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			if err := add(filepath.Join(dir, n)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Keys returns the keys of ts.
func Keys(ts []TrustedKey) []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(ts))
	for i, t := range ts {
		out[i] = t.Key
	}
	return out
}

// WritePublicKey writes pub at path as a trust file (a comment with its
// fingerprint and a PEM "PUBLIC KEY" block, mode 0644) — the file a signer
// hands to whoever verifies its packs. It does not overwrite an existing file.
func WritePublicKey(path string, pub ed25519.PublicKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	if _, err := f.WriteString("# keytrail evidence signing key " + Fingerprint(pub) + "\n" + PublicKeyPEM(pub)); err != nil {
		f.Close()
		return fmt.Errorf("write public key %s: %w", path, err)
	}
	return f.Close()
}
