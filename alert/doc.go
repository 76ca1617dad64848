// Package alert notifies on privileged Airflow actions that were not backed by a
// hardware-key assertion, and resolves those notifications when a late assertion
// turns the verdict to verified.
//
// A Notifier receives the correlator's model.Correlation values through Handle.
// The rule (Unverified) fires for a privileged action whose verdict is anything but
// verified, or inherited from a verified action. Each (ActionID, PolicyVersion) pair
// is one alert with a stable AlertID; a later correlation for the same pair that is
// verified resolves it. Resolution is terminal: once an alert is resolved, later
// unverified correlations for the same pair are ignored, and correlations computed
// before the latest one seen (ComputedAt) are ignored as out of order.
//
// Delivery is per target (generic JSON webhook, Slack-compatible incoming webhook,
// Prometheus Alertmanager API v2, Kafka topic), each with its own queue, worker,
// token-bucket rate limit and retry policy:
//
//   - Dedup: a (AlertID, status, target) triple is queued at most once while it is
//     remembered; Handle may be called any number of times with the same
//     correlation. Across runs, Options.History (the alerts table) says what
//     earlier processes delivered: the first time an alert of a month of action
//     time is handled, that month's recorded states are loaded, and an alert
//     whose firing (or resolution) was delivered to a target is not sent to it
//     again; one recorded but never delivered is sent again. A new policy
//     version is a new AlertID, so its alerts are new. In-memory state is
//     forgotten dedup_window after its last change, which bounds memory; the
//     history is then read again. Without a History, a correlation replayed
//     after dedup_window notifies again (at-least-once). A delivery that
//     finally fails forgets its mark, so the next Handle for that alert queues
//     it again. A verified correlation that arrives after the firing alert was
//     forgotten (without a History) sends no resolve, so keep Alertmanager's
//     alert_ttl no longer than dedup_window (both default 24h).
//   - Rate limit: each request to a target takes one token of a
//     golang.org/x/time/rate limiter (max per per, burst). Alerts that arrive
//     while no token is available wait in the target's queue (max_queue) and
//     are coalesced: the next request carries up to max_batch of them. When
//     the queue is full Handle returns ErrQueueFull and records the alert with
//     that error; nothing is dropped silently.
//   - Retry: network errors, Kafka errors, HTTP 408, 429 and 5xx are retried with
//     exponential backoff (github.com/cenkalti/backoff/v5: initial_backoff,
//     doubled per attempt, capped at max_backoff, each wait randomised by
//     ±50%); Retry-After is honoured up to max_backoff. Other 4xx and 3xx
//     (redirects are not followed) are permanent. Each attempt has its own
//     timeout. A batch is retried as a whole.
//   - Resolve: Alertmanager gets the firing alert's labels again with endsAt=now;
//     the webhook, Slack and Kafka targets get a "resolved" message. Firing alerts
//     are posted to Alertmanager with endsAt = now + alert_ttl, so they stay
//     active without re-sending. A resolve goes only to targets that were sent
//     (or still queue) the firing alert, behind it in the same queue.
//   - Record: every queued alert and every delivery attempt's outcome is passed to
//     the Recorder, so the alerts table holds alerts that could not be delivered too.
//
// Close stops intake, flushes the queues (ignoring the rate limit) and waits for
// in-flight deliveries until its context ends; alerts still undelivered then are
// recorded with an error. Close returns an error wrapping ErrUndelivered when
// any alert was finally not delivered, whatever the cause (an error status, a
// refused connection, a receiver that timed out, or Close's deadline).
//
// Times come from Options.Clock (github.com/jonboulle/clockwork), so tests
// drive rate limits and backoff with a fake clock instead of sleeping.
package alert
