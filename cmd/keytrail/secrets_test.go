package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
)

// secret is the password (or token) every malformed input below carries.
const secret = "Zq7Secr3tPW"

// TestStoreURLErrorsNeverPrintSecrets: every way a store URL can be wrong —
// parse errors in each part, bad parameters, unknown schemes, unreachable or
// refusing servers — fails without the password or a secret parameter in the
// error, on stdout or on stderr, whether the URL came from --store or
// KEYTRAIL_STORE, at any log level.
func TestStoreURLErrorsNeverPrintSecrets(t *testing.T) {
	srv := storetest.SharedServer(t)
	closed, err := storetest.FreePort()
	require.NoError(t, err)
	live := fmt.Sprintf("127.0.0.1:%d", srv.TCPPort)
	cases := []struct{ name, url string }{
		{"bad escape in password", "clickhouse://u:50%zz" + secret + "@h/db"},
		{"space in password", "clickhouse://u:" + secret + " x@h/db"},
		{"slash in password", "clickhouse://u:ab/" + secret + "@h/db"},
		{"at sign in password", "clickhouse://u:a@" + secret + "@h/db"},
		{"hash in password", "clickhouse://u:a#" + secret + "@h/db"},
		{"question mark in password", "clickhouse://u:a?" + secret + "@h/db"},
		{"control character in password", "clickhouse://u:" + secret + "\x7f@h/db"},
		{"newline in password", "clickhouse://u:" + secret + "\n@h/db"},
		{"percent-encoded password with a bad host", "clickhouse://u:" + secret + "%20x@h o st/db"},
		{"malformed host", "clickhouse://u:" + secret + "@h o st/db"},
		{"bad IPv6 host", "clickhouse://u:" + secret + "@[::1/db"},
		{"bad port", "clickhouse://u:" + secret + "@h:port/db"},
		{"port out of range", "clickhouse://u:" + secret + "@127.0.0.1:99999/db"},
		{"no host", "clickhouse://u:" + secret + "@/db"},
		{"no scheme", "u:" + secret + "@h/db"},
		{"unknown scheme", "nosuch://u:" + secret + "@h/db"},
		{"bad dial_timeout", "clickhouse://u:" + secret + "@h/db?dial_timeout=soon"},
		{"secret in a query parameter", "clickhouse://u@" + live + "/db?password=" + secret + "&dial_timeout=soon"},
		{"unknown query parameter", "clickhouse://default:" + secret + "@" + live + "/db?no_such_setting=1"},
		{"wrong password", "clickhouse://default:" + secret + "@" + live + "/db?dial_timeout=2s"},
		{"connection refused", fmt.Sprintf("clickhouse://u:%s@127.0.0.1:%d/db?dial_timeout=300ms", secret, closed)},
		{"chdb with credentials and a bad escape", "chdb://u:" + secret + "%zz@/tmp/x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := store.Open(context.Background(), c.url)
			require.Error(t, err)
			require.NotContains(t, err.Error(), secret)

			for _, args := range [][]string{
				{"--store", c.url, "status"},
				{"--store", c.url, "--log-level", "debug", "sql", "SELECT 1"},
				{"--store", c.url, "migrate"},
			} {
				code, out, errs := cli(t, "", args...)
				require.NotEqual(t, 0, code, "%v", args)
				require.NotContains(t, out+errs, secret, "%v", args)
				require.NotEmpty(t, errs, "says what is wrong")
			}
			t.Setenv("KEYTRAIL_STORE", c.url)
			code, out, errs := cli(t, "", "--log-level", "debug", "status")
			require.NotEqual(t, 0, code)
			require.NotContains(t, out+errs, secret)
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"clickhouse://u:pw@h:9000/db":                     "clickhouse://u:xxxxx@h:9000/db",
		"clickhouse://u@h/db":                             "clickhouse://u@h/db",
		"clickhouse://u:p/w@h/db":                         "clickhouse://u:xxxxx@h/db",
		"clickhouse://u:p@w@h/db?dial_timeout=1s":         "clickhouse://u:xxxxx@h/db?dial_timeout=1s",
		"clickhouse://h/db?password=pw&secure=true":       "clickhouse://h/db?password=xxxxx&secure=true",
		"clickhouse://h/db?x=1&access_token=t#f":          "clickhouse://h/db?x=1&access_token=xxxxx#f",
		"chdb:///var/lib/keytrail":                        "chdb:///var/lib/keytrail",
		"chdb:///var/lib/keytrail?database=k":             "chdb:///var/lib/keytrail?database=k",
		"clickhouse://u:50%zzpw@h/db":                     "clickhouse://u:xxxxx@h/db",
		"u:pw@h/db":                                       "u:xxxxx@h/db",
		"clickhouse://u:pw@h/db?password=pw&password=pw2": "clickhouse://u:xxxxx@h/db?password=xxxxx&password=xxxxx",
	} {
		require.Equal(t, want, store.Redact(in), in)
	}
}

// TestKeyPathErrorsNeverPrintKeys: a signing key, or its public half, given
// where a path belongs, a key file that is not a key, and a key in the
// environment never reach the output.
func TestKeyPathErrorsNeverPrintKeys(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "k.pem")
	_, err := report.GenerateKey(keyPath)
	require.NoError(t, err)
	pemKey, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	priv, err := report.LoadPrivateKey(keyPath)
	require.NoError(t, err)
	seedB64 := base64.StdEncoding.EncodeToString(priv.Seed())
	body := strings.Split(strings.TrimSpace(string(pemKey)), "\n")[1] // the base64 line of the PEM
	garbled := filepath.Join(dir, "garbled.pem")
	require.NoError(t, os.WriteFile(garbled, []byte(strings.Replace(string(pemKey), body, body[:20]+"!!"+body[22:], 1)), 0o600))
	pack := filepath.Join(dir, "pack")
	require.NoError(t, os.MkdirAll(pack, 0o700))
	url := storetest.EmbeddedURL(t)

	for _, c := range []struct {
		name string
		args []string
		env  string
	}{
		{"PEM key as --key", []string{"report", "--from", "2026-01-01", "--out", pack, "--key", string(pemKey)}, ""},
		{"base64 seed as --key", []string{"report", "--from", "2026-01-01", "--out", pack, "--key", seedB64}, ""},
		{"PEM key in KEYTRAIL_SIGNING_KEY", []string{"report", "--from", "2026-01-01", "--out", pack}, string(pemKey)},
		{"seed in KEYTRAIL_SIGNING_KEY", []string{"report", "--from", "2026-01-01", "--out", pack}, seedB64},
		{"garbled key file", []string{"report", "--from", "2026-01-01", "--out", pack, "--key", garbled}, ""},
		{"PEM key as --pub", []string{"verify", pack, "--offline", "--pub", string(pemKey)}, ""},
		{"seed as --pub", []string{"verify", pack, "--offline", "--pub", seedB64}, ""},
		{"private key file as --pub", []string{"verify", pack, "--offline", "--pub", keyPath}, ""},
		{"PEM key as --key of verify", []string{"verify", pack, "--offline", "--key", string(pemKey)}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("KEYTRAIL_SIGNING_KEY", c.env)
			code, out, errs := cli(t, "", append([]string{"--store", url}, c.args...)...)
			require.NotEqual(t, 0, code)
			for _, s := range []string{seedB64, body, body[10:40], string(pemKey)} {
				require.NotContains(t, out+errs, s)
			}
		})
	}
	t.Run("help with a key in KEYTRAIL_SIGNING_KEY", func(t *testing.T) {
		t.Setenv("KEYTRAIL_SIGNING_KEY", string(pemKey))
		for _, c := range []string{"report", "verify"} {
			_, out, errs := cli(t, "", c, "-h")
			require.NotContains(t, out+errs, body[10:40])
		}
	})
}
