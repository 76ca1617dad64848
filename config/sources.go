package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Source types.
const (
	TypeOkta       = "okta"
	TypeEntra      = "entra"
	TypeGoogle     = "google"
	TypeKeycloak   = "keycloak"
	TypeAirflow    = "airflow"
	TypeKafkaTopic = "kafka-topic"
	TypeWebhook    = "webhook"
)

// Types lists the source types, in the order the docs give them.
var Types = []string{TypeOkta, TypeEntra, TypeGoogle, TypeKeycloak, TypeAirflow, TypeKafkaTopic, TypeWebhook}

// Formats are the record formats a kafka-topic or webhook source carries:
// the sources keytrail has a normalizer for.
var Formats = []string{TypeOkta, TypeEntra, TypeGoogle, TypeKeycloak, TypeAirflow}

// DefaultSourcePollInterval is how often a poller asks its provider for new
// records unless told otherwise.
const DefaultSourcePollInterval = 30 * time.Second

// DefaultInventoryInterval is how often authenticator inventories are
// snapshotted unless told otherwise.
const DefaultInventoryInterval = 24 * time.Hour

// Source is one place keytrail collects from: a provider API polled with a
// durable cursor, an existing Kafka topic, or a webhook. In YAML a source
// is a mapping under its name in `sources`, with `type` and that type's
// keys side by side:
//
//	sources:
//	  okta-acme:
//	    type: okta
//	    url: https://acme.okta.com
//	    token: {env: OKTA_TOKEN}
type Source struct {
	// Name is the source's key in `sources`.
	Name string `yaml:"-"`
	// Type is one of Types. Required.
	Type string `yaml:"type"`
	// Instance names the tenant or Airflow deployment in stored rows.
	// Default: the source's name.
	Instance string `yaml:"instance"`
	// Topic is, with the Kafka bus, the topic this source's records are
	// published to (default "<kafka.topic_prefix><format>"); for a
	// kafka-topic source, the existing topic to consume (required).
	Topic string `yaml:"topic"`
	// Disabled keeps the source in the file without running it.
	Disabled bool `yaml:"disabled"`

	// The settings of the source's type; exactly the one of Type is set.
	Okta       *Okta       `yaml:"-"`
	Entra      *Entra      `yaml:"-"`
	Google     *Google     `yaml:"-"`
	Keycloak   *Keycloak   `yaml:"-"`
	Airflow    *Airflow    `yaml:"-"`
	KafkaTopic *KafkaTopic `yaml:"-"`
	Webhook    *Webhook    `yaml:"-"`
}

// common are the keys every source has.
type common struct {
	Type     string `yaml:"type"`
	Instance string `yaml:"instance"`
	Topic    string `yaml:"topic"`
	Disabled bool   `yaml:"disabled"`
}

// UnmarshalYAML reads the source's type, then decodes its keys strictly
// against that type's settings: a key the type does not have is an error
// naming its line.
func (s *Source) UnmarshalYAML(unmarshal func(any) error) error {
	var head map[string]any
	if err := unmarshal(&head); err != nil {
		return err
	}
	typ, _ := head["type"].(string)
	var c common
	var err error
	switch typ {
	case TypeOkta:
		var v struct {
			common `yaml:",inline"`
			Okta   `yaml:",inline"`
		}
		err = unmarshal(&v)
		c = v.common
		s.Okta = &v.Okta
	case TypeEntra:
		var v struct {
			common `yaml:",inline"`
			Entra  `yaml:",inline"`
		}
		err = unmarshal(&v)
		c = v.common
		s.Entra = &v.Entra
	case TypeGoogle:
		var v struct {
			common `yaml:",inline"`
			Google `yaml:",inline"`
		}
		err = unmarshal(&v)
		c = v.common
		s.Google = &v.Google
	case TypeKeycloak:
		var v struct {
			common   `yaml:",inline"`
			Keycloak `yaml:",inline"`
		}
		err = unmarshal(&v)
		c = v.common
		s.Keycloak = &v.Keycloak
	case TypeAirflow:
		var v struct {
			common  `yaml:",inline"`
			Airflow `yaml:",inline"`
		}
		err = unmarshal(&v)
		c = v.common
		s.Airflow = &v.Airflow
	case TypeKafkaTopic:
		var v struct {
			common     `yaml:",inline"`
			KafkaTopic `yaml:",inline"`
		}
		err = unmarshal(&v)
		c = v.common
		s.KafkaTopic = &v.KafkaTopic
	case TypeWebhook:
		var v struct {
			common  `yaml:",inline"`
			Webhook `yaml:",inline"`
		}
		err = unmarshal(&v)
		c = v.common
		s.Webhook = &v.Webhook
	default:
		// Only the common keys: the missing or unknown type is reported by
		// Validate, with the other problems.
		var v struct {
			common `yaml:",inline"`
			Rest   map[string]any `yaml:",inline"`
		}
		err = unmarshal(&v)
		c = v.common
	}
	s.Type, s.Instance, s.Topic, s.Disabled = c.Type, c.Instance, c.Topic, c.Disabled
	return err
}

