package kafka

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/keytrail/keytrail/model"
)

// SASL mechanisms Conn supports.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// Mechanisms lists the SASL mechanisms Conn supports.
var Mechanisms = []string{MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512}

// DefaultDialTimeout bounds connecting to a broker.
const DefaultDialTimeout = 10 * time.Second

// DefaultTopicPrefix is the prefix of the topic each source publishes to.
const DefaultTopicPrefix = "keytrail.raw."

// DefaultTopic returns the topic of src's raw records: "keytrail.raw.<src>".
func DefaultTopic(src model.Source) string { return DefaultTopicPrefix + string(src) }

// Conn says how to reach a Kafka cluster.
type Conn struct {
	// Brokers are bootstrap host:port addresses. Required.
	Brokers []string
	// ClientID names keytrail to the brokers. Default "keytrail".
	ClientID string
	// SASL authenticates to the brokers. Default none.
	SASL *SASL
	// TLS encrypts the connections. Default none (plaintext).
	TLS *tls.Config
	// DialTimeout bounds each connection attempt. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// Logger receives kafka-go's own messages at debug level. Default discard.
	Logger *slog.Logger
}

// SASL is a SASL mechanism with its credentials. Its String hides the
// password.
type SASL struct {
	// Mechanism is one of Mechanisms.
	Mechanism string
	Username  string
	Password  string
}

// String describes s without its password.
func (s SASL) String() string { return fmt.Sprintf("%s as %q", s.Mechanism, s.Username) }

// GoString is String, so %#v does not print the password either.
func (s SASL) GoString() string { return s.String() }

// Validate reports every problem with c, joined.
func (c Conn) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("at least one broker is required"))
	}
	for _, b := range c.Brokers {
		if i := strings.LastIndexByte(b, ':'); i <= 0 || i == len(b)-1 {
			errs = append(errs, fmt.Errorf("broker %q is not host:port", b))
		}
	}
	if c.SASL != nil {
		if _, err := c.SASL.mechanism(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *SASL) mechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(s.Mechanism) {
	case MechanismPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case MechanismSCRAMSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case MechanismSCRAMSHA512:
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	}
	return nil, fmt.Errorf("SASL mechanism %q is not one of %s", s.Mechanism, strings.Join(Mechanisms, ", "))
}

func (c Conn) clientID() string {
	if c.ClientID == "" {
		return "keytrail"
	}
	return c.ClientID
}

func (c Conn) dialTimeout() time.Duration {
	if c.DialTimeout <= 0 {
		return DefaultDialTimeout
	}
	return c.DialTimeout
}

func (c Conn) saslMechanism() (sasl.Mechanism, error) {
	if c.SASL == nil {
		return nil, nil
	}
	return c.SASL.mechanism()
}

// transport is the producer's and admin client's connection pool.
func (c Conn) transport() (*kafkago.Transport, error) {
	m, err := c.saslMechanism()
	if err != nil {
		return nil, err
	}
	return &kafkago.Transport{ClientID: c.clientID(), DialTimeout: c.dialTimeout(), SASL: m, TLS: c.TLS}, nil
}

// dialer is the consumer's way of connecting.
func (c Conn) dialer() (*kafkago.Dialer, error) {
	m, err := c.saslMechanism()
	if err != nil {
		return nil, err
	}
	return &kafkago.Dialer{ClientID: c.clientID(), Timeout: c.dialTimeout(), DualStack: true, SASLMechanism: m, TLS: c.TLS}, nil
}

// logger adapts c.Logger to kafka-go.
func (c Conn) logger() kafkago.Logger {
	l := c.Logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return kafkago.LoggerFunc(func(msg string, args ...any) { l.Debug("kafka: " + fmt.Sprintf(msg, args...)) })
}
