package okta

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// ErrRecord is wrapped by every error for a record Normalize rejects.
var ErrRecord = errors.New("okta: rejected record")

// Normalizer turns Okta LogEvents into keytrail's model. The zero value is
// ready to use and safe for concurrent use.
type Normalizer struct{}

var _ ingest.Normalizer = Normalizer{}

// New returns an Okta normalizer.
func New() Normalizer { return Normalizer{} }

// Source returns model.SourceOkta.
func (Normalizer) Source() model.Source { return model.SourceOkta }

// Envelopes lists the Event Hook envelope data.events. A System Log page is a
// bare JSON array and needs none.
func (Normalizer) Envelopes() [][]string { return [][]string{{"data", "events"}} }

type actor struct {
	ID          string
	Type        string
	AlternateID string
	DisplayName string
}

// target is a LogEvent target; detail holds the AuthenticatorEnrollment
// detailEntry fields keytrail reads.
type target struct {
	actor
	HasDetail                    bool
	MethodTypeUsed               string
	MethodUsedVerifiedProperties string
	AuthenticatorKey             string
	AuthenticatorTransports      string
	AAGUID                       string
	Passkey                      string
	BackupEligible               string
}

// logEvent holds the LogEvent fields keytrail reads.
type logEvent struct {
	UUID, Published, EventType string
	Actor                      actor
	ClientIP                   string
	ChainIP                    string // request.ipChain[0].ip
	Result, Reason             string
	ExternalSessionID          string
	CredentialType             string
	Factor                     string
	KeyType                    string
	AAGUID                     string
	Passkey                    string
	BackupEligible             string
	Target                     []target
}

// decodeLogEvent reads the fields keytrail needs from one LogEvent,
// validating the whole record as JSON.
func decodeLogEvent(raw []byte) (logEvent, error) {
	var ev logEvent
	s := &scanner{b: raw}
	if s.peek() != '{' {
		return ev, decode.TypeError("the record", s.kind(), "an object (a System Log LogEvent)")
	}
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "uuid":
			return s.text("uuid", &ev.UUID)
		case "published":
			return s.text("published", &ev.Published)
		case "eventType":
			return s.text("eventType", &ev.EventType)
		case "actor":
			return s.actor("actor", -1, &ev.Actor, nil)
		case "client":
			return s.member("client", func(k []byte) error {
				if string(k) == "ipAddress" {
					return s.field("client.ipAddress", &ev.ClientIP)
				}
				return s.skip()
			})
		case "request":
			return s.member("request", func(k []byte) error {
				if string(k) != "ipChain" {
					return s.skip()
				}
				first := true
				return s.elements("request.ipChain", func() error {
					if !first {
						return s.skip()
					}
					first = false
					return s.member("request.ipChain[0]", func(k []byte) error {
						if string(k) == "ip" {
							return s.field("request.ipChain[0].ip", &ev.ChainIP)
						}
						return s.skip()
					})
				})
			})
		case "outcome":
			return s.member("outcome", func(k []byte) error {
				switch string(k) {
				case "result":
					return s.field("outcome.result", &ev.Result)
				case "reason":
					return s.field("outcome.reason", &ev.Reason)
				}
				return s.skip()
			})
		case "authenticationContext":
			return s.member("authenticationContext", func(k []byte) error {
				switch string(k) {
				case "externalSessionId":
					return s.field("authenticationContext.externalSessionId", &ev.ExternalSessionID)
				case "credentialType":
					return s.field("authenticationContext.credentialType", &ev.CredentialType)
				}
				return s.skip()
			})
		case "debugContext":
			return s.member("debugContext", func(k []byte) error {
				if string(k) != "debugData" {
					return s.skip()
				}
				return s.member("debugContext.debugData", func(k []byte) error {
					switch string(k) {
					case "factor":
						return s.field("debugData.factor", &ev.Factor)
					case "keyTypeUsedForAuthentication":
						return s.field("debugData.keyTypeUsedForAuthentication", &ev.KeyType)
					case "aaguid":
						return s.field("debugData.aaguid", &ev.AAGUID)
					case "passkey":
						return s.field("debugData.passkey", &ev.Passkey)
					case "backupEligible":
						return s.field("debugData.backupEligible", &ev.BackupEligible)
					}
					return s.skip()
				})
			})
		case "target":
			return s.elements("target", func() error {
				var t target
				if err := s.actor("target", len(ev.Target), &t.actor, &t); err != nil {
					return err
				}
				ev.Target = append(ev.Target, t)
				return nil
			})
		}
		return s.skip()
	})
	if err == nil {
		err = s.end()
	}
	return ev, err
}

