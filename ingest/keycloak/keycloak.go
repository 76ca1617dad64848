package keycloak

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// ErrRecord is wrapped by every error for a record Normalize rejects.
var ErrRecord = errors.New("keycloak: rejected record")

// Normalizer turns Keycloak user and admin events into keytrail's model. The
// zero value is ready to use and safe for concurrent use.
type Normalizer struct{}

var _ ingest.Normalizer = Normalizer{}

// New returns a Keycloak normalizer.
func New() Normalizer { return Normalizer{} }

// Source returns model.SourceKeycloak.
func (Normalizer) Source() model.Source { return model.SourceKeycloak }

// Envelopes returns nil: the admin API returns bare JSON arrays.
func (Normalizer) Envelopes() [][]string { return nil }

type event struct {
	ID        decode.Text                  `json:"id"`
	Time      json.RawMessage              `json:"time"`
	Type      decode.Text                  `json:"type"`
	RealmID   decode.Text                  `json:"realmId"`
	ClientID  decode.Text                  `json:"clientId"`
	UserID    decode.Text                  `json:"userId"`
	SessionID decode.Text                  `json:"sessionId"`
	IPAddress decode.Text                  `json:"ipAddress"`
	Error     decode.Text                  `json:"error"`
	Details   map[string]decode.FlexString `json:"details"`
	// admin events
	OperationType  *decode.Text `json:"operationType"`
	ResourceType   decode.Text  `json:"resourceType"`
	ResourcePath   decode.Text  `json:"resourcePath"`
	Representation decode.Text  `json:"representation"`
	AuthDetails    *struct {
		RealmID   decode.Text `json:"realmId"`
		ClientID  decode.Text `json:"clientId"`
		UserID    decode.Text `json:"userId"`
		IPAddress decode.Text `json:"ipAddress"`
	} `json:"authDetails"`
}

// parseEventTime reads Keycloak's time: epoch milliseconds as a number or a
// numeric string, or an RFC 3339 string.
func parseEventTime(raw json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return time.Time{}, errors.New("field time: missing")
	}
	switch s[0] {
	case '{', '[', 't', 'f':
		kind := map[byte]string{'{': "a JSON object", '[': "a JSON array", 't': "a JSON boolean", 'f': "a JSON boolean"}[s[0]]
		return time.Time{}, decode.TypeError("time", kind, "a number (epoch milliseconds) or a string")
	case '"':
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return time.Time{}, fmt.Errorf("field time: %w", decode.JSON(err))
		}
		if _, err := strconv.ParseInt(str, 10, 64); err != nil {
			t, err := decode.Time(str)
			if err != nil {
				return time.Time{}, fmt.Errorf("field time: %w", err)
			}
			return t, nil
		}
		s = str
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 || ms > 253402300799999 {
		return time.Time{}, fmt.Errorf("field time: %w: %q", decode.ErrTime, s)
	}
	return decode.UnixMilli(ms), nil
}

// Normalize turns one Keycloak event into an AuthEvent, plus an
// Authenticator for credential registration and removal.
func (Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	if ingest.IsSnapshot(raw) {
		return inventory(raw, instance)
	}
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ingest.Output{}, fmt.Errorf("%w: decode event%s: %w", ErrRecord, peekID(raw), decode.JSON(err))
	}
	admin := ev.OperationType != nil || ev.AuthDetails != nil
	if !admin && ev.Type == "" {
		return ingest.Output{}, fmt.Errorf("%w: not a Keycloak event: it has no type (a user event's) and no operationType or authDetails (an admin event's)", ErrRecord)
	}
	name := strings.TrimSpace(string(ev.ID))
	if name == "" {
		name = string(ev.Type)
		if admin && ev.OperationType != nil {
			name = "admin " + string(*ev.OperationType)
		}
	}
	ts, err := parseEventTime(ev.Time)
	if err == nil && ts.IsZero() {
		err = fmt.Errorf("field time: %w: out of range", decode.ErrTime)
	}
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: event %s: %w", ErrRecord, name, err)
	}
	id := strings.TrimSpace(string(ev.ID))
	if id == "" {
		id = derivedID(&ev, ts)
	}
	sum := model.SHA256Hex(raw)
	out := ingest.Output{Raw: model.RawRecord{
		Source: model.SourceKeycloak, Instance: instance, EventID: id, TS: ts,
		Raw: append([]byte(nil), raw...), SHA256: sum,
	}}
	if admin {
		normalizeAdmin(&out, &ev, instance, id, sum)
	} else {
		normalizeUser(&out, &ev, instance, id, sum)
	}
	return out, nil
}

