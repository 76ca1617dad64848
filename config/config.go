// Package config is `keytrail collect`'s configuration: one strict YAML
// file for the sources, the bus (in-process or Kafka), the store, the sink
// and correlator, the correlation policy and the alert targets.
//
// Decoding is strict: a key keytrail does not know is an error naming its
// line, and so is a key that does not belong to a source's type. Secrets
// (tokens, client secrets, passwords) are never written in the file: each
// is {env: NAME} or {file: PATH}, read when used, and printed only as where
// it comes from. Validate reports every problem at once, each with the
// line it is on.
package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/server"
)

// Buses.
const (
	BusMemory = "memory" // in-process: the embedded default, no Kafka
	BusKafka  = "kafka"
)

// Defaults.
const (
	DefaultTopicPrefix        = "keytrail.raw."
	DefaultPartitions         = 6
	DefaultGroupID            = "keytrail-sink"
	DefaultBatchSize          = 5000
	DefaultMaxWaitKafka       = time.Second
	DefaultMaxWaitMemory      = 50 * time.Millisecond
	DefaultIdleKafka          = 100 * time.Millisecond
	DefaultFlushTimeout       = 10 * time.Second
	DefaultBackoffInitial     = 200 * time.Millisecond
	DefaultBackoffMax         = 30 * time.Second
	DefaultCorrelatorInterval = 5 * time.Second
	DefaultPollOverlap        = 30 * time.Second
	DefaultShutdownTimeout    = 30 * time.Second
	DefaultStatusInterval     = 10 * time.Second
	DefaultMemoryCapacity     = 50000
	DefaultCorrelatorWindow   = 15 * time.Minute
)

// Config is `keytrail collect`'s configuration, and `keytrail serve`'s: one
// file can hold both (serve reads store, bus, kafka, sink and server;
// collect reads everything else beside them).
type Config struct {
	// Store is where records, verdicts and status are stored. Default: the
	// global --store (or KEYTRAIL_STORE, or the embedded store).
	Store Store `yaml:"store"`
	// Bus is "memory" (in-process, the default) or "kafka".
	Bus string `yaml:"bus"`
	// Memory tunes the in-process bus.
	Memory Memory `yaml:"memory"`
	// Kafka is the cluster of the Kafka bus (required with bus: kafka), and
	// the default cluster of kafka-topic sources.
	Kafka *Kafka `yaml:"kafka"`
	// Sink tunes the bus → store stage.
	Sink Sink `yaml:"sink"`
	// Correlator tunes the streaming correlator.
	Correlator Correlator `yaml:"correlator"`
	// Policy is the correlation policy: the keys of a policy file
	// (correlate/testdata/policy.default.yaml); omitted keys keep their
	// defaults.
	Policy correlate.Policy `yaml:"policy"`
	// Alerts are the alert targets: the keys of an alerts file
	// (alert/testdata/alerts.example.yaml). Default none.
	Alerts *alert.Config `yaml:"alerts"`
	// Sources are what keytrail collects from, by name.
	Sources map[string]*Source `yaml:"sources"`
	// ShutdownTimeout bounds a graceful stop (SIGTERM): collectors stop,
	// sinks store and commit what they hold, the correlator writes its
	// last verdicts. Default 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// StatusInterval is how often each source's status is written for
	// `keytrail status`. Default 10s.
	StatusInterval time.Duration `yaml:"status_interval"`
	// Server is `keytrail serve`'s HTTP service (server.Config); collect
	// ignores it.
	Server *server.Config `yaml:"server"`

	lines map[string]int // YAML path → line, for messages
}

// Store names the store. In YAML a mapping, or just the URL as a string.
type Store struct {
	// URL is a store URL without a password: chdb:///path or
	// clickhouse://user@host:9000/db.
	URL string `yaml:"url"`
	// Password is the ClickHouse password, put into URL when it is opened.
	Password Secret `yaml:"password"`
}

