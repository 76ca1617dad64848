package collect_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/collect"
)

func TestNextLink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   string
	}{
		{"okta: self and next headers", []string{`<https://acme.okta.com/api/v1/logs?limit=2>; rel="self"`, `<https://acme.okta.com/api/v1/logs?after=abc&limit=2>; rel="next"`}, "https://acme.okta.com/api/v1/logs?after=abc&limit=2"},
		{"one header, comma separated", []string{`<https://a/x?a=1,2>; rel="self", <https://a/x?after=3>; rel="next"`}, "https://a/x?after=3"},
		{"rel among several", []string{`<https://a/n>; rel="prev next"`}, "https://a/n"},
		{"unquoted, upper case", []string{`<https://a/n>; REL=next`}, "https://a/n"},
		{"self only", []string{`<https://a/self>; rel="self"`}, ""},
		{"none", nil, ""},
		{"broken", []string{`https://a/n; rel="next"`}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.values {
				h.Add("Link", v)
			}
			require.Equal(t, tc.want, collect.NextLink(h))
		})
	}
}

func FuzzNextLink(f *testing.F) {
	f.Add(`<https://acme.okta.com/api/v1/logs?after=abc&limit=2>; rel="next"`)
	f.Add(`<a>; rel="self", <b>; rel=next`)
	f.Add(`<,>;rel="next",<"`)
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Link": {v}}
		_ = collect.NextLink(h)
	})
}

func TestSameOrigin(t *testing.T) {
	base, err := url.Parse("https://acme.okta.com")
	require.NoError(t, err)
	require.NoError(t, collect.SameOrigin(base, "https://acme.okta.com/api/v1/logs?after=1"))
	require.NoError(t, collect.SameOrigin(base, "HTTPS://ACME.okta.com/x"))
	for _, bad := range []string{"https://evil.example/api/v1/logs", "http://acme.okta.com/x", "https://acme.okta.com:8443/x", "://"} {
		require.Error(t, collect.SameOrigin(base, bad), bad)
	}
}

func TestParseBaseURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://acme.okta.com":       true,
		"https://acme.okta.com/":      true,
		"http://127.0.0.1:8080/okta":  true,
		"":                            false,
		"acme.okta.com":               false,
		"ftp://acme.okta.com":         false,
		"https://":                    false,
		"https://a/x?token=1":         false,
		"https://user:pass@acme.com":  false,
		"https://acme.okta.com/#frag": false,
	} {
		u, err := collect.ParseBaseURL("base_url", raw)
		if ok {
			require.NoError(t, err, raw)
			require.NotEqual(t, '/', u.String()[len(u.String())-1], raw)
		} else {
			require.Error(t, err, raw)
			require.NotContains(t, err.Error(), "pass", "credentials in a URL are never printed")
		}
	}
}
