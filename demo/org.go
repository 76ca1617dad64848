package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Postures: how a person usually authenticates.
const (
	PostureHardware = "hardware" // a hardware security key (YubiKey, Titan, Feitian…)
	PostureSynced   = "synced"   // a synced passkey (iCloud Keychain, Google Password Manager, 1Password)
	// PosturePlatform is a device-bound platform credential (Windows Hello,
	// Touch ID): hardware-bound, but no security-key tap, so under the
	// default policy (hardware_factors: webauthn) its actions are weak_factor.
	PosturePlatform = "platform"
	PostureOTP      = "otp"
	PosturePush     = "push"
	PosturePassword = "password" // password-only holdout
	PostureNone     = "none"     // never authenticates successfully (API token user with failing sign-ins)
)

// Airflow roles.
const (
	RoleNone     = "none"
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// Person is one member of the generated organisation.
type Person struct {
	// ID is the person id keytrail should infer: the lower-case email.
	ID   string `json:"person"`
	Name string `json:"name"`
	// Source is the identity provider that holds the person.
	Source model.Source `json:"source"`
	// Subject is the provider's user id (Okta user id, Entra object id,
	// Google profile id, Keycloak user id).
	Subject string `json:"subject"`
	// Username is the Keycloak preferred_username (empty elsewhere).
	Username string `json:"username,omitempty"`
	// Owner is the Airflow owner Flask-AppBuilder OAuth writes for the person.
	Owner string `json:"owner"`
	// OSUser is the person's OS account for the Airflow CLI, if any.
	OSUser  string `json:"os_user,omitempty"`
	Posture string `json:"posture"`
	Role    string `json:"role"`
	// Instances lists the Airflow instances (indexes into Config.Instances) the person uses.
	Instances []int `json:"instances,omitempty"`
}

// Org is a generated organisation, ready to be written with WriteFiles.
type Org struct {
	cfg    Config
	People []Person

	creds   []credential
	auth    []authEv
	points  [][]point // per person, sorted by time: successful authentications and session events
	actions []action
	runs    []dagRun
	insts   []*instData
	actors  []actor
	// verdicts counts the intended verdicts.
	verdicts map[model.Verdict]int
}

// Config returns the configuration the Org was generated with, defaults applied.
func (o *Org) Config() Config { return o.cfg }

// Intents returns the intended verdict of every action, audit actions first
// (by instance and event_log_id), then runs.
func (o *Org) Intents() []Intent {
	var out []Intent
	o.EachIntent(func(it *Intent) { out = append(out, *it) })
	return out
}

// Verdicts returns how many actions are intended to get each verdict.
func (o *Org) Verdicts() map[model.Verdict]int {
	out := make(map[model.Verdict]int, len(o.verdicts))
	for k, v := range o.verdicts {
		out[k] = v
	}
	return out
}

// Intent is the verdict the generator intends for one action under the default policy.
type Intent struct {
	ActionID string        `json:"action_id"`
	Kind     string        `json:"kind"` // model.KindAudit or "run"
	Instance string        `json:"instance"`
	TS       time.Time     `json:"ts"`
	Event    string        `json:"event,omitempty"`
	Channel  model.Channel `json:"channel,omitempty"`
	// Privileged is true for actions in a privileged class (max_age 15 min).
	Privileged bool          `json:"privileged,omitempty"`
	Actor      string        `json:"actor,omitempty"`
	Person     string        `json:"person,omitempty"`
	DagID      string        `json:"dag_id,omitempty"`
	RunID      string        `json:"run_id,omitempty"`
	RunType    string        `json:"run_type,omitempty"`
	Verdict    model.Verdict `json:"verdict"`
	// TriggerActionID is a manual run's trigger: the action whose person and
	// verdict the run carries.
	TriggerActionID string `json:"trigger_action_id,omitempty"`
	// InheritedFrom is the enabling action (unpause, backfill request) whose
	// verdict an inherited run carries, and InheritedVerdict that verdict.
	InheritedFrom    string        `json:"inherited_from,omitempty"`
	InheritedVerdict model.Verdict `json:"inherited_verdict,omitempty"`
	// Scenario names the deliberate case, e.g. "clock_skew", "stale_session".
	Scenario string `json:"scenario,omitempty"`
	// AssertionOffsetMS is action time − deciding authentication time, in ms
	// (negative for a key tap after the action, within the clock skew).
	AssertionOffsetMS *int64 `json:"assertion_offset_ms,omitempty"`
}

// Generate builds the organisation described by cfg. It is deterministic:
// the same cfg gives the same Org and the same files.
func Generate(cfg Config) (*Org, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	cfg = cfg.withDefaults()
	g := &gen{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		org: &Org{cfg: cfg},
	}
	g.start = cfg.Start.UnixMilli()
	g.end = g.start + int64(cfg.Days)*dayMS
	g.people()
	g.dags()
	g.credentials()
	for p := range g.org.People {
		g.personDays(p)
	}
	g.unknownActors()
	g.buildPoints()
	g.decide()
	g.runsAndRows()
	g.intents()
	return g.org, nil
}

const (
	secMS  = int64(1000)
	minMS  = 60 * secMS
	hourMS = 60 * minMS
	dayMS  = 24 * hourMS
)

// gen holds generation state.
type gen struct {
	cfg        Config
	rng        *rand.Rand
	org        *Org
	start, end int64
	usedNames  map[string]int
	pstate     []pstate
}

func (g *gen) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + g.rng.Int64N(hi-lo)
}

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }
