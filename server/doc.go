// Package server is `keytrail serve`: one HTTP service on echo that people
// and other systems talk to.
//
//   - /healthz, /readyz (the checks registered in a Readiness: store,
//     schema, Kafka when configured, each collector's last success) and
//     /metrics (Prometheus, from an injected registry);
//   - push intake, each sender authenticated by its own secret, never by
//     OIDC: Okta Event Hooks (/v1/hooks/okta/{instance}: the verification
//     handshake and deliveries, Authorization header compared in constant
//     time), HMAC-signed provider records (POST /v1/ingest/{source}) and
//     ID tokens (POST /v1/ingest/oidc, verified with go-oidc against their
//     issuer). A push is answered only after the bus (bus.Publisher) took
//     its records durably; the store write happens downstream, in the sink,
//     and storage keeps each provider id once, so senders retry safely;
//   - the API for people and tools (/v1/correlations, /v1/actions/{id},
//     /v1/coverage, /v1/reports…), OIDC bearer tokens verified with
//     go-oidc, roles from a configurable claim, described by the OpenAPI
//     3.1 document at /v1/openapi.json.
//
// Errors become HTTP statuses in one place (handleError); logs are slog
// lines with the request id and the route template, never a header, body,
// query or token.
package server
