// Package bus carries raw provider records from the places they are collected
// (pollers, webhooks, an existing Kafka topic) to the sink that normalizes and
// stores them. Two implementations sit behind the same contract: Kafka
// (segmentio/kafka-go) for server deployments and an in-process bus for the
// embedded default.
//
// The contract is at-least-once: a producer's Publish returns nil only when
// the records are durable (Kafka: acknowledged by all in-sync replicas; the
// in-process bus: stored by the sink), so a collector advances its cursor and
// a webhook answers 200 only after it. A consumer commits a batch only after
// the store accepted it; storage is idempotent on the provider's ids, so a
// redelivery after a crash is harmless.
package bus

import (
	"context"
	"errors"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Record is one provider record in transit, exactly as received.
type Record struct {
	// Source is the provider the record came from.
	Source model.Source
	// Instance names the tenant or Airflow deployment.
	Instance string
	// Key orders records: records with the same key keep their order (Kafka:
	// one partition). Collectors key IdP records by the person's subject and
	// Airflow records by instance; empty means Source/Instance.
	Key string
	// Raw is the record's bytes, never modified. It may hold one record or a
	// document of several (an API page, a webhook envelope): the sink splits it
	// the way `keytrail ingest` splits a file.
	Raw []byte
	// ReceivedAt is when keytrail received it.
	ReceivedAt time.Time
	// Origin says where it came from, for dead letters and evidence: a URL and
	// page, a webhook request id, topic/partition/offset.
	Origin string
}

// PartitionKey returns the key records are ordered by.
func (r Record) PartitionKey() string {
	if r.Key != "" {
		return r.Key
	}
	return string(r.Source) + "/" + r.Instance
}

// Publisher hands records to the bus.
//
// Publish returns nil only when every record is durable; on error none may be
// assumed delivered and the caller retries them all (duplicates are harmless).
// Publish is safe for concurrent use and honours ctx.
type Publisher interface {
	Publish(ctx context.Context, recs ...Record) error
}

// Sender is a Publisher that can hand records over without waiting for
// them to be durable, so that a collector reads its next page while the
// last one is stored.
//
// Send queues recs after every record queued before (it blocks only while
// the bus is full) and returns their Pending. The contract of Publish holds
// for the Pending: a caller advances its cursor past recs only once Wait
// returned nil, and on any error it sends them all again.
type Sender interface {
	Publisher
	Send(ctx context.Context, recs ...Record) (Pending, error)
}

// Pending is records sent and maybe not durable yet.
type Pending interface {
	// Done is closed once every record is durable.
	Done() <-chan struct{}
	// Wait returns nil once every record is durable, or an error when
	// they may never be (the bus closed, ctx ended): none may then be
	// assumed delivered.
	Wait(ctx context.Context) error
}

// Batch is records a Subscriber delivered together.
type Batch struct {
	Records []Record
	// Commit acknowledges the batch once its records are stored. It is
	// called at most once per batch, in delivery order.
	Commit func(ctx context.Context) error
}

// ErrClosed is returned by a Subscriber's Fetch (and a Publisher that can
// be closed) once it is closed.
var ErrClosed = errors.New("bus closed")

// Subscriber delivers published records to one consumer (a member of a
// consumer group on Kafka).
//
// Fetch blocks until records arrive, ctx ends, or the subscriber is closed
// (ErrClosed), and returns up to max records (at least one) or an error.
// Records not committed are delivered again after a restart or rebalance.
type Subscriber interface {
	Fetch(ctx context.Context, max int) (Batch, error)
	Close() error
}