// Format is the source whose normalizer reads this source's records:
// the type for pollers, the format of a kafka-topic or webhook source.
func (s *Source) Format() string {
	switch {
	case s.KafkaTopic != nil:
		return s.KafkaTopic.Format
	case s.Webhook != nil:
		return s.Webhook.Format
	}
	return s.Type
}

// Polled reports whether the source is a provider API keytrail polls.
func (s *Source) Polled() bool {
	return s.Okta != nil || s.Entra != nil || s.Google != nil || s.Keycloak != nil || s.Airflow != nil
}

// Okta polls the Okta System Log (GET /api/v1/logs, since + sortOrder=
// ASCENDING, following Link rel="next") and snapshots WebAuthn factors.
type Okta struct {
	// URL is the org URL, e.g. https://acme.okta.com. Required.
	URL string `yaml:"url"`
	// Token is an API token (SSWS) or an OAuth access token. Required.
	Token Secret `yaml:"token"`
	// TokenType is "ssws" (API token) or "bearer" (OAuth). Default "ssws".
	TokenType string `yaml:"token_type"`
	// PollInterval is the wait between polls once caught up. Default 30s.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Start is how far back a new cursor begins. Default 2160h (Okta keeps
	// 90 days).
	Start time.Duration `yaml:"start"`
	// InventoryInterval is how often factors are snapshotted. Default 24h;
	// negative disables.
	InventoryInterval time.Duration `yaml:"inventory_interval"`
}

// Entra polls Microsoft Graph sign-ins (beta) and directory audits (v1.0)
// with a client-credentials token, and snapshots FIDO2 methods.
type Entra struct {
	// TenantID is the directory (tenant) id. Required.
	TenantID string `yaml:"tenant_id"`
	// ClientID is the app registration's client id. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecret is the app's client secret. Required.
	ClientSecret Secret `yaml:"client_secret"`
	// GraphURL is Microsoft Graph. Default https://graph.microsoft.com.
	GraphURL string `yaml:"graph_url"`
	// LoginURL is the token endpoint's host. Default
	// https://login.microsoftonline.com.
	LoginURL string `yaml:"login_url"`
	// SignInEventTypes are the signInEventTypes read. Default
	// [interactiveUser, nonInteractiveUser].
	SignInEventTypes []string `yaml:"sign_in_event_types"`
	// PollInterval is the wait between polls once caught up. Default 30s.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Start is how far back a new cursor begins. Default 720h (Entra keeps
	// 30 days).
	Start time.Duration `yaml:"start"`
	// InventoryInterval is how often FIDO2 methods are snapshotted.
	// Default 24h; negative disables.
	InventoryInterval time.Duration `yaml:"inventory_interval"`
}

