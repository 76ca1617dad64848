package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/model"
)

// Defaults of ConsumerConfig.
const (
	DefaultLinger            = 20 * time.Millisecond
	DefaultSessionTimeout    = 30 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRebalanceTimeout  = 30 * time.Second
	DefaultJoinGroupBackoff  = 2 * time.Second
	DefaultMaxBytes          = 10 << 20
)

// Where a consumer group with no committed offset starts.
const (
	StartFirst = "first" // the oldest message still in the topic
	StartLast  = "last"  // messages published from now on
)

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Conn Conn
	// GroupID is the consumer group. Required.
	GroupID string
	// Topics are the topics the group consumes. Required.
	Topics []string
	// Source, when set, stamps every message as a record of Source and
	// Instance: a topic keytrail does not write, such as Entra ID
	// diagnostic logs from Event Hubs. Records of keytrail's own topics
	// carry both in headers.
	Source   model.Source
	Instance string
	// Start is where a group without committed offsets begins: StartFirst
	// or StartLast. Default StartFirst (nothing published before keytrail
	// started is skipped).
	Start string
	// Linger is how long Fetch waits for one more message before it returns
	// the ones it has. Default DefaultLinger.
	Linger time.Duration
	// SessionTimeout, HeartbeatInterval, RebalanceTimeout and
	// JoinGroupBackoff tune group membership (defaults as named).
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	JoinGroupBackoff  time.Duration
	// MaxBytes bounds one fetch response. Default DefaultMaxBytes.
	MaxBytes int
}

// Consumer is one member of a consumer group. It implements bus.Subscriber.
// Fetch is meant for one goroutine; a batch's Commit may run while the
// next Fetch is under way (the sink commits a stored batch while it
// fetches the next).
type Consumer struct {
	r      *kafkago.Reader
	cfg    ConsumerConfig
	linger time.Duration
}

var _ bus.Subscriber = (*Consumer)(nil)

// NewConsumer returns a Consumer; it joins its group on the first Fetch.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	var errs []error
	if err := cfg.Conn.Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.GroupID == "" {
		errs = append(errs, errors.New("group id is required"))
	}
	if len(cfg.Topics) == 0 {
		errs = append(errs, errors.New("at least one topic is required"))
	}
	if cfg.Source != "" && !cfg.Source.Valid() {
		errs = append(errs, fmt.Errorf("unknown source %q", cfg.Source))
	}
	start := kafkago.FirstOffset
	switch cfg.Start {
	case "", StartFirst:
	case StartLast:
		start = kafkago.LastOffset
	default:
		errs = append(errs, fmt.Errorf("start %q is not %q or %q", cfg.Start, StartFirst, StartLast))
	}
	d, err := cfg.Conn.dialer()
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:           cfg.Conn.Brokers,
		GroupID:           cfg.GroupID,
		GroupTopics:       cfg.Topics,
		Dialer:            d,
		StartOffset:       start,
		CommitInterval:    0, // synchronous: Commit returns when the broker has the offsets
		MaxBytes:          or(cfg.MaxBytes, DefaultMaxBytes),
		MaxWait:           500 * time.Millisecond,
		SessionTimeout:    or(cfg.SessionTimeout, DefaultSessionTimeout),
		HeartbeatInterval: or(cfg.HeartbeatInterval, DefaultHeartbeatInterval),
		RebalanceTimeout:  or(cfg.RebalanceTimeout, DefaultRebalanceTimeout),
		JoinGroupBackoff:  or(cfg.JoinGroupBackoff, DefaultJoinGroupBackoff),
		ReadBackoffMin:    100 * time.Millisecond,
		ReadBackoffMax:    2 * time.Second,
		Logger:            cfg.Conn.logger(),
		ErrorLogger:       cfg.Conn.logger(),
	})
	return &Consumer{r: r, cfg: cfg, linger: or(cfg.Linger, DefaultLinger)}, nil
}

// Fetch waits for a message, then gathers more until max, until none
// arrives within Linger, or until ctx ends, and returns them. Commit
// commits their offsets: records of partitions reassigned meanwhile are
// delivered again to their new owner, which is harmless (storage is
// idempotent).
func (c *Consumer) Fetch(ctx context.Context, max int) (bus.Batch, error) {
	if max <= 0 {
		max = 1
	}
	m, err := c.r.FetchMessage(ctx)
	if err != nil {
		return bus.Batch{}, fetchErr(err)
	}
	msgs := []kafkago.Message{m}
	for len(msgs) < max {
		lctx, cancel := context.WithTimeout(ctx, c.linger)
		m, err := c.r.FetchMessage(lctx)
		cancel()
		if err != nil {
			break
		}
		msgs = append(msgs, m)
	}
	recs := make([]bus.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = c.record(m)
	}
	return bus.Batch{Records: recs, Commit: func(ctx context.Context) error {
		if err := c.r.CommitMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("kafka commit: %w", err)
		}
		return nil
	}}, nil
}

func fetchErr(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("kafka fetch: %w", bus.ErrClosed)
	}
	return fmt.Errorf("kafka fetch: %w", err)
}

// record is the bus.Record m carries. Origin names the message's topic,
// partition and offset, followed by the producer's origin in parentheses
// when it sent one.
func (c *Consumer) record(m kafkago.Message) bus.Record {
	r := bus.Record{Key: string(m.Key), Raw: m.Value, ReceivedAt: m.Time, Source: c.cfg.Source, Instance: c.cfg.Instance}
	origin := ""
	for _, h := range m.Headers {
		switch h.Key {
		case HeaderSource:
			if c.cfg.Source == "" {
				r.Source = model.Source(h.Value)
			}
		case HeaderInstance:
			if c.cfg.Source == "" {
				r.Instance = string(h.Value)
			}
		case HeaderReceived:
			if t, err := time.Parse(time.RFC3339Nano, string(h.Value)); err == nil {
				r.ReceivedAt = t
			}
		case HeaderOrigin:
			origin = string(h.Value)
		}
	}
	if r.ReceivedAt.IsZero() {
		r.ReceivedAt = time.Now()
	}
	r.Origin = Origin(m.Topic, m.Partition, m.Offset)
	if origin != "" {
		r.Origin += " (" + origin + ")"
	}
	return r
}

// Origin names a message: "kafka:<topic>/<partition>/<offset>".
func Origin(topic string, partition int, offset int64) string {
	return fmt.Sprintf("kafka:%s/%d/%d", topic, partition, offset)
}

// Close leaves the group. Offsets not committed are delivered again to the
// group's next member.
func (c *Consumer) Close() error { return c.r.Close() }
