package alert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the alerting configuration, usually decoded from YAML with Load.
type Config struct {
	// DedupWindow is how long an alert's delivery state is remembered after its
	// last change; within it, repeated correlations are not sent again. Default 24h.
	DedupWindow time.Duration `yaml:"dedup_window"`
	// Severity is the severity label and field of every alert. Default "warning".
	Severity string `yaml:"severity"`
	// LinkURL, when set, is a link to the action in keytrail; "{action_id}" is
	// replaced by the path-escaped action id. It becomes Alertmanager's
	// generatorURL and the "url" field of JSON alerts. Default empty (no link).
	LinkURL string `yaml:"link_url"`
	// RateLimit is the default rate limit of every target.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Retry is the default retry policy of every target.
	Retry Retry `yaml:"retry"`
	// Targets are where alerts go. At least one is required.
	Targets []Target `yaml:"targets"`
}

// RateLimit is a token bucket: Max requests per Per, with bursts of Burst.
type RateLimit struct {
	// Max is the number of requests allowed per Per. Default 30.
	Max int `yaml:"max"`
	// Per is the period Max applies to. Default 1m.
	Per time.Duration `yaml:"per"`
	// Burst is the bucket size. Default 5.
	Burst int `yaml:"burst"`
	// MaxBatch is the most alerts one request carries when alerts were queued
	// behind the rate limit. Default 20.
	MaxBatch int `yaml:"max_batch"`
	// MaxQueue is the most alerts a target holds waiting; beyond it Handle
	// returns ErrQueueFull. Default 10000.
	MaxQueue int `yaml:"max_queue"`
}

