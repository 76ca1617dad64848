// Package pipeline is live collection's moving part: the components that
// carry records from the bus into the store and verdicts out of it, each a
// Component with Run(ctx), wired into a Pipeline that starts them together
// and stops them in order.
//
//	collectors ──► bus (Kafka | in-process) ──► Sink ──► Writer ──► store
//	                                                          │
//	                                     Notify ◄─────────────┘
//	                                        ▼
//	                                   Correlator (pipeline/correlation.Live) ──► verdicts, alerts
//
// The Sink fetches records from a bus.Subscriber and batches them by size
// and time; the Writer splits each record's bytes and runs them through
// the ingest code (normalize, drop duplicates, enrich with ingest/enrich,
// store), exactly as `keytrail ingest` does for a file, through an
// ingest.Session so that one batch's duplicate look-up and enrichment
// overlap the store write of the batch before it; the Sink commits a
// batch only after the write succeeded, retries a failed write with capped
// backoff (committing and dropping nothing, one log line per outage), and at
// shutdown stores and commits what it holds within a bound. The Correlator
// polls the stored events when a sink wrote and writes verdicts within
// seconds, through the Live interface it declares (pipeline/correlation.Live
// implements it).
//
// Status keeps each configured source's state (the collector's cursor, lag
// and last error, what the sink stored) and a StatusWriter writes it where
// `keytrail status` reads it.
package pipeline
