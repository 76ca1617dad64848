package entra

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// ErrRecord is wrapped by every error for a record Normalize rejects.
var ErrRecord = errors.New("entra: rejected record")

// Normalizer turns Entra ID sign-ins and directory audits into keytrail's
// model. The zero value is ready to use and safe for concurrent use.
type Normalizer struct{}

var _ ingest.Normalizer = Normalizer{}

// New returns an Entra ID normalizer.
func New() Normalizer { return Normalizer{} }

// Source returns model.SourceEntra.
func (Normalizer) Source() model.Source { return model.SourceEntra }

// Envelopes lists the Graph page (value) and the Azure Monitor / Event Hubs
// export (records).
func (Normalizer) Envelopes() [][]string { return [][]string{{"value"}, {"records"}} }

type authDetail struct {
	AuthenticationMethod       decode.FlexString `json:"authenticationMethod"`
	AuthenticationMethodDetail decode.FlexString `json:"authenticationMethodDetail"`
	Succeeded                  *bool             `json:"succeeded"`
}

type keyValue struct {
	Key   decode.FlexString `json:"key"`
	Value decode.FlexString `json:"value"`
}

type userRef struct {
	ID                decode.FlexString `json:"id"`
	UserPrincipalName decode.FlexString `json:"userPrincipalName"`
	DisplayName       decode.FlexString `json:"displayName"`
	Type              decode.FlexString `json:"type"`
}

// record holds the fields of a signIn or directoryAudit, and of the Azure
// Monitor wrapper around either.
type record struct {
	ID              decode.FlexString `json:"id"`
	CreatedDateTime decode.FlexString `json:"createdDateTime"`
	// signIn
	UserID                    decode.FlexString `json:"userId"`
	UserPrincipalName         decode.FlexString `json:"userPrincipalName"`
	AppDisplayName            decode.FlexString `json:"appDisplayName"`
	ResourceDisplayName       decode.FlexString `json:"resourceDisplayName"`
	IPAddress                 decode.FlexString `json:"ipAddress"`
	SessionID                 decode.FlexString `json:"sessionId"`
	AuthenticationRequirement decode.FlexString `json:"authenticationRequirement"`
	Status                    *struct {
		ErrorCode     *json.Number      `json:"errorCode"`
		FailureReason decode.FlexString `json:"failureReason"`
	} `json:"status"`
	AuthenticationDetails     []authDetail        `json:"authenticationDetails"`
	AuthenticationMethodsUsed []decode.FlexString `json:"authenticationMethodsUsed"`
	// directoryAudit
	ActivityDateTime    decode.FlexString  `json:"activityDateTime"`
	ActivityDisplayName *decode.FlexString `json:"activityDisplayName"`
	Result              decode.FlexString  `json:"result"`
	InitiatedBy         struct {
		User *userRef `json:"user"`
	} `json:"initiatedBy"`
	TargetResources   []userRef  `json:"targetResources"`
	AdditionalDetails []keyValue `json:"additionalDetails"`
	// Azure Monitor wrapper
	Category   decode.FlexString `json:"category"`
	Time       decode.FlexString `json:"time"`
	Properties json.RawMessage   `json:"properties"`
}

// Normalize turns one sign-in or directory audit into keytrail's model.
func (Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return ingest.Output{}, fmt.Errorf("%w: decode record: %w", ErrRecord, err)
	}
	category := string(rec.Category)
	wrapperTime := string(rec.Time)
	if p := rec.Properties; len(p) > 0 && p[0] == '{' {
		// Azure Monitor / Event Hubs: the resource is in properties.
		var inner record
		if err := json.Unmarshal(p, &inner); err != nil {
			return ingest.Output{}, fmt.Errorf("%w: decode properties: %w", ErrRecord, err)
		}
		rec = inner
	} else if len(rec.Properties) > 0 && string(rec.Properties) != "null" {
		return ingest.Output{}, fmt.Errorf("%w: properties is not an object", ErrRecord)
	}
	audit := rec.ActivityDisplayName != nil || strings.EqualFold(category, "AuditLogs")

	id := strings.TrimSpace(string(rec.ID))
	if id == "" {
		return ingest.Output{}, fmt.Errorf("%w: missing id", ErrRecord)
	}
	when := string(rec.CreatedDateTime)
	if audit {
		when = string(rec.ActivityDateTime)
	}
	if when == "" {
		when = wrapperTime
	}
	if when == "" {
		return ingest.Output{}, fmt.Errorf("%w: record %s: missing time", ErrRecord, id)
	}
	ts, err := decode.Time(when)
	if err == nil && ts.IsZero() {
		err = fmt.Errorf("%w: out of range: %q", decode.ErrTime, when)
	}
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: record %s: %w", ErrRecord, id, err)
	}
	sum := model.SHA256Hex(raw)
	out := ingest.Output{Raw: model.RawRecord{
		Source: model.SourceEntra, Instance: instance, EventID: id, TS: ts,
		Raw: append([]byte(nil), raw...), SHA256: sum,
	}}
	if audit {
		normalizeAudit(&out, &rec, instance, id, sum)
	} else {
		normalizeSignIn(&out, &rec, instance, id, sum, category)
	}
	return out, nil
}