// derivedID hashes the fields that identify an event.
func derivedID(ev *event, ts time.Time) string {
	h := sha256.New()
	field := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	field(string(ev.RealmID))
	field(strconv.FormatInt(ts.UnixMilli(), 10))
	field(string(ev.Type))
	if ev.OperationType != nil {
		field(string(*ev.OperationType))
	}
	field(string(ev.UserID))
	field(string(ev.SessionID))
	field(string(ev.ClientID))
	field(string(ev.IPAddress))
	field(string(ev.Error))
	field(string(ev.ResourceType))
	field(string(ev.ResourcePath))
	if a := ev.AuthDetails; a != nil {
		field(string(a.RealmID))
		field(string(a.UserID))
		field(string(a.ClientID))
		field(string(a.IPAddress))
	}
	keys := make([]string, 0, len(ev.Details))
	for k := range ev.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field(k)
		field(string(ev.Details[k]))
	}
	return "kc-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// peekID returns " <id>" for the id of a record whose decoding failed, when
// it can be read, so that the error names the record.
func peekID(raw []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &v) == nil && v.ID != "" {
		return " " + v.ID
	}
	return ""
}

// categoryOf is the category of a user event of type base (its _ERROR suffix
// cut) and details d: a credential update or removal registers or removes
// an authenticator unless it is a password's; a required action registers
// one when it is a registering action (registeringActions).
func categoryOf(base string, d map[string]string) model.Category {
	switch base {
	case "UPDATE_CREDENTIAL", "REMOVE_CREDENTIAL":
		if isPassword(d["credential_type"]) {
			return model.CategoryOther
		}
	case "CUSTOM_REQUIRED_ACTION":
		if _, ok := registeringActions[d["custom_required_action"]]; ok {
			return model.CategoryRegistration
		}
	}
	if c, ok := eventCategories[base]; ok {
		return c
	}
	return model.CategoryOther
}

func normalizeUser(out *ingest.Output, ev *event, instance, id, sum string) {
	typ := string(ev.Type)
	d := make(map[string]string, len(ev.Details))
	for k, v := range ev.Details {
		d[k] = string(v)
	}
	base := strings.TrimSuffix(typ, "_ERROR")
	category := categoryOf(base, d)
	outcome := model.OutcomeSuccess
	if strings.HasSuffix(typ, "_ERROR") || ev.Error != "" {
		outcome = model.OutcomeFailure
	}
	credType := d["credential_type"]
	if credType == "" {
		switch {
		case base == "CUSTOM_REQUIRED_ACTION":
			credType = registeringActions[d["custom_required_action"]]
		case base == "UPDATE_TOTP" || base == "REMOVE_TOTP":
			credType = credOTP
		}
	}
	credID := d["public_key_credential_id"]
	factor := factorOf(credType)
	if credID != "" && (category == model.CategoryLogin || category == model.CategoryRegistration) {
		// Keycloak's WebAuthn authenticators name the credential they
		// verified; before Keycloak 26 they set no credential_type.
		factor = model.FactorWebAuthn
	}
	if factor == model.FactorNone && category == model.CategoryLogin {
		factor = model.FactorOther
	}
	var hardware *bool
	if factor != model.FactorWebAuthn && factor != model.FactorNone {
		hardware = model.Bool(false)
	}
	if credID == "" {
		credID = d["credential_id"] // REMOVE_CREDENTIAL names Keycloak's own credential id
	}
	aaguid := strings.ToLower(strings.TrimSpace(d["public_key_credential_aaguid"]))
	email := d["username"]
	if email == "" {
		email = d["email"]
	}
	var detail []string
	for _, k := range []string{"credential_type", "custom_required_action", "web_authn_authenticator_user_verification_checked", "public_key_credential_label", "credential_user_label", "grant_type", "auth_method", "reason"} {
		if v := d[k]; v != "" {
			detail = append(detail, k+"="+v)
		}
	}
	if ev.Error != "" {
		detail = append(detail, "error="+string(ev.Error))
	}
	var methods []string
	if credType != "" {
		methods = []string{credType}
	}
	out.Auth = []model.AuthEvent{{
		Source: model.SourceKeycloak, Instance: instance, EventID: id, TS: out.Raw.TS,
		Subject: string(ev.UserID), Email: email, Principal: principalOf(base, d), EventType: typ, Category: category, Outcome: outcome,
		Factor: factor, Hardware: hardware, AAGUID: aaguid, CredentialID: credID,
		App: string(ev.ClientID), SessionID: string(ev.SessionID), IP: string(ev.IPAddress),
		Detail: strings.Join(detail, "; "), Methods: methods, RawSHA256: sum,
	}}
	if (category == model.CategoryRegistration || category == model.CategoryRemoval) && outcome == model.OutcomeSuccess {
		action := model.AuthenticatorRegister
		if category == model.CategoryRemoval {
			action = model.AuthenticatorRemove
		}
		a := model.Authenticator{
			Source: model.SourceKeycloak, Instance: instance, EventID: id, TS: out.Raw.TS,
			Subject: string(ev.UserID), Email: email, Action: action, CredentialID: credID, AAGUID: aaguid,
			Model: cmp.Or(d["public_key_credential_label"], d["credential_user_label"]), Hardware: hardware, RawSHA256: sum,
		}
		if factor != model.FactorNone {
			a.Factor = factor
		}
		out.Authenticators = []model.Authenticator{a}
	}
}

