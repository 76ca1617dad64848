package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// Producer publishes records to Kafka. It implements bus.Sender and is
// safe for concurrent use.
//
// Messages are produced asynchronously (kafka-go's Writer with Async and a
// Completion callback): Send queues a call's messages behind every message
// queued before (kafka-go writes each partition's batches in order) and
// returns at once; its Pending is done when every message is acknowledged
// by all in-sync replicas. Publish is Send, then Wait.
type Producer struct {
	w     *kafkago.Writer
	topic func(bus.Record) string
}

var _ bus.Sender = (*Producer)(nil)

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
		Async:        true,
		Completion:   complete,
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
// in-sync replica. On error none may be assumed delivered (when ctx ends
// first, they may still be written later).
func (p *Producer) Publish(ctx context.Context, recs ...bus.Record) error {
	if len(recs) == 0 {
		return ctx.Err()
	}
	pd, err := p.Send(ctx, recs...)
	if err != nil {
		return err
	}
	return pd.Wait(ctx)
}

// Send queues recs behind every record sent before and returns their
// Pending: done once every record is acknowledged by all in-sync replicas.
// Its Wait returns an error once one of them failed (kafka-go gave up
// after MaxAttempts); none may then be assumed delivered.
func (p *Producer) Send(ctx context.Context, recs ...bus.Record) (bus.Pending, error) {
	pd := &pending{left: len(recs), done: make(chan struct{}), failed: make(chan struct{})}
	if len(recs) == 0 {
		close(pd.done)
		return pd, ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msgs := make([]kafkago.Message, len(recs))
	for i, r := range recs {
		msgs[i] = Message(p.topic(r), r)
		msgs[i].WriterData = pd
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return nil, fmt.Errorf("kafka publish: %w", err)
	}
	return pd, nil
}

// pending is the messages of one Send.
type pending struct {
	done   chan struct{} // closed once every message is acknowledged
	failed chan struct{} // closed once one failed

	mu    sync.Mutex
	left  int // messages not yet acknowledged
	nfail int
	err   error // the first failure
}

// complete is the Writer's Completion: msgs, written to one partition
// (unless err), are counted against the pending of the Send each came
// from.
func complete(msgs []kafkago.Message, err error) {
	for _, m := range msgs {
		pd, ok := m.WriterData.(*pending)
		if !ok {
			continue
		}
		pd.mu.Lock()
		switch {
		case err != nil:
			pd.nfail++
			if pd.err == nil {
				pd.err = err
				close(pd.failed)
			}
		case pd.left > 0:
			pd.left--
			if pd.left == 0 && pd.err == nil {
				close(pd.done)
			}
		}
		pd.mu.Unlock()
	}
}

// Done implements bus.Pending.
func (pd *pending) Done() <-chan struct{} { return pd.done }

// Wait implements bus.Pending.
func (pd *pending) Wait(ctx context.Context) error {
	select {
	case <-pd.done:
		return nil
	case <-pd.failed:
		pd.mu.Lock()
		defer pd.mu.Unlock()
		return fmt.Errorf("kafka publish: %d of the messages sent failed: %w", pd.nfail, pd.err)
	case <-ctx.Done():
		return ctx.Err()
	}
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
