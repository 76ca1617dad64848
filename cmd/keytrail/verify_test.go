package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
)

// TestVerifyTrustCLI: verify says OK only for a pack a trusted key signed,
// on both engines. A forged pack (exceptions removed, hashes fixed, re-signed
// with another key) fails with and without keys; trust comes from --pub,
// --trust, --key or the data directory's trusted/*.pub; a missing or corrupt
// key file is an error; anything extra in the pack fails it; a signing key
// readable by others is warned about.
func TestVerifyTrustCLI(t *testing.T) {
	from := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seedReportStore(t, url, from)
			dataDir := t.TempDir()
			t.Setenv("KEYTRAIL_DATA_DIR", dataDir)
			t.Setenv(signingKeyEnv, "")
			keyDir := t.TempDir()
			key := filepath.Join(keyDir, "signer.pem")
			pack := filepath.Join(t.TempDir(), "pack")
			code, _, errs := cli(t, "", "--store", url, "report", "--from", "2026-04-01", "--to", "2026-04-08", "--out", pack, "--key", key, "--init-key")
			require.Equal(t, 0, code, errs)
			require.NotContains(t, errs, "readable by others")
			pub := filepath.Join(keyDir, "signer.pub")
			require.FileExists(t, pub)

			verify := func(args ...string) (int, string, string) {
				return cli(t, "", append([]string{"--store", url, "verify"}, args...)...)
			}
			code, out, errs := verify(pack, "--pub", pub)
			require.Equal(t, 0, code, out+errs)
			require.Contains(t, out, "OK: the pack verifies and its signer is trusted")

			// Trust from a trust file and from the data directory.
			mallory := ed25519.NewKeyFromSeed([]byte(strings.Repeat("m", 32)))
			trustFile := filepath.Join(t.TempDir(), "auditor-trust")
			pubPEM, err := os.ReadFile(pub)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(trustFile, []byte("# other signer\n"+base64.StdEncoding.EncodeToString(mallory.Public().(ed25519.PublicKey))+"\n"+string(pubPEM)), 0o644))
			code, out, errs = verify(pack, "--trust", trustFile)
			require.Equal(t, 0, code, out+errs)
			require.NoError(t, os.MkdirAll(filepath.Join(dataDir, "trusted"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dataDir, "trusted", "acme.pub"), pubPEM, 0o644))
			code, out, errs = verify(pack)
			require.Equal(t, 0, code, out+errs)
			require.Contains(t, out, "(trusted: "+filepath.Join(dataDir, "trusted", "acme.pub")+")")
			require.NoError(t, os.Remove(filepath.Join(dataDir, "trusted", "acme.pub")))

			// The forged pack.
			forged := filepath.Join(t.TempDir(), "forged")
			copyPackDir(t, pack, forged)
			forgeExceptionsRemoved(t, forged, mallory)
			for _, args := range [][]string{{forged}, {forged, "--offline"}, {forged, "--pub", pub}, {forged, "--offline", "--pub", pub}, {forged, "--key", key}} {
				code, out, _ := verify(args...)
				require.Equal(t, 1, code, "%v: %s", args, out)
				require.NotContains(t, out, "OK:")
			}
			// Without any trusted key even the genuine pack is not OK.
			code, out, errs = verify(pack, "--offline")
			require.Equal(t, 1, code)
			require.Contains(t, out, "NOT AUTHENTICATED")
			require.Contains(t, errs, "not authenticated")

			// Missing and corrupt key files are errors.
			bad := filepath.Join(t.TempDir(), "bad.pub")
			require.NoError(t, os.WriteFile(bad, []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o644))
			for _, args := range [][]string{
				{pack, "--pub", filepath.Join(keyDir, "absent.pub")},
				{pack, "--pub", bad},
				{pack, "--trust", bad},
				{pack, "--pub", key}, // a private key is not a trust file
				{pack, "--key", filepath.Join(keyDir, "absent.pem")},
				{pack, "--key", bad},
			} {
				code, out, errs := verify(args...)
				require.NotEqual(t, 0, code, "%v", args)
				require.NotContains(t, out, "OK:")
				require.NotEmpty(t, errs)
			}
			require.NoError(t, os.WriteFile(filepath.Join(dataDir, "trusted", "broken.pub"), []byte("nope"), 0o644))
			code, _, errs = verify(pack, "--pub", pub)
			require.Equal(t, 1, code)
			require.Contains(t, errs, "broken.pub")
			require.NoError(t, os.Remove(filepath.Join(dataDir, "trusted", "broken.pub")))

			// Anything extra in the pack fails it.
			for _, extra := range []string{"notes.txt", "attachments/"} {
				d := filepath.Join(t.TempDir(), "pack")
				copyPackDir(t, pack, d)
				if strings.HasSuffix(extra, "/") {
					require.NoError(t, os.Mkdir(filepath.Join(d, extra), 0o755))
				} else {
					require.NoError(t, os.WriteFile(filepath.Join(d, extra), []byte("x"), 0o644))
				}
				code, out, _ := verify(d, "--pub", pub)
				require.Equal(t, 1, code, extra)
				require.Contains(t, out, "MISMATCH "+strings.TrimSuffix(extra, "/"))
			}

			// A signing key others can read is warned about, wherever it is used.
			require.NoError(t, os.Chmod(key, 0o644))
			code, _, errs = verify(pack, "--key", key)
			require.Equal(t, 0, code)
			require.Contains(t, errs, "readable by others (mode 0644)")
			code, _, errs = cli(t, "", "--store", url, "report", "--from", "2026-04-01", "--to", "2026-04-08", "--out", filepath.Join(t.TempDir(), "p2"), "--key", key)
			require.Equal(t, 0, code, errs)
			require.Contains(t, errs, "readable by others (mode 0644)")
		})
	}
}

