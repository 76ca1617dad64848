package report

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// forge rewrites dir's manifest with change applied and signs it with key:
// what anyone can do to a pack without the signer's key.
func forge(t *testing.T, dir string, key ed25519.PrivateKey, change func(m *model.Manifest)) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(dir, FileManifest))
	require.NoError(t, err)
	var m model.Manifest
	require.NoError(t, json.Unmarshal(body, &m))
	change(&m)
	m.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	canon, err := CanonicalManifest(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileManifest), canon, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileSignature), ed25519.Sign(key, canon), 0o644))
}

// TestVerifyTrust: a pack is OK only when a trusted key signed it. A forged
// pack (data removed, hashes recomputed, re-signed by another key) is intact
// under its own key, and is never OK: not without a trusted key, not with
// the real signer's key, not with several keys none of which signed it.
func TestVerifyTrust(t *testing.T) {
	signer := testKey.Public().(ed25519.PublicKey)
	mallory := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, 32))
	dir, _ := writeFixture(t, fixtureSource(), testOptions())

	forged := copyTree(t, dir)
	// Drop every exception: rewrite exceptions.csv to its header and fix
	// its hash and the digest, as a forger would.
	exc := filepath.Join(forged, FileExceptions)
	head, _, _ := strings.Cut(string(mustRead(t, exc)), "\n")
	require.NoError(t, os.WriteFile(exc, []byte(head+"\n"), 0o644))
	forge(t, forged, mallory, func(m *model.Manifest) {
		for i, f := range m.Files {
			if f.Name == FileExceptions {
				sum, n, err := hashFile(exc)
				require.NoError(t, err)
				m.Files[i].SHA256, m.Files[i].Bytes = sum, n
			}
		}
		m.DataDigest = DataDigest(m.Files)
	})

	for _, c := range []struct {
		name    string
		dir     string
		trusted []ed25519.PublicKey
		ok      bool
		errIs   error
		detail  string
	}{
		{"genuine, signer trusted", dir, []ed25519.PublicKey{signer}, true, nil, ""},
		{"genuine, signer among several", dir, []ed25519.PublicKey{mallory.Public().(ed25519.PublicKey), signer}, true, nil, ""},
		{"genuine, no trusted key", dir, nil, false, ErrUnauthenticated, ""},
		{"genuine, only another key trusted", dir, []ed25519.PublicKey{mallory.Public().(ed25519.PublicKey)}, false, ErrMismatch, "not among the 1 trusted keys"},
		{"forged, no trusted key", forged, nil, false, ErrUnauthenticated, ""},
		{"forged, signer trusted", forged, []ed25519.PublicKey{signer}, false, ErrMismatch, "not among the 1 trusted keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Verify(c.dir, c.trusted)
			require.NoError(t, err)
			require.Equal(t, c.ok, r.OK, "%v", r.Differences)
			require.Equal(t, c.ok, r.Authenticated)
			if c.errIs == nil {
				require.NoError(t, r.Err())
				return
			}
			require.ErrorIs(t, r.Err(), c.errIs)
			require.Contains(t, r.Err().Error(), c.detail)
		})
	}

	t.Run("manifest names a key other than the trusted one that signed", func(t *testing.T) {
		d := copyTree(t, dir)
		body := mustRead(t, filepath.Join(d, FileManifest))
		var m model.Manifest
		require.NoError(t, json.Unmarshal(body, &m))
		m.PublicKey = base64.StdEncoding.EncodeToString(mallory.Public().(ed25519.PublicKey))
		canon, err := CanonicalManifest(m)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(d, FileManifest), canon, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(d, FileSignature), ed25519.Sign(testKey, canon), 0o644))
		r, err := Verify(d, []ed25519.PublicKey{signer})
		require.NoError(t, err)
		require.False(t, r.OK)
		require.Contains(t, r.Err().Error(), "public_key names")
	})

	t.Run("anything extra in the pack", func(t *testing.T) {
		for _, extra := range []struct{ name, kind string }{
			{"notes.txt", "file"}, {".hidden", "file"}, {"attachments", "folder"}, {"manifest.json.bak", "file"},
		} {
			d := copyTree(t, dir)
			p := filepath.Join(d, extra.name)
			if extra.kind == "folder" {
				require.NoError(t, os.Mkdir(p, 0o755))
			} else {
				require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
			}
			r, err := Verify(d, []ed25519.PublicKey{signer})
			require.NoError(t, err)
			require.False(t, r.OK, extra.name)
			require.ErrorIs(t, r.Err(), ErrMismatch)
			require.Equal(t, extra.name, r.Differences[0].File)
		}
	})
}

func TestParseTrustFile(t *testing.T) {
	a := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	b := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32)).Public().(ed25519.PublicKey)
	b64 := base64.StdEncoding.EncodeToString
	privPEM := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\n-----END PRIVATE KEY-----\n"
	for _, c := range []struct {
		name, text string
		want       []ed25519.PublicKey
		err        string
	}{
		{"one base64 line", b64(a) + "\n", []ed25519.PublicKey{a}, ""},
		{"PEM", PublicKeyPEM(a), []ed25519.PublicKey{a}, ""},
		{"mixed with comments", "# auditors\n" + PublicKeyPEM(a) + "\n  # next\n" + b64(b) + "\n\n", []ed25519.PublicKey{a, b}, ""},
		{"written by WritePublicKey", "# keytrail evidence signing key " + Fingerprint(a) + "\n" + PublicKeyPEM(a), []ed25519.PublicKey{a}, ""},
		{"empty", "", nil, "no public key"},
		{"comments only", "# nothing\n", nil, "no public key"},
		{"private key", privPEM, nil, "want PUBLIC KEY"},
		{"garbage line", b64(a) + "\nnot a key\n", nil, "line 2"},
		{"short key", b64(a[:31]) + "\n", nil, "line 1"},
		{"unterminated PEM", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n", nil, "no END line"},
		{"corrupt PEM", "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", nil, "does not parse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTrustFile([]byte(c.text))
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				require.ErrorIs(t, err, ErrKeyFormat)
				require.NotContains(t, err.Error(), "MC4CAQ", "errors never quote key material")
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestLoadTrust(t *testing.T) {
	dir := t.TempDir()
	a := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	require.NoError(t, WritePublicKey(filepath.Join(dir, "a.pub"), a))
	require.Error(t, WritePublicKey(filepath.Join(dir, "a.pub"), a), "never overwrites")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("not a key"), 0o644))
	got, err := LoadTrust(nil, dir)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, a, got[0].Key)

	got, err = LoadTrust(nil, filepath.Join(dir, "absent"))
	require.NoError(t, err, "a missing trust directory holds no keys")
	require.Empty(t, got)

	_, err = LoadTrust([]string{filepath.Join(dir, "absent.pub")}, "")
	require.Error(t, err, "a named file that is missing is an error")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.pub"), []byte("nope\n"), 0o644))
	_, err = LoadTrust(nil, dir)
	require.ErrorContains(t, err, "bad.pub", "a corrupt file in the trust directory is an error")
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), mustRead(t, filepath.Join(src, e.Name())), 0o644))
	}
	return dst
}
