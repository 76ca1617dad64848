package enrich

import (
	"context"
	"time"

	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest/aaguid"
	"github.com/keytrail/keytrail/model"
)

// Identities reads the identities stored: the operator's mapping and what
// earlier ingests inferred. warehouse.Warehouse implements it.
type Identities interface {
	// Resolver returns a resolver seeded with every identity stored, its
	// clock now (nil: time.Now).
	Resolver(ctx context.Context, now func() time.Time) (*identity.Resolver, error)
}

// Store is what an Enricher reads and writes. warehouse.Warehouse
// implements it.
type Store interface {
	Identities
	// AAGUIDTable returns the authenticator table with the operator's
	// stored additions on top.
	AAGUIDTable(ctx context.Context) (*aaguid.Table, error)
	// ReadRegistrations hands fn every stored credential registration, by
	// time.
	ReadRegistrations(ctx context.Context, fn func(model.Authenticator) error) error
	// WriteIdentities stores learned identities; a mapping row stored with
	// the same key stays the one read back.
	WriteIdentities(ctx context.Context, rows []model.Identity) error
}

// Rewriter rewrites the person of stored rows, for ResolveStored and
// ResolveOwners. Each Rewrite method reads the rows it names, hands each to
// change (which may set its person and reports whether it did), rewrites
// the changed rows as a newer version of the same key, and returns how many
// it rewrote. warehouse.Warehouse implements it.
type Rewriter interface {
	Identities
	// RewriteAuthEvents: human sign-ins whose subject or email,
	// lower-cased, is one of subjects.
	RewriteAuthEvents(ctx context.Context, subjects []string, change func(*model.AuthEvent) bool) (int, error)
	// RewriteProvisionalAuthEvents: human sign-ins stored under a
	// provisional person (identity.Provisional).
	RewriteProvisionalAuthEvents(ctx context.Context, change func(*model.AuthEvent) bool) (int, error)
	// RewriteAuthenticators: registrations and removals whose subject or
	// email, lower-cased, is one of subjects.
	RewriteAuthenticators(ctx context.Context, subjects []string, change func(*model.Authenticator) bool) (int, error)
	// RewriteInferredIdentities: the identities ingests inferred.
	RewriteInferredIdentities(ctx context.Context, change func(*model.Identity) bool) (int, error)
	// RewriteAirflowEvents: human audit rows with an actor and no person
	// or a provisional one, or the person of one of people, or an actor
	// (lower-cased) in actors.
	RewriteAirflowEvents(ctx context.Context, people, actors []string, change func(*model.AirflowEvent) bool) (int, error)
	// RewriteDagRuns: RewriteAirflowEvents for DAG runs by their
	// triggering user.
	RewriteDagRuns(ctx context.Context, people, users []string, change func(*model.DagRun) bool) (int, error)
}