// methodClass is what keytrail makes of one Entra authentication method.
type methodClass struct {
	factor   model.Factor
	hardware *bool // explicit provider signal
	reuse    bool  // "Previously satisfied": no authentication happened
}

// classify maps an Entra authenticationMethod name to a factor.
func classify(method string) methodClass {
	m := strings.ToLower(strings.TrimSpace(method))
	switch {
	case m == "":
		return methodClass{factor: model.FactorNone}
	case strings.Contains(m, "previously satisfied"):
		return methodClass{factor: model.FactorNone, reuse: true}
	case strings.Contains(m, "passkey") && strings.Contains(m, "synced"):
		return methodClass{factor: model.FactorPasskeySynced, hardware: model.Bool(false)}
	case m == "fido2 security key", strings.Contains(m, "passkey (device-bound)"), strings.Contains(m, "fido2"):
		return methodClass{factor: model.FactorWebAuthn, hardware: model.Bool(true)}
	case strings.Contains(m, "passkey"):
		// e.g. "Passkey (Microsoft Authenticator)": device-bound in an app;
		// left to the AAGUID table.
		return methodClass{factor: model.FactorWebAuthn}
	case strings.Contains(m, "notification"), strings.Contains(m, "push"):
		return methodClass{factor: model.FactorPush, hardware: model.Bool(false)}
	case strings.Contains(m, "oath"), strings.Contains(m, "verification code"), strings.Contains(m, "totp"):
		return methodClass{factor: model.FactorTOTP, hardware: model.Bool(false)}
	case strings.Contains(m, "text message"), strings.Contains(m, "sms"), strings.Contains(m, "phone call"), strings.Contains(m, "voice"):
		return methodClass{factor: model.FactorSMS, hardware: model.Bool(false)}
	case strings.Contains(m, "email"):
		return methodClass{factor: model.FactorEmail, hardware: model.Bool(false)}
	case strings.Contains(m, "password"):
		return methodClass{factor: model.FactorPassword, hardware: model.Bool(false)}
	}
	// Windows Hello for Business, certificate-based, federated, Temporary
	// Access Pass…: not a WebAuthn key tap.
	return methodClass{factor: model.FactorOther, hardware: model.Bool(false)}
}

// strength orders factors, strongest first.
func strength(f model.Factor) int {
	for i, g := range model.Factors {
		if g == f {
			return i
		}
	}
	return len(model.Factors)
}

func normalizeSignIn(out *ingest.Output, rec *record, instance, id, sum, category string) {
	outcome := model.OutcomeFailure
	if rec.Status != nil && rec.Status.ErrorCode != nil && rec.Status.ErrorCode.String() == "0" {
		outcome = model.OutcomeSuccess
	}
	var methods []string
	seen := map[string]bool{}
	addMethod := func(m string) {
		if m != "" && !seen[m] {
			seen[m] = true
			methods = append(methods, m)
		}
	}
	best := -1
	var chosen authDetail
	var chosenClass methodClass
	onlyReuse := false
	for pass := 0; pass < 2 && best < 0; pass++ {
		// First pass: succeeded steps only (for a successful sign-in);
		// second: every step.
		for _, d := range rec.AuthenticationDetails {
			if pass == 0 && outcome == model.OutcomeSuccess && d.Succeeded != nil && !*d.Succeeded {
				continue
			}
			c := classify(string(d.AuthenticationMethod))
			if c.reuse || c.factor == model.FactorNone {
				continue
			}
			if best < 0 || strength(c.factor) < strength(chosenClass.factor) {
				best, chosen, chosenClass = 1, d, c
			}
		}
	}
	for _, d := range rec.AuthenticationDetails {
		addMethod(string(d.AuthenticationMethod))
	}
	for _, m := range rec.AuthenticationMethodsUsed {
		addMethod(string(m))
		if len(rec.AuthenticationDetails) == 0 {
			c := classify(string(m))
			if !c.reuse && c.factor != model.FactorNone && (best < 0 || strength(c.factor) < strength(chosenClass.factor)) {
				best, chosen, chosenClass = 1, authDetail{AuthenticationMethod: m}, c
			}
		}
	}
	if best < 0 {
		for _, m := range methods {
			if classify(m).reuse {
				onlyReuse = true
			}
		}
	}

	ev := model.AuthEvent{
		Source: model.SourceEntra, Instance: instance, EventID: id, TS: out.Raw.TS,
		Subject: string(rec.UserID), Email: string(rec.UserPrincipalName), EventType: "signIn",
		Category: model.CategoryLogin, Outcome: outcome, Factor: model.FactorNone,
		App: string(rec.AppDisplayName), SessionID: string(rec.SessionID), IP: string(rec.IPAddress),
		Methods: methods, RawSHA256: sum,
	}
	if category != "" {
		ev.EventType = category
	}
	if ev.App == "" {
		ev.App = string(rec.ResourceDisplayName)
	}
	switch {
	case best >= 0:
		ev.Factor, ev.Hardware = chosenClass.factor, chosenClass.hardware
		detail := string(chosen.AuthenticationMethodDetail)
		if ev.Factor == model.FactorWebAuthn || ev.Factor == model.FactorPasskeySynced {
			ev.AAGUID = aaguidFromDetail(detail)
		}
		ev.Detail = joinDetail("authenticationMethod", string(chosen.AuthenticationMethod),
			"authenticationMethodDetail", detail, "authenticationRequirement", string(rec.AuthenticationRequirement))
	case onlyReuse:
		// Token reuse: no authentication happened, no key was tapped.
		ev.Category = model.CategorySession
		ev.Detail = joinDetail("authenticationMethod", "Previously satisfied", "authenticationRequirement", string(rec.AuthenticationRequirement))
	default:
		ev.Factor = model.FactorOther
		ev.Detail = joinDetail("authenticationRequirement", string(rec.AuthenticationRequirement))
	}
	if rec.Status != nil && rec.Status.FailureReason != "" && outcome == model.OutcomeFailure {
		ev.Detail = strings.TrimPrefix(ev.Detail+"; failureReason="+string(rec.Status.FailureReason), "; ")
	}
	out.Auth = []model.AuthEvent{ev}
}