// Retry is a delivery retry policy: exponential backoff with full jitter.
type Retry struct {
	// Attempts is the number of delivery attempts, first included. Default 5.
	Attempts int `yaml:"attempts"`
	// InitialBackoff is the backoff before the second attempt. Default 500ms.
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps every backoff, Retry-After included. Default 30s.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Timeout bounds each attempt. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// Target is one alert destination. Exactly one of Webhook, Slack, Alertmanager
// and Kafka is set.
type Target struct {
	// Name identifies the target in records, logs and metric labels:
	// lower-case letters, digits, '_', '-', '.'; unique. Required.
	Name string `yaml:"name"`
	// SendResolved sends resolve notifications. Default true.
	SendResolved *bool `yaml:"send_resolved"`
	// RateLimit overrides Config.RateLimit field by field (zero fields inherit).
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Retry overrides Config.Retry field by field (zero fields inherit).
	Retry *Retry `yaml:"retry"`

	// Webhook posts WebhookPayload JSON to a URL.
	Webhook *HTTPTarget `yaml:"webhook"`
	// Slack posts {"text", "blocks"} to a Slack-compatible incoming webhook.
	Slack *HTTPTarget `yaml:"slack"`
	// Alertmanager posts postableAlerts to Alertmanager's API v2.
	Alertmanager *AlertmanagerTarget `yaml:"alertmanager"`
	// Kafka writes one Message per alert to a topic.
	Kafka *KafkaTarget `yaml:"kafka"`
}

// HTTPTarget is an HTTP endpoint: a generic JSON webhook or a Slack-compatible
// incoming webhook.
type HTTPTarget struct {
	// URL is the endpoint. Exactly one of URL and URLEnv is required.
	URL string `yaml:"url"`
	// URLEnv names an environment variable holding the URL, for URLs that embed
	// a token (Slack's do). The URL is then never logged.
	URLEnv string `yaml:"url_env"`
	// Headers are sent with every request. Default none.
	Headers map[string]string `yaml:"headers"`
	// SecretHeader is the header that carries the secret from SecretEnv.
	// Default "Authorization" when SecretEnv is set.
	SecretHeader string `yaml:"secret_header"`
	// SecretEnv names an environment variable whose value is sent in
	// SecretHeader. The value is never logged. Default none.
	SecretEnv string `yaml:"secret_env"`
}

// AlertmanagerTarget is a Prometheus Alertmanager; alerts are posted to
// <url>/api/v2/alerts.
type AlertmanagerTarget struct {
	HTTPTarget `yaml:",inline"`
	// AlertTTL is how long a firing alert stays active in Alertmanager unless
	// resolved earlier (its endsAt). Default 24h.
	AlertTTL time.Duration `yaml:"alert_ttl"`
}

// KafkaTarget is a Kafka topic; each alert is one message whose value is the
// alert's JSON Message.
type KafkaTarget struct {
	// Brokers are host:port bootstrap addresses. Required.
	Brokers []string `yaml:"brokers"`
	// Topic receives the alerts. Default "keytrail.alerts".
	Topic string `yaml:"topic"`
	// Key is the message key: "person" (the action id when no person resolved)
	// or "action_id". Default "person".
	Key string `yaml:"key"`
}

// Target kinds.
const (
	KindWebhook      = "webhook"
	KindSlack        = "slack"
	KindAlertmanager = "alertmanager"
	KindKafka        = "kafka"
)

// Defaults of Config fields.
const (
	DefaultDedupWindow    = 24 * time.Hour
	DefaultSeverity       = "warning"
	DefaultRateMax        = 30
	DefaultRatePer        = time.Minute
	DefaultBurst          = 5
	DefaultMaxBatch       = 20
	DefaultMaxQueue       = 10000
	DefaultAttempts       = 5
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultTimeout        = 10 * time.Second
	DefaultAlertTTL       = 24 * time.Hour
	DefaultKafkaTopic     = "keytrail.alerts"
	DefaultSecretHeader   = "Authorization"
)

// Kafka message keys.
const (
	KeyPerson   = "person"
	KeyActionID = "action_id"
)

// yamlValues are the values a YAML decoding error quotes (`https:/...`); the
// file may hold secrets (a webhook URL with a token, a header value), so they
// are not repeated.
var yamlValues = regexp.MustCompile("`[^`]*`")

// Load decodes a Config from YAML strictly (unknown keys are errors), applies
// defaults and validates it.
func Load(r io.Reader) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("decode alert config: empty document")
		}
		return Config{}, fmt.Errorf("decode alert config: %s", yamlValues.ReplaceAllString(err.Error(), "`…`"))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("decode alert config: more than one YAML document")
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadFile is Load on the named file.
func LoadFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read alert config: %w", err)
	}
	c, err := Load(bytes.NewReader(b))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ApplyDefaults fills zero fields with their documented defaults.
func (c *Config) ApplyDefaults() {
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.Severity == "" {
		c.Severity = DefaultSeverity
	}
	c.RateLimit = c.RateLimit.merge(RateLimit{DefaultRateMax, DefaultRatePer, DefaultBurst, DefaultMaxBatch, DefaultMaxQueue})
	c.Retry = c.Retry.merge(Retry{DefaultAttempts, DefaultInitialBackoff, DefaultMaxBackoff, DefaultTimeout})
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.SendResolved == nil {
			v := true
			t.SendResolved = &v
		}
		rl := c.RateLimit
		if t.RateLimit != nil {
			rl = t.RateLimit.merge(c.RateLimit)
		}
		t.RateLimit = &rl
		rt := c.Retry
		if t.Retry != nil {
			rt = t.Retry.merge(c.Retry)
		}
		t.Retry = &rt
		for _, h := range []*HTTPTarget{t.Webhook, t.Slack, t.alertmanagerHTTP()} {
			if h != nil && h.SecretEnv != "" && h.SecretHeader == "" {
				h.SecretHeader = DefaultSecretHeader
			}
		}
		if t.Alertmanager != nil && t.Alertmanager.AlertTTL == 0 {
			t.Alertmanager.AlertTTL = DefaultAlertTTL
		}
		if t.Kafka != nil {
			if t.Kafka.Topic == "" {
				t.Kafka.Topic = DefaultKafkaTopic
			}
			if t.Kafka.Key == "" {
				t.Kafka.Key = KeyPerson
			}
		}
	}
}

