package correlate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
	"go.yaml.in/yaml/v3"
)

// Policy is the written policy verdicts are computed under. Its Version is
// stamped on every correlation. Decode one with LoadPolicy; fields absent from
// the file keep their defaults (DefaultPolicy).
type Policy struct {
	// PrivilegedClasses are the action classes whose actions are privileged.
	// Default: trigger, clear, mark_state, delete, pause, unpause, connection,
	// variable, pool, user_admin, backfill.
	PrivilegedClasses []model.ActionClass `yaml:"privileged_classes"`
	// MaxAge is how old a backing assertion may be, per action class.
	MaxAge MaxAge `yaml:"max_age"`
	// ClockSkew is how far after an action its assertion may lie and still
	// back it, for clocks that disagree. Default 5s.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// Lookback is how far back a hardware-backed assertion makes an action
	// stale rather than no_assertion; the streaming engine keeps per-person
	// state this long (plus grace and twice the clock skew). Default 720h
	// (30 days). It must be at least every class's max_age.
	Lookback time.Duration `yaml:"lookback"`
	// Grace is how long after an action's time (plus clock skew) the streaming
	// engine waits for late events before it finalises the verdict: events
	// whose arrival lags the watermark by at most Grace are fully accounted
	// for. Default 10m.
	Grace time.Duration `yaml:"grace"`
	// TriggerWindow is how long before a manual run its trigger audit event
	// may lie. Default 60s.
	TriggerWindow time.Duration `yaml:"trigger_window"`
	// HardwareFactors are the factors whose hardware-backed assertions verify
	// an action: webauthn (a security key) and platform (a device-bound
	// platform credential such as Windows Hello, Touch ID or Okta FastPass;
	// hardware-bound, but not a security-key tap). The assertion must also be
	// hardware-backed (see the package documentation). Default: webauthn —
	// keytrail proves security-key taps.
	HardwareFactors []model.Factor `yaml:"hardware_factors"`
	// AAGUID holds the operator's allow and deny lists.
	AAGUID AAGUIDLists `yaml:"aaguid"`
	// Identity carries the identity rules, applied by the identity package
	// before events reach the correlator.
	Identity IdentityRules `yaml:"identity"`
}

// MaxAge is the per-class maximum assertion age.
type MaxAge struct {
	// Privileged applies to the privileged classes. Default 15m (NIST SP
	// 800-63B AAL3 idle re-authentication).
	Privileged time.Duration `yaml:"privileged"`
	// Other applies to every other human action. Default 12h (AAL3
	// re-authentication).
	Other time.Duration `yaml:"other"`
	// Classes overrides the age of single classes. Default none.
	Classes map[model.ActionClass]time.Duration `yaml:"classes,omitempty"`
}

// AAGUIDLists are the operator's authenticator model lists. AAGUIDs are
// compared lower-case and hyphenated; braces and the 32-digit form are
// accepted.
type AAGUIDLists struct {
	// Allow lists AAGUIDs whose WebAuthn assertions are hardware-backed
	// whatever the event says. Default empty.
	Allow []string `yaml:"allow"`
	// Deny lists AAGUIDs whose assertions are never hardware-backed; it wins
	// over everything. Default empty.
	Deny []string `yaml:"deny"`
}

// IdentityRules locates the identity rules. The correlator does not apply
// them (events arrive with Person resolved); they are part of the policy so
// that its version changes when they do.
type IdentityRules struct {
	// Mappings is the path of the operator's identity mapping CSV. Default
	// empty (inference only).
	Mappings string `yaml:"mappings"`
}

// HardwareCapable lists the factors a policy's hardware_factors may name:
// the only ones whose assertions can be hardware-backed.
var HardwareCapable = []model.Factor{model.FactorWebAuthn, model.FactorPlatform}

// ActionClasses lists the Airflow action classes a policy may name, in a
// stable order. task_state and dag_run are not human action classes.
var ActionClasses = []model.ActionClass{
	model.ActionTrigger, model.ActionPause, model.ActionUnpause, model.ActionClear,
	model.ActionMarkState, model.ActionDelete, model.ActionConn, model.ActionVariable,
	model.ActionPool, model.ActionUserAdmin, model.ActionBackfill, model.ActionView,
	model.ActionOther,
}

