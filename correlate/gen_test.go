package correlate

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keytrail/keytrail/model"
)

// genConfig shapes a generated history.
type genConfig struct {
	people int           // people with identities; actions by unknown people are added too
	events int           // about this many events
	span   time.Duration // over this much time from t0
	policy Policy        // edge assertions are placed at this policy's window edges
}

// credKind is how a generated credential shows (or not) that it is hardware.
type credKind int

const (
	credHWExplicit   credKind = iota // the IdP says hardware
	credHWRegistered                 // the IdP is silent, the registration says hardware
	credSoft                         // the IdP says not hardware
	credDenied                       // hardware, but the registration's AAGUID is denied
	credAllowed                      // the IdP says not hardware, the event's AAGUID is allowed
	credUnknown                      // no registration record, IdP silent
	credPlatform                     // the IdP says hardware, the registration says platform (Windows Hello)
	credKinds
)

type genCred struct {
	id      string
	kind    credKind
	removed bool
}

type generator struct {
	rng    *rand.Rand
	cfg    genConfig
	h      history
	n      int64
	creds  map[string][]*genCred
	people []string
	dags   []string
	rules  *rules
}

func (g *generator) id() string {
	g.n++
	return fmt.Sprintf("e%07d", g.n)
}

// weakOnly reports whether person never uses a hardware key.
func (g *generator) weakOnly(person string) bool { return person != "" && person[len(person)-1]%4 == 3 }

func (g *generator) randTime() time.Time {
	return t0.Add(time.Duration(g.rng.Int64N(int64(g.cfg.span))).Truncate(time.Millisecond))
}

func (g *generator) newCred(person string, ts time.Time) *genCred {
	c := &genCred{id: "cred-" + g.id(), kind: credKind(g.rng.IntN(int(credKinds)))}
	g.creds[person] = append(g.creds[person], c)
	if c.kind == credUnknown {
		return c
	}
	reg := model.Authenticator{
		Source: model.SourceOkta, Instance: "corp", EventID: g.id(), TS: ts, Person: person,
		Action: model.AuthenticatorRegister, CredentialID: c.id, AAGUID: aaguidYubiKey, Model: "YubiKey 5",
	}
	switch c.kind {
	case credHWRegistered, credDenied:
		reg.Hardware = model.Bool(true)
	case credSoft:
		reg.Hardware = model.Bool(false)
	}
	if c.kind == credDenied {
		reg.AAGUID, reg.Model = aaguidDenied, "Denied Key"
	}
	if c.kind == credPlatform {
		reg.AAGUID, reg.Model, reg.Factor, reg.Hardware = aaguidWindowsHello, "Windows Hello", model.FactorPlatform, model.Bool(true)
	}
	if g.rng.IntN(4) == 0 {
		reg.Person = "" // registrations may be unresolved
	}
	g.h.authn = append(g.h.authn, reg)
	return c
}

var weakFactors = []model.Factor{model.FactorTOTP, model.FactorPassword, model.FactorPush, model.FactorSMS, model.FactorEmail, model.FactorPasskeySynced, model.FactorOther, ""}

// auth adds an authentication by person at ts; hardware asks for a WebAuthn
// assertion with one of the person's credentials.
func (g *generator) auth(person string, ts time.Time, hardware bool) {
	e := model.AuthEvent{
		Source: model.SourceOkta, Instance: "corp", EventID: g.id(), TS: ts, Person: person,
		Category: model.CategoryMFA, Outcome: model.OutcomeSuccess,
	}
	if g.rng.IntN(3) == 0 {
		e.Category = model.CategoryLogin
	}
	if g.rng.IntN(2) == 0 {
		e.Source = model.SourceEntra // a second IdP: credential ids are per source
	}
	if g.weakOnly(person) {
		hardware = false
	}
	if hardware && len(g.creds[person]) > 0 && e.Source == model.SourceOkta {
		c := g.creds[person][g.rng.IntN(len(g.creds[person]))]
		e.Factor, e.CredentialID = model.FactorWebAuthn, c.id
		switch c.kind {
		case credHWExplicit, credDenied, credPlatform:
			e.Hardware = model.Bool(true)
		case credSoft:
			e.Hardware = model.Bool(false)
		case credAllowed:
			e.Hardware, e.AAGUID = model.Bool(false), aaguidAllowed
		}
	} else if hardware {
		e.Factor, e.Hardware = model.FactorWebAuthn, model.Bool(g.rng.IntN(5) != 0)
	} else {
		e.Factor = weakFactors[g.rng.IntN(len(weakFactors))]
		switch {
		case e.Factor == model.FactorPasskeySynced:
			e.Hardware = model.Bool(false)
		case g.rng.IntN(10) == 0:
			e.Hardware = model.Bool(true) // a provider quirk: not a key, whatever it says
		}
	}
	switch g.rng.IntN(12) {
	case 0:
		e.Outcome = model.OutcomeFailure
	case 1:
		e.Category, e.Factor, e.Hardware = model.CategorySession, model.FactorNone, nil
	case 2:
		e.Person = "" // an unresolved IdP user
	case 3:
		if g.rng.IntN(2) == 0 { // a service or the provider: counts for no one, whatever person it names
			e.Principal = []model.Principal{model.PrincipalService, model.PrincipalSystem}[g.rng.IntN(2)]
		}
	}
	g.h.auth = append(g.h.auth, e)
}

