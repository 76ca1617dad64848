package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/keytrail/keytrail/bus"
)

// Message headers that carry a bus.Record's fields besides its bytes (the
// value) and its key (the message key).
const (
	HeaderSource   = "keytrail-source"
	HeaderInstance = "keytrail-instance"
	HeaderReceived = "keytrail-received" // RFC 3339 with nanoseconds
	HeaderOrigin   = "keytrail-origin"
)

// Defaults of ProducerConfig.
const (
	DefaultBatchTimeout = 5 * time.Millisecond
	DefaultBatchSize    = 1000
	DefaultWriteTimeout = 10 * time.Second
	DefaultMaxAttempts  = 3
)

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Conn Conn
	// Topic returns the topic of a record. Default DefaultTopic of its
	// source.
	Topic func(bus.Record) string
	// BatchTimeout is how long a partial batch waits for more messages
	// before it is sent. Default DefaultBatchTimeout.
	BatchTimeout time.Duration
	// BatchSize is the most messages sent to one partition in one request.
	// Default DefaultBatchSize.
	BatchSize int
	// WriteTimeout bounds each produce request. Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxAttempts is how many times a message is sent before Publish fails.
	// Default DefaultMaxAttempts.
	MaxAttempts int
}

// Producer publishes records to Kafka. It implements bus.Publisher and is
// safe for concurrent use.
type Producer struct {
	w     *kafkago.Writer
	topic func(bus.Record) string
}

var _ bus.Publisher = (*Producer)(nil)

// NewProducer returns a Producer; it connects on first Publish.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	if err := cfg.Conn.Validate(); err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	t, err := cfg.Conn.transport()
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	topic := cfg.Topic
	if topic == nil {
		topic = func(r bus.Record) string { return DefaultTopic(r.Source) }
	}
	w := &kafkago.Writer{
		Addr:         kafkago.TCP(cfg.Conn.Brokers...),
		Balancer:     kafkago.Murmur2Balancer{Consistent: true}, // Java's default partitioner: same key, same partition
		RequiredAcks: kafkago.RequireAll,
		BatchTimeout: or(cfg.BatchTimeout, DefaultBatchTimeout),
		BatchSize:    or(cfg.BatchSize, DefaultBatchSize),
		WriteTimeout: or(cfg.WriteTimeout, DefaultWriteTimeout),
		MaxAttempts:  or(cfg.MaxAttempts, DefaultMaxAttempts),
		Transport:    t,
		Logger:       cfg.Conn.logger(),
		ErrorLogger:  cfg.Conn.logger(),
	}
	return &Producer{w: w, topic: topic}, nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Message returns the Kafka message that carries r on topic.
func Message(topic string, r bus.Record) kafkago.Message {
	h := []kafkago.Header{
		{Key: HeaderSource, Value: []byte(r.Source)},
		{Key: HeaderInstance, Value: []byte(r.Instance)},
	}
	if !r.ReceivedAt.IsZero() {
		h = append(h, kafkago.Header{Key: HeaderReceived, Value: []byte(r.ReceivedAt.UTC().Format(time.RFC3339Nano))})
	}
	if r.Origin != "" {
		h = append(h, kafkago.Header{Key: HeaderOrigin, Value: []byte(r.Origin)})
	}
	return kafkago.Message{Topic: topic, Key: []byte(r.PartitionKey()), Value: r.Raw, Headers: h}
}

// Publish sends recs and returns nil once all are acknowledged by every
// in-sync replica. On error none may be assumed delivered.
func (p *Producer) Publish(ctx context.Context, recs ...bus.Record) error {
	if len(recs) == 0 {
		return ctx.Err()
	}
	msgs := make([]kafkago.Message, len(recs))
	for i, r := range recs {
		msgs[i] = Message(p.topic(r), r)
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		var we kafkago.WriteErrors
		if errors.As(err, &we) {
			return fmt.Errorf("kafka publish: %d of %d messages failed: %w", we.Count(), len(msgs), firstErr(we))
		}
		return fmt.Errorf("kafka publish: %w", err)
	}
	return nil
}

func firstErr(we kafkago.WriteErrors) error {
	for _, e := range we {
		if e != nil {
			return e
		}
	}
	return errors.New("unknown error")
}

// Close flushes and closes the producer.
func (p *Producer) Close() error { return p.w.Close() }

// EnsureTopics creates the topics that do not exist yet, with partitions
// partitions and replication replicas each. Existing topics are left as
// they are.
func EnsureTopics(ctx context.Context, conn Conn, topics []string, partitions, replication int) error {
	if len(topics) == 0 {
		return nil
	}
	if err := conn.Validate(); err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	t, err := conn.transport()
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	defer t.CloseIdleConnections()
	c := &kafkago.Client{Addr: kafkago.TCP(conn.Brokers...), Transport: t, Timeout: conn.dialTimeout()}
	req := &kafkago.CreateTopicsRequest{Addr: c.Addr}
	for _, name := range topics {
		req.Topics = append(req.Topics, kafkago.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: replication})
	}
	resp, err := c.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	var errs []error
	for name, e := range resp.Errors {
		if e != nil && !errors.Is(e, kafkago.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", name, e))
		}
	}
	return errors.Join(errs...)
}
