package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/keytrail/keytrail/bus/kafka"
	"github.com/keytrail/keytrail/bus/kafka/kafkatest"
	"github.com/keytrail/keytrail/model"
)

// TestSASLAndTLS: every supported mechanism, over TLS, publishes and
// consumes; a wrong password fails.
func TestSASLAndTLS(t *testing.T) {
	for _, mech := range kafka.Mechanisms {
		t.Run(mech, func(t *testing.T) {
			ctx := context.Background()
			srvTLS, cliTLS, _ := kafkatest.TLS(t)
			_, conn := kafkatest.Start(t, kfake.EnableSASL(), kfake.Superuser(mech, "keytrail", "s3cret"), kfake.TLS(srvTLS))
			topic := kafka.DefaultTopic(model.SourceKeycloak)

			bad := conn
			bad.TLS = cliTLS
			bad.SASL = &kafka.SASL{Mechanism: mech, Username: "keytrail", Password: "wrong"}
			require.Error(t, kafka.EnsureTopics(ctx, bad, []string{topic}, 1, 1), "a wrong password is refused")
			require.NotContains(t, fmt.Sprintf("%v %+v %#v", bad.SASL, *bad.SASL, bad.SASL), "wrong", "SASL never prints its password")

			plain := conn
			plain.SASL = &kafka.SASL{Mechanism: mech, Username: "keytrail", Password: "s3cret"}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			require.Error(t, kafka.EnsureTopics(pctx, plain, []string{topic}, 1, 1), "no TLS, no connection")

			good := plain
			good.TLS = cliTLS
			require.NoError(t, kafka.EnsureTopics(ctx, good, []string{topic}, 1, 1))
			p := newProducer(t, good)
			require.NoError(t, p.Publish(ctx, records(model.SourceKeycloak, 0, 20, 2)...))
			c := newConsumer(t, kafka.ConsumerConfig{Conn: good, GroupID: "sink", Topics: []string{topic}})
			got := drain(t, c, 20, true)
			require.Equal(t, model.SourceKeycloak, got[0].Source)
		})
	}
}

// TestExistingTopic: a topic keytrail does not write — Entra ID diagnostic
// logs from Event Hubs' Kafka endpoint (SASL PLAIN over TLS, the user
// "$ConnectionString"), values {"records":[…]}, no keytrail headers — is
// consumed as records of a fixed source and instance, bytes unchanged.
func TestExistingTopic(t *testing.T) {
	ctx := context.Background()
	srvTLS, cliTLS, _ := kafkatest.TLS(t)
	const connString = "Endpoint=sb://corp.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=abc="
	_, conn := kafkatest.Start(t, kfake.EnableSASL(), kfake.Superuser(kafka.MechanismPlain, "$ConnectionString", connString),
		kfake.TLS(srvTLS), kfake.SeedTopics(2, "insights-logs-signinlogs"))
	conn.TLS = cliTLS
	conn.SASL = &kafka.SASL{Mechanism: kafka.MechanismPlain, Username: "$ConnectionString", Password: connString}

	// Event Hubs' own producer: no headers, no key.
	tr := &kafkago.Transport{TLS: cliTLS, SASL: plain.Mechanism{Username: "$ConnectionString", Password: connString}}
	w := &kafkago.Writer{Addr: kafkago.TCP(conn.Brokers...), Topic: "insights-logs-signinlogs", Transport: tr, RequiredAcks: kafkago.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	var values [][]byte
	for i := range 5 {
		v := fmt.Appendf(nil, `{"records":[{"time":"2026-03-01T09:00:0%dZ","category":"SignInLogs","properties":{"id":"s-%d"}}]}`, i, i)
		values = append(values, v)
		require.NoError(t, w.WriteMessages(ctx, kafkago.Message{Value: v}))
	}

	c := newConsumer(t, kafka.ConsumerConfig{Conn: conn, GroupID: "keytrail", Topics: []string{"insights-logs-signinlogs"},
		Source: model.SourceEntra, Instance: "corp"})
	got := drain(t, c, 5, true)
	seen := map[string]bool{}
	for _, r := range got {
		require.Equal(t, model.SourceEntra, r.Source)
		require.Equal(t, "corp", r.Instance)
		require.Regexp(t, `^kafka:insights-logs-signinlogs/[01]/\d+$`, r.Origin)
		require.False(t, r.ReceivedAt.IsZero())
		seen[string(r.Raw)] = true
	}
	for _, v := range values {
		require.True(t, seen[string(v)], "bytes unchanged: %s", v)
	}
}