// Google polls the Admin SDK Reports API activities.list (login) with a
// service account's token.
type Google struct {
	// Credentials is the service account key (JSON). Required.
	Credentials Secret `yaml:"credentials"`
	// Subject is the admin the service account acts for (domain-wide
	// delegation). Required.
	Subject string `yaml:"subject"`
	// CustomerID is the customer. Default "my_customer".
	CustomerID string `yaml:"customer_id"`
	// URL is the Admin SDK. Default https://admin.googleapis.com.
	URL string `yaml:"url"`
	// TokenURL is the OAuth token endpoint. Default
	// https://oauth2.googleapis.com/token.
	TokenURL string `yaml:"token_url"`
	// Lag is the window re-read on every poll: Reports lags by minutes to
	// hours. Default 3h.
	Lag time.Duration `yaml:"lag"`
	// PollInterval is the wait between polls. Default 5m.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Start is how far back a new cursor begins. Default 4320h (180 days).
	Start time.Duration `yaml:"start"`
}

// Keycloak polls a realm's events and admin events with an admin token
// (client credentials), and snapshots WebAuthn credentials.
type Keycloak struct {
	// URL is the server, e.g. https://sso.acme.example. Required.
	URL string `yaml:"url"`
	// Realm is the realm read. Required.
	Realm string `yaml:"realm"`
	// TokenRealm is the realm of the admin client. Default Realm.
	TokenRealm string `yaml:"token_realm"`
	// ClientID is the admin client. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecret is its secret. Required.
	ClientSecret Secret `yaml:"client_secret"`
	// PollInterval is the wait between polls once caught up. Default 30s.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Start is how far back a new cursor begins. Default 720h.
	Start time.Duration `yaml:"start"`
	// InventoryInterval is how often credentials are snapshotted. Default
	// 24h; negative disables.
	InventoryInterval time.Duration `yaml:"inventory_interval"`
}

