package identity

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keytrail/keytrail/model"
)

// key is a source and a normalized subject.
type key struct {
	source  model.Source
	subject string
}

func keyOf(source model.Source, subject string) key {
	return key{source: source, subject: norm(subject)}
}

func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ambiguous marks a username that several persons share; it resolves to nobody.
const ambiguous = "\x00ambiguous"

// Resolver resolves subjects of identity providers and Airflow actors to
// person ids. Build it with NewResolver; it is safe for concurrent use.
type Resolver struct {
	now func() time.Time

	mu          sync.RWMutex
	mapping     map[key]string         // operator mapping; wins over everything
	mappedEmail map[string]string      // lower email → person, from mapping subjects that are emails
	mappingRows []model.Identity       // as given, for Identities
	observed    map[key]string         // IdP aliases (subject, email, username) → person
	byEmail     map[string]string      // lower email → person, across IdPs
	byUsername  map[string]string      // lower username → person, across IdPs; ambiguous when shared
	inferred    map[key]model.Identity // rows to store, by alias
}

// NewResolver returns a Resolver with the operator's mapping rows (see
// ParseMapping; rows of any origin are taken as mapping). now stamps the
// UpdatedAt of inferred identities; nil means time.Now. Invalid rows (empty
// person or subject, unknown source, a subject mapped to two persons) are
// errors, all reported together.
func NewResolver(mapping []model.Identity, now func() time.Time) (*Resolver, error) {
	if now == nil {
		now = time.Now
	}
	r := &Resolver{
		now:         now,
		mapping:     make(map[key]string, len(mapping)),
		mappedEmail: make(map[string]string),
		observed:    make(map[key]string),
		byEmail:     make(map[string]string),
		byUsername:  make(map[string]string),
		inferred:    make(map[key]model.Identity),
	}
	var errs []error
	for i, row := range mapping {
		if err := r.addMapping(row); err != nil {
			errs = append(errs, fmt.Errorf("row %d: %w", i+1, err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrMapping, errors.Join(errs...))
	}
	return r, nil
}

// addMapping adds one mapping row; the caller holds the lock or owns r.
func (r *Resolver) addMapping(row model.Identity) error {
	person := strings.TrimSpace(row.Person)
	switch {
	case person == "":
		return errors.New("empty person")
	case !row.Source.Valid():
		return fmt.Errorf("unknown source %q", row.Source)
	case strings.TrimSpace(row.Subject) == "":
		return errors.New("empty subject")
	}
	k := keyOf(row.Source, row.Subject)
	if p, ok := r.mapping[k]; ok {
		if p != person {
			return fmt.Errorf("%s subject %q mapped to both %q and %q", row.Source, row.Subject, p, person)
		}
		return nil
	}
	r.mapping[k] = person
	if strings.Contains(k.subject, "@") && !strings.HasPrefix(k.subject, CLIPrefix) {
		r.mappedEmail[k.subject] = person
	}
	row.Person, row.Origin = person, model.OriginMapping
	r.mappingRows = append(r.mappingRows, row)
	return nil
}

// Load seeds the Resolver with identities read back from storage: rows with
// Origin mapping are added to the mapping (conflicts are errors), inferred
// rows become known aliases. Use it to start a process with what earlier
// runs learned.
func (r *Resolver) Load(rows []model.Identity) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for i, row := range rows {
		if row.Origin == model.OriginMapping {
			if err := r.addMapping(row); err != nil {
				errs = append(errs, fmt.Errorf("row %d: %w", i+1, err))
			}
			continue
		}
		if row.Person == "" || row.Subject == "" || !row.Source.Valid() {
			errs = append(errs, fmt.Errorf("row %d: incomplete identity %+v", i+1, row))
			continue
		}
		k := keyOf(row.Source, row.Subject)
		if row.Source != model.SourceAirflow {
			r.observed[k] = row.Person
			switch {
			case strings.Contains(k.subject, "@"):
				r.byEmail[k.subject] = row.Person
			case row.Source == model.SourceKeycloak && !isGUID(k.subject):
				r.addUsername(k.subject, row.Person)
			}
		}
		row.Subject, row.Origin = k.subject, model.OriginInferred
		r.inferred[k] = row
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: load: %w", ErrMapping, errors.Join(errs...))
	}
	return nil
}

// Observe records an identity an IdP reported — its user id (subject), its
// email / login / UPN, and its username — and returns the person id it
// belongs to. A mapping row for any of the three (or a mapping row of any
// source whose subject is the email) wins; otherwise the person
// is the lower-cased email, else the person already known for the subject,
// else "<source>:<subject>" (or "<source>:<username>" when only a username is
// known). A subject first seen without an email and later with one moves to
// the email person. Observe with nothing but empty strings returns "".
func (r *Resolver) Observe(source model.Source, subject, email, username string) string {
	sub, mail, user := norm(subject), norm(email), norm(username)
	if sub == "" && mail == "" && user == "" {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	person := r.mappedLocked(source, sub, mail, user)
	if person == "" && mail != "" {
		person = r.mappedEmail[mail]
	}
	if person == "" {
		switch {
		case mail != "":
			person = mail
		case sub != "" && r.observed[key{source, sub}] != "":
			person = r.observed[key{source, sub}]
		case sub != "":
			person = string(source) + ":" + sub
		default:
			person = string(source) + ":" + user
		}
	}
	now := r.now().UTC()
	for _, s := range []string{sub, mail, user} {
		if s == "" {
			continue
		}
		k := key{source, s}
		r.observed[k] = person
		if _, mapped := r.mapping[k]; !mapped {
			if old, ok := r.inferred[k]; !ok || old.Person != person {
				r.inferred[k] = model.Identity{Person: person, Source: source, Subject: s, Origin: model.OriginInferred, UpdatedAt: now}
			}
		}
	}
	if mail != "" {
		r.byEmail[mail] = person
	}
	if user != "" {
		r.addUsername(user, person)
	}
	return person
}

// Provisional reports whether person is a name Observe gives a subject
// while no email is known for it — "<source>:<subject>" (or
// "<source>:<username>") of an identity provider. Such a person moves: once
// the subject is seen with an email, Observe names it by the email, so a row
// that took the provisional name (an Airflow action stored after the
// provider's authenticator inventory, which carries no email, and before
// its sign-ins) names a person the identities no longer do. Correlation
// resolves such rows again (see enrich.People).
func Provisional(person string) bool {
	src, rest, ok := strings.Cut(person, ":")
	return ok && rest != "" && slices.Contains(model.IdPSources, model.Source(src))
}

// ProvisionalNames returns, for each person, the provisional names
// (Provisional) of its provider subjects and usernames — what Observe calls
// them while no email is known, so what rows stored before an email named
// them may carry. A person without such names (or still named by one) is
// absent.
func (r *Resolver) ProvisionalNames() map[string][]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := map[string][]string{}
	for k, person := range r.observed {
		name := string(k.source) + ":" + k.subject
		if name != person && !strings.Contains(k.subject, "@") && Provisional(name) {
			names[person] = append(names[person], name)
		}
	}
	for _, ns := range names {
		slices.Sort(ns)
	}
	return names
}

// addUsername indexes a username; a username two persons share is ambiguous.
func (r *Resolver) addUsername(user, person string) {
	if p, ok := r.byUsername[user]; ok && p != person {
		r.byUsername[user] = ambiguous
		return
	}
	r.byUsername[user] = person
}

// mappedLocked returns the mapped person of any of the given aliases.
func (r *Resolver) mappedLocked(source model.Source, subs ...string) string {
	for _, s := range subs {
		if s == "" {
			continue
		}
		if p, ok := r.mapping[key{source, s}]; ok {
			return p
		}
	}
	return ""
}

// ResolveIdP returns the person id of an IdP subject: the mapping for the
// subject or the email (a mapped email of any source counts), else the person Observe recorded for the subject,
// else the person of the email (a known one, or the lower-cased email),
// else "<source>:<subject>"; "" when subject and email are both empty. It
// records nothing.
func (r *Resolver) ResolveIdP(source model.Source, subject, email string) string {
	sub, mail := norm(subject), norm(email)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p := r.mappedLocked(source, sub, mail); p != "" {
		return p
	}
	if p, ok := r.mappedEmail[mail]; ok && mail != "" {
		return p
	}
	if sub != "" {
		if p, ok := r.observed[key{source, sub}]; ok {
			return p
		}
	}
	if mail != "" {
		if p, ok := r.byEmail[mail]; ok {
			return p
		}
		return mail
	}
	if sub != "" {
		return string(source) + ":" + sub
	}
	return ""
}

// ResolveAirflow returns the person behind an Airflow owner (or a DAG run's
// triggering user) seen on channel ch.
//
// The mapping wins: a source-airflow row whose subject is the owner, and for
// ch == cli first one whose subject is "cli:"+owner. CLI owners are OS users
// and system rows carry a task's owner attribute: for those channels nothing
// but the mapping resolves. For ui, api (and an unknown channel) the owner is
// read in the forms Flask-AppBuilder OAuth writes, each resolved only to an
// identity the Resolver has observed (or mapped):
//
//   - okta_<sub>: the Okta user id <sub>;
//   - google_<id>: the Google profile id <id>;
//   - a GUID: the Entra object id (then a Keycloak user id);
//   - an email: the person with that email at any IdP;
//   - anything else: a username (Keycloak preferred_username) that exactly
//     one person has.
//
// "anonymous" and "" never resolve. A successful inference is remembered as
// an inferred airflow identity (see Identities).
func (r *Resolver) ResolveAirflow(owner string, ch model.Channel) (string, bool) {
	o := norm(owner)
	if o == "" {
		return "", false
	}
	r.mu.RLock()
	person, inferred, _ := r.resolveAirflowLocked(o, ch)
	known := false
	if inferred {
		old, ok := r.inferred[key{model.SourceAirflow, o}]
		known = ok && old.Person == person
	}
	r.mu.RUnlock()
	if person == "" {
		return "", false
	}
	if inferred && !known {
		r.mu.Lock()
		r.inferred[key{model.SourceAirflow, o}] = model.Identity{
			Person: person, Source: model.SourceAirflow, Subject: o,
			Origin: model.OriginInferred, UpdatedAt: r.now().UTC(),
		}
		r.mu.Unlock()
	}
	return person, true
}

// Rules by which ResolveAirflow resolves an Airflow owner (ExplainAirflow
// names them).
const (
	RuleMappingCLI = "mapping row airflow cli:<owner> (a CLI owner is an OS user)"
	RuleMapping    = "mapping row airflow <owner>"
	RuleOktaSub    = "okta_<sub>: the Okta user id <sub> (Flask-AppBuilder Okta OAuth)"
	RuleGoogleID   = "google_<id>: the Google profile id <id> (Flask-AppBuilder Google OAuth)"
	RuleEntraOID   = "a GUID: the Entra object id (Flask-AppBuilder Azure OAuth)"
	RuleKeycloakID = "a GUID: the Keycloak user id"
	RuleEmail      = "an email: the person with that email at an identity provider"
	RuleUsername   = "a username that exactly one person has (Keycloak preferred_username)"
)

// resolveAirflowLocked returns the person, whether it was inferred (as
// opposed to mapped) and the rule that decided.
func (r *Resolver) resolveAirflowLocked(o string, ch model.Channel) (string, bool, string) {
	if ch == model.ChannelCLI {
		if p, ok := r.mapping[key{model.SourceAirflow, CLIPrefix + o}]; ok {
			return p, false, RuleMappingCLI
		}
	}
	if p, ok := r.mapping[key{model.SourceAirflow, o}]; ok {
		return p, false, RuleMapping
	}
	if ch == model.ChannelCLI || ch == model.ChannelSystem || o == "anonymous" {
		return "", false, ""
	}
	known := func(source model.Source, sub string) string {
		if p, ok := r.mapping[key{source, sub}]; ok {
			return p
		}
		return r.observed[key{source, sub}]
	}
	switch {
	case strings.HasPrefix(o, "okta_") && len(o) > len("okta_"):
		if p := known(model.SourceOkta, o[len("okta_"):]); p != "" {
			return p, true, RuleOktaSub
		}
	case strings.HasPrefix(o, "google_") && len(o) > len("google_"):
		if p := known(model.SourceGoogle, o[len("google_"):]); p != "" {
			return p, true, RuleGoogleID
		}
	case isGUID(o):
		if p := known(model.SourceEntra, o); p != "" {
			return p, true, RuleEntraOID
		}
		if p := known(model.SourceKeycloak, o); p != "" {
			return p, true, RuleKeycloakID
		}
	case strings.Contains(o, "@"):
		if p, ok := r.mappedEmail[o]; ok {
			return p, true, RuleEmail
		}
		if p, ok := r.byEmail[o]; ok {
			return p, true, RuleEmail
		}
	}
	if p, ok := r.byUsername[o]; ok && p != ambiguous {
		return p, true, RuleUsername
	}
	return "", false, ""
}

// ExplainAirflow returns the person an Airflow owner seen on channel ch
// resolves to now and the rule that decides it (one of the Rule constants;
// "" when nothing resolves), without recording anything.
func (r *Resolver) ExplainAirflow(owner string, ch model.Channel) (person, rule string) {
	o := norm(owner)
	if o == "" {
		return "", ""
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	person, _, rule = r.resolveAirflowLocked(o, ch)
	return person, rule
}

// Identities returns every identity the Resolver holds, for storage: the
// mapping rows (Origin mapping) and the inferred aliases (Origin inferred),
// sorted by source, subject and origin.
func (r *Resolver) Identities() []model.Identity {
	r.mu.RLock()
	out := make([]model.Identity, 0, len(r.mappingRows)+len(r.inferred))
	out = append(out, r.mappingRows...)
	for _, row := range r.inferred {
		out = append(out, row)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Origin < b.Origin
	})
	return out
}

// isGUID reports whether s is a GUID in the 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
