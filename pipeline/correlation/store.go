package correlation

import (
	"context"
	"iter"
	"time"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/model"
)

// Store is what a correlation run reads and writes: the stored events in
// time order, the policies and the correlations table.
// warehouse.Warehouse implements it.
//
// The Stream methods yield the rows with ts in [lo, hi) that can matter to
// the correlator, ordered by ts (ties in any order), only the columns it
// uses, read in windows of about pageRows rows; a read error (or the end of
// ctx) is yielded once, with a zero value, and ends the stream.
type Store interface {
	// Resolver serves the identities stored, for rows stored before the
	// identity that names their person (enrich.People).
	enrich.Identities

	// RecordPolicy stores p's text under its version.
	RecordPolicy(ctx context.Context, p correlate.Policy, now time.Time) error
	// SetCurrentPolicy makes version the one reports and exports read.
	SetCurrentPolicy(ctx context.Context, version string, now time.Time) error
	// WriteCorrelations inserts cs (distinct action ids of one policy).
	WriteCorrelations(ctx context.Context, cs []model.Correlation) error

	// ActionBounds resolves a period: zero ends become the stored
	// actions' earliest time and just after their latest; ok is false when
	// the period is empty.
	ActionBounds(ctx context.Context, from, to time.Time) (lo, hi time.Time, ok bool, err error)
	// CountActions returns the number of actions (human audit events and
	// DAG runs) in [from, to).
	CountActions(ctx context.Context, from, to time.Time) (int, error)

	// StreamAuthentications: successful logins and MFA steps by a person.
	StreamAuthentications(ctx context.Context, lo, hi time.Time, pageRows int64) iter.Seq2[model.AuthEvent, error]
	// StreamAuthenticatorChanges: credential registrations and removals.
	StreamAuthenticatorChanges(ctx context.Context, lo, hi time.Time, pageRows int64) iter.Seq2[model.Authenticator, error]
	// StreamAuditActions: human Airflow audit rows.
	StreamAuditActions(ctx context.Context, lo, hi time.Time, pageRows int64) iter.Seq2[model.AirflowEvent, error]
	// StreamRuns: DAG runs.
	StreamRuns(ctx context.Context, lo, hi time.Time, pageRows int64) iter.Seq2[model.DagRun, error]
	// Enablers returns the latest unpause and backfill request of each DAG
	// before before, by time.
	Enablers(ctx context.Context, before time.Time) ([]model.AirflowEvent, error)
	// AuthenticationsOf returns, by time, the authentications of each
	// person in spans within the person's span [span[0], span[1]).
	AuthenticationsOf(ctx context.Context, spans map[string][2]time.Time) ([]model.AuthEvent, error)

	// MaxEventVersion returns the newest row version of the event tables.
	MaxEventVersion(ctx context.Context) (uint64, error)
	// EventsSince hands fn every stored event row whose version is at
	// least v (re-reads and replays included), each as a pointer to its own
	// model value (*model.Authenticator, *model.AuthEvent,
	// *model.AirflowEvent or *model.DagRun) with its time and version.
	EventsSince(ctx context.Context, v uint64, fn func(ts time.Time, ev any, version uint64)) error
}
