package okta

import (
	"errors"
	"fmt"
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

type target struct {
	actor
	HasDetail                    bool
	MethodTypeUsed               string
	MethodUsedVerifiedProperties string
}

// logEvent holds the LogEvent fields keytrail reads.
type logEvent struct {
	UUID, Published, EventType string
	Actor                      actor
	ClientIP                   string
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
		return ev, s.fail("record is not a JSON object")
	}
	err := s.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "uuid":
			ev.UUID, err = s.str()
		case "published":
			ev.Published, err = s.str()
		case "eventType":
			ev.EventType, err = s.str()
		case "actor":
			err = s.actor(&ev.Actor, nil)
		case "client":
			err = s.object(func(k []byte) error {
				if string(k) == "ipAddress" {
					var e error
					ev.ClientIP, e = s.flex()
					return e
				}
				return s.skip()
			})
		case "outcome":
			err = s.object(func(k []byte) error {
				var e error
				switch string(k) {
				case "result":
					ev.Result, e = s.flex()
				case "reason":
					ev.Reason, e = s.flex()
				default:
					e = s.skip()
				}
				return e
			})
		case "authenticationContext":
			err = s.object(func(k []byte) error {
				var e error
				switch string(k) {
				case "externalSessionId":
					ev.ExternalSessionID, e = s.flex()
				case "credentialType":
					ev.CredentialType, e = s.flex()
				default:
					e = s.skip()
				}
				return e
			})
		case "debugContext":
			err = s.object(func(k []byte) error {
				if string(k) != "debugData" {
					return s.skip()
				}
				return s.object(func(k []byte) error {
					var e error
					switch string(k) {
					case "factor":
						ev.Factor, e = s.flex()
					case "keyTypeUsedForAuthentication":
						ev.KeyType, e = s.flex()
					case "aaguid":
						ev.AAGUID, e = s.flex()
					case "passkey":
						ev.Passkey, e = s.flex()
					case "backupEligible":
						ev.BackupEligible, e = s.flex()
					default:
						e = s.skip()
					}
					return e
				})
			})
		case "target":
			err = s.array(func() error {
				var t target
				if err := s.actor(&t.actor, &t); err != nil {
					return err
				}
				ev.Target = append(ev.Target, t)
				return nil
			})
		default:
			err = s.skip()
		}
		return err
	})
	if err == nil {
		err = s.end()
	}
	return ev, err
}

// actor reads an actor or target object; t, when non-nil, receives the
// target's detailEntry.
func (s *scanner) actor(a *actor, t *target) error {
	return s.object(func(k []byte) error {
		var e error
		switch string(k) {
		case "id":
			a.ID, e = s.flex()
		case "type":
			a.Type, e = s.flex()
		case "alternateId":
			a.AlternateID, e = s.flex()
		case "displayName":
			a.DisplayName, e = s.flex()
		case "detailEntry":
			if t == nil {
				return s.skip()
			}
			if s.peek() == '{' {
				t.HasDetail = true
			}
			e = s.object(func(k []byte) error {
				var e error
				switch string(k) {
				case "methodTypeUsed":
					t.MethodTypeUsed, e = s.flex()
				case "methodUsedVerifiedProperties":
					t.MethodUsedVerifiedProperties, e = s.flex()
				default:
					e = s.skip()
				}
				return e
			})
		default:
			e = s.skip()
		}
		return e
	})
}

