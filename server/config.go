package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keytrail/keytrail/internal/secret"

	"go.yaml.in/yaml/v3"

	"github.com/keytrail/keytrail/model"
)

// Defaults of Config.
const (
	DefaultListen            = ":8080"
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultRequestTimeout    = 30 * time.Second
	DefaultHookBodyLimit     = 4 << 20  // Okta sends at most a few hundred KB per delivery
	DefaultIngestBodyLimit   = 16 << 20 // one shipper batch
	DefaultTokenBodyLimit    = 64 << 10 // one ID token
	DefaultAPIBodyLimit      = 64 << 10
	DefaultMaxAge            = 5 * time.Minute
	DefaultMaxFuture         = 30 * time.Second
	DefaultRoleClaim         = "groups"
	DefaultSignatureHeader   = "X-Keytrail-Signature"
	DefaultTimestampHeader   = "X-Keytrail-Timestamp"
)

// Config is the `server` section of keytrail's YAML config: what `keytrail
// serve` listens on, its limits, who may use the API and which senders may
// push records. Secrets are references (env or file), read at start and
// never logged. A package holding the whole file embeds it as
// `Server server.Config `yaml:"server"“.
type Config struct {
	// Listen is the address to listen on. Default ":8080".
	Listen string `yaml:"listen"`
	// Timeouts bound each connection and request.
	Timeouts Timeouts `yaml:"timeouts"`
	// BodyLimits bound request bodies; a larger body is answered 413.
	BodyLimits BodyLimits `yaml:"body_limits"`
	// API is who may read the API: OIDC bearer tokens of one issuer, with
	// roles from a claim. Without an issuer the /v1 API is off (404).
	API APIAuth `yaml:"api"`
	// Intake lists the senders that push records, each with its own secret.
	Intake Intake `yaml:"intake"`
	// Reports is where POST /v1/reports writes evidence packs.
	Reports Reports `yaml:"reports"`
	// Console is the auditor's console at /; off without a client id.
	Console Console `yaml:"console"`
}

// Console configures the auditor's console: people sign in with the OIDC
// authorization-code flow and PKCE; their roles come from the ID token's
// api.role_claim mapped by api.roles, as the API's do.
type Console struct {
	// Issuer people sign in with; default api.issuer.
	Issuer string `yaml:"issuer"`
	// ClientID is keytrail's client at the issuer; the console is off without one.
	ClientID string `yaml:"client_id"`
	// ClientSecret is the client's secret; unset for a public client (PKCE
	// protects the code either way).
	ClientSecret Secret `yaml:"client_secret"`
	// RedirectURL is the callback registered at the issuer, e.g.
	// https://keytrail.example/auth/callback (its path is served). Cookies
	// are Secure when it is https.
	RedirectURL string `yaml:"redirect_url"`
	// CookieKey seals the session cookie: at least 32 bytes.
	CookieKey Secret `yaml:"cookie_key"`
	// SessionTTL is how long a sign-in lasts; default 8h.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// Scopes requested; default openid, profile, email.
	Scopes []string `yaml:"scopes"`
}

// Timeouts of the HTTP server.
type Timeouts struct {
	ReadHeader time.Duration `yaml:"read_header"` // default 5s
	Read       time.Duration `yaml:"read"`        // whole request, body included; default 30s
	Write      time.Duration `yaml:"write"`       // default 60s
	Idle       time.Duration `yaml:"idle"`        // keep-alive; default 120s
	Shutdown   time.Duration `yaml:"shutdown"`    // drain on SIGTERM; default 30s
	Request    time.Duration `yaml:"request"`     // a handler's deadline (store queries, bus); default 30s
}

// BodyLimits in bytes.
type BodyLimits struct {
	Hook   int64 `yaml:"hook"`   // Okta Event Hook deliveries; default 4 MiB
	Ingest int64 `yaml:"ingest"` // POST /v1/ingest/{source}; default 16 MiB
	Token  int64 `yaml:"token"`  // POST /v1/ingest/oidc; default 64 KiB
	API    int64 `yaml:"api"`    // API requests; default 64 KiB
}

