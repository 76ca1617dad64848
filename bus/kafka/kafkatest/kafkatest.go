// Package kafkatest starts in-process Kafka clusters (twmb/franz-go's kfake,
// which speaks the Kafka protocol on loopback) for tests of keytrail's Kafka
// bus, and tunes consumers to join groups quickly.
package kafkatest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/keytrail/keytrail/bus/kafka"
)

// Partitions is the partition count of topics the test clusters create.
const Partitions = 4

// Start starts a kfake cluster of one broker with extra options (SASL, TLS,
// seed topics), closed when the test ends, and returns it with a Conn to it.
func Start(tb testing.TB, opts ...kfake.Opt) (*kfake.Cluster, kafka.Conn) {
	tb.Helper()
	base := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(Partitions),
		kfake.AllowAutoTopicCreation(),
		kfake.GroupMinSessionTimeout(time.Second),
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c, kafka.Conn{Brokers: c.ListenAddrs(), DialTimeout: 2 * time.Second}
}

// Consumer returns cfg with group timings short enough for tests (a member
// that leaves is replaced within a second or two).
func Consumer(cfg kafka.ConsumerConfig) kafka.ConsumerConfig {
	cfg.SessionTimeout = 6 * time.Second
	cfg.HeartbeatInterval = 300 * time.Millisecond
	cfg.RebalanceTimeout = 2 * time.Second
	cfg.JoinGroupBackoff = 200 * time.Millisecond
	return cfg
}
