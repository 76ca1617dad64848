package warehouse

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest/aaguid"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// Resolver returns an identity resolver seeded with every identity stored:
// the operator's mapping and what earlier ingests inferred.
func (w *Warehouse) Resolver(ctx context.Context, now func() time.Time) (*identity.Resolver, error) {
	r, err := identity.NewResolver(nil, now)
	if err != nil {
		return nil, err
	}
	rows, err := store.Identities.All(ctx, w.S, "")
	if err != nil {
		return nil, fmt.Errorf("load identities: %w", err)
	}
	if err := r.Load(rows); err != nil {
		return nil, err
	}
	return r, nil
}

// AAGUIDTable returns the curated authenticator table with the operator's
// stored additions on top: MDS3 imports, then allow and deny entries.
func (w *Warehouse) AAGUIDTable(ctx context.Context) (*aaguid.Table, error) {
	t := aaguid.Default()
	rows, err := store.AAGUIDs.All(ctx, w.S, "ORDER BY source, aaguid")
	if err != nil {
		return nil, fmt.Errorf("load aaguids: %w", err)
	}
	var allow, deny []string
	for _, m := range rows {
		switch m.Source {
		case aaguid.SourceAllow:
			allow = append(allow, m.AAGUID)
		case aaguid.SourceDeny:
			deny = append(deny, m.AAGUID)
		default:
			t.Add(aaguid.Entry{AAGUID: m.AAGUID, Model: m.Model, Hardware: m.Hardware, Synced: m.Synced,
				Platform: m.Platform, Status: m.Status, Source: m.Source})
		}
	}
	if err := t.Allow(allow...); err != nil {
		return nil, fmt.Errorf("stored allow list: %w", err)
	}
	if err := t.Deny(deny...); err != nil {
		return nil, fmt.Errorf("stored deny list: %w", err)
	}
	return t, nil
}

// ImportIdentities stores the operator's mapping rows. They win over
// inference for events ingested from now on and when the correlator
// re-resolves stored actions.
func (w *Warehouse) ImportIdentities(ctx context.Context, rows []model.Identity, now time.Time) error {
	for i := range rows {
		rows[i].Origin = model.OriginMapping
		if rows[i].UpdatedAt.IsZero() {
			rows[i].UpdatedAt = now.UTC()
		}
	}
	// Validate the whole file against what is stored before writing any of it.
	r, err := w.Resolver(ctx, nil)
	if err != nil {
		return err
	}
	if err := r.Load(rows); err != nil {
		return err
	}
	return store.Identities.WriteVersion(ctx, w.S, rows, w.versions().Next())
}

// AddAAGUIDs stores operator additions to the authenticator table (MDS3
// entries, allow and deny rows) after checking every AAGUID's form.
func (w *Warehouse) AddAAGUIDs(ctx context.Context, rows []model.AuthenticatorModel) error {
	for i := range rows {
		c, err := aaguid.Canonical(rows[i].AAGUID)
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
		rows[i].AAGUID = c
	}
	return store.AAGUIDs.WriteVersion(ctx, w.S, rows, w.versions().Next())
}

// ReadRegistrations hands fn every stored credential registration, by time.
func (w *Warehouse) ReadRegistrations(ctx context.Context, fn func(model.Authenticator) error) error {
	err := store.Authenticators.Read(ctx, w.S, "WHERE action = ? ORDER BY ts", []any{model.AuthenticatorRegister}, fn)
	if err != nil {
		return fmt.Errorf("load registrations: %w", err)
	}
	return nil
}

// WriteIdentities stores identities learned by enrichment (the row version
// is the store's default: an operator's mapping row, written later with a
// newer version, wins).
func (w *Warehouse) WriteIdentities(ctx context.Context, rows []model.Identity) error {
	if err := store.Identities.Write(ctx, w.S, rows); err != nil {
		return fmt.Errorf("store identities: %w", err)
	}
	return nil
}

// ownerCond selects the rows with an owner (the column owner) whose person
// a re-resolution may change: those without a person, those of one of
// people, and those whose owner, lower-cased, is one of owners.
func ownerCond(owner string, people, owners []string) (string, []any) {
	cond, args := []string{"person = ''", provisionalCond}, []any{provisionalPattern}
	if len(people) > 0 {
		cond = append(cond, "person IN (SELECT arrayJoin(?))")
		args = append(args, people)
	}
	if len(owners) > 0 {
		cond = append(cond, "lower("+owner+") IN (SELECT arrayJoin(?))")
		args = append(args, owners)
	}
	return owner + " != '' AND (" + strings.Join(cond, " OR ") + ")", args
}