// DefaultPolicy returns the default policy (testdata/policy.default.yaml).
func DefaultPolicy() Policy {
	return Policy{
		PrivilegedClasses: []model.ActionClass{
			model.ActionTrigger, model.ActionClear, model.ActionMarkState, model.ActionDelete,
			model.ActionPause, model.ActionUnpause, model.ActionConn, model.ActionVariable,
			model.ActionPool, model.ActionUserAdmin, model.ActionBackfill,
		},
		MaxAge: MaxAge{
			Privileged: 15 * time.Minute,
			Other:      12 * time.Hour,
		},
		ClockSkew:       5 * time.Second,
		Lookback:        30 * 24 * time.Hour,
		Grace:           10 * time.Minute,
		TriggerWindow:   60 * time.Second,
		HardwareFactors: []model.Factor{model.FactorWebAuthn},
		AAGUID:          AAGUIDLists{Allow: []string{}, Deny: []string{}},
	}
}

// LoadPolicy decodes a YAML policy strictly (unknown keys are errors) over
// DefaultPolicy and validates it. An empty document is the default policy.
func LoadPolicy(r io.Reader) (Policy, error) {
	p := DefaultPolicy()
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return DefaultPolicy(), nil
		}
		return Policy{}, fmt.Errorf("decode policy: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Policy{}, errors.New("decode policy: more than one YAML document")
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// ErrPolicy marks an invalid policy.
var ErrPolicy = errors.New("invalid policy")

// Validate reports every problem with p, joined, each wrapping ErrPolicy.
func (p Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrPolicy}, args...)...))
	}
	for _, c := range p.PrivilegedClasses {
		if !slices.Contains(ActionClasses, c) {
			bad("privileged_classes: unknown action class %q", c)
		}
	}
	if p.MaxAge.Privileged <= 0 {
		bad("max_age.privileged must be positive, got %s", p.MaxAge.Privileged)
	}
	if p.MaxAge.Other <= 0 {
		bad("max_age.other must be positive, got %s", p.MaxAge.Other)
	}
	for _, c := range sortedKeys(p.MaxAge.Classes) {
		if !slices.Contains(ActionClasses, c) {
			bad("max_age.classes: unknown action class %q", c)
		}
		if d := p.MaxAge.Classes[c]; d <= 0 {
			bad("max_age.classes.%s must be positive, got %s", c, d)
		}
	}
	if p.ClockSkew < 0 {
		bad("clock_skew must not be negative, got %s", p.ClockSkew)
	}
	if p.Lookback <= 0 {
		bad("lookback must be positive, got %s", p.Lookback)
	} else {
		for _, c := range ActionClasses {
			if m := p.maxAgeOf(c, p.privilegedSet()); m > p.Lookback {
				bad("lookback %s is shorter than max_age %s of class %s", p.Lookback, m, c)
				break
			}
		}
	}
	if p.Grace < 0 {
		bad("grace must not be negative, got %s", p.Grace)
	}
	if p.TriggerWindow <= 0 {
		bad("trigger_window must be positive, got %s", p.TriggerWindow)
	}
	if len(p.HardwareFactors) == 0 {
		bad("hardware_factors must name at least one factor")
	}
	for _, f := range p.HardwareFactors {
		switch {
		case !slices.Contains(model.Factors, f) || f == model.FactorNone:
			bad("hardware_factors: %q is not an authentication factor", f)
		case !slices.Contains(HardwareCapable, f):
			bad("hardware_factors: %q is never hardware-backed (only %s and %s can be)", f, model.FactorWebAuthn, model.FactorPlatform)
		}
	}
	allow := map[string]bool{}
	for _, a := range p.AAGUID.Allow {
		c, err := canonicalAAGUID(a)
		if err != nil {
			bad("aaguid.allow: %v", err)
			continue
		}
		allow[c] = true
	}
	for _, a := range p.AAGUID.Deny {
		c, err := canonicalAAGUID(a)
		if err != nil {
			bad("aaguid.deny: %v", err)
			continue
		}
		if allow[c] {
			bad("aaguid %s is on both the allow and the deny list", c)
		}
	}
	return errors.Join(errs...)
}

// Version returns the policy's version: the lower-case hex SHA-256 of its
// canonical encoding. The encoding is of the effective policy — sets sorted
// and deduplicated, AAGUIDs canonical, durations in nanoseconds, the
// effective max_age of every class — so key order, formatting, list order
// and overrides that restate a default do not change it.
func (p Policy) Version() string {
	b, err := json.Marshal(p.canonical())
	if err != nil { // cannot happen: only strings, ints and maps of them
		panic(fmt.Sprintf("encode policy: %v", err))
	}
	return model.SHA256Hex(append([]byte("keytrail-policy/v1\n"), b...))
}