// Airflow polls an Airflow deployment's event log (from its first entry)
// and DAG runs.
type Airflow struct {
	// URL is the webserver (2.x) or API server (3.x). Required.
	URL string `yaml:"url"`
	// APIVersion is 2 (/api/v1, basic auth) or 3 (/api/v2, JWT from
	// POST /auth/token). Default 2.
	APIVersion int `yaml:"api_version"`
	// Username authenticates. Required.
	Username string `yaml:"username"`
	// Password authenticates. Required.
	Password Secret `yaml:"password"`
	// PollInterval is the wait between polls once caught up. Default 30s.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// KafkaTopic consumes an existing topic that something else writes, such
// as Entra ID diagnostic logs through the Azure Event Hubs Kafka endpoint
// (SASL PLAIN over TLS; user "$ConnectionString", the connection string as
// password). Each message value is a record or a document of records in
// the format's shapes (Event Hubs: {"records":[…]}).
type KafkaTopic struct {
	// Format is the source whose normalizer reads the values. Required.
	Format string `yaml:"format"`
	// Brokers default to kafka.brokers.
	Brokers []string `yaml:"brokers"`
	// GroupID is the consumer group. Default "keytrail-<source name>".
	GroupID string `yaml:"group_id"`
	// Start is where a new group begins: "first" or "last". Default first.
	Start string `yaml:"start"`
	// SASL authenticates; default kafka.sasl when Brokers are kafka's.
	SASL *SASL `yaml:"sasl"`
	// TLS encrypts; default kafka.tls when Brokers are kafka's.
	TLS *TLS `yaml:"tls"`
}

// Webhook receives provider pushes (Okta event hooks, …); `keytrail serve`
// answers them, `keytrail collect` does not.
type Webhook struct {
	// Format is the source whose normalizer reads the deliveries. Required.
	Format string `yaml:"format"`
	// Path is where the hook is served, e.g. /hooks/okta. Required.
	Path string `yaml:"path"`
	// Secret authenticates deliveries (Okta: the Authorization header).
	Secret Secret `yaml:"secret"`
}

// applyDefaults fills s's zero fields.
func (s *Source) applyDefaults(prefix string) {
	if s.Instance == "" {
		s.Instance = s.Name
	}
	if s.Topic == "" && s.KafkaTopic == nil && s.Format() != "" {
		s.Topic = prefix + s.Format()
	}
	defInv := func(d *time.Duration) {
		if *d == 0 {
			*d = DefaultInventoryInterval
		}
	}
	switch {
	case s.Okta != nil:
		o := s.Okta
		o.TokenType = or(o.TokenType, "ssws")
		o.PollInterval = or(o.PollInterval, DefaultSourcePollInterval)
		o.Start = or(o.Start, 90*24*time.Hour)
		defInv(&o.InventoryInterval)
	case s.Entra != nil:
		e := s.Entra
		e.GraphURL = or(e.GraphURL, "https://graph.microsoft.com")
		e.LoginURL = or(e.LoginURL, "https://login.microsoftonline.com")
		if len(e.SignInEventTypes) == 0 {
			e.SignInEventTypes = []string{"interactiveUser", "nonInteractiveUser"}
		}
		e.PollInterval = or(e.PollInterval, DefaultSourcePollInterval)
		e.Start = or(e.Start, 30*24*time.Hour)
		defInv(&e.InventoryInterval)
	case s.Google != nil:
		g := s.Google
		g.CustomerID = or(g.CustomerID, "my_customer")
		g.URL = or(g.URL, "https://admin.googleapis.com")
		g.TokenURL = or(g.TokenURL, "https://oauth2.googleapis.com/token")
		g.Lag = or(g.Lag, 3*time.Hour)
		g.PollInterval = or(g.PollInterval, 5*time.Minute)
		g.Start = or(g.Start, 180*24*time.Hour)
	case s.Keycloak != nil:
		k := s.Keycloak
		k.TokenRealm = or(k.TokenRealm, k.Realm)
		k.PollInterval = or(k.PollInterval, DefaultSourcePollInterval)
		k.Start = or(k.Start, 30*24*time.Hour)
		defInv(&k.InventoryInterval)
	case s.Airflow != nil:
		a := s.Airflow
		a.APIVersion = or(a.APIVersion, 2)
		a.PollInterval = or(a.PollInterval, DefaultSourcePollInterval)
	case s.KafkaTopic != nil:
		k := s.KafkaTopic
		k.GroupID = or(k.GroupID, "keytrail-"+s.Name)
		k.Start = or(k.Start, "first")
	}
}

// validate reports s's problems, each prefixed with where.
func (s *Source) validate(where string) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(where+": "+format, a...)) }
	if !slices.Contains(Types, s.Type) {
		if s.Type == "" {
			bad("type is required (one of %s)", strings.Join(Types, ", "))
		} else {
			bad("type %q is not one of %s", s.Type, strings.Join(Types, ", "))
		}
		return errs
	}
	if !nameRE.MatchString(s.Instance) {
		bad("instance %q: use letters, digits, '.', '_' and '-'", s.Instance)
	}
	if s.Topic != "" && !topicRE.MatchString(s.Topic) {
		bad("topic %q is not a valid Kafka topic name", s.Topic)
	}
	secret := func(key string, sec Secret, required bool) {
		if sec.IsZero() {
			if required {
				bad("%s is required ({env: NAME} or {file: PATH})", key)
			}
			return
		}
		if err := sec.check(); err != nil {
			bad("%s: %v", key, err)
		}
	}
	required := func(key, v string) {
		if strings.TrimSpace(v) == "" {
			bad("%s is required", key)
		}
	}
	httpURL := func(key, v string, req bool) {
		if v == "" {
			if req {
				bad("%s is required", key)
			}
			return
		}
		if err := checkURL(v); err != nil {
			bad("%s: %v", key, err)
		}
	}
	interval := func(key string, d time.Duration) {
		if d < 0 {
			bad("%s must not be negative, got %s", key, d)
		}
	}
	switch {
	case s.Okta != nil:
		o := s.Okta
		httpURL("url", o.URL, true)
		secret("token", o.Token, true)
		if o.TokenType != "ssws" && o.TokenType != "bearer" {
			bad("token_type %q is not ssws or bearer", o.TokenType)
		}
		interval("poll_interval", o.PollInterval)
		interval("start", o.Start)
	case s.Entra != nil:
		e := s.Entra
		required("tenant_id", e.TenantID)
		required("client_id", e.ClientID)
		secret("client_secret", e.ClientSecret, true)
		httpURL("graph_url", e.GraphURL, true)
		httpURL("login_url", e.LoginURL, true)
		for _, t := range e.SignInEventTypes {
			if !slices.Contains([]string{"interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity"}, t) {
				bad("sign_in_event_types: %q is not interactiveUser, nonInteractiveUser, servicePrincipal or managedIdentity", t)
			}
		}
		interval("poll_interval", e.PollInterval)
		interval("start", e.Start)
	case s.Google != nil:
		g := s.Google
		secret("credentials", g.Credentials, true)
		required("subject", g.Subject)
		httpURL("url", g.URL, true)
		httpURL("token_url", g.TokenURL, true)
		interval("lag", g.Lag)
		interval("poll_interval", g.PollInterval)
		interval("start", g.Start)
	case s.Keycloak != nil:
		k := s.Keycloak
		httpURL("url", k.URL, true)
		required("realm", k.Realm)
		required("client_id", k.ClientID)
		secret("client_secret", k.ClientSecret, true)
		interval("poll_interval", k.PollInterval)
		interval("start", k.Start)
	case s.Airflow != nil:
		a := s.Airflow
		httpURL("url", a.URL, true)
		if a.APIVersion != 2 && a.APIVersion != 3 {
			bad("api_version %d is not 2 or 3", a.APIVersion)
		}
		required("username", a.Username)
		secret("password", a.Password, true)
		interval("poll_interval", a.PollInterval)
	case s.KafkaTopic != nil:
		k := s.KafkaTopic
		if !slices.Contains(Formats, k.Format) {
			bad("format %q is not one of %s", k.Format, strings.Join(Formats, ", "))
		}
		required("topic", s.Topic)
		if len(k.Brokers) == 0 {
			bad("brokers are required (here or in the kafka section)")
		}
		errs = append(errs, checkBrokers(where+".brokers", k.Brokers)...)
		if k.Start != "first" && k.Start != "last" {
			bad("start %q is not first or last", k.Start)
		}
		if k.SASL != nil {
			errs = append(errs, k.SASL.validate(where+".sasl")...)
		}
		if k.TLS != nil {
			errs = append(errs, k.TLS.validate(where+".tls")...)
		}
	case s.Webhook != nil:
		h := s.Webhook
		if !slices.Contains(Formats, h.Format) {
			bad("format %q is not one of %s", h.Format, strings.Join(Formats, ", "))
		}
		if !strings.HasPrefix(h.Path, "/") {
			bad("path %q must start with /", h.Path)
		}
		secret("secret", h.Secret, false)
	}
	return errs
}

// secrets lists the secrets s names, by key.
func (s *Source) secrets() map[string]Secret {
	out := map[string]Secret{}
	switch {
	case s.Okta != nil:
		out["token"] = s.Okta.Token
	case s.Entra != nil:
		out["client_secret"] = s.Entra.ClientSecret
	case s.Google != nil:
		out["credentials"] = s.Google.Credentials
	case s.Keycloak != nil:
		out["client_secret"] = s.Keycloak.ClientSecret
	case s.Airflow != nil:
		out["password"] = s.Airflow.Password
	case s.KafkaTopic != nil && s.KafkaTopic.SASL != nil:
		out["sasl.password"] = s.KafkaTopic.SASL.Password
	case s.Webhook != nil && !s.Webhook.Secret.IsZero():
		out["secret"] = s.Webhook.Secret
	}
	return out
}

func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("host is required")
	}
	if u.User != nil {
		return errors.New("credentials do not belong in the URL: use the source's secret keys")
	}
	return nil
}
