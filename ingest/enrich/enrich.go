package enrich

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
)

// ResolveStored brings the people of stored rows up to date with the
// identities stored now, after an operator mapping was imported: sign-ins
// and key registrations of the subjects (or emails) the mapping names move
// to the mapped person; Airflow actions and manual runs whose actor had no
// person, or belonged to a person who moved, or is named by the mapping,
// are resolved again. Changed rows are rewritten (a newer version of the
// same key). It returns how many IdP rows and Airflow rows it changed;
// correlate again for their verdicts to follow.
func ResolveStored(ctx context.Context, w Rewriter, mapped []model.Identity) (idp, af int, err error) {
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
		// Events of services and of the provider itself name no person.
		n, err := w.RewriteAuthEvents(ctx, idpSubs, reassign(moved,
			func(ev *model.AuthEvent) *string { return &ev.Person },
			func(ev *model.AuthEvent) (string, bool) { return r.ResolveIdP(ev.Source, ev.Subject, ev.Email), true }))
		idp += n
		if err != nil {
			return idp, 0, err
		}
		n, err = w.RewriteAuthenticators(ctx, idpSubs, reassign(moved,
			func(a *model.Authenticator) *string { return &a.Person },
			func(a *model.Authenticator) (string, bool) { return r.ResolveIdP(a.Source, a.Subject, a.Email), true }))
		idp += n
		if err != nil {
			return idp, 0, err
		}
	}
	delete(moved, "")
	if len(moved) > 0 {
		// What earlier ingests inferred for a person who moved (their
		// username, their Airflow owner) moves with them.
		_, err := w.RewriteInferredIdentities(ctx, reassign(nil,
			func(id *model.Identity) *string { return &id.Person },
			func(id *model.Identity) (string, bool) { to, ok := moved[id.Person]; return to, ok }))
		if err != nil {
			return idp, 0, err
		}
		if r, err = w.Resolver(ctx, nil); err != nil {
			return idp, 0, err
		}
	}
	// Airflow rows without a person, of a person who moved, or whose actor
	// the mapping names.
	var movedFrom []string
	if len(moved) > 0 {
		movedFrom = slices.Sorted(maps.Keys(moved))
	}
	n, err := w.RewriteAirflowEvents(ctx, movedFrom, afSubs, reassign(nil,
		func(ev *model.AirflowEvent) *string { return &ev.Person },
		func(ev *model.AirflowEvent) (string, bool) { return r.ResolveAirflow(ev.Actor, ev.Channel) }))
	af += n
	if err != nil {
		return idp, af, err
	}
	n, err = w.RewriteDagRuns(ctx, movedFrom, afSubs, reassign(nil,
		func(run *model.DagRun) *string { return &run.Person },
		func(run *model.DagRun) (string, bool) {
			return r.ResolveAirflow(run.TriggeringUser, airflow.TriggerChannel(run.TriggeredBy))
		}))
	return idp, af + n, err
}

// ResolveOwners gives the Airflow actions and DAG runs stored without a
// person, or with a provisional one (identity.Provisional), the person
// their owner resolves to under the identities stored now (an identity
// provider's record that names them arrived after them), and the sign-ins
// stored under a provisional person the person their subject moved to; it
// rewrites those rows (a newer version of the same key). It returns how
// many it changed and the earliest time among them (zero when none): the
// verdicts from there on are the ones the new persons change. Correlate does
// not need it (it resolves such rows as it reads them); a streaming
// correlation that starts where an ingest began does.
func ResolveOwners(ctx context.Context, w Rewriter) (int, time.Time, error) {
	pp, err := LoadPeople(ctx, w)
	if err != nil {
		return 0, time.Time{}, err
	}
	var earliest time.Time
	// moved gives *person the one settle found, when that is another, and
	// notes its time.
	moved := func(person *string, to string, ts time.Time) bool {
		if to == "" || to == *person {
			return false
		}
		*person = to
		if earliest.IsZero() || ts.Before(earliest) {
			earliest = ts
		}
		return true
	}
	n, err := w.RewriteProvisionalAuthEvents(ctx, func(ev *model.AuthEvent) bool {
		c := *ev
		pp.Auth(&c)
		return moved(&ev.Person, c.Person, ev.TS)
	})
	if err != nil {
		return n, earliest, err
	}
	m, err := w.RewriteAirflowEvents(ctx, nil, nil, func(ev *model.AirflowEvent) bool {
		c := *ev
		pp.Airflow(&c)
		return moved(&ev.Person, c.Person, ev.TS)
	})
	n += m
	if err != nil {
		return n, earliest, err
	}
	m, err = w.RewriteDagRuns(ctx, nil, nil, func(r *model.DagRun) bool {
		c := *r
		pp.Run(&c)
		return moved(&r.Person, c.Person, r.TS)
	})
	return n + m, earliest, err
}