// Normalize turns one LogEvent into an AuthEvent, plus an Authenticator for
// factor registration and removal events.
func (Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	ev, err := decodeLogEvent(raw)
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: decode LogEvent: %w", ErrRecord, err)
	}
	if strings.TrimSpace(ev.UUID) == "" {
		return ingest.Output{}, fmt.Errorf("%w: missing uuid", ErrRecord)
	}
	if ev.Published == "" {
		return ingest.Output{}, fmt.Errorf("%w: event %s: missing published", ErrRecord, ev.UUID)
	}
	ts, err := decode.Time(ev.Published)
	if err == nil && ts.IsZero() {
		err = fmt.Errorf("%w: out of range: %q", decode.ErrTime, ev.Published)
	}
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: event %s: published: %w", ErrRecord, ev.UUID, err)
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
		case "User":
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

	category := categoryOf(ev.EventType)
	subject := ev.Actor
	if (category == model.CategoryRegistration || category == model.CategoryRemoval) && user != nil {
		subject = user.actor
	}

	var methodType, verified string
	if enrollment != nil {
		methodType = enrollment.MethodTypeUsed
		verified = enrollment.MethodUsedVerifiedProperties
	}
	factorName := ev.Factor
	if factorName == "" {
		factorName = methodType
	}
	if factorName == "" && category == model.CategoryLogin {
		factorName = ev.CredentialType
	}
	factor := factorOf(factorName)
	if factorName == "" {
		factor = model.FactorNone
		if category == model.CategoryLogin || category == model.CategoryMFA {
			factor = model.FactorOther
		}
	}

	backup := parseBool(ev.BackupEligible)
	if factor == model.FactorWebAuthn && backup != nil && *backup {
		// A backup-eligible passkey may be synced by a cloud keychain.
		factor = model.FactorPasskeySynced
	}
	var hardware *bool
	switch {
	case factor != model.FactorWebAuthn && factor != model.FactorNone && factor != model.FactorPasskeySynced:
		hardware = model.Bool(false)
	case factor == model.FactorPasskeySynced:
		hardware = model.Bool(false)
	case factor == model.FactorWebAuthn && hasProperty(verified, "HARDWARE_PROTECTED"):
		hardware = model.Bool(true)
	}

	aaguid := strings.ToLower(strings.TrimSpace(ev.AAGUID))
	var credID string
	if enrollment != nil {
		credID = enrollment.ID
	}
	var detail []string
	for _, kv := range [][2]string{
		{"factor", ev.Factor},
		{"methodTypeUsed", methodType},
		{"methodUsedVerifiedProperties", verified},
		{"keyTypeUsedForAuthentication", ev.KeyType},
		{"passkey", ev.Passkey},
		{"backupEligible", ev.BackupEligible},
		{"reason", ev.Reason},
	} {
		if kv[1] != "" {
			detail = append(detail, kv[0]+"="+kv[1])
		}
	}
	var methods []string
	if factorName != "" {
		methods = []string{factorName}
	}
	var appName string
	if app != nil {
		appName = app.DisplayName
		if appName == "" {
			appName = app.AlternateID
		}
	}

	out.Auth = []model.AuthEvent{{
		Source: model.SourceOkta, Instance: instance, EventID: id, TS: ts,
		Subject: subject.ID, Email: subject.AlternateID, EventType: ev.EventType,
		Category: category, Outcome: outcomeOf(ev.Result),
		Factor: factor, Hardware: hardware, AAGUID: aaguid, CredentialID: credID,
		App: appName, SessionID: ev.ExternalSessionID,
		IP: ev.ClientIP, Detail: strings.Join(detail, "; "), Methods: methods,
		RawSHA256: sum,
	}}

	if category == model.CategoryRegistration || category == model.CategoryRemoval {
		a := model.Authenticator{
			Source: model.SourceOkta, Instance: instance, EventID: id, TS: ts,
			Subject: subject.ID, Email: subject.AlternateID,
			Action: model.AuthenticatorRegister, CredentialID: credID, AAGUID: aaguid,
			BackupEligible: backup, RawSHA256: sum,
		}
		if category == model.CategoryRemoval {
			a.Action = model.AuthenticatorRemove
		}
		if factor == model.FactorWebAuthn || factor == model.FactorPasskeySynced {
			a.Hardware = hardware
		} else {
			a.Hardware = model.Bool(false)
		}
		if enrollment != nil {
			a.Model = enrollment.DisplayName
		}
		out.Authenticators = []model.Authenticator{a}
	}
	return out, nil
}

// categoryOf maps an Okta eventType to a category.
func categoryOf(t string) model.Category {
	switch t {
	case "user.session.start", "user.authentication.authenticate", "user.authentication.auth_via_richclient",
		"user.authentication.auth_via_IDP", "user.authentication.auth_via_social", "user.authentication.auth_via_AD_agent",
		"user.authentication.auth_via_LDAP_agent", "user.authentication.auth_via_radius", "user.authentication.auth_via_inbound_SAML",
		"user.authentication.auth_via_inbound_delauth", "user.authentication.auth_via_iwa", "user.authentication.auth":
		return model.CategoryLogin
	case "user.authentication.auth_via_mfa", "user.authentication.verify", "user.mfa.okta_verify",
		"user.mfa.okta_verify.deny_push", "user.authentication.verify_push_accepted", "user.mfa.attempt_bypass":
		return model.CategoryMFA
	case "user.mfa.factor.activate", "user.mfa.factor.enroll", "system.mfa.factor.activate", "user.authenticator.enroll":
		return model.CategoryRegistration
	case "user.mfa.factor.deactivate", "user.mfa.factor.reset_all", "system.mfa.factor.deactivate", "user.mfa.factor.suspend":
		return model.CategoryRemoval
	case "user.authentication.sso", "user.session.end", "user.session.expire", "user.session.clear",
		"user.session.impersonation.initiate", "app.oauth2.token.grant", "app.oauth2.as.token.grant":
		return model.CategorySession
	}
	return model.CategoryOther
}

// factorOf maps an Okta factor name (debugData.factor, methodTypeUsed or
// credentialType) to a factor.
func factorOf(s string) model.Factor {
	u := strings.ToUpper(s)
	switch {
	case u == "":
		return model.FactorNone
	case strings.Contains(u, "WEBAUTHN"), strings.Contains(u, "FIDO"), strings.Contains(u, "SECURITY KEY"),
		strings.Contains(u, "PASSKEY"), strings.Contains(u, "U2F"):
		return model.FactorWebAuthn
	case strings.Contains(u, "PUSH"):
		return model.FactorPush
	case strings.Contains(u, "TOTP"), strings.Contains(u, "OTP"), strings.Contains(u, "GOOGLE AUTHENTICATOR"),
		strings.Contains(u, "GOOGLE_AUTHENTICATOR"), strings.Contains(u, "ENTER A CODE"), strings.Contains(u, "TOKEN:SOFTWARE"),
		strings.Contains(u, "TOKEN:HOTP"), strings.Contains(u, "YUBICO"), u == "OKTA_VERIFY":
		return model.FactorTOTP
	case strings.Contains(u, "SMS"):
		return model.FactorSMS
	case strings.Contains(u, "EMAIL"):
		return model.FactorEmail
	case strings.Contains(u, "PASSWORD"):
		return model.FactorPassword
	}
	return model.FactorOther
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