// TestVerifyWrongStore: verify against a store that does not hold the pack's
// data names the store it used (redacted) and says what to do, on both
// engines, instead of a raw engine error.
func TestVerifyWrongStore(t *testing.T) {
	from := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	srv := storetest.SharedServer(t)
	for name, url := range stores(t) {
		t.Run(name, func(t *testing.T) {
			seedReportStore(t, url, from)
			keyDir := t.TempDir()
			key := filepath.Join(keyDir, "k.pem")
			pack := filepath.Join(t.TempDir(), "pack")
			code, _, errs := cli(t, "", "--store", url, "report", "--from", "2026-04-01", "--to", "2026-04-08", "--out", pack, "--key", key, "--init-key")
			require.Equal(t, 0, code, errs)

			empty := map[string]string{
				"chdb":       storetest.EmbeddedURL(t),
				"clickhouse": strings.Replace(srv.URL(storetest.FreshDB(t)), "default@", "default:@", 1),
			}[name]
			// A store with no keytrail tables.
			code, _, errs = cli(t, "", "--store", empty, "verify", pack, "--key", key)
			require.Equal(t, 1, code)
			require.Contains(t, errs, store.Redact(empty))
			require.Contains(t, errs, "--store")
			require.Contains(t, errs, "--offline")
			require.NotContains(t, errs, "UNKNOWN_TABLE")
			// A migrated store without the pack's rows.
			code, _, errs = cli(t, "", "--store", empty, "migrate")
			require.Equal(t, 0, code, errs)
			code, out, _ := cli(t, "", "--store", empty, "verify", pack, "--key", key)
			require.Equal(t, 1, code)
			require.Contains(t, out, "store:           "+store.Redact(empty))
			require.Contains(t, out, "holds none of the pack's 40 population rows")
			require.Contains(t, out, "--offline")
			// A store that cannot be opened.
			port, err := storetest.FreePort()
			require.NoError(t, err)
			down := "clickhouse://u:pw@127.0.0.1:" + itoa(port) + "/x?dial_timeout=300ms"
			code, _, errs = cli(t, "", "--store", down, "verify", pack, "--key", key)
			require.Equal(t, 1, code)
			require.Contains(t, errs, store.Redact(down))
			require.Contains(t, errs, "--offline")
			// --offline needs no store.
			code, out, errs = cli(t, "", "--store", down, "verify", pack, "--key", key, "--offline")
			require.Equal(t, 0, code, out+errs)
		})
	}
}

func copyPackDir(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
}

// forgeExceptionsRemoved empties exceptions.csv, fixes its hash and the data
// digest in the manifest, and re-signs it with key, naming key as the signer.
func forgeExceptionsRemoved(t *testing.T, dir string, key ed25519.PrivateKey) {
	t.Helper()
	exc := filepath.Join(dir, report.FileExceptions)
	b, err := os.ReadFile(exc)
	require.NoError(t, err)
	head, _, _ := strings.Cut(string(b), "\n")
	require.NoError(t, os.WriteFile(exc, []byte(head+"\n"), 0o644))
	body, err := os.ReadFile(filepath.Join(dir, report.FileManifest))
	require.NoError(t, err)
	var m model.Manifest
	require.NoError(t, json.Unmarshal(body, &m))
	for i, f := range m.Files {
		if f.Name == report.FileExceptions {
			m.Files[i].SHA256, m.Files[i].Bytes = model.SHA256Hex([]byte(head+"\n")), int64(len(head)+1)
		}
	}
	m.DataDigest = report.DataDigest(m.Files)
	m.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	canon, err := report.CanonicalManifest(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, report.FileManifest), canon, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, report.FileSignature), ed25519.Sign(key, canon), 0o644))
	// The forgery is intact under its own key.
	r, err := report.Verify(dir, []ed25519.PublicKey{key.Public().(ed25519.PublicKey)})
	require.NoError(t, err)
	require.True(t, r.OK, "%v", r.Differences)
}
