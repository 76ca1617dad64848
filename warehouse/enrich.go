package warehouse

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/aaguid"
	"github.com/keytrail/keytrail/ingest/airflow"
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

// ResolveStored brings the people of stored rows up to date with the
// identities stored now, after an operator mapping was imported: sign-ins
// and key registrations of the subjects (or emails) the mapping names move
// to the mapped person; Airflow actions and manual runs whose actor had no
// person, or belonged to a person who moved, or is named by the mapping,
// are resolved again. Changed rows are rewritten (a newer version of the
// same key). It returns how many IdP rows and Airflow rows it changed;
// correlate again for their verdicts to follow.
func (w *Warehouse) ResolveStored(ctx context.Context, mapped []model.Identity) (idp, af int, err error) {
	r, err := w.Resolver(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	var idpSubs, afSubs []string
	for _, m := range mapped {
		sub := strings.ToLower(strings.TrimSpace(m.Subject))
		if m.Source == model.SourceAirflow {
			afSubs = append(afSubs, sub, strings.TrimPrefix(sub, identity.CLIPrefix))
		} else {
			idpSubs = append(idpSubs, sub)
		}
	}
	moved := map[string]string{} // old person → mapped person
	if len(idpSubs) > 0 {
		where := "WHERE lower(subject) IN (SELECT arrayJoin(?)) OR lower(email) IN (SELECT arrayJoin(?))"
		// Events of services and of the provider itself name no person.
		human := "WHERE principal IN ('', ?) AND (lower(subject) IN (SELECT arrayJoin(?)) OR lower(email) IN (SELECT arrayJoin(?)))"
		n, err := rewritePeople(ctx, w, store.AuthEvents, human, []any{string(model.PrincipalUser), idpSubs, idpSubs}, moved,
			func(ev *model.AuthEvent) *string { return &ev.Person },
			func(ev *model.AuthEvent) (string, bool) { return r.ResolveIdP(ev.Source, ev.Subject, ev.Email), true })
		idp += n
		if err != nil {
			return idp, 0, err
		}
		n, err = rewritePeople(ctx, w, store.Authenticators, where, []any{idpSubs, idpSubs}, moved,
			func(a *model.Authenticator) *string { return &a.Person },
			func(a *model.Authenticator) (string, bool) { return r.ResolveIdP(a.Source, a.Subject, a.Email), true })
		idp += n
		if err != nil {
			return idp, 0, err
		}
	}
	delete(moved, "")
	if len(moved) > 0 {
		// What earlier ingests inferred for a person who moved (their
		// username, their Airflow owner) moves with them.
		_, err := rewritePeople(ctx, w, store.Identities, "WHERE origin = ?", []any{string(model.OriginInferred)}, nil,
			func(id *model.Identity) *string { return &id.Person },
			func(id *model.Identity) (string, bool) { to, ok := moved[id.Person]; return to, ok })
		if err != nil {
			return idp, 0, err
		}
		if r, err = w.Resolver(ctx, nil); err != nil {
			return idp, 0, err
		}
	}
	// Airflow rows without a person, of a person who moved, or whose actor
	// the mapping names.
	unresolved := func(actor string) (string, []any) {
		cond, args := []string{"person = ''"}, []any{}
		if len(moved) > 0 {
			cond = append(cond, "person IN (SELECT arrayJoin(?))")
			args = append(args, slices.Sorted(maps.Keys(moved)))
		}
		if len(afSubs) > 0 {
			cond = append(cond, "lower("+actor+") IN (SELECT arrayJoin(?))")
			args = append(args, afSubs)
		}
		return actor + " != '' AND (" + strings.Join(cond, " OR ") + ")", args
	}
	where, args := unresolved("actor")
	n, err := rewritePeople(ctx, w, store.AirflowEvents, "WHERE human = 1 AND "+where, args, nil,
		func(ev *model.AirflowEvent) *string { return &ev.Person },
		func(ev *model.AirflowEvent) (string, bool) { return r.ResolveAirflow(ev.Actor, ev.Channel) })
	af += n
	if err != nil {
		return idp, af, err
	}
	where, args = unresolved("triggering_user")
	n, err = rewritePeople(ctx, w, store.DagRuns, "WHERE "+where, args, nil,
		func(run *model.DagRun) *string { return &run.Person },
		func(run *model.DagRun) (string, bool) {
			return r.ResolveAirflow(run.TriggeringUser, airflow.TriggerChannel(run.TriggeredBy))
		})
	return idp, af + n, err
}

// ResolveOwners gives the Airflow actions and DAG runs stored without a
// person the person their owner resolves to under the identities stored now
// (an identity provider's record that names them arrived after them) and
// rewrites those rows (a newer version of the same key). It returns how many
// it changed and the earliest action time among them (zero when none): the
// verdicts from there on are the ones the new persons change. Correlate does
// not need it (it resolves such rows as it reads them); a streaming
// correlation that starts where an ingest began does.
func (w *Warehouse) ResolveOwners(ctx context.Context) (int, time.Time, error) {
	pp, err := w.people(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	var earliest time.Time
	see := func(person string, ts time.Time) (string, bool) {
		if person != "" && (earliest.IsZero() || ts.Before(earliest)) {
			earliest = ts
		}
		return person, person != ""
	}
	n, err := rewritePeople(ctx, w, store.AirflowEvents, "WHERE human = 1 AND actor != '' AND person = ''", nil, nil,
		func(ev *model.AirflowEvent) *string { return &ev.Person },
		func(ev *model.AirflowEvent) (string, bool) {
			c := *ev
			pp.airflow(&c)
			return see(c.Person, c.TS)
		})
	if err != nil {
		return n, earliest, err
	}
	m, err := rewritePeople(ctx, w, store.DagRuns, "WHERE triggering_user != '' AND person = ''", nil, nil,
		func(r *model.DagRun) *string { return &r.Person },
		func(r *model.DagRun) (string, bool) {
			c := *r
			pp.run(&c)
			return see(c.Person, c.TS)
		})
	return n + m, earliest, err
}

// rewritePeople reads the rows of t matching where, gives each the person
// resolve returns when it resolves to someone else, and rewrites those rows.
// moved, when not nil, records old person → new person. It returns the
// number of rows rewritten.
func rewritePeople[T any](ctx context.Context, w *Warehouse, t store.Table[T], where string, args []any, moved map[string]string,
	person func(*T) *string, resolve func(*T) (string, bool)) (int, error) {
	rows, err := t.All(ctx, w.S, where, args...)
	if err != nil {
		return 0, fmt.Errorf("re-resolve %s: %w", t.Name, err)
	}
	var changed []T
	for i := range rows {
		p := person(&rows[i])
		if to, ok := resolve(&rows[i]); ok && to != "" && to != *p {
			if moved != nil {
				moved[*p] = to
			}
			*p = to
			changed = append(changed, rows[i])
		}
	}
	if err := writeByMonth(ctx, w, t, changed); err != nil {
		return 0, fmt.Errorf("re-resolve %s: %w", t.Name, err)
	}
	return len(changed), nil
}

// credential is what the registrations of a credential say about it.
type credential struct {
	aaguid   string
	hardware *bool
	model    string
	factor   model.Factor
}

// merge returns c with what it leaves blank taken from older: a
// registration that names no AAGUID (an Okta unsuspend) does not make a
// known credential unknown.
func (c credential) merge(older credential) credential {
	if c.aaguid == "" {
		c.aaguid = older.aaguid
	}
	if c.hardware == nil {
		c.hardware = older.hardware
	}
	if c.model == "" {
		c.model = older.model
	}
	if c.factor == "" {
		c.factor = older.factor
	}
	return c
}

// remember records what registration a says about its credential.
func (e *Enricher) remember(a *model.Authenticator) {
	if a.CredentialID == "" {
		return
	}
	k := credKey{a.Source, a.Instance, a.CredentialID}
	e.creds[k] = credential{aaguid: a.AAGUID, hardware: a.Hardware, model: a.Model, factor: a.Factor}.merge(e.creds[k])
}

type credKey struct {
	source   model.Source
	instance string
	id       string
}

// Enricher completes ingested batches before they are stored: it resolves
// every IdP subject and Airflow actor to a person — never for events of
// services or of the provider itself, which name no person — decides what
// each WebAuthn credential is (security key, platform credential or synced
// passkey) and whether it is hardware-backed, from the registration's AAGUID
// and, for sign-ins, the registration of their credential (looked up by
// credential id in the registrations stored or seen earlier), and stores the
// identities it learns. A registration that arrives after its sign-ins is
// decided when it arrives; the correlator applies it to the sign-ins it
// stored before. One Enricher serves one process; it is safe for sequential
// use by several ingests.
type Enricher struct {
	w        *Warehouse
	resolver *identity.Resolver
	table    *aaguid.Table
	now      func() time.Time

	mu      sync.Mutex
	creds   map[credKey]credential
	stored  map[string]string // source\x00subject → person already stored
	mapped  map[string]bool   // source\x00subject of mapping rows
	credsOK bool
}

var _ ingest.Enricher = (*Enricher)(nil)

// NewEnricher loads the stored identities and authenticator table.
func (w *Warehouse) NewEnricher(ctx context.Context, now func() time.Time) (*Enricher, error) {
	if now == nil {
		now = time.Now
	}
	r, err := w.Resolver(ctx, now)
	if err != nil {
		return nil, err
	}
	t, err := w.AAGUIDTable(ctx)
	if err != nil {
		return nil, err
	}
	e := &Enricher{w: w, resolver: r, table: t, now: now, creds: map[credKey]credential{},
		stored: map[string]string{}, mapped: map[string]bool{}}
	for _, id := range r.Identities() {
		k := string(id.Source) + "\x00" + id.Subject
		e.stored[k] = id.Person
		if id.Origin == model.OriginMapping {
			e.mapped[k] = true
		}
	}
	return e, nil
}

// Resolver is the identity resolver the Enricher uses.
func (e *Enricher) Resolver() *identity.Resolver { return e.resolver }

// Table is the authenticator table the Enricher uses.
func (e *Enricher) Table() *aaguid.Table { return e.table }

// loadCreds reads every stored registration once, on first need.
func (e *Enricher) loadCreds(ctx context.Context) error {
	if e.credsOK {
		return nil
	}
	err := store.Authenticators.Read(ctx, e.w.S, "WHERE action = ? ORDER BY ts", []any{model.AuthenticatorRegister},
		func(a model.Authenticator) error {
			e.remember(&a)
			return nil
		})
	if err != nil {
		return fmt.Errorf("load registrations: %w", err)
	}
	e.credsOK = true
	return nil
}

// observe records an IdP identity and returns its person.
func (e *Enricher) observe(src model.Source, subject, email string) string {
	user := ""
	if src == model.SourceKeycloak && email != "" && !strings.Contains(email, "@") {
		// Keycloak reports the username where others report an email.
		user, email = email, ""
	}
	return e.resolver.Observe(src, subject, email, user)
}

// Enrich implements ingest.Enricher.
func (e *Enricher) Enrich(ctx context.Context, b *ingest.Batch) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(b.Auth) > 0 || len(b.Authenticators) > 0 {
		if err := e.loadCreds(ctx); err != nil {
			return err
		}
	}
	for i := range b.Authenticators {
		a := &b.Authenticators[i]
		if p := e.observe(a.Source, a.Subject, a.Email); p != "" {
			a.Person = p
		}
		if a.Action != model.AuthenticatorRegister {
			continue
		}
		e.decideRegistration(a)
		e.remember(a)
	}
	for i := range b.Auth {
		ev := &b.Auth[i]
		if !ev.Principal.Human() {
			ev.Person = "" // a service or the provider itself: no person, no identity learned
		} else if p := e.observe(ev.Source, ev.Subject, ev.Email); p != "" {
			ev.Person = p
		}
		e.decideHardware(ev)
	}
	for i := range b.Airflow {
		if owner, ch, ok := airflowOwner(&b.Airflow[i]); ok {
			b.Airflow[i].Person, _ = e.resolver.ResolveAirflow(owner, ch)
		}
	}
	for i := range b.Runs {
		if owner, ch, ok := runOwner(&b.Runs[i]); ok {
			b.Runs[i].Person, _ = e.resolver.ResolveAirflow(owner, ch)
		}
	}
	return e.storeIdentities(ctx)
}

// airflowOwner returns the owner and channel that name the person of an
// Airflow action stored without one; ok is false when the row has a person
// or cannot have one (not human, no actor).
func airflowOwner(ev *model.AirflowEvent) (owner string, ch model.Channel, ok bool) {
	return ev.Actor, ev.Channel, ev.Person == "" && ev.Human && ev.Actor != ""
}

// runOwner is airflowOwner for a DAG run: its triggering user.
func runOwner(r *model.DagRun) (owner string, ch model.Channel, ok bool) {
	return r.TriggeringUser, airflow.TriggerChannel(r.TriggeredBy), r.Person == "" && r.TriggeringUser != ""
}

// people resolves, at correlation time, the person of Airflow rows stored
// before the identity that names them was learned: identities do not depend
// on the order in which sources are ingested. It reads the identities
// stored (the operator's mapping and what every ingest inferred) and records
// nothing. A row that has a person keeps it.
type people struct{ r *identity.Resolver }

// people returns a resolver of the identities stored now.
func (w *Warehouse) people(ctx context.Context) (people, error) {
	r, err := w.Resolver(ctx, nil)
	if err != nil {
		return people{}, fmt.Errorf("identities for correlation: %w", err)
	}
	return people{r}, nil
}

// airflow gives ev the person its owner resolves to, when it has none; it
// reports whether ev still lacks a person it could have.
func (p people) airflow(ev *model.AirflowEvent) bool {
	owner, ch, ok := airflowOwner(ev)
	if ok {
		ev.Person, _ = p.r.ExplainAirflow(owner, ch)
	}
	return ok && ev.Person == ""
}

// run is airflow for a DAG run.
func (p people) run(r *model.DagRun) bool {
	owner, ch, ok := runOwner(r)
	if ok {
		r.Person, _ = p.r.ExplainAirflow(owner, ch)
	}
	return ok && r.Person == ""
}

// webauthnFamily reports whether f is a WebAuthn credential's factor.
func webauthnFamily(f model.Factor) bool {
	return f == model.FactorWebAuthn || f == model.FactorPlatform || f == model.FactorPasskeySynced
}

// decideRegistration settles what a registered WebAuthn credential is and
// whether it is hardware, through aaguid.Decide; the table's model name wins
// over the provider's generic label ("FIDO2 (WebAuthn)", "Security Key or
// Biometric"). A registration of another factor (OTP, password) is left as
// the provider wrote it.
func (e *Enricher) decideRegistration(a *model.Authenticator) {
	if !webauthnFamily(a.Factor) && (a.Factor != "" || a.AAGUID == "") {
		return
	}
	d := aaguid.Decide(aaguid.Evidence{Factor: a.Factor, Hardware: a.Hardware, AAGUID: a.AAGUID}, e.table)
	a.Factor, a.Hardware = d.Factor, d.Hardware
	if d.Model != "" {
		a.Model = d.Model
	}
}

// decideHardware settles Factor and Hardware (and fills AAGUID) for a
// WebAuthn sign-in from its own AAGUID, else its credential's registration,
// through aaguid.Decide: a credential the registration (or the AAGUID) shows
// to be a platform authenticator makes the factor platform, a synced
// passkey provider passkey_synced.
func (e *Enricher) decideHardware(ev *model.AuthEvent) {
	if !webauthnFamily(ev.Factor) {
		return
	}
	id := ev.AAGUID
	var reg credential
	var registered bool
	if ev.CredentialID != "" {
		reg, registered = e.creds[credKey{ev.Source, ev.Instance, ev.CredentialID}]
	}
	if id == "" && registered {
		id = reg.aaguid
		ev.AAGUID = id
	}
	explicit := ev.Hardware
	if explicit == nil && registered && reg.aaguid == "" {
		explicit = reg.hardware // the registration's own signal, when it had no AAGUID to go by
	}
	f := ev.Factor
	if registered && f == model.FactorWebAuthn && (reg.factor == model.FactorPlatform || reg.factor == model.FactorPasskeySynced) {
		f = reg.factor
	}
	d := aaguid.Decide(aaguid.Evidence{Factor: f, Hardware: explicit, AAGUID: id}, e.table)
	ev.Factor, ev.Hardware = d.Factor, d.Hardware
}

// storeIdentities writes the identities learned since the last call. An
// inferred row never replaces a mapping row (they share a key).
func (e *Enricher) storeIdentities(ctx context.Context) error {
	var rows []model.Identity
	for _, id := range e.resolver.Identities() {
		k := string(id.Source) + "\x00" + id.Subject
		if id.Origin != model.OriginMapping && e.mapped[k] {
			continue
		}
		if p, ok := e.stored[k]; ok && p == id.Person {
			continue
		}
		rows = append(rows, id)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := store.Identities.Write(ctx, e.w.S, rows); err != nil {
		return fmt.Errorf("store identities: %w", err)
	}
	for _, id := range rows {
		e.stored[string(id.Source)+"\x00"+id.Subject] = id.Person
	}
	return nil
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
