// Package collect reads identity-provider and Airflow APIs continuously and
// hands every provider record to the bus, exactly as received.
//
// A Collector is one source instance (an Okta org, an Entra tenant, an
// Airflow deployment) made of Streams: an audit log, a sign-in log, an
// authenticator inventory. Each source's streams live in collect/<source>
// (collect/okta, collect/entra, collect/google, collect/keycloak,
// collect/airflow); this package holds what they share: the Runner, the
// cursor contract, time-window walking, HTTP and rate-limit handling, and
// secrets.
//
// The Runner reads each stream page by page from its durable cursor and
// publishes one bus.Record per provider record. The cursor moves only after
// Publish returned nil, so a crash re-reads at most the page in flight:
// records are delivered at least once and never skipped, and storage,
// idempotent on the providers' ids, counts each once. Provider 5xx answers,
// network errors and timeouts are retried with jittered, capped exponential
// backoff (cenkalti/backoff/v5); a 429 waits until the provider's documented
// reset (Retry-After, X-Rate-Limit-Reset). A record that does not parse is
// published like any other and dead-lettered by the sink: it never blocks a
// cursor. Time comes from an injected clockwork.Clock, so tests never sleep.
package collect