type canonicalPolicy struct {
	PrivilegedClasses []model.ActionClass         `json:"privileged_classes"`
	MaxAgeNS          map[model.ActionClass]int64 `json:"max_age_ns"`
	ClockSkewNS       int64                       `json:"clock_skew_ns"`
	LookbackNS        int64                       `json:"lookback_ns"`
	GraceNS           int64                       `json:"grace_ns"`
	TriggerWindowNS   int64                       `json:"trigger_window_ns"`
	HardwareFactors   []model.Factor              `json:"hardware_factors"`
	AAGUIDAllow       []string                    `json:"aaguid_allow"`
	AAGUIDDeny        []string                    `json:"aaguid_deny"`
	IdentityMappings  string                      `json:"identity_mappings"`
}

func (p Policy) canonical() canonicalPolicy {
	priv := p.privilegedSet()
	c := canonicalPolicy{
		PrivilegedClasses: sortedKeys(priv),
		MaxAgeNS:          map[model.ActionClass]int64{},
		ClockSkewNS:       int64(p.ClockSkew),
		LookbackNS:        int64(p.Lookback),
		GraceNS:           int64(p.Grace),
		TriggerWindowNS:   int64(p.TriggerWindow),
		HardwareFactors:   sortedUnique(p.HardwareFactors),
		AAGUIDAllow:       canonicalAAGUIDs(p.AAGUID.Allow),
		AAGUIDDeny:        canonicalAAGUIDs(p.AAGUID.Deny),
		IdentityMappings:  p.Identity.Mappings,
	}
	for _, cl := range ActionClasses {
		c.MaxAgeNS[cl] = int64(p.maxAgeOf(cl, priv))
	}
	for cl := range p.MaxAge.Classes {
		c.MaxAgeNS[cl] = int64(p.maxAgeOf(cl, priv))
	}
	return c
}

func (p Policy) privilegedSet() map[model.ActionClass]bool {
	m := make(map[model.ActionClass]bool, len(p.PrivilegedClasses))
	for _, c := range p.PrivilegedClasses {
		m[c] = true
	}
	return m
}

func (p Policy) maxAgeOf(c model.ActionClass, priv map[model.ActionClass]bool) time.Duration {
	if d, ok := p.MaxAge.Classes[c]; ok {
		return d
	}
	if priv[c] {
		return p.MaxAge.Privileged
	}
	return p.MaxAge.Other
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sortedUnique[T ~string](s []T) []T {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []T{}
	}
	return out
}

func canonicalAAGUIDs(s []string) []string {
	out := make([]string, 0, len(s))
	for _, a := range s {
		c, err := canonicalAAGUID(a)
		if err != nil {
			c = strings.ToLower(strings.TrimSpace(a))
		}
		out = append(out, c)
	}
	return sortedUnique(out)
}

// canonicalAAGUID returns s lower-case and hyphenated; it accepts braces,
// surrounding space and the 32-hex-digit form.
func canonicalAAGUID(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimPrefix(t, "{"), "}")
	if len(t) == 32 && isHex(t) {
		t = t[0:8] + "-" + t[8:12] + "-" + t[12:16] + "-" + t[16:20] + "-" + t[20:32]
	}
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' ||
		!isHex(t[0:8]+t[9:13]+t[14:18]+t[19:23]+t[24:36]) {
		return "", fmt.Errorf("malformed AAGUID %q", s)
	}
	return t, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// rules is a validated policy compiled for evaluation; times in nanoseconds.
type rules struct {
	policy     Policy
	version    string
	privileged map[model.ActionClass]bool
	maxAge     map[model.ActionClass]int64
	skew       int64
	lookback   int64
	grace      int64
	trigWin    int64
	hwFactor   map[model.Factor]bool
	allow      map[string]bool
	deny       map[string]bool
}

func compile(p Policy) (*rules, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	r := &rules{
		policy:     p,
		version:    p.Version(),
		privileged: p.privilegedSet(),
		maxAge:     map[model.ActionClass]int64{},
		skew:       int64(p.ClockSkew),
		lookback:   int64(p.Lookback),
		grace:      int64(p.Grace),
		trigWin:    int64(p.TriggerWindow),
		hwFactor:   map[model.Factor]bool{},
		allow:      map[string]bool{},
		deny:       map[string]bool{},
	}
	for _, c := range ActionClasses {
		r.maxAge[c] = int64(p.maxAgeOf(c, r.privileged))
	}
	for _, f := range p.HardwareFactors {
		r.hwFactor[f] = true
	}
	for _, a := range canonicalAAGUIDs(p.AAGUID.Allow) {
		r.allow[a] = true
	}
	for _, a := range canonicalAAGUIDs(p.AAGUID.Deny) {
		r.deny[a] = true
	}
	return r, nil
}

// maxAgeOf returns class c's max_age; unknown classes are "other".
func (r *rules) maxAgeOf(c model.ActionClass) int64 {
	if d, ok := r.maxAge[c]; ok {
		return d
	}
	return r.maxAge[model.ActionOther]
}