func (t *Target) alertmanagerHTTP() *HTTPTarget {
	if t.Alertmanager == nil {
		return nil
	}
	return &t.Alertmanager.HTTPTarget
}

func (r RateLimit) merge(d RateLimit) RateLimit {
	if r.Max == 0 {
		r.Max = d.Max
	}
	if r.Per == 0 {
		r.Per = d.Per
	}
	if r.Burst == 0 {
		r.Burst = d.Burst
	}
	if r.MaxBatch == 0 {
		r.MaxBatch = d.MaxBatch
	}
	if r.MaxQueue == 0 {
		r.MaxQueue = d.MaxQueue
	}
	return r
}

func (r Retry) merge(d Retry) Retry {
	if r.Attempts == 0 {
		r.Attempts = d.Attempts
	}
	if r.InitialBackoff == 0 {
		r.InitialBackoff = d.InitialBackoff
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = d.MaxBackoff
	}
	if r.Timeout == 0 {
		r.Timeout = d.Timeout
	}
	return r
}

var (
	nameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	envRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	severityR = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
)

// Validate reports every problem in c, joined. It expects defaults applied.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.DedupWindow <= 0 {
		bad("dedup_window must be positive, got %s", c.DedupWindow)
	}
	if !severityR.MatchString(c.Severity) {
		bad("severity %q must be a short lower-case word", c.Severity)
	}
	if c.LinkURL != "" {
		if u, err := url.Parse(strings.ReplaceAll(c.LinkURL, "{action_id}", "x")); err != nil || u.Scheme == "" || u.Host == "" {
			bad("link_url %q is not an absolute URL", c.LinkURL)
		}
	}
	errs = append(errs, c.RateLimit.validate("rate_limit")...)
	errs = append(errs, c.Retry.validate("retry")...)
	if len(c.Targets) == 0 {
		bad("targets: at least one target is required")
	}
	seen := map[string]bool{}
	for i, t := range c.Targets {
		where := fmt.Sprintf("targets[%d]", i)
		if t.Name != "" {
			where = fmt.Sprintf("targets[%d] (%s)", i, t.Name)
		}
		switch {
		case t.Name == "":
			bad("%s: name is required", where)
		case !nameRE.MatchString(t.Name):
			bad("%s: name must match %s", where, nameRE)
		case seen[t.Name]:
			bad("%s: duplicate name", where)
		}
		seen[t.Name] = true
		if t.RateLimit != nil {
			errs = append(errs, t.RateLimit.validate(where+".rate_limit")...)
		}
		if t.Retry != nil {
			errs = append(errs, t.Retry.validate(where+".retry")...)
		}
		n := 0
		if t.Webhook != nil {
			n++
			errs = append(errs, t.Webhook.validate(where+".webhook")...)
		}
		if t.Slack != nil {
			n++
			errs = append(errs, t.Slack.validate(where+".slack")...)
		}
		if t.Alertmanager != nil {
			n++
			errs = append(errs, t.Alertmanager.validate(where+".alertmanager")...)
			if t.Alertmanager.AlertTTL <= 0 {
				bad("%s.alertmanager: alert_ttl must be positive", where)
			}
		}
		if t.Kafka != nil {
			n++
			errs = append(errs, t.Kafka.validate(where+".kafka")...)
		}
		if n != 1 {
			bad("%s: exactly one of webhook, slack, alertmanager, kafka is required, got %d", where, n)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid alert config: %w", errors.Join(errs...))
}

func (r RateLimit) validate(where string) []error {
	var errs []error
	if r.Max < 1 {
		errs = append(errs, fmt.Errorf("%s.max must be at least 1, got %d", where, r.Max))
	}
	if r.Per <= 0 {
		errs = append(errs, fmt.Errorf("%s.per must be positive, got %s", where, r.Per))
	}
	if r.Burst < 1 {
		errs = append(errs, fmt.Errorf("%s.burst must be at least 1, got %d", where, r.Burst))
	}
	if r.MaxBatch < 1 || r.MaxBatch > 1000 {
		errs = append(errs, fmt.Errorf("%s.max_batch must be in [1, 1000], got %d", where, r.MaxBatch))
	}
	if r.MaxQueue < 1 {
		errs = append(errs, fmt.Errorf("%s.max_queue must be at least 1, got %d", where, r.MaxQueue))
	}
	return errs
}

func (r Retry) validate(where string) []error {
	var errs []error
	if r.Attempts < 1 || r.Attempts > 100 {
		errs = append(errs, fmt.Errorf("%s.attempts must be in [1, 100], got %d", where, r.Attempts))
	}
	if r.InitialBackoff <= 0 {
		errs = append(errs, fmt.Errorf("%s.initial_backoff must be positive, got %s", where, r.InitialBackoff))
	}
	if r.MaxBackoff < r.InitialBackoff {
		errs = append(errs, fmt.Errorf("%s.max_backoff (%s) must be at least initial_backoff (%s)", where, r.MaxBackoff, r.InitialBackoff))
	}
	if r.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("%s.timeout must be positive, got %s", where, r.Timeout))
	}
	return errs
}

