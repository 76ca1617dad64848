// Package ingest turns provider records into keytrail's model. Each source has
// its own subpackage (ingest/okta, ingest/airflow, …) with a Normalizer; this
// package holds what they share: splitting input in any shape users have on
// disk or get from an API (a single object, a JSON array, newline-delimited
// JSON, API page envelopes) into raw records, and the Output they produce.
package ingest