// APIAuth verifies the API's bearer tokens.
type APIAuth struct {
	Issuer   string `yaml:"issuer"`   // OIDC issuer URL (discovery at <issuer>/.well-known/openid-configuration)
	Audience string `yaml:"audience"` // required aud (the client id keytrail is registered as)
	// Algorithms the tokens may be signed with; default RS256 and ES256.
	Algorithms []string `yaml:"algorithms"`
	// RoleClaim is the claim holding the caller's groups or roles (a string
	// or a list of strings); default "groups".
	RoleClaim string `yaml:"role_claim"`
	// Roles maps keytrail's roles to claim values: auditor (read, reports)
	// and admin (everything an auditor may, and administration).
	Roles RoleMap `yaml:"roles"`
}

// RoleMap lists the claim values that grant each role.
type RoleMap struct {
	Auditor []string `yaml:"auditor"`
	Admin   []string `yaml:"admin"`
}

// Intake configures the push endpoints.
type Intake struct {
	// Okta lists Okta Event Hooks, one per org: /v1/hooks/okta/{instance}.
	Okta []OktaHook `yaml:"okta"`
	// Shippers push provider records, signed with HMAC-SHA256:
	// POST /v1/ingest/{source}?instance=NAME.
	Shippers []Shipper `yaml:"shippers"`
	// IDTokens take ID tokens from a reverse proxy or Airflow's auth
	// layer, signed like shippers: POST /v1/ingest/oidc?instance=NAME.
	IDTokens []IDTokenIssuer `yaml:"id_tokens"`
	// Signature is how shippers and ID-token senders sign requests.
	Signature Signature `yaml:"signature"`
}

// OktaHook is one Okta Event Hook.
type OktaHook struct {
	Instance string `yaml:"instance"` // the Okta org's name in keytrail
	// Authorization is the value Okta sends in the Authorization header
	// (the hook's "authentication field" secret).
	Authorization Secret `yaml:"authorization"`
}

// Shipper is one sender of provider records.
type Shipper struct {
	Source   model.Source `yaml:"source"`
	Instance string       `yaml:"instance"`
	Secret   Secret       `yaml:"secret"` // HMAC key
}

// IDTokenIssuer is one issuer whose ID tokens a sender hands over.
type IDTokenIssuer struct {
	Instance   string   `yaml:"instance"`
	Issuer     string   `yaml:"issuer"`
	Audience   string   `yaml:"audience"`
	Algorithms []string `yaml:"algorithms"` // default RS256, ES256
	Secret     Secret   `yaml:"secret"`     // the sender's HMAC key
}

// Signature says how signed pushes carry their signature:
// Timestamp header = Unix seconds, Signature header = "v1=" + hex of
// HMAC-SHA256(secret, timestamp + "." + body).
type Signature struct {
	Header          string        `yaml:"header"`           // default X-Keytrail-Signature
	TimestampHeader string        `yaml:"timestamp_header"` // default X-Keytrail-Timestamp
	MaxAge          time.Duration `yaml:"max_age"`          // older timestamps are replays; default 5m
	MaxFuture       time.Duration `yaml:"max_future"`       // clock skew allowed ahead; default 30s
}

// Reports configures evidence packs made through the API.
type Reports struct {
	Dir          string `yaml:"dir"`          // where packs are written, one folder per report id; required for POST /v1/reports
	SigningKey   string `yaml:"signing_key"`  // Ed25519 PEM key file
	Organisation string `yaml:"organisation"` // printed on the cover
}

// Secret is a reference to a secret: an environment variable or a file
// ({env: NAME} or {file: /path}; a value written inline is refused). Its
// value is never printed.
type Secret = secret.Ref