// reassign returns a change function for a Rewriter: it gives a row the
// person resolve returns when that is someone else, and reports whether it
// did. moved, when not nil, records old person → new person.
func reassign[T any](moved map[string]string, person func(*T) *string, resolve func(*T) (string, bool)) func(*T) bool {
	return func(v *T) bool {
		p := person(v)
		to, ok := resolve(v)
		if !ok || to == "" || to == *p {
			return false
		}
		if moved != nil {
			moved[*p] = to
		}
		*p = to
		return true
	}
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
	s        Store
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

// New returns an Enricher over the identities and authenticator table
// stored in s.
func New(ctx context.Context, s Store, now func() time.Time) (*Enricher, error) {
	if now == nil {
		now = time.Now
	}
	r, err := s.Resolver(ctx, now)
	if err != nil {
		return nil, err
	}
	t, err := s.AAGUIDTable(ctx)
	if err != nil {
		return nil, err
	}
	e := &Enricher{s: s, resolver: r, table: t, now: now, creds: map[credKey]credential{},
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
	err := e.s.ReadRegistrations(ctx, func(a model.Authenticator) error {
		e.remember(&a)
		return nil
	})
	if err != nil {
		return err
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
		if owner, ch, ok := AirflowOwner(&b.Airflow[i]); ok {
			b.Airflow[i].Person, _ = e.resolver.ResolveAirflow(owner, ch)
		}
	}
	for i := range b.Runs {
		if owner, ch, ok := RunOwner(&b.Runs[i]); ok {
			b.Runs[i].Person, _ = e.resolver.ResolveAirflow(owner, ch)
		}
	}
	return e.storeIdentities(ctx)
}

// AirflowOwner returns the owner and channel that name the person of an
// Airflow action whose person is open — stored without one, or with a
// provisional one (identity.Provisional) that may have moved since; ok is
// false when the row has a settled person or cannot have one (not human, no
// actor).
func AirflowOwner(ev *model.AirflowEvent) (owner string, ch model.Channel, ok bool) {
	return ev.Actor, ev.Channel, open(ev.Person) && ev.Human && ev.Actor != ""
}

// RunOwner is AirflowOwner for a DAG run: its triggering user.
func RunOwner(r *model.DagRun) (owner string, ch model.Channel, ok bool) {
	return r.TriggeringUser, airflow.TriggerChannel(r.TriggeredBy), open(r.Person) && r.TriggeringUser != ""
}

// open reports whether a row's person may still change as identities are
// learned: it has none, or a provisional one.
func open(person string) bool { return person == "" || identity.Provisional(person) }

// People resolves, at correlation time, the person of Airflow rows (and
// authentications, see Auth) stored before the identity that names them was
// learned: identities do not depend on the order in which sources are
// ingested. A row stored without a person
// takes the one its owner resolves to now; a row stored with a provisional
// person (identity.Provisional: its provider's subject was known only
// without an email then) takes the email person the subject moved to. It
// reads the identities stored (the operator's mapping and what every ingest
// inferred) and records nothing. A row with a settled person keeps it.
type People struct{ r *identity.Resolver }

// LoadPeople returns a People of the identities stored now.
func LoadPeople(ctx context.Context, s Identities) (People, error) {
	r, err := s.Resolver(ctx, nil)
	if err != nil {
		return People{}, fmt.Errorf("identities for correlation: %w", err)
	}
	return People{r}, nil
}

// Airflow gives ev the person its owner resolves to now, when its person is
// open (none, or provisional) and the owner resolves; it reports whether
// ev's person is still open.
func (p People) Airflow(ev *model.AirflowEvent) bool {
	owner, ch, ok := AirflowOwner(ev)
	return p.settle(&ev.Person, owner, ch, ok)
}

// Run is Airflow for a DAG run.
func (p People) Run(r *model.DagRun) bool {
	owner, ch, ok := RunOwner(r)
	return p.settle(&r.Person, owner, ch, ok)
}

// Auth gives ev, an authentication stored with a provisional person (its
// provider's subject, or Keycloak username, was known only without an email
// then), the person that subject resolves to now; it reports whether ev's
// person is still provisional. An authentication with a settled person, or
// none, is left as stored.
func (p People) Auth(ev *model.AuthEvent) bool {
	if !identity.Provisional(ev.Person) || !ev.Principal.Human() {
		return false
	}
	// The provisional name is "<source>:<subject or username>": what the
	// identities were told, whatever columns the row was read with.
	src, sub, _ := strings.Cut(ev.Person, ":")
	if to := p.r.ResolveIdP(model.Source(src), sub, ""); to != "" {
		ev.Person = to
	}
	return identity.Provisional(ev.Person)
}

// ProvisionalNames returns, per person, the provisional names rows stored
// before the person's email was known may carry
// (identity.Resolver.ProvisionalNames).
func (p People) ProvisionalNames() map[string][]string { return p.r.ProvisionalNames() }

// settle gives *person the person owner resolves to on ch, when the row's
// person is open (ok, from AirflowOwner or RunOwner) and the owner
// resolves; it reports whether *person is still open.
func (p People) settle(person *string, owner string, ch model.Channel, ok bool) bool {
	if !ok {
		return false
	}
	if to, _ := p.r.ExplainAirflow(owner, ch); to != "" {
		*person = to
	}
	return open(*person)
}

// webauthnFamily reports whether f is a WebAuthn credential's factor.
func webauthnFamily(f model.Factor) bool {
	return f == model.FactorWebAuthn || f == model.FactorPlatform || f == model.FactorPasskeySynced
}

// decideRegistration settles what a registered WebAuthn credential is and
// whether it is hardware, through aaguid.Decide; the table's model name wins
// over the provider's generic label ("FIDO2 (WebAuthn)", "Security Key or
// Biometric"). A registration without an AAGUID whose model name the table
// knows only as a platform or synced model (an Okta factor inventory entry
// "Windows Hello") is that, so its sign-ins — which Okta marks
// HARDWARE_PROTECTED — are not taken for a security-key tap. A registration of another factor (OTP, password) is left as
// the provider wrote it.
func (e *Enricher) decideRegistration(a *model.Authenticator) {
	if !webauthnFamily(a.Factor) && (a.Factor != "" || a.AAGUID == "" && a.Model == "") {
		return
	}
	d := aaguid.Decide(aaguid.Evidence{Factor: a.Factor, Hardware: a.Hardware, AAGUID: a.AAGUID, Model: a.Model}, e.table)
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
	if err := e.s.WriteIdentities(ctx, rows); err != nil {
		return err
	}
	for _, id := range rows {
		e.stored[string(id.Source)+"\x00"+id.Subject] = id.Person
	}
	return nil
}