// normalizeAdmin reads an admin event. Keycloak records an admin's removal of
// a user's credential (DELETE …/users/{id}/credentials/{credential}) as
// operation ACTION on that path, and its disable-credential-types call on
// users/{id}/disable-credential-types: both are removals of the user's
// credentials. Other admin events are category other.
func normalizeAdmin(out *ingest.Output, ev *event, instance, id, sum string) {
	op := ""
	if ev.OperationType != nil {
		op = string(*ev.OperationType)
	}
	path := string(ev.ResourcePath)
	var actor, ip, client string
	if a := ev.AuthDetails; a != nil {
		actor, ip, client = string(a.UserID), string(a.IPAddress), string(a.ClientID)
	}
	category, subject, credID := model.CategoryOther, actor, ""
	parts := strings.Split(path, "/")
	removal := op == "DELETE" || op == "ACTION" || op == "UPDATE"
	switch {
	case removal && len(parts) == 4 && parts[0] == "users" && parts[2] == "credentials" && (op == "DELETE" || op == "ACTION"):
		category, subject, credID = model.CategoryRemoval, parts[1], parts[3]
	case removal && len(parts) == 3 && parts[0] == "users" && parts[2] == "disable-credential-types":
		category, subject = model.CategoryRemoval, parts[1]
	}
	outcome := model.OutcomeSuccess
	if ev.Error != "" {
		outcome = model.OutcomeFailure
	}
	factor := model.FactorNone
	if category == model.CategoryRemoval {
		factor = model.FactorOther
	}
	detail := []string{}
	if path != "" {
		detail = append(detail, "resourcePath="+path)
	}
	detail = append(detail, "actor="+actor)
	if category == model.CategoryRemoval && ev.Representation != "" {
		detail = append(detail, "representation="+string(ev.Representation))
	}
	out.Auth = []model.AuthEvent{{
		Source: model.SourceKeycloak, Instance: instance, EventID: id, TS: out.Raw.TS,
		Subject: subject, Principal: model.PrincipalUser, EventType: "ADMIN_" + op + "_" + string(ev.ResourceType), Category: category, Outcome: outcome,
		Factor: factor, CredentialID: credID, App: client, IP: ip,
		Detail: strings.Join(detail, "; "), RawSHA256: sum,
	}}
	if category == model.CategoryRemoval && outcome == model.OutcomeSuccess && credID != "" {
		out.Authenticators = []model.Authenticator{{
			Source: model.SourceKeycloak, Instance: instance, EventID: id, TS: out.Raw.TS,
			Subject: subject, Action: model.AuthenticatorRemove, CredentialID: credID, RawSHA256: sum,
		}}
	}
}