func (h HTTPTarget) validate(where string) []error {
	var errs []error
	switch {
	case h.URL == "" && h.URLEnv == "":
		errs = append(errs, fmt.Errorf("%s: one of url and url_env is required", where))
	case h.URL != "" && h.URLEnv != "":
		errs = append(errs, fmt.Errorf("%s: url and url_env are exclusive", where))
	case h.URL != "":
		if err := checkHTTPURL(h.URL); err != nil {
			errs = append(errs, fmt.Errorf("%s.url: %w", where, err))
		}
	case !envRE.MatchString(h.URLEnv):
		errs = append(errs, fmt.Errorf("%s.url_env %q is not an environment variable name", where, h.URLEnv))
	}
	if h.SecretEnv != "" && !envRE.MatchString(h.SecretEnv) {
		errs = append(errs, fmt.Errorf("%s.secret_env %q is not an environment variable name", where, h.SecretEnv))
	}
	if h.SecretHeader != "" && h.SecretEnv == "" {
		errs = append(errs, fmt.Errorf("%s: secret_header needs secret_env", where))
	}
	if h.SecretHeader != "" && !validHeaderName(h.SecretHeader) {
		errs = append(errs, fmt.Errorf("%s.secret_header %q is not a valid header name", where, h.SecretHeader))
	}
	for k := range h.Headers {
		if !validHeaderName(k) {
			errs = append(errs, fmt.Errorf("%s.headers: %q is not a valid header name", where, k))
		}
		if h.SecretHeader != "" && http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(h.SecretHeader) {
			errs = append(errs, fmt.Errorf("%s.headers: %q is also secret_header", where, k))
		}
	}
	return errs
}

func (k KafkaTarget) validate(where string) []error {
	var errs []error
	if len(k.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%s.brokers: at least one broker is required", where))
	}
	for _, b := range k.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			errs = append(errs, fmt.Errorf("%s.brokers: %q is not host:port", where, b))
		}
	}
	if k.Topic == "" {
		errs = append(errs, fmt.Errorf("%s.topic is required", where))
	}
	if k.Key != KeyPerson && k.Key != KeyActionID {
		errs = append(errs, fmt.Errorf("%s.key must be %q or %q, got %q", where, KeyPerson, KeyActionID, k.Key))
	}
	return errs
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("host is required")
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 126 || r <= 32 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// kind returns the target's kind.
func (t Target) kind() string {
	switch {
	case t.Webhook != nil:
		return KindWebhook
	case t.Slack != nil:
		return KindSlack
	case t.Alertmanager != nil:
		return KindAlertmanager
	case t.Kafka != nil:
		return KindKafka
	}
	return ""
}
