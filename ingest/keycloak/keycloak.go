package keycloak

import (
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
	ID        decode.FlexString            `json:"id"`
	Time      json.RawMessage              `json:"time"`
	Type      decode.FlexString            `json:"type"`
	RealmID   decode.FlexString            `json:"realmId"`
	ClientID  decode.FlexString            `json:"clientId"`
	UserID    decode.FlexString            `json:"userId"`
	SessionID decode.FlexString            `json:"sessionId"`
	IPAddress decode.FlexString            `json:"ipAddress"`
	Error     decode.FlexString            `json:"error"`
	Details   map[string]decode.FlexString `json:"details"`
	// admin events
	OperationType *decode.FlexString `json:"operationType"`
	ResourceType  decode.FlexString  `json:"resourceType"`
	ResourcePath  decode.FlexString  `json:"resourcePath"`
	AuthDetails   *struct {
		RealmID   decode.FlexString `json:"realmId"`
		ClientID  decode.FlexString `json:"clientId"`
		UserID    decode.FlexString `json:"userId"`
		IPAddress decode.FlexString `json:"ipAddress"`
	} `json:"authDetails"`
}

// parseEventTime reads Keycloak's time: epoch milliseconds as a number or a
// numeric string, or an RFC 3339 string.
func parseEventTime(raw json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return time.Time{}, errors.New("missing time")
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return time.Time{}, fmt.Errorf("time: %w", err)
		}
		if _, err := strconv.ParseInt(str, 10, 64); err != nil {
			t, err := decode.Time(str)
			if err != nil {
				return time.Time{}, fmt.Errorf("time: %w", err)
			}
			return t, nil
		}
		s = str
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 || ms > 253402300799999 {
		return time.Time{}, fmt.Errorf("time: %w: %q", decode.ErrTime, s)
	}
	return decode.UnixMilli(ms), nil
}