// provisionalCond, bound to provisionalPattern, holds for rows whose person
// is provisional (identity.Provisional): "<identity provider>:<subject or
// username>".
const provisionalCond = "match(person, ?)"

var provisionalPattern = func() string {
	srcs := make([]string, len(model.IdPSources))
	for i, s := range model.IdPSources {
		srcs[i] = regexp.QuoteMeta(string(s))
	}
	return "^(" + strings.Join(srcs, "|") + "):."
}()

// RewriteProvisionalAuthEvents hands change the human sign-ins stored under
// a provisional person (identity.Provisional) and rewrites those it
// changed. It returns how many it rewrote.
func (w *Warehouse) RewriteProvisionalAuthEvents(ctx context.Context, change func(*model.AuthEvent) bool) (int, error) {
	return rewrite(ctx, w, store.AuthEvents, "WHERE principal IN ('', ?) AND "+provisionalCond, []any{string(model.PrincipalUser), provisionalPattern}, change)
}

// RewriteAuthEvents hands change the human sign-ins (principal a user or
// unknown) whose subject or email, lower-cased, is one of subjects, and
// rewrites those it changed (a newer version of the same key). It returns
// how many it rewrote.
func (w *Warehouse) RewriteAuthEvents(ctx context.Context, subjects []string, change func(*model.AuthEvent) bool) (int, error) {
	// Events of services and of the provider itself name no person.
	human := "WHERE principal IN ('', ?) AND (lower(subject) IN (SELECT arrayJoin(?)) OR lower(email) IN (SELECT arrayJoin(?)))"
	return rewrite(ctx, w, store.AuthEvents, human, []any{string(model.PrincipalUser), subjects, subjects}, change)
}

// RewriteAuthenticators is RewriteAuthEvents for credential registrations
// and removals.
func (w *Warehouse) RewriteAuthenticators(ctx context.Context, subjects []string, change func(*model.Authenticator) bool) (int, error) {
	where := "WHERE lower(subject) IN (SELECT arrayJoin(?)) OR lower(email) IN (SELECT arrayJoin(?))"
	return rewrite(ctx, w, store.Authenticators, where, []any{subjects, subjects}, change)
}

// RewriteInferredIdentities hands change the identities earlier ingests
// inferred (not the operator's mapping) and rewrites those it changed.
func (w *Warehouse) RewriteInferredIdentities(ctx context.Context, change func(*model.Identity) bool) (int, error) {
	return rewrite(ctx, w, store.Identities, "WHERE origin = ?", []any{string(model.OriginInferred)}, change)
}

// RewriteAirflowEvents hands change the human Airflow audit rows with an
// actor that have no person or a provisional one, or the person of one of
// people, or an actor that, lower-cased, is one of actors; and rewrites
// those it changed.
func (w *Warehouse) RewriteAirflowEvents(ctx context.Context, people, actors []string, change func(*model.AirflowEvent) bool) (int, error) {
	where, args := ownerCond("actor", people, actors)
	return rewrite(ctx, w, store.AirflowEvents, "WHERE human = 1 AND "+where, args, change)
}

// RewriteDagRuns is RewriteAirflowEvents for DAG runs, by their
// triggering user.
func (w *Warehouse) RewriteDagRuns(ctx context.Context, people, users []string, change func(*model.DagRun) bool) (int, error) {
	where, args := ownerCond("triggering_user", people, users)
	return rewrite(ctx, w, store.DagRuns, "WHERE "+where, args, change)
}

// rewrite reads the rows of t matching where, hands each to change, and
// rewrites those it changed. It returns the number of rows rewritten.
func rewrite[T any](ctx context.Context, w *Warehouse, t store.Table[T], where string, args []any, change func(*T) bool) (int, error) {
	rows, err := t.All(ctx, w.S, where, args...)
	if err != nil {
		return 0, fmt.Errorf("re-resolve %s: %w", t.Name, err)
	}
	var changed []T
	for i := range rows {
		if change(&rows[i]) {
			changed = append(changed, rows[i])
		}
	}
	if err := writeByMonth(ctx, w, t, changed); err != nil {
		return 0, fmt.Errorf("re-resolve %s: %w", t.Name, err)
	}
	return len(changed), nil
}