// actor reads an actor (idx < 0) or the target at idx of the target array
// into a; t, when non-nil, receives the target's detailEntry. Field names
// for errors are built only when an error occurs.
func (s *scanner) actor(prefix string, idx int, a *actor, t *target) error {
	name := func(leaf string) string {
		n := prefix
		if idx >= 0 {
			n += "[" + strconv.Itoa(idx) + "]"
		}
		if leaf == "" {
			return n
		}
		return n + "." + leaf
	}
	if c := s.peek(); c != '{' && c != 'n' {
		return decode.TypeError(name(""), s.kind(), "an object")
	}
	return s.object(func(k []byte) error {
		switch string(k) {
		case "id":
			return s.fieldNamed(name, "id", &a.ID)
		case "type":
			return s.fieldNamed(name, "type", &a.Type)
		case "alternateId":
			return s.fieldNamed(name, "alternateId", &a.AlternateID)
		case "displayName":
			return s.fieldNamed(name, "displayName", &a.DisplayName)
		case "detailEntry":
			if t == nil {
				return s.skip()
			}
			switch s.peek() {
			case '{':
				t.HasDetail = true
			case 'n':
			default:
				return decode.TypeError(name("detailEntry"), s.kind(), "an object")
			}
			return s.object(func(k []byte) error {
				switch string(k) {
				case "methodTypeUsed":
					return s.fieldNamed(name, "detailEntry.methodTypeUsed", &t.MethodTypeUsed)
				case "methodUsedVerifiedProperties":
					return s.fieldNamed(name, "detailEntry.methodUsedVerifiedProperties", &t.MethodUsedVerifiedProperties)
				case "authenticatorKey":
					return s.fieldNamed(name, "detailEntry.authenticatorKey", &t.AuthenticatorKey)
				case "authenticatorTransports":
					return s.fieldNamed(name, "detailEntry.authenticatorTransports", &t.AuthenticatorTransports)
				case "aaguid":
					return s.fieldNamed(name, "detailEntry.aaguid", &t.AAGUID)
				case "passkey":
					return s.fieldNamed(name, "detailEntry.passkey", &t.Passkey)
				case "backupEligible":
					return s.fieldNamed(name, "detailEntry.backupEligible", &t.BackupEligible)
				}
				return s.skip()
			})
		}
		return s.skip()
	})
}

// Normalize turns one LogEvent into an AuthEvent, plus an Authenticator for
// factor registration and removal events.
func (Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	if ingest.IsSnapshot(raw) {
		return inventory(raw, instance)
	}
	ev, err := decodeLogEvent(raw)
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: decode LogEvent%s: %w", ErrRecord, recordName(ev.UUID), err)
	}
	if strings.TrimSpace(ev.UUID) == "" {
		return ingest.Output{}, fmt.Errorf("%w: field uuid: missing", ErrRecord)
	}
	if ev.Published == "" {
		return ingest.Output{}, fmt.Errorf("%w: event %s: field published: missing", ErrRecord, ev.UUID)
	}
	ts, err := decode.Time(ev.Published)
	if err == nil && ts.IsZero() {
		err = fmt.Errorf("%w: out of range: %q", decode.ErrTime, ev.Published)
	}
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: event %s: field published: %w", ErrRecord, ev.UUID, err)
	}
	id := ev.UUID
	sum := model.SHA256Hex(raw)
	out := ingest.Output{Raw: model.RawRecord{
		Source: model.SourceOkta, Instance: instance, EventID: id, TS: ts,
		Raw: append([]byte(nil), raw...), SHA256: sum,
	}}

	var user, enrollment, app *target
	for i := range ev.Target {
		t := &ev.Target[i]
		switch t.Type {
		case typeUser:
			if user == nil {
				user = t
			}
		case "AuthenticatorEnrollment", "AuthenticatorMethod":
			if enrollment == nil || (!enrollment.HasDetail && t.HasDetail) {
				enrollment = t
			}
		case "AppInstance":
			if app == nil {
				app = t
			}
		}
	}
	var enr target // zero when the event names no enrollment
	if enrollment != nil {
		enr = *enrollment
	}

	category := categoryOf(ev.EventType)
	subject := ev.Actor
	if (category == model.CategoryRegistration || category == model.CategoryRemoval) && user != nil {
		subject = user.actor // the user whose factor it is, not the admin or system who acted
	}
	outcome := outcomeOf(ev.Result)
	if deniedVerifications[ev.EventType] {
		outcome = model.OutcomeFailure
	}

	aaguid := strings.ToLower(cmp.Or(value(ev.AAGUID), value(enr.AAGUID)))
	backup := parseBool(cmp.Or(value(ev.BackupEligible), value(enr.BackupEligible)))
	transports := value(enr.AuthenticatorTransports)
	verified := value(enr.MethodUsedVerifiedProperties)
	fc := classify(category, &ev, &enr, aaguid)
	factor := fc.factor
	var hardware *bool
	switch {
	case factor == model.FactorWebAuthn || factor == model.FactorPlatform:
		if f, ok := transportClass(transports); ok {
			factor = f // the AAGUID, when the enricher's table knows it, still decides
		}
		if backup != nil && *backup {
			factor = model.FactorPasskeySynced // a backup-eligible passkey may be synced by a cloud keychain
			hardware = model.Bool(false)
			break
		}
		switch {
		case hasProperty(verified, "HARDWARE_PROTECTED"):
			hardware = model.Bool(true)
		case fc.securityKey:
			hardware = model.Bool(true) // FIDO U2F is spoken only by security keys
		}
	case factor != model.FactorNone:
		hardware = model.Bool(false)
	}

	var detail []string
	for _, kv := range [][2]string{
		{"factor", value(ev.Factor)},
		{"methodTypeUsed", value(enr.MethodTypeUsed)},
		{"authenticatorKey", value(enr.AuthenticatorKey)},
		{"methodUsedVerifiedProperties", verified},
		{"authenticatorTransports", transports},
		{"keyTypeUsedForAuthentication", value(ev.KeyType)},
		{"passkey", cmp.Or(value(ev.Passkey), value(enr.Passkey))},
		{"backupEligible", cmp.Or(value(ev.BackupEligible), value(enr.BackupEligible))},
		{"reason", value(ev.Reason)},
	} {
		if kv[1] != "" {
			detail = append(detail, kv[0]+"="+kv[1])
		}
	}
	if subject.Type != "" && !strings.EqualFold(subject.Type, typeUser) {
		detail = append(detail, "actorType="+subject.Type)
	}
	var methods []string
	if fc.name != "" {
		methods = []string{fc.name}
	}
	var appName string
	if app != nil {
		appName = cmp.Or(value(app.DisplayName), value(app.AlternateID))
	}

	out.Auth = []model.AuthEvent{{
		Source: model.SourceOkta, Instance: instance, EventID: id, TS: ts,
		Subject: value(subject.ID), Email: value(subject.AlternateID), Principal: principalOf(subject.Type),
		EventType: ev.EventType, Category: category, Outcome: outcome,
		Factor: factor, Hardware: hardware, AAGUID: aaguid, CredentialID: value(enr.ID),
		App: appName, SessionID: value(ev.ExternalSessionID),
		IP: cmp.Or(value(ev.ClientIP), value(ev.ChainIP)), Detail: strings.Join(detail, "; "), Methods: methods,
		RawSHA256: sum,
	}}

	if category == model.CategoryRegistration || category == model.CategoryRemoval {
		a := model.Authenticator{
			Source: model.SourceOkta, Instance: instance, EventID: id, TS: ts,
			Subject: value(subject.ID), Email: value(subject.AlternateID),
			Action: model.AuthenticatorRegister, CredentialID: value(enr.ID), AAGUID: aaguid,
			Model: value(enr.DisplayName), BackupEligible: backup, RawSHA256: sum,
		}
		if category == model.CategoryRemoval {
			a.Action = model.AuthenticatorRemove
		}
		if factor != model.FactorNone {
			a.Factor = factor
		}
		a.Hardware = hardware
		out.Authenticators = []model.Authenticator{a}
	}
	return out, nil
}

