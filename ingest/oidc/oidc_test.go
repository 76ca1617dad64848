package oidc_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/oidc"
	"github.com/keytrail/keytrail/model"
)

// unsigned builds a compact JWS with claims c and a dummy signature: the
// normalizer reads claims only (the intake verifies signatures).
func unsigned(t testing.TB, c map[string]any) string {
	t.Helper()
	p, err := json.Marshal(c)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc(p) + "." + enc([]byte("sig"))
}

// TestAMRVocabulary checks every documented amr value alone, so the whole
// vocabulary is covered, and the decisions between values.
func TestAMRVocabulary(t *testing.T) {
	hw := func(b *bool) string {
		if b == nil {
			return "nil"
		}
		if *b {
			return "true"
		}
		return "false"
	}
	want := map[string]string{
		"face": "platform/nil", "fpt": "platform/nil", "iris": "platform/nil", "retina": "platform/nil", "vbm": "platform/nil",
		"hwk": "webauthn/true", "pop": "webauthn/nil", "fido": "webauthn/nil", "swk": "other/false",
		"kba": "other/false", "mca": "other/false", "otp": "totp/false", "pin": "password/false", "pwd": "password/false",
		"sc": "other/nil", "sms": "sms/false", "tel": "sms/false", "wia": "other/false", "email": "email/false",
		"fed": "other/nil", "ngcmfa": "platform/nil", "rsa": "other/false", "wiaormfa": "other/nil", "none": "none/false",
		// values that name no factor leave it undecided
		"geo": "other/nil", "mfa": "other/nil", "rba": "other/nil", "user": "other/nil",
	}
	require.ElementsMatch(t, oidc.AMRMethods(), keys(want), "the test covers the whole vocabulary")
	for v, w := range want {
		f := oidc.FactorOf([]string{v}, "")
		require.Equal(t, w, string(f.Factor)+"/"+hw(f.Hardware), v)
		m, ok := oidc.LookupAMR(strings.ToUpper(v))
		require.True(t, ok, v)
		require.NotEmpty(t, m.Meaning, v)
	}
	for _, c := range []struct {
		amr  []string
		acr  string
		want string
	}{
		{[]string{"pwd", "hwk", "mfa"}, "", "webauthn/true"},
		{[]string{"pop", "hwk"}, "", "webauthn/true"},
		{[]string{"hwk", "pop"}, "", "webauthn/true"},
		{[]string{"pwd", "otp", "mfa"}, "", "totp/false"},
		{[]string{"pwd", "face"}, "", "platform/nil"},
		{[]string{"pop", "mfa"}, "phrh", "webauthn/true"},
		{[]string{"pop", "mfa"}, "phr", "webauthn/nil"},
		{[]string{"ngcmfa"}, "PHRH", "platform/true"},
		{[]string{"otp"}, "phrh", "totp/false"},
		{[]string{"x-unknown"}, "", "other/nil"},
		{nil, "", "other/nil"},
	} {
		f := oidc.FactorOf(c.amr, c.acr)
		require.Equal(t, c.want, string(f.Factor)+"/"+hw(f.Hardware), "%v %s", c.amr, c.acr)
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestNormalize(t *testing.T) {
	authAt := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	base := func() map[string]any {
		return map[string]any{"iss": "https://idp.example", "sub": "00u1", "aud": []string{"airflow", "other"},
			"iat": authAt.Unix() + 60, "auth_time": authAt.Unix(), "exp": authAt.Unix() + 3600, "jti": "j-1",
			"amr": []string{"pwd", "hwk", "mfa"}, "acr": "phrh", "email": "Ana@Example.com", "sid": "s-1"}
	}
	n := oidc.New()
	tok := unsigned(t, base())
	rec := oidc.Record(tok)
	require.Contains(t, string(rec), tok, "the token's bytes are kept verbatim")
	out, err := n.Normalize(rec, "corp")
	require.NoError(t, err)
	require.Len(t, out.Auth, 1)
	ev := out.Auth[0]
	require.Equal(t, "https://idp.example#j-1", ev.EventID)
	require.Equal(t, out.Raw.EventID, ev.EventID)
	require.Equal(t, authAt, ev.TS)
	require.Equal(t, model.FactorWebAuthn, ev.Factor)
	require.True(t, *ev.Hardware)
	require.Equal(t, []string{"pwd", "hwk", "mfa"}, ev.Methods)
	require.Equal(t, "Ana@Example.com", ev.Email)
	require.Equal(t, "airflow", ev.App)
	require.Equal(t, model.CategoryLogin, ev.Category)
	require.Equal(t, model.OutcomeSuccess, ev.Outcome)
	require.Contains(t, ev.Detail, "acr phrh")
	require.Equal(t, model.SHA256Hex(rec), out.Raw.SHA256)

	// No jti: the id is the token's hash; no auth_time: iat.
	c := base()
	delete(c, "jti")
	delete(c, "auth_time")
	c["aud"] = "airflow"
	tok = unsigned(t, c)
	out, err = n.Normalize(oidc.Record(tok), "corp")
	require.NoError(t, err)
	require.Equal(t, "https://idp.example#sha256:"+model.SHA256Hex([]byte(tok)), out.Raw.EventID)
	require.Equal(t, authAt.Add(time.Minute), out.Auth[0].TS)

	// An envelope of several tokens splits into records.
	doc := `{"tokens":[` + string(oidc.Record(unsigned(t, base()))) + "," + string(oidc.Record(tok)) + `]}`
	require.Len(t, ingest.Split([]byte(doc), n.Envelopes()), 2)

	for name, raw := range map[string]string{
		"not json":      `eyJ.x.y`,
		"no id_token":   `{"token":"a.b.c"}`,
		"empty":         `{"id_token":""}`,
		"two parts":     `{"id_token":"a.b"}`,
		"bad base64":    `{"id_token":"a.!!!.c"}`,
		"claims not js": `{"id_token":"a.` + base64.RawURLEncoding.EncodeToString([]byte("nope")) + `.c"}`,
		"no iss":        string(oidc.Record(unsigned(t, map[string]any{"sub": "x", "iat": 1}))),
		"no sub":        string(oidc.Record(unsigned(t, map[string]any{"iss": "x", "iat": 1}))),
		"no time":       string(oidc.Record(unsigned(t, map[string]any{"iss": "x", "sub": "y"}))),
		"bad iat":       string(oidc.Record(unsigned(t, map[string]any{"iss": "x", "sub": "y", "iat": "yesterday"}))),
	} {
		_, err := n.Normalize([]byte(raw), "corp")
		require.ErrorIs(t, err, oidc.ErrRecord, name)
	}
}

// FuzzNormalize holds the normalizer's contract on any input: no panic, and
// an accepted record has an id, a time and one authentication.
func FuzzNormalize(f *testing.F) {
	f.Add(string(oidc.Record(unsigned(f, map[string]any{"iss": "i", "sub": "s", "iat": 1, "amr": []string{"hwk"}}))))
	f.Add(`{"id_token":"a.b.c"}`)
	f.Add(`{"id_token":"..."}`)
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := oidc.New().Normalize([]byte(raw), "i")
		if err != nil {
			return
		}
		require.NotEmpty(t, out.Raw.EventID)
		require.False(t, out.Raw.TS.IsZero())
		require.Len(t, out.Auth, 1)
	})
}
