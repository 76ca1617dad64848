package entra

import (
	"strings"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// auditKind is what a directory audit activity does to a user's
// authentication methods.
type auditKind uint8

const (
	auditOther      auditKind = iota
	auditRegister             // a method was added
	auditRemove               // a method was deleted
	auditRegistered           // "User registered all required security info": a summary naming no method
)

// credentialActivities are the Device Registration Service and Core
// Directory activities that add or delete one credential, with the method
// the activity name implies (Microsoft Entra audit activity reference and
// the records in testdata/README.md). The names are lower-cased.
var credentialActivities = map[string]struct {
	kind   auditKind
	method string
}{
	"add passkey (device-bound)":                   {auditRegister, "Passkey (device-bound)"},
	"add passkey (device-bound) security key":      {auditRegister, "Passkey (device-bound)"},
	"add fido2 security key":                       {auditRegister, "FIDO2 security key"},
	"add windows hello for business credential":    {auditRegister, "Windows Hello for Business"},
	"add passwordless phone sign-in credential":    {auditRegister, "Passwordless phone sign-in"},
	"add platform credential":                      {auditRegister, "Platform credential"},
	"delete passkey (device-bound)":                {auditRemove, "Passkey (device-bound)"},
	"delete passkey (device-bound) security key":   {auditRemove, "Passkey (device-bound)"},
	"delete fido2 security key":                    {auditRemove, "FIDO2 security key"},
	"delete windows hello for business credential": {auditRemove, "Windows Hello for Business"},
	"delete passwordless phone sign-in credential": {auditRemove, "Passwordless phone sign-in"},
	"delete platform credential":                   {auditRemove, "Platform credential"},
	"remove passkey (device-bound)":                {auditRemove, "Passkey (device-bound)"},
	"remove fido2 security key":                    {auditRemove, "FIDO2 security key"},
	"remove windows hello for business credential": {auditRemove, "Windows Hello for Business"},
	"remove passwordless phone sign-in credential": {auditRemove, "Passwordless phone sign-in"},
	"remove platform credential":                   {auditRemove, "Platform credential"},
	"assign hardware oath token":                   {auditRegister, "Hardware OATH token"},
}

// securityInfoActivities are the Authentication Methods service's
// security-info activities; the method is in additionalDetails
// (AuthenticationMethod) or resultReason ("User registered Fido2
// Authentication Method"). Updates, reviews, starts and cancellations
// register nothing and stay category other.
var securityInfoActivities = map[string]auditKind{
	"user registered security info":              auditRegister,
	"admin registered security info":             auditRegister,
	"user deleted security info":                 auditRemove,
	"admin deleted security info":                auditRemove,
	"user registered all required security info": auditRegistered,
}

// auditFacts are the facts of a directory audit about a credential.
type auditFacts struct {
	method, model, aaguid, credentialID string
}

// facts reads the method, model, AAGUID and credential id of an audit from
// additionalDetails, the target's modifiedProperties and resultReason.
func facts(rec *record, kind auditKind) auditFacts {
	var f auditFacts
	for _, kv := range rec.AdditionalDetails {
		k := strings.ToLower(strings.Join(strings.Fields(string(kv.Key)), ""))
		v := strings.TrimSpace(string(kv.Value))
		switch {
		case k == "aaguid" || k == "fidoaaguid":
			if u := findAAGUID(v); u != "" {
				f.aaguid = u
			}
		case k == "model" || k == "authenticatormodel" || k == "keymodel":
			f.model = v
		case k == "authenticationmethod" || k == "method" || k == "methodtype":
			f.method = v
		case strings.Contains(k, "credentialid") || k == "keyid":
			f.credentialID = v
		}
	}
	if f.aaguid == "" {
		for _, t := range rec.TargetResources {
			for _, p := range t.ModifiedProperties {
				value := string(p.NewValue)
				if kind == auditRemove {
					value = string(p.OldValue)
				}
				if strings.Contains(strings.ToLower(string(p.DisplayName)), "aaguid") || strings.Contains(strings.ToLower(value), "aaguid") {
					if u := findAAGUID(string(p.DisplayName) + " " + value); u != "" {
						f.aaguid = u
					}
				}
			}
		}
	}
	if f.method == "" {
		f.method = methodFromReason(string(rec.ResultReason))
	}
	return f
}

// methodFromReason returns the method a security-info resultReason names:
// "User registered Fido2 Authentication Method" → "Fido2 Authentication
// Method", "Admin registered temporary access pass method for user" →
// "temporary access pass method".
func methodFromReason(reason string) string {
	r := strings.TrimSpace(reason)
	l := strings.ToLower(r)
	for _, verb := range []string{"registered ", "deleted ", "removed ", "added "} {
		if i := strings.Index(l, verb); i >= 0 {
			m := strings.TrimSpace(r[i+len(verb):])
			m = strings.TrimSuffix(strings.TrimSuffix(m, " for user"), ".")
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// findAAGUID returns the first AAGUID in s after the word "aaguid" (as in
// "AAGuid", "fidoAaGuid":"…"), lower-cased, or the first UUID when s is
// only a UUID.
func findAAGUID(s string) string {
	l := strings.ToLower(s)
	if t := strings.Trim(strings.TrimSpace(l), "{}\"[]"); isUUID(t) {
		return t
	}
	for i := strings.Index(l, "aaguid"); i >= 0; {
		rest := l[i+len("aaguid"):]
		j := strings.IndexFunc(rest, func(r rune) bool { return strings.ContainsRune("0123456789abcdef", r) })
		if j >= 0 && j <= 8 && len(rest) >= j+36 && isUUID(rest[j:j+36]) {
			return rest[j : j+36]
		}
		next := strings.Index(rest, "aaguid")
		if next < 0 {
			break
		}
		i += len("aaguid") + next
	}
	return ""
}

// subjectOf returns the user an audit is about: the first User target (by
// id, else by UPN — a passkey audit's target may carry only the UPN), else
// the initiating user.
func subjectOf(rec *record) (subject, email string) {
	for _, t := range rec.TargetResources {
		if strings.EqualFold(string(t.Type), "User") && (t.ID != "" || t.UserPrincipalName != "") {
			return string(t.ID), string(t.UserPrincipalName)
		}
	}
	if u := rec.InitiatedBy.User; u != nil {
		return string(u.ID), string(u.UserPrincipalName)
	}
	return "", ""
}

func normalizeAudit(out *ingest.Output, rec *record, instance, id, sum string) {
	activity := ""
	if rec.ActivityDisplayName != nil {
		activity = string(*rec.ActivityDisplayName)
	}
	a := strings.ToLower(strings.Join(strings.Fields(activity), " "))
	outcome := model.OutcomeFailure
	if strings.EqualFold(string(rec.Result), "success") {
		outcome = model.OutcomeSuccess
	}
	subject, email := subjectOf(rec)

	kind, impliedMethod := auditOther, ""
	if c, ok := credentialActivities[a]; ok {
		kind, impliedMethod = c.kind, c.method
	} else if k, ok := securityInfoActivities[a]; ok {
		kind = k
	}
	f := facts(rec, kind)
	if f.method == "" {
		f.method = impliedMethod
	}

	ev := model.AuthEvent{
		Source: model.SourceEntra, Instance: instance, EventID: id, TS: out.Raw.TS,
		Subject: subject, Email: email, Principal: model.PrincipalUser, EventType: activity,
		Category: model.CategoryOther, Outcome: outcome, Factor: model.FactorNone,
		AAGUID: f.aaguid, CredentialID: f.credentialID, RawSHA256: sum,
		Detail: joinDetail("method", f.method, "model", f.model, "resultReason", string(rec.ResultReason), "loggedByService", string(rec.LoggedByService)),
	}
	if kind == auditOther {
		out.Auth = []model.AuthEvent{ev}
		return
	}
	ev.Category = model.CategoryRegistration
	if kind == auditRemove {
		ev.Category = model.CategoryRemoval
	}
	ev.Factor, ev.Hardware = model.FactorOther, nil
	if f.method != "" {
		c, _ := classify(f.method)
		if c.kind != kindReuse && c.kind != kindUnknown {
			ev.Factor, ev.Hardware = c.factor, c.hardware
		}
	}
	if f.aaguid != "" && ev.Factor == model.FactorWebAuthn {
		ev.Hardware = nil // the AAGUID table decides
	}
	out.Auth = []model.AuthEvent{ev}
	if kind == auditRegistered || outcome != model.OutcomeSuccess {
		// A summary of the registrations recorded one by one names no method,
		// and a failed change changed nothing: neither adds a credential.
		return
	}
	act := model.AuthenticatorRegister
	if kind == auditRemove {
		act = model.AuthenticatorRemove
	}
	var backup *bool
	if ev.Factor == model.FactorPasskeySynced {
		backup = hwTrue
	}
	modelName := f.model
	if modelName == "" && f.aaguid == "" {
		modelName = f.method
	}
	out.Authenticators = []model.Authenticator{{
		Source: model.SourceEntra, Instance: instance, EventID: id, TS: out.Raw.TS,
		Subject: subject, Email: email, Action: act, CredentialID: f.credentialID, AAGUID: f.aaguid,
		Model: modelName, Hardware: ev.Hardware, BackupEligible: backup, RawSHA256: sum,
	}}
}