// recordName is " <uuid>" when the uuid was read before an error, for
// messages that name the record.
func recordName(uuid string) string {
	if uuid == "" {
		return ""
	}
	return " " + uuid
}

// factorClass is what the event's labels say its factor is.
type factorClass struct {
	factor      model.Factor
	securityKey bool
	name        string // the label it was read from
}

// classify reads the factor of an event from, in order, debugData.factor,
// the enrollment's methodTypeUsed and authenticatorKey, and for sign-ins
// authenticationContext.credentialType, each through factorNames (else by
// its words); for registrations and removals, an AAGUID or the enrollment's
// display name ("Security Key or Biometric", "FIDO2 (WebAuthn)") also name
// WebAuthn.
func classify(category model.Category, ev *logEvent, enr *target, aaguid string) factorClass {
	labels := []string{value(ev.Factor), value(enr.MethodTypeUsed), value(enr.AuthenticatorKey)}
	if category == model.CategoryLogin {
		labels = append(labels, value(ev.CredentialType))
	}
	for _, l := range labels {
		if l == "" {
			continue
		}
		if f, ok := lookupFactor(l); ok {
			return factorClass{f.factor, f.securityKey, l}
		}
		if f, ok := guessFactor(l); ok {
			return factorClass{f.factor, f.securityKey, l}
		}
	}
	enrollment := category == model.CategoryRegistration || category == model.CategoryRemoval
	if enrollment && aaguid != "" {
		return factorClass{factor: model.FactorWebAuthn}
	}
	if enrollment {
		if f, ok := lookupFactor(value(enr.DisplayName)); ok {
			return factorClass{f.factor, f.securityKey, value(enr.DisplayName)}
		}
	}
	if category == model.CategoryLogin || category == model.CategoryMFA || enrollment && enr.ID != "" {
		return factorClass{factor: model.FactorOther}
	}
	return factorClass{factor: model.FactorNone}
}

func outcomeOf(r string) model.Outcome {
	switch strings.ToUpper(r) {
	case "SUCCESS", "ALLOW":
		return model.OutcomeSuccess
	}
	return model.OutcomeFailure
}

// hasProperty reports whether a list written like "[USER_PRESENCE, HARDWARE_PROTECTED]" holds p.
func hasProperty(list, p string) bool {
	for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == '[' || r == ']' || r == ',' || r == ' ' || r == '"' }) {
		if strings.EqualFold(f, p) {
			return true
		}
	}
	return false
}

func parseBool(s string) *bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return model.Bool(true)
	case "false":
		return model.Bool(false)
	}
	return nil
}