// Normalize turns one Keycloak event into an AuthEvent, plus an
// Authenticator for credential registration and removal.
func (Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ingest.Output{}, fmt.Errorf("%w: decode event: %w", ErrRecord, err)
	}
	ts, err := parseEventTime(ev.Time)
	if err == nil && ts.IsZero() {
		err = fmt.Errorf("time: %w: out of range", decode.ErrTime)
	}
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	admin := ev.OperationType != nil || ev.AuthDetails != nil
	if !admin && ev.Type == "" {
		return ingest.Output{}, fmt.Errorf("%w: missing type", ErrRecord)
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

func factorOf(credType string) model.Factor {
	switch strings.ToLower(strings.TrimSpace(credType)) {
	case "":
		return model.FactorNone
	case "webauthn", "webauthn-passwordless":
		return model.FactorWebAuthn
	case "otp", "totp", "hotp":
		return model.FactorTOTP
	case "password", "password-history":
		return model.FactorPassword
	}
	return model.FactorOther
}

func normalizeUser(out *ingest.Output, ev *event, instance, id, sum string) {
	typ := string(ev.Type)
	d := ev.Details
	category := model.CategoryOther
	base := strings.TrimSuffix(typ, "_ERROR")
	switch base {
	case "LOGIN", "IDENTITY_PROVIDER_LOGIN", "IDENTITY_PROVIDER_FIRST_LOGIN":
		category = model.CategoryLogin
	case "CODE_TO_TOKEN", "REFRESH_TOKEN", "CLIENT_LOGIN", "LOGOUT", "TOKEN_EXCHANGE", "INTROSPECT_TOKEN",
		"USER_INFO_REQUEST", "RESTART_AUTHENTICATION", "AUTHREQID_TO_TOKEN":
		category = model.CategorySession
	case "CUSTOM_REQUIRED_ACTION":
		if strings.HasPrefix(string(d["custom_required_action"]), "webauthn-register") {
			category = model.CategoryRegistration
		}
	case "UPDATE_CREDENTIAL", "UPDATE_TOTP", "CONFIGURE_TOTP":
		category = model.CategoryRegistration
	case "REMOVE_CREDENTIAL", "REMOVE_TOTP":
		category = model.CategoryRemoval
	}
	outcome := model.OutcomeSuccess
	if strings.HasSuffix(typ, "_ERROR") || ev.Error != "" {
		outcome = model.OutcomeFailure
	}
	credType := string(d["credential_type"])
	switch {
	case credType == "" && category == model.CategoryRegistration && strings.HasPrefix(string(d["custom_required_action"]), "webauthn"):
		credType = string(d["custom_required_action"])
	case credType == "" && (base == "UPDATE_TOTP" || base == "CONFIGURE_TOTP" || base == "REMOVE_TOTP"):
		credType = "otp"
	}
	factor := factorOf(strings.TrimSuffix(strings.TrimPrefix(credType, "webauthn-register"), "-passwordless"))
	if strings.HasPrefix(credType, "webauthn") {
		factor = model.FactorWebAuthn
	}
	if factor == model.FactorNone && category == model.CategoryLogin {
		factor = model.FactorOther
	}
	var hardware *bool
	if factor != model.FactorWebAuthn && factor != model.FactorNone {
		hardware = model.Bool(false)
	}
	credID := string(d["public_key_credential_id"])
	if credID == "" {
		credID = string(d["credential_id"])
	}
	aaguid := strings.ToLower(strings.TrimSpace(string(d["public_key_credential_aaguid"])))
	email := string(d["username"])
	if email == "" {
		email = string(d["email"])
	}
	var detail []string
	for _, k := range []string{"credential_type", "custom_required_action", "web_authn_authenticator_user_verification_checked", "public_key_credential_label", "auth_method", "reason"} {
		if v := d[k]; v != "" {
			detail = append(detail, k+"="+string(v))
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
		Subject: string(ev.UserID), Email: email, EventType: typ, Category: category, Outcome: outcome,
		Factor: factor, Hardware: hardware, AAGUID: aaguid, CredentialID: credID,
		App: string(ev.ClientID), SessionID: string(ev.SessionID), IP: string(ev.IPAddress),
		Detail: strings.Join(detail, "; "), Methods: methods, RawSHA256: sum,
	}}
	if (category == model.CategoryRegistration || category == model.CategoryRemoval) && outcome == model.OutcomeSuccess {
		action := model.AuthenticatorRegister
		if category == model.CategoryRemoval {
			action = model.AuthenticatorRemove
		}
		out.Authenticators = []model.Authenticator{{
			Source: model.SourceKeycloak, Instance: instance, EventID: id, TS: out.Raw.TS,
			Subject: string(ev.UserID), Email: email, Action: action, CredentialID: credID, AAGUID: aaguid,
			Model: string(d["public_key_credential_label"]), Hardware: hardware, RawSHA256: sum,
		}}
	}
}

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
	if op == "DELETE" && len(parts) == 4 && parts[0] == "users" && parts[2] == "credentials" {
		category, subject, credID = model.CategoryRemoval, parts[1], parts[3]
	}
	outcome := model.OutcomeSuccess
	if ev.Error != "" {
		outcome = model.OutcomeFailure
	}
	factor := model.FactorNone
	if category == model.CategoryRemoval {
		factor = model.FactorOther
	}
	out.Auth = []model.AuthEvent{{
		Source: model.SourceKeycloak, Instance: instance, EventID: id, TS: out.Raw.TS,
		Subject: subject, EventType: "ADMIN_" + op + "_" + string(ev.ResourceType), Category: category, Outcome: outcome,
		Factor: factor, CredentialID: credID, App: client, IP: ip,
		Detail: strings.TrimPrefix("resourcePath="+path+"; actor="+actor, "resourcePath=; "), RawSHA256: sum,
	}}
	if category == model.CategoryRemoval && outcome == model.OutcomeSuccess {
		out.Authenticators = []model.Authenticator{{
			Source: model.SourceKeycloak, Instance: instance, EventID: id, TS: out.Raw.TS,
			Subject: subject, Action: model.AuthenticatorRemove, CredentialID: credID, RawSHA256: sum,
		}}
	}
}