var classes = []model.ActionClass{
	model.ActionTrigger, model.ActionTrigger, model.ActionTrigger, model.ActionPause, model.ActionUnpause,
	model.ActionUnpause, model.ActionClear, model.ActionMarkState, model.ActionDelete, model.ActionConn,
	model.ActionVariable, model.ActionPool, model.ActionUserAdmin, model.ActionBackfill, model.ActionView,
	model.ActionView, model.ActionView, model.ActionOther,
}

// action adds a human action by person at ts with follow-ups (runs, edge assertions).
func (g *generator) action(person string, ts time.Time) {
	class := classes[g.rng.IntN(len(classes))]
	g.n++
	e := model.AirflowEvent{
		Instance: "af", EventLogID: g.n, TS: ts, Event: string(class), Channel: model.ChannelUI,
		Action: class, Human: true, Actor: "okta_" + person, Person: person, MapIndex: -1,
	}
	if person == "" {
		e.Actor = "stranger"
	}
	switch g.rng.IntN(3) {
	case 0:
		e.Channel = model.ChannelAPI
	case 1:
		e.Channel, e.Event = model.ChannelCLI, "cli_"+string(class)
	}
	if class != model.ActionView && class != model.ActionOther && class != model.ActionConn &&
		class != model.ActionVariable && class != model.ActionPool && class != model.ActionUserAdmin {
		e.DagID = g.dags[g.rng.IntN(len(g.dags))]
	}
	if class == model.ActionTrigger && g.rng.IntN(8) == 0 {
		e.TaskID = "task_a" // a task "run", not a DAG trigger
	}
	if class == model.ActionTrigger && e.DagID != "" && e.TaskID == "" && g.rng.IntN(6) != 0 {
		runID := "manual__" + g.id()
		switch g.rng.IntN(4) {
		case 0:
			e.Extra = fmt.Sprintf(`{"dag_run_id": %q, "conf": {}}`, runID)
		case 1:
			e.Extra = fmt.Sprintf(`{"run_id": %q}`, runID)
		case 2:
			e.RunID = runID
		}
		if g.rng.IntN(10) == 0 {
			e.Extra = `{"dag_run_id": "manual__someone_else"}`
		}
		r := model.DagRun{
			Instance: "af", DagID: e.DagID, RunID: runID, RunType: model.RunManual,
			TS: ts.Add(time.Duration(g.rng.Int64N(int64(70*time.Second))) - 3*time.Second).Truncate(time.Millisecond),
		}
		if g.rng.IntN(3) == 0 {
			r.TriggeringUser, r.Person, r.TriggeredBy = e.Actor, person, "rest_api"
		}
		g.h.runs = append(g.h.runs, r)
	}
	if class == model.ActionBackfill && e.DagID != "" {
		for range g.rng.IntN(4) {
			g.h.runs = append(g.h.runs, model.DagRun{
				Instance: "af", DagID: e.DagID, RunID: "backfill__" + g.id(), RunType: model.RunBackfill,
				TS: ts.Add(time.Duration(g.rng.Int64N(int64(2 * time.Hour)))).Truncate(time.Millisecond),
			})
		}
	}
	if person != "" && g.rng.IntN(6) == 0 {
		// an assertion exactly at (or just past) an edge of this action's window.
		m, s := time.Duration(g.rules.maxAgeOf(class)), time.Duration(g.rules.skew)
		edges := []time.Duration{s, s + time.Millisecond, -m, -m - time.Millisecond, 0}
		g.auth(person, ts.Add(edges[g.rng.IntN(len(edges))]), g.rng.IntN(3) != 0)
	}
	g.h.airflow = append(g.h.airflow, e)
}

