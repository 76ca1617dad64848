package report

import (
	"context"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Query is the scope of an evidence pack: the half-open period [From, To) and an
// optional Airflow instance ("" means every instance).
type Query struct {
	From     time.Time
	To       time.Time
	Instance string
}

// Scope returns the human-readable scope of q: the instance name, or "all instances".
func (q Query) Scope() string {
	if q.Instance == "" {
		return "all instances"
	}
	return q.Instance
}

// Names of the queries whose row counts Write fills in the manifest. A Source
// reports its queries under these names (see Source.Queries).
const (
	QueryCorrelations   = "correlations"
	QueryAuthenticators = "authenticators"
	QueryCoverage       = "coverage"
)

// Source streams the rows an evidence pack is built from. It is implemented by the
// store adapter; report never imports a store.
//
// Contract:
//   - Each streaming method calls fn once per row, in the documented order, and
//     returns the first error fn returns (unwrapped or wrapped) without calling fn again.
//   - Rows are values: fn may keep them; the Source must not modify them afterwards.
//   - The same store contents and Query give the same rows in the same order; the
//     pack's determinism and VerifyWithSource depend on it.
//   - Methods honour ctx cancellation and return ctx.Err() (possibly wrapped).
//   - Methods may be called concurrently: Write reads Coverage and
//     Authenticators while Correlations streams.
type Source interface {
	// Correlations streams one row per action (human Airflow audit event or DAG run)
	// whose ActionTS is in [q.From, q.To) and whose Instance matches q.Instance,
	// with the verdict of the current policy, ordered by ActionTS then ActionID.
	Correlations(ctx context.Context, q Query, fn func(model.Correlation) error) error
	// Authenticators streams one row per credential that was registered, removed
	// or used (a successful assertion) in [q.From, q.To), ordered by Person, Source,
	// CredentialID. q.Instance scopes Airflow only; every IdP instance is included.
	Authenticators(ctx context.Context, q Query, fn func(AuthenticatorRow) error) error
	// Coverage returns what each source contributed to the period, one entry per
	// source and instance, ordered by Source then Instance; for Airflow it carries
	// the event_log_id ranges seen and every gap between them.
	Coverage(ctx context.Context, q Query) ([]model.SourceCoverage, error)
	// Queries returns the text and bind parameters of every query the methods above
	// run for q, in a stable order. Write fills SHA256 and, for the entries named
	// QueryCorrelations, QueryAuthenticators and QueryCoverage, Rows; the returned
	// slice is owned by the caller.
	Queries(q Query) []model.ManifestQuery
}

// AuthenticatorRow is one credential in the authenticator inventory of a period.
type AuthenticatorRow struct {
	Person         string       // resolved person id; empty when unresolved
	Email          string       // login name as the IdP reports it
	Source         model.Source // the IdP
	Instance       string       // the IdP instance
	CredentialID   string
	AAGUID         string    // lower-case; empty when the IdP exposes none
	Model          string    // e.g. "YubiKey 5 NFC"; empty when unknown
	Hardware       *bool     // nil when undecided
	BackupEligible *bool     // nil when unknown
	RegisteredAt   time.Time // zero when registered before collection started
	RemovedAt      time.Time // zero when not removed
	FirstUsedAt    time.Time // first successful assertion in the period; zero when unused
	LastUsedAt     time.Time // last successful assertion in the period; zero when unused
	Uses           int64     // successful assertions in the period
}