// ApplyDefaults fills zero fields with their documented defaults.
func (c *Config) ApplyDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	t := &c.Timeouts
	def(&t.ReadHeader, DefaultReadHeaderTimeout)
	def(&t.Read, DefaultReadTimeout)
	def(&t.Write, DefaultWriteTimeout)
	def(&t.Idle, DefaultIdleTimeout)
	def(&t.Shutdown, DefaultShutdownTimeout)
	def(&t.Request, DefaultRequestTimeout)
	lim := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	lim(&c.BodyLimits.Hook, DefaultHookBodyLimit)
	lim(&c.BodyLimits.Ingest, DefaultIngestBodyLimit)
	lim(&c.BodyLimits.Token, DefaultTokenBodyLimit)
	lim(&c.BodyLimits.API, DefaultAPIBodyLimit)
	if len(c.API.Algorithms) == 0 {
		c.API.Algorithms = []string{"RS256", "ES256"}
	}
	if c.API.RoleClaim == "" {
		c.API.RoleClaim = DefaultRoleClaim
	}
	for i := range c.Intake.IDTokens {
		if len(c.Intake.IDTokens[i].Algorithms) == 0 {
			c.Intake.IDTokens[i].Algorithms = []string{"RS256", "ES256"}
		}
	}
	s := &c.Intake.Signature
	if s.Header == "" {
		s.Header = DefaultSignatureHeader
	}
	if s.TimestampHeader == "" {
		s.TimestampHeader = DefaultTimestampHeader
	}
	def(&s.MaxAge, DefaultMaxAge)
	def(&s.MaxFuture, DefaultMaxFuture)
}