// aaguidFromDetail returns the AAGUID at the end of "<nickname> - <aaguid>",
// lower-cased, or "".
func aaguidFromDetail(d string) string {
	d = strings.TrimSpace(d)
	if len(d) < 36 {
		return ""
	}
	tail := strings.ToLower(d[len(d)-36:])
	if !isUUID(tail) || (len(d) > 36 && !strings.ContainsAny(d[len(d)-37:len(d)-36], " -:(")) {
		return ""
	}
	return tail
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func joinDetail(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, kv[i]+"="+kv[i+1])
		}
	}
	return strings.Join(parts, "; ")
}

func normalizeAudit(out *ingest.Output, rec *record, instance, id, sum string) {
	activity := ""
	if rec.ActivityDisplayName != nil {
		activity = string(*rec.ActivityDisplayName)
	}
	outcome := model.OutcomeFailure
	if strings.EqualFold(string(rec.Result), "success") {
		outcome = model.OutcomeSuccess
	}
	var subject, email string
	for _, t := range rec.TargetResources {
		if strings.EqualFold(string(t.Type), "User") {
			subject, email = string(t.ID), string(t.UserPrincipalName)
			break
		}
	}
	if subject == "" && rec.InitiatedBy.User != nil {
		subject, email = string(rec.InitiatedBy.User.ID), string(rec.InitiatedBy.User.UserPrincipalName)
	}
	var aaguid, modelName, credID string
	for _, kv := range rec.AdditionalDetails {
		k := strings.ToLower(strings.ReplaceAll(string(kv.Key), " ", ""))
		switch {
		case k == "aaguid":
			aaguid = strings.ToLower(strings.TrimSpace(string(kv.Value)))
		case k == "model" || k == "authenticatormodel" || k == "keymodel":
			modelName = string(kv.Value)
		case strings.Contains(k, "credentialid") || k == "keyid":
			credID = string(kv.Value)
		}
	}
	category, factor, hardware := model.CategoryOther, model.FactorNone, (*bool)(nil)
	a := strings.ToLower(activity)
	keyActivity := strings.Contains(a, "passkey") || strings.Contains(a, "fido2") || strings.Contains(a, "security key")
	if keyActivity {
		switch {
		case strings.HasPrefix(a, "add") || strings.HasPrefix(a, "register") || strings.HasPrefix(a, "user registered"):
			category = model.CategoryRegistration
		case strings.HasPrefix(a, "delete") || strings.HasPrefix(a, "remove") || strings.HasPrefix(a, "user deleted"):
			category = model.CategoryRemoval
		}
	}
	if category != model.CategoryOther {
		c := classify(strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(a, "add"), "delete"), "remove")))
		factor, hardware = c.factor, c.hardware
		if factor == model.FactorNone || factor == model.FactorOther {
			factor, hardware = model.FactorWebAuthn, nil
		}
	}
	out.Auth = []model.AuthEvent{{
		Source: model.SourceEntra, Instance: instance, EventID: id, TS: out.Raw.TS,
		Subject: subject, Email: email, EventType: activity, Category: category, Outcome: outcome,
		Factor: factor, Hardware: hardware, AAGUID: aaguid, CredentialID: credID,
		Detail: joinDetail("model", modelName), RawSHA256: sum,
	}}
	if category == model.CategoryRegistration || category == model.CategoryRemoval {
		act := model.AuthenticatorRegister
		if category == model.CategoryRemoval {
			act = model.AuthenticatorRemove
		}
		var backup *bool
		if factor == model.FactorPasskeySynced {
			backup = model.Bool(true)
		}
		out.Authenticators = []model.Authenticator{{
			Source: model.SourceEntra, Instance: instance, EventID: id, TS: out.Raw.TS,
			Subject: subject, Email: email, Action: act, CredentialID: credID, AAGUID: aaguid,
			Model: modelName, Hardware: hardware, BackupEligible: backup, RawSHA256: sum,
		}}
	}
}