// UnmarshalYAML takes the mapping, or a string as the URL.
func (s *Store) UnmarshalYAML(unmarshal func(any) error) error {
	var u string
	if unmarshal(&u) == nil {
		*s = Store{URL: u}
		return nil
	}
	type plain Store
	return unmarshal((*plain)(s))
}

// Memory tunes the in-process bus.
type Memory struct {
	// Capacity is the number of records waiting for the sink before
	// collectors block. Default 50000.
	Capacity int `yaml:"capacity"`
}

// Kafka is a Kafka cluster and how keytrail uses it.
type Kafka struct {
	// Brokers are bootstrap host:port addresses. Required.
	Brokers []string `yaml:"brokers"`
	// ClientID names keytrail to the brokers. Default "keytrail".
	ClientID string `yaml:"client_id"`
	// TopicPrefix prefixes the source format in default topic names.
	// Default "keytrail.raw.".
	TopicPrefix string `yaml:"topic_prefix"`
	// CreateTopics creates missing source topics at start. Default true.
	CreateTopics *bool `yaml:"create_topics"`
	// Partitions and ReplicationFactor are those of topics keytrail
	// creates. Defaults 6 and 1.
	Partitions        int `yaml:"partitions"`
	ReplicationFactor int `yaml:"replication_factor"`
	// GroupID is the sink's consumer group. Default "keytrail-sink".
	GroupID string `yaml:"group_id"`
	// SASL authenticates. Default none.
	SASL *SASL `yaml:"sasl"`
	// TLS encrypts. Default none.
	TLS *TLS `yaml:"tls"`
}

// SASL mechanisms.
var Mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// SASL is a SASL mechanism and its credentials.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Required.
	Mechanism string `yaml:"mechanism"`
	// Username. Required.
	Username string `yaml:"username"`
	// Password. Required.
	Password Secret `yaml:"password"`
}

func (s *SASL) validate(where string) []error {
	var errs []error
	if !slices.Contains(Mechanisms, strings.ToUpper(s.Mechanism)) {
		errs = append(errs, fmt.Errorf("%s.mechanism %q is not one of %s", where, s.Mechanism, strings.Join(Mechanisms, ", ")))
	}
	if s.Username == "" {
		errs = append(errs, fmt.Errorf("%s.username is required", where))
	}
	if s.Password.IsZero() {
		errs = append(errs, fmt.Errorf("%s.password is required ({env: NAME} or {file: PATH})", where))
	} else if err := s.Password.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%s.password: %w", where, err))
	}
	return errs
}

// TLS configures TLS to the brokers.
type TLS struct {
	// Enabled turns TLS on (with the system's roots unless CAFile is set).
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the roots to trust. Default the system's.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate (mutual TLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the brokers' certificates.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

func (t *TLS) validate(where string) []error {
	var errs []error
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s: cert_file and key_file go together", where))
	}
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		errs = append(errs, fmt.Errorf("%s: settings given but enabled is false", where))
	}
	return errs
}