// generate makes a random multi-person history: sessions that start with an
// authentication (hardware or not) followed by actions over the next hours,
// credential registrations and removals, scheduled / asset / backfill / manual
// runs, system rows and unknown identities.
func generate(rng *rand.Rand, cfg genConfig) *history {
	if cfg.policy.MaxAge.Privileged == 0 {
		cfg.policy = DefaultPolicy()
	}
	r, err := compile(cfg.policy)
	if err != nil {
		panic(err)
	}
	g := &generator{rng: rng, cfg: cfg, creds: map[string][]*genCred{}, rules: r}
	for i := range cfg.people {
		p := fmt.Sprintf("person%03d", i)
		g.people = append(g.people, p)
		for range 1 + rng.IntN(2) {
			g.newCred(p, t0.Add(-time.Duration(1+rng.IntN(400))*time.Hour))
		}
	}
	for i := range max(3, cfg.people/2) {
		g.dags = append(g.dags, fmt.Sprintf("dag%02d", i))
	}
	total := func() int { return len(g.h.auth) + len(g.h.authn) + len(g.h.airflow) + len(g.h.runs) }
	for total() < cfg.events {
		ts := g.randTime()
		switch k := rng.IntN(100); {
		case k < 55: // a session
			p := g.people[rng.IntN(len(g.people))]
			for range 1 + rng.IntN(2) {
				g.auth(p, ts.Add(time.Duration(rng.Int64N(int64(time.Minute)))).Truncate(time.Millisecond), rng.IntN(2) == 0)
			}
			for range 1 + rng.IntN(6) {
				var off time.Duration
				if rng.IntN(2) == 0 {
					off = time.Duration(rng.Int64N(int64(20 * time.Minute)))
				} else {
					off = time.Duration(rng.Int64N(int64(6 * time.Hour)))
				}
				g.action(p, ts.Add(off).Truncate(time.Millisecond))
			}
		case k < 62: // an action by someone unknown
			g.action("", ts)
		case k < 70: // an action with no session
			g.action(g.people[rng.IntN(len(g.people))], ts)
		case k < 74: // credential life cycle
			p := g.people[rng.IntN(len(g.people))]
			cs := g.creds[p]
			if len(cs) > 0 && rng.IntN(2) == 0 {
				c := cs[rng.IntN(len(cs))]
				action := model.AuthenticatorRemove
				if c.removed {
					action = model.AuthenticatorRegister // re-registration of the same credential
				}
				c.removed = !c.removed
				a := model.Authenticator{
					Source: model.SourceOkta, Instance: "corp", EventID: g.id(), TS: ts, Person: p,
					Action: action, CredentialID: c.id, AAGUID: aaguidYubiKey, Hardware: model.Bool(true),
				}
				if action == model.AuthenticatorRegister && rng.IntN(2) == 0 {
					a.AAGUID, a.Hardware = "", nil // an unsuspend: the earlier registration describes the key
				}
				if rng.IntN(4) == 0 {
					a.Person = ""
				}
				g.h.authn = append(g.h.authn, a)
			} else {
				g.newCred(p, ts)
			}
		case k < 84: // scheduled and asset runs
			types := []string{model.RunScheduled, model.RunScheduled, model.RunDatasetTriggered, model.RunAssetTriggered, ""}
			g.h.runs = append(g.h.runs, model.DagRun{
				Instance: "af", DagID: g.dags[rng.IntN(len(g.dags))], RunID: "scheduled__" + g.id(),
				RunType: types[rng.IntN(len(types))], TS: ts,
			})
		case k < 87: // manual runs with a triggering user and no audit row, or with nothing
			p := g.people[rng.IntN(len(g.people))]
			r := model.DagRun{Instance: "af", DagID: g.dags[rng.IntN(len(g.dags))], RunID: "manual__" + g.id(), RunType: model.RunManual, TS: ts}
			switch rng.IntN(3) {
			case 0:
				r.TriggeringUser, r.Person = p+"@corp", p
			case 1:
				r.TriggeringUser = "nobody"
			}
			g.h.runs = append(g.h.runs, r)
		case k < 93: // system rows
			g.n++
			g.h.airflow = append(g.h.airflow, model.AirflowEvent{
				Instance: "af", EventLogID: g.n, TS: ts, Event: "success", Channel: model.ChannelSystem,
				Action: model.ActionTaskState, DagID: g.dags[0], MapIndex: -1,
			})
		default: // stray authentications
			g.auth(g.people[rng.IntN(len(g.people))], ts, rng.IntN(3) == 0)
		}
	}
	return &g.h
}
