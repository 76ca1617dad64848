// Package kafka is the bus over Apache Kafka (segmentio/kafka-go), for
// server deployments.
//
// A Producer publishes each record to its source's topic
// (DefaultTopic: "keytrail.raw.<source>"), keyed by bus.Record.PartitionKey
// so one person's (or one Airflow instance's) records keep their order on
// one partition, with the record's instance, received time and origin in
// headers and its bytes, unchanged, as the value. Publish returns nil only
// when every message is acknowledged by all in-sync replicas
// (RequiredAcks=all). The Producer is a bus.Sender: Send queues records
// and returns at once, and its Pending is done once they are acknowledged,
// so a collector reads its next pages while the last are produced.
//
// A Consumer is one member of a consumer group over one or more topics; its
// batches are committed only when the sink calls Commit, after the store
// accepted them, so a crash redelivers what was not stored. A Consumer can
// also read a topic keytrail does not write — Entra ID diagnostic logs
// through the Azure Event Hubs Kafka endpoint (SASL PLAIN over TLS, values
// `{"records":[…]}`) — stamping its messages with a fixed source and
// instance.
//
// Conn carries the connection settings shared by both: brokers, SASL
// (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS.
package kafka