// asymmetric lists the signing algorithms tokens may use: asymmetric ones
// only, so a token MAC'd with a public key is never accepted.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var instanceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate reports every problem with c, joined. It reads no secret.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: want host:port", c.Listen)
	}
	for name, d := range map[string]time.Duration{"read_header": c.Timeouts.ReadHeader, "read": c.Timeouts.Read, "write": c.Timeouts.Write,
		"idle": c.Timeouts.Idle, "shutdown": c.Timeouts.Shutdown, "request": c.Timeouts.Request} {
		if d < 0 {
			bad("timeouts.%s must not be negative", name)
		}
	}
	for name, v := range map[string]int64{"hook": c.BodyLimits.Hook, "ingest": c.BodyLimits.Ingest, "token": c.BodyLimits.Token, "api": c.BodyLimits.API} {
		if v < 0 {
			bad("body_limits.%s must not be negative", name)
		}
	}
	algs := func(where string, as []string) {
		for _, a := range as {
			if !slices.Contains(asymmetric, a) {
				bad("%s: algorithm %q is not allowed (want asymmetric ones: %s)", where, a, strings.Join(asymmetric, ", "))
			}
		}
	}
	if c.API.Issuer != "" {
		if !strings.HasPrefix(c.API.Issuer, "https://") && !strings.HasPrefix(c.API.Issuer, "http://") {
			bad("api.issuer %q: want an http(s) URL", c.API.Issuer)
		}
		if c.API.Audience == "" {
			bad("api.audience is required with api.issuer")
		}
		if len(c.API.Roles.Auditor)+len(c.API.Roles.Admin) == 0 {
			bad("api.roles: map at least one claim value to auditor or admin")
		}
		algs("api.algorithms", c.API.Algorithms)
	}
	secret := func(where string, s Secret) {
		if (s.Env == "") == (s.File == "") {
			bad("%s: name exactly one of env or file", where)
		}
	}
	seen := map[string]bool{}
	for i, h := range c.Intake.Okta {
		where := fmt.Sprintf("intake.okta[%d]", i)
		if !instanceRE.MatchString(h.Instance) {
			bad("%s.instance %q: want letters, digits, '.', '_' or '-'", where, h.Instance)
		}
		if seen["okta/"+h.Instance] {
			bad("%s: okta instance %q configured twice", where, h.Instance)
		}
		seen["okta/"+h.Instance] = true
		secret(where+".authorization", h.Authorization)
	}
	for i, s := range c.Intake.Shippers {
		where := fmt.Sprintf("intake.shippers[%d]", i)
		if !s.Source.Valid() || s.Source == model.SourceOIDC {
			bad("%s.source %q: want okta, entra, google, keycloak or airflow (ID tokens go to intake.id_tokens)", where, s.Source)
		}
		if !instanceRE.MatchString(s.Instance) {
			bad("%s.instance %q: want letters, digits, '.', '_' or '-'", where, s.Instance)
		}
		k := "ship/" + string(s.Source) + "/" + s.Instance
		if seen[k] {
			bad("%s: %s instance %q configured twice", where, s.Source, s.Instance)
		}
		seen[k] = true
		secret(where+".secret", s.Secret)
	}
	for i, t := range c.Intake.IDTokens {
		where := fmt.Sprintf("intake.id_tokens[%d]", i)
		if !instanceRE.MatchString(t.Instance) {
			bad("%s.instance %q: want letters, digits, '.', '_' or '-'", where, t.Instance)
		}
		if seen["oidc/"+t.Instance] {
			bad("%s: oidc instance %q configured twice", where, t.Instance)
		}
		seen["oidc/"+t.Instance] = true
		if !strings.HasPrefix(t.Issuer, "https://") && !strings.HasPrefix(t.Issuer, "http://") {
			bad("%s.issuer %q: want an http(s) URL", where, t.Issuer)
		}
		if t.Audience == "" {
			bad("%s.audience is required", where)
		}
		algs(where+".algorithms", t.Algorithms)
		secret(where+".secret", t.Secret)
	}
	if c.Intake.Signature.MaxAge < 0 || c.Intake.Signature.MaxFuture < 0 {
		bad("intake.signature: max_age and max_future must not be negative")
	}
	if cc := c.Console; cc.ClientID != "" {
		if cc.Issuer == "" && c.API.Issuer == "" {
			bad("console.issuer (or api.issuer) is required with console.client_id")
		} else if cc.Issuer != "" && !strings.HasPrefix(cc.Issuer, "https://") && !strings.HasPrefix(cc.Issuer, "http://") {
			bad("console.issuer %q: want an http(s) URL", cc.Issuer)
		}
		if !strings.HasPrefix(cc.RedirectURL, "https://") && !strings.HasPrefix(cc.RedirectURL, "http://") {
			bad("console.redirect_url %q: want the absolute http(s) URL registered at the issuer", cc.RedirectURL)
		}
		if len(c.API.Roles.Auditor)+len(c.API.Roles.Admin) == 0 {
			bad("api.roles: map at least one claim value to auditor or admin (the console's roles)")
		}
		secret("console.cookie_key", cc.CookieKey)
		if cc.ClientSecret != (Secret{}) {
			secret("console.client_secret", cc.ClientSecret)
		}
		if cc.SessionTTL < 0 {
			bad("console.session_ttl must not be negative")
		}
	}
	if c.Reports.Dir != "" && c.Reports.SigningKey == "" {
		bad("reports.signing_key is required with reports.dir")
	}
	return errors.Join(errs...)
}

// yamlValues are the values a YAML error quotes; they are not repeated, as
// the file may hold secrets.
var yamlValues = regexp.MustCompile("`[^`]*`")

// Decode decodes YAML strictly (unknown keys are errors, with their line)
// into v; its errors never quote the file's values.
func Decode(r io.Reader, v any) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty document")
		}
		return errors.New(yamlValues.ReplaceAllString(err.Error(), "`…`"))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

// LoadConfig decodes a server section on its own (a YAML document whose top
// level is Config), applies defaults and validates it.
func LoadConfig(b []byte) (Config, error) {
	var c Config
	if err := Decode(bytes.NewReader(b), &c); err != nil {
		return c, fmt.Errorf("server config: %w", err)
	}
	c.ApplyDefaults()
	return c, c.Validate()
}