// Config returns the crypto/tls configuration t describes (nil when TLS is
// off), reading its files.
func (t *TLS) Config() (*tls.Config, error) {
	if t == nil || !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // the operator's choice, documented for tests only
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Sink tunes the bus → store stage.
type Sink struct {
	// BatchSize is the most records per store write. Default 5000.
	BatchSize int `yaml:"batch_size"`
	// MaxWait is the longest a record waits for more before its batch is
	// written. Default 1s with Kafka, 50ms with the in-process bus (whose
	// collectors wait for the write).
	MaxWait time.Duration `yaml:"max_wait"`
	// Idle hands a batch over before max_wait once the bus brought nothing
	// new for idle while the store is free: the backlog is drained and the
	// records at hand need not wait. Default 100ms with Kafka; off (0) with
	// the in-process bus, whose collectors send their next pages only after
	// a write. A value of max_wait or more turns it off.
	Idle time.Duration `yaml:"idle"`
	// FlushTimeout bounds the last write at shutdown. Default 10s.
	FlushTimeout time.Duration `yaml:"flush_timeout"`
	// Backoff paces retries while the store is down.
	Backoff Backoff `yaml:"backoff"`
}

// Backoff is a capped exponential backoff.
type Backoff struct {
	// Initial is the first wait. Default 200ms.
	Initial time.Duration `yaml:"initial"`
	// Max caps the waits. Default 30s.
	Max time.Duration `yaml:"max"`
}

// Correlator tunes the streaming correlator.
type Correlator struct {
	// Enabled runs it. Default true.
	Enabled *bool `yaml:"enabled"`
	// Window is how far back from start-up the streaming correlator takes
	// actions over; older ones are batch `keytrail correlate`'s. Default
	// 15m.
	Window time.Duration `yaml:"window"`
	// Interval is the longest between two polls of the store. Default 5s.
	Interval time.Duration `yaml:"interval"`
	// PollOverlap is how far back each poll re-reads rows, for inserts
	// that committed late. On the in-process bus the correlator reads the
	// rows this process's sink stored since its last poll and re-reads the
	// overlap only every PollOverlap/2, for rows other processes wrote,
	// beside its polls. Default 30s.
	PollOverlap time.Duration `yaml:"poll_overlap"`
}

// On reports whether the correlator runs.
func (c Correlator) On() bool { return c.Enabled == nil || *c.Enabled }

// Load decodes a Config from YAML strictly, applies defaults and
// validates it. Its errors never repeat a value from the file.
func Load(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c := &Config{Policy: correlate.DefaultPolicy()}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config: empty document")
		}
		return nil, fmt.Errorf("config: %w", yamlError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config: more than one YAML document")
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		c.lines = map[string]int{}
		index(&root, "", c.lines)
	}
	for name, s := range c.Sources {
		if s == nil {
			s = &Source{}
			c.Sources[name] = s
		}
		s.Name = name
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadFile is Load on the named file.
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Load(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// yamlValues are values a YAML error quotes; the file may hold things
// that should not be repeated.
var yamlValues = regexp.MustCompile("`[^`]*`")

// unknownKey is yaml.v3's message for a key not in a struct.
var unknownKey = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (.+)$`)

// yamlError rewords a decoding error: unknown keys are named as such,
// quoted values are hidden.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(yamlValues.ReplaceAllString(err.Error(), "`…`"))
	}
	var errs []error
	for _, msg := range te.Errors {
		if m := unknownKey.FindStringSubmatch(msg); m != nil {
			errs = append(errs, fmt.Errorf("line %s: unknown key %q%s", m[1], m[2], typeHint(m[3])))
			continue
		}
		errs = append(errs, errors.New(yamlValues.ReplaceAllString(msg, "`…`")))
	}
	return errors.Join(errs...)
}

// typeHint names where an unknown key was found from the Go type yaml.v3
// names.
func typeHint(goType string) string {
	switch {
	case strings.HasSuffix(goType, "config.Config"):
		return " at the top level"
	case strings.Contains(goType, "okta.Config"):
		return " for a source of type okta"
	case strings.Contains(goType, "entra.Config"):
		return " for a source of type entra"
	case strings.Contains(goType, "google.Config"):
		return " for a source of type google"
	case strings.Contains(goType, "keycloak.Config"):
		return " for a source of type keycloak"
	case strings.Contains(goType, "airflow.Config"):
		return " for a source of type airflow"
	case strings.Contains(goType, "config.KafkaTopic"):
		return " for a source of type kafka-topic"
	case strings.Contains(goType, "config.Webhook"):
		return " for a source of type webhook"
	case strings.Contains(goType, "config.common") || strings.Contains(goType, "config.head"):
		return " for a source (set type first)"
	}
	parts := strings.Split(goType, ".")
	return " in " + parts[len(parts)-1]
}

// index records the line of every mapping key under path.
func index(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			index(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			lines[p] = k.Line
			index(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			lines[p] = c.Line
			index(c, p, lines)
		}
	}
}

// ApplyDefaults fills zero fields with their documented defaults.
func (c *Config) ApplyDefaults() {
	c.Bus = or(c.Bus, BusMemory)
	c.Memory.Capacity = or(c.Memory.Capacity, DefaultMemoryCapacity)
	prefix := DefaultTopicPrefix
	if k := c.Kafka; k != nil {
		k.ClientID = or(k.ClientID, "keytrail")
		k.TopicPrefix = or(k.TopicPrefix, DefaultTopicPrefix)
		prefix = k.TopicPrefix
		if k.CreateTopics == nil {
			t := true
			k.CreateTopics = &t
		}
		k.Partitions = or(k.Partitions, DefaultPartitions)
		k.ReplicationFactor = or(k.ReplicationFactor, 1)
		k.GroupID = or(k.GroupID, DefaultGroupID)
	}
	c.Sink.BatchSize = or(c.Sink.BatchSize, DefaultBatchSize)
	if c.Bus == BusKafka {
		c.Sink.MaxWait = or(c.Sink.MaxWait, DefaultMaxWaitKafka)
		c.Sink.Idle = or(c.Sink.Idle, DefaultIdleKafka)
	} else {
		c.Sink.MaxWait = or(c.Sink.MaxWait, DefaultMaxWaitMemory)
	}
	c.Sink.FlushTimeout = or(c.Sink.FlushTimeout, DefaultFlushTimeout)
	c.Sink.Backoff.Initial = or(c.Sink.Backoff.Initial, DefaultBackoffInitial)
	c.Sink.Backoff.Max = or(c.Sink.Backoff.Max, DefaultBackoffMax)
	c.Correlator.Window = or(c.Correlator.Window, DefaultCorrelatorWindow)
	c.Correlator.Interval = or(c.Correlator.Interval, DefaultCorrelatorInterval)
	c.Correlator.PollOverlap = or(c.Correlator.PollOverlap, DefaultPollOverlap)
	c.ShutdownTimeout = or(c.ShutdownTimeout, DefaultShutdownTimeout)
	c.StatusInterval = or(c.StatusInterval, DefaultStatusInterval)
	if c.Alerts != nil {
		c.Alerts.ApplyDefaults()
	}
	if c.Server != nil {
		c.Server.ApplyDefaults()
	}
	for _, s := range c.Sources {
		s.applyDefaults(prefix)
		if k := s.KafkaTopic; k != nil && len(k.Brokers) == 0 && c.Kafka != nil {
			k.Brokers = c.Kafka.Brokers
			if k.SASL == nil {
				k.SASL = c.Kafka.SASL
			}
			if k.TLS == nil {
				k.TLS = c.Kafka.TLS
			}
		}
	}
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	topicRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
	groupRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
)

// Validate reports every problem in c, joined, each with its line when
// the file has it. It expects defaults applied.
func (c *Config) Validate() error {
	var errs []error
	at := func(path string, format string, a ...any) {
		errs = append(errs, c.problem(path, fmt.Sprintf(format, a...)))
	}
	if c.Store.URL != "" {
		if u, err := url.Parse(c.Store.URL); err != nil || u.Scheme == "" {
			at("store.url", "not a store URL (chdb:///path or clickhouse://user@host:9000/db)")
		} else if _, has := u.User.Password(); has {
			at("store.url", "the password does not belong in the URL: use store.password ({env: NAME} or {file: PATH})")
		}
	}
	if !c.Store.Password.IsZero() {
		if c.Store.URL == "" {
			at("store.password", "needs store.url")
		}
		if err := c.Store.Password.Validate(); err != nil {
			at("store.password", "%v", err)
		}
	}
	switch c.Bus {
	case BusMemory:
	case BusKafka:
		if c.Kafka == nil {
			at("bus", "kafka needs the kafka section")
		}
	default:
		at("bus", "%q is not memory or kafka", c.Bus)
	}
	if c.Memory.Capacity < 1 {
		at("memory.capacity", "must be at least 1, got %d", c.Memory.Capacity)
	}
	if k := c.Kafka; k != nil {
		for _, e := range checkBrokers("kafka.brokers", k.Brokers) {
			errs = append(errs, c.problem("kafka.brokers", e.Error()))
		}
		if len(k.Brokers) == 0 {
			at("kafka.brokers", "at least one broker is required")
		}
		if !topicRE.MatchString(k.TopicPrefix + "x") {
			at("kafka.topic_prefix", "%q makes invalid topic names", k.TopicPrefix)
		}
		if k.Partitions < 1 {
			at("kafka.partitions", "must be at least 1, got %d", k.Partitions)
		}
		if k.ReplicationFactor < 1 {
			at("kafka.replication_factor", "must be at least 1, got %d", k.ReplicationFactor)
		}
		if !groupRE.MatchString(k.GroupID) {
			at("kafka.group_id", "%q is not a valid group id", k.GroupID)
		}
		if k.SASL != nil {
			for _, e := range k.SASL.validate("kafka.sasl") {
				errs = append(errs, c.problem("kafka.sasl", e.Error()))
			}
		}
		if k.TLS != nil {
			for _, e := range k.TLS.validate("kafka.tls") {
				errs = append(errs, c.problem("kafka.tls", e.Error()))
			}
		}
	}
	if c.Sink.BatchSize < 1 {
		at("sink.batch_size", "must be at least 1, got %d", c.Sink.BatchSize)
	}
	for key, d := range map[string]time.Duration{"sink.max_wait": c.Sink.MaxWait, "sink.flush_timeout": c.Sink.FlushTimeout,
		"sink.backoff.initial": c.Sink.Backoff.Initial, "sink.backoff.max": c.Sink.Backoff.Max, "correlator.window": c.Correlator.Window,
		"correlator.interval": c.Correlator.Interval, "correlator.poll_overlap": c.Correlator.PollOverlap,
		"shutdown_timeout": c.ShutdownTimeout, "status_interval": c.StatusInterval} {
		if d <= 0 {
			at(key, "must be positive, got %s", d)
		}
	}
	if c.Sink.Idle < 0 {
		at("sink.idle", "must not be negative, got %s", c.Sink.Idle)
	}
	if c.Sink.Backoff.Max < c.Sink.Backoff.Initial {
		at("sink.backoff.max", "(%s) must be at least initial (%s)", c.Sink.Backoff.Max, c.Sink.Backoff.Initial)
	}
	if c.Sink.FlushTimeout >= c.ShutdownTimeout {
		at("sink.flush_timeout", "(%s) must be shorter than shutdown_timeout (%s)", c.Sink.FlushTimeout, c.ShutdownTimeout)
	}
	if err := c.Policy.Validate(); err != nil {
		errs = append(errs, c.problem("policy", err.Error()))
	}
	if c.Alerts != nil {
		if err := c.Alerts.Validate(); err != nil {
			errs = append(errs, c.problem("alerts", err.Error()))
		}
	}
	if c.Server != nil {
		if err := c.Server.Validate(); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, c.problem("server", e.Error()))
			}
		}
	}
	if len(c.Sources) == 0 && c.Server == nil {
		at("sources", "at least one source is required (or a server section)")
	}
	seen := map[string]string{} // format/instance → source name
	topics := map[string]string{}
	for _, name := range c.SourceNames() {
		s := c.Sources[name]
		path := "sources." + name
		if !nameRE.MatchString(name) {
			at(path, "name %q: use letters, digits, '.', '_' and '-'", name)
		}
		for _, e := range s.validate(path) {
			errs = append(errs, c.problem(path, e.Error()))
		}
		if s.Disabled || s.Format() == "" {
			continue
		}
		key := s.Format() + "/" + s.Instance
		if other, ok := seen[key]; ok && s.Webhook == nil {
			at(path, "instance %q of %s is also source %s: give one of them another instance", s.Instance, s.Format(), other)
		}
		if s.Webhook == nil {
			seen[key] = name
		}
		if s.KafkaTopic != nil {
			if other, ok := topics[s.Topic]; ok {
				at(path, "topic %s is also consumed by source %s", s.Topic, other)
			}
			topics[s.Topic] = name
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return lineOf(errs[i]) < lineOf(errs[j]) })
	return &Error{Problems: errs}
}

// Error is an invalid configuration: every problem found.
type Error struct {
	Problems []error
}

func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("invalid config (%d problems):\n  %s", len(msgs), strings.Join(msgs, "\n  "))
}

// Unwrap returns the problems.
func (e *Error) Unwrap() []error { return e.Problems }

// problemError is one problem, at the line of its key when known.
type problemError struct {
	line int
	msg  string
}

func (p *problemError) Error() string {
	if p.line > 0 {
		return fmt.Sprintf("line %d: %s", p.line, p.msg)
	}
	return p.msg
}

func lineOf(err error) int {
	var p *problemError
	if errors.As(err, &p) {
		return p.line
	}
	return 0
}

// problem is msg about path, at the line of path (or its nearest parent
// the file has).
func (c *Config) problem(path, msg string) error {
	if !strings.HasPrefix(msg, path+":") && !strings.HasPrefix(msg, path+".") {
		msg = path + ": " + msg
	}
	for p := path; p != ""; {
		if l, ok := c.lines[p]; ok {
			return &problemError{line: l, msg: msg}
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return &problemError{msg: msg}
}

// SourceNames returns the sources' names, sorted.
func (c *Config) SourceNames() []string {
	names := make([]string, 0, len(c.Sources))
	for n := range c.Sources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CheckSecrets reads every secret the configuration names and reports
// those that cannot be read (never their values).
func (c *Config) CheckSecrets() error {
	var errs []error
	check := func(path string, s Secret) {
		if s.IsZero() {
			return
		}
		if _, err := s.Value(); err != nil {
			errs = append(errs, c.problem(path, err.Error()))
		}
	}
	check("store.password", c.Store.Password)
	if c.Kafka != nil && c.Kafka.SASL != nil {
		check("kafka.sasl.password", c.Kafka.SASL.Password)
	}
	for _, name := range c.SourceNames() {
		s := c.Sources[name]
		if s.Disabled {
			continue
		}
		for key, sec := range s.secrets() {
			check("sources."+name+"."+key, sec)
		}
	}
	if c.Alerts != nil {
		for i, t := range c.Alerts.Targets {
			for _, h := range []*alert.HTTPTarget{t.Webhook, t.Slack} {
				if h == nil {
					continue
				}
				for _, env := range []string{h.URLEnv, h.SecretEnv} {
					if env != "" {
						check(fmt.Sprintf("alerts.targets[%d]", i), Secret{Env: env})
					}
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return lineOf(errs[i]) < lineOf(errs[j]) })
	return &Error{Problems: errs}
}

// StoreURL returns the store URL to open: store.url with the password
// from store.password, or fallback when the config names no store. The
// result holds the password: never log it (store.Redact).
func (c *Config) StoreURL(fallback string) (string, error) {
	if c.Store.URL == "" {
		return fallback, nil
	}
	if c.Store.Password.IsZero() {
		return c.Store.URL, nil
	}
	pw, err := c.Store.Password.Value()
	if err != nil {
		return "", fmt.Errorf("store.password: %w", err)
	}
	u, err := url.Parse(c.Store.URL)
	if err != nil {
		return "", errors.New("store.url is not a URL")
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), nil
}

func checkBrokers(where string, brokers []string) []error {
	var errs []error
	for _, b := range brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", where, b))
		} else if _, err := strconv.Atoi(b[i+1:]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q has no port number", where, b))
		}
	}
	return errs
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
