package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keytrail/keytrail/collect/airflow"
	"github.com/keytrail/keytrail/collect/entra"
	"github.com/keytrail/keytrail/collect/google"
	"github.com/keytrail/keytrail/collect/keycloak"
	"github.com/keytrail/keytrail/collect/okta"
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

// Source is one place keytrail collects from: a provider API polled with a
// durable cursor, an existing Kafka topic, or a webhook. In YAML a source
// is a mapping under its name in `sources`, with `type` and that type's
// keys side by side:
//
//	sources:
//	  okta-acme:
//	    type: okta
//	    base_url: https://acme.okta.com
//	    token: {env: OKTA_TOKEN}
//
// A polled source's keys are its collector's (collect/<type>.Config).
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
	Okta       *okta.Config     `yaml:"-"`
	Entra      *entra.Config    `yaml:"-"`
	Google     *google.Config   `yaml:"-"`
	Keycloak   *keycloak.Config `yaml:"-"`
	Airflow    *airflow.Config  `yaml:"-"`
	KafkaTopic *KafkaTopic      `yaml:"-"`
	Webhook    *Webhook         `yaml:"-"`
}

// head are the keys every source has besides instance, which a polled
// source's collector config holds.
type head struct {
	Type     string `yaml:"type"`
	Topic    string `yaml:"topic"`
	Disabled bool   `yaml:"disabled"`
}

// common are the keys every source that is not polled has.
type common struct {
	head     `yaml:",inline"`
	Instance string `yaml:"instance"`
}

// UnmarshalYAML reads the source's type, then decodes its keys strictly
// against that type's settings: a key the type does not have is an error
// naming its line.
func (s *Source) UnmarshalYAML(unmarshal func(any) error) error {
	var keys map[string]any
	if err := unmarshal(&keys); err != nil {
		return err
	}
	typ, _ := keys["type"].(string)
	var c common
	var err error
	switch typ {
	case TypeOkta:
		c, s.Okta, err = polled(unmarshal, func(p *okta.Config) string { return p.Instance })
	case TypeEntra:
		c, s.Entra, err = polled(unmarshal, func(p *entra.Config) string { return p.Instance })
	case TypeGoogle:
		c, s.Google, err = polled(unmarshal, func(p *google.Config) string { return p.Instance })
	case TypeKeycloak:
		c, s.Keycloak, err = polled(unmarshal, func(p *keycloak.Config) string { return p.Instance })
	case TypeAirflow:
		c, s.Airflow, err = polled(unmarshal, func(p *airflow.Config) string { return p.Instance })
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
	// A polled source's collector names its rows by the source's instance.
	switch {
	case s.Okta != nil:
		s.Okta.Instance = s.Instance
	case s.Entra != nil:
		s.Entra.Instance = s.Instance
	case s.Google != nil:
		s.Google.Instance = s.Instance
	case s.Keycloak != nil:
		s.Keycloak.Instance = s.Instance
	case s.Airflow != nil:
		s.Airflow.Instance = s.Instance
	}
	switch {
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
		if err := sec.Validate(); err != nil {
			bad("%s: %v", key, err)
		}
	}
	required := func(key, v string) {
		if strings.TrimSpace(v) == "" {
			bad("%s is required", key)
		}
	}
	switch {
	case s.Polled():
		if err := s.collectorConfig().Validate(); err != nil {
			for _, e := range unjoin(err) {
				bad("%v", e)
			}
		}
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
		if s.Okta.OAuth != nil {
			out["oauth.private_key"] = s.Okta.OAuth.PrivateKey
		}
	case s.Entra != nil:
		out["client_secret"] = s.Entra.ClientSecret
	case s.Google != nil:
		out["service_account_key"] = s.Google.ServiceAccountKey
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

// collectorConfig is a polled source's collector config, nil for the
// others.
func (s *Source) collectorConfig() interface{ Validate() error } {
	switch {
	case s.Okta != nil:
		return s.Okta
	case s.Entra != nil:
		return s.Entra
	case s.Google != nil:
		return s.Google
	case s.Keycloak != nil:
		return s.Keycloak
	case s.Airflow != nil:
		return s.Airflow
	}
	return nil
}

// unjoin splits an errors.Join into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// polled decodes a polled source's YAML: the keys every source has (head)
// beside its collector's own Config C, whose instance names the source.
func polled[C any](unmarshal func(any) error, instance func(*C) string) (common, *C, error) {
	var v struct {
		head   `yaml:",inline"`
		Config C `yaml:",inline"`
	}
	err := unmarshal(&v)
	return common{head: v.head, Instance: instance(&v.Config)}, &v.Config, err
}
