// Package ingest turns provider records into keytrail's model. Each source has
// its own subpackage (ingest/okta, ingest/airflow, …) with a Normalizer; this
// package holds what they share: splitting input in any shape users have on
// disk or get from an API (a single object, a JSON array, newline-delimited
// JSON, API page envelopes, documents cut short) into raw records, the Output
// they produce, and the Ingester that stores them through a Sink — telling
// duplicates (the same bytes) from conflicts (the same id, other bytes) and
// dead-lettering what cannot be stored faithfully.
package ingest
