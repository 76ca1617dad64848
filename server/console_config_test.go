package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/server"
)

// TestConsoleConfig lists what server.console's validation refuses.
func TestConsoleConfig(t *testing.T) {
	base := func() server.Config {
		c := server.Config{
			API: server.APIAuth{Issuer: "https://idp.example", Audience: "kt", Roles: server.RoleMap{Auditor: []string{"a"}}},
			Console: server.Console{ClientID: "kt-console", RedirectURL: "https://kt.example/auth/callback",
				CookieKey: server.Secret{Env: "KT_COOKIE"}},
		}
		c.ApplyDefaults()
		return c
	}
	require.NoError(t, base().Validate())
	for want, mod := range map[string]func(*server.Config){
		"console.issuer (or api.issuer) is required":  func(c *server.Config) { c.API = server.APIAuth{Roles: c.API.Roles} },
		"console.issuer \"idp\": want an http(s) URL": func(c *server.Config) { c.Console.Issuer = "idp" },
		"console.redirect_url":                        func(c *server.Config) { c.Console.RedirectURL = "/auth/callback" },
		"api.roles: map at least one":                 func(c *server.Config) { c.API.Roles = server.RoleMap{} },
		"console.cookie_key: name exactly one":        func(c *server.Config) { c.Console.CookieKey = server.Secret{} },
		"console.client_secret: name exactly one": func(c *server.Config) {
			c.Console.ClientSecret = server.Secret{Env: "A", File: "/b"}
		},
		"console.session_ttl must not be negative": func(c *server.Config) { c.Console.SessionTTL = -1 },
	} {
		c := base()
		mod(&c)
		require.ErrorContains(t, c.Validate(), want)
	}
	// Without a client id the console is off and nothing of it is checked.
	c := base()
	c.Console = server.Console{RedirectURL: "nonsense"}
	require.NoError(t, c.Validate())
}
