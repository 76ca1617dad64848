// Package emulator serves the demo generator's organisation from local
// imitations of the providers' APIs, on loopback: Okta (System Log, Users,
// Factors, OAuth service-app tokens), Microsoft Graph (sign-ins,
// directory audits, users, FIDO2 methods, client-credentials tokens),
// Google Admin SDK Reports (login activities, service-account JWT bearer
// tokens), Keycloak (admin events, users, credentials, client-credentials
// tokens) and Airflow (2.x /api/v1 with basic auth, 3.x /api/v2 with a JWT
// from POST /auth/token).
//
// Each emulator follows its provider's documented behaviour: query
// parameters, ordering, page links and tokens, page-size limits, error
// bodies and rate-limit headers. Records become listed when the emulator's
// clock passes their Visible time, so a clock that runs (real, accelerated
// or a test's fake clock) paces them, and one set after the period serves
// everything at once. DAG runs change state over time, the dagRuns
// endpoint showing each run's current version.
//
// Faults make the emulators misbehave on purpose, deterministically: 429
// with the provider's reset header, 5xx, slow answers, the same record on
// two pages, empty pages, records listed late, poisoned records. Each
// emulator keeps a Ledger of every record it served (and how often), so a
// test compares what a collector published with exactly what was sent.
package emulator
