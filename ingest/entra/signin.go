package entra

import (
	"strings"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// Azure Monitor categories (diagnostic settings) of sign-in records, and the
// Log Analytics table names of the same logs.
var (
	nonInteractiveCategories = map[string]bool{
		"noninteractiveusersigninlogs": true, "aadnoninteractiveusersigninlogs": true,
	}
	servicePrincipalCategories = map[string]bool{
		"serviceprincipalsigninlogs": true, "aadserviceprincipalsigninlogs": true,
		"managedidentitysigninlogs": true, "aadmanagedidentitysigninlogs": true,
		"microsoftserviceprincipalsigninlogs": true,
	}
)

// tokenTypes are the incomingTokenType values that name a token presented
// instead of an authentication (Graph signIn incomingTokenType).
var tokenTypes = map[string]bool{
	"primaryrefreshtoken": true, "refreshtoken": true, "saml11": true, "saml20": true, "remotedesktoptoken": true,
}

// principalOf returns who a sign-in is about: a service principal or managed
// identity (by category, signInEventTypes, managedServiceIdentity or a
// service principal id without a user), else a user.
func principalOf(rec *record, category string) model.Principal {
	if servicePrincipalCategories[strings.ToLower(category)] {
		return model.PrincipalService
	}
	for _, t := range rec.SignInEventTypes {
		switch strings.ToLower(string(t)) {
		case "serviceprincipal", "managedidentity":
			return model.PrincipalService
		}
	}
	if m := rec.ManagedServiceIdentity; m != nil {
		switch strings.ToLower(string(m.MsiType)) {
		case "", "none":
		default:
			return model.PrincipalService
		}
	}
	if rec.UserID == "" && rec.UserPrincipalName == "" && rec.ServicePrincipalID != "" {
		return model.PrincipalService
	}
	return model.PrincipalUser
}

// nonInteractive reports whether a user sign-in was made with a token on the
// user's behalf rather than by the user (category
// NonInteractiveUserSignInLogs, isInteractive false, or signInEventTypes
// nonInteractiveUser).
func nonInteractive(rec *record, category string) bool {
	if nonInteractiveCategories[strings.ToLower(category)] || strings.EqualFold(string(rec.IsInteractive), "false") {
		return true
	}
	for _, t := range rec.SignInEventTypes {
		if strings.EqualFold(string(t), "nonInteractiveUser") {
			return true
		}
	}
	return false
}

// step is one authentication step with what keytrail makes of it.
type step struct {
	method, detail, result string
	class                  methodClass
	failed                 bool // the step says it did not succeed
	skipped                bool // its result says its method was not used now
	reuse                  bool // it reused a claim of a token or device
}

// newStep reads one step: its method's class and what its result says.
func newStep(method, detail, result string, failed bool) step {
	s := step{method: method, detail: detail, result: result, failed: failed}
	s.skipped, s.reuse = notPerformed(result)
	c, ok := classify(method)
	switch {
	case ok:
		s.class = c
	case s.reuse:
		s.class = classes[kindReuse] // a step with no method that reused a claim
	default:
		s.class = classes[kindUnknown]
	}
	if s.class.kind == kindReuse {
		s.reuse = true
	}
	return s
}

// authenticates reports whether the user authenticated with the step's method.
func (s step) authenticates() bool { return s.class.kind != kindReuse && !s.skipped }

// steps reads the authentication steps of a sign-in: authenticationDetails,
// or authenticationMethodsUsed when the record has no details.
func steps(rec *record) []step {
	out := make([]step, 0, len(rec.AuthenticationDetails))
	for _, d := range rec.AuthenticationDetails {
		out = append(out, newStep(string(d.AuthenticationMethod), string(d.AuthenticationMethodDetail),
			string(d.AuthenticationStepResultDetail), d.failed()))
	}
	if len(out) > 0 {
		return out
	}
	for _, m := range rec.AuthenticationMethodsUsed {
		if m != "" {
			out = append(out, newStep(string(m), "", "", false))
		}
	}
	return out
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

// strongest picks the strongest step that authenticated: among succeeded
// steps when the sign-in succeeded, else among all steps (the method a
// failed sign-in attempted). It returns -1 when no step authenticated.
func strongest(ss []step, success bool) int {
	best := -1
	for i, s := range ss {
		if !s.authenticates() || (success && s.failed) {
			continue
		}
		if best < 0 || strength(s.class.factor) < strength(ss[best].class.factor) {
			best = i
		}
	}
	return best
}

func normalizeSignIn(out *ingest.Output, rec *record, instance, id, sum, category string) {
	outcome := model.OutcomeFailure
	if rec.Status != nil && strings.TrimSpace(string(rec.Status.ErrorCode)) == "0" {
		outcome = model.OutcomeSuccess
	}
	ss := steps(rec)
	var methods []string
	seen := map[string]bool{}
	for _, s := range ss {
		if s.method != "" && !seen[s.method] {
			seen[s.method] = true
			methods = append(methods, s.method)
		}
	}
	for _, m := range rec.AuthenticationMethodsUsed {
		if m != "" && !seen[string(m)] {
			seen[string(m)] = true
			methods = append(methods, string(m))
		}
	}

	ev := model.AuthEvent{
		Source: model.SourceEntra, Instance: instance, EventID: id, TS: out.Raw.TS,
		Subject: string(rec.UserID), Email: string(rec.UserPrincipalName), Principal: model.PrincipalUser,
		EventType: "signIn", Category: model.CategoryLogin, Outcome: outcome, Factor: model.FactorNone,
		App: string(rec.AppDisplayName), SessionID: string(rec.SessionID), IP: string(rec.IPAddress),
		Methods: methods, RawSHA256: sum,
	}
	if category != "" {
		ev.EventType = category
	}
	if ev.App == "" {
		ev.App = string(rec.ResourceDisplayName)
	}
	context := []string{
		"signInEventTypes", strings.Join(rec.SignInEventTypes.Strings(), ","),
		"isInteractive", string(rec.IsInteractive),
		"incomingTokenType", noneIsEmpty(string(rec.IncomingTokenType)),
		"authenticationRequirement", string(rec.AuthenticationRequirement),
	}

	best := strongest(ss, outcome == model.OutcomeSuccess)
	reuse := false
	for _, s := range ss {
		reuse = reuse || s.reuse
	}
	if rec.Status != nil && strings.Contains(strings.ToLower(string(rec.Status.AdditionalDetails)), "claim in the token") {
		reuse = true
	}
	token := tokenTypes[strings.ToLower(string(rec.IncomingTokenType))]

	switch {
	case principalOf(rec, category) == model.PrincipalService:
		// A service principal or managed identity: stored as evidence, never a
		// person. Its name goes to App and Detail, not to Email, so that no
		// identity is inferred from it.
		ev.Principal = model.PrincipalService
		ev.Subject, ev.Email = string(rec.ServicePrincipalID), ""
		if ev.Subject == "" {
			ev.Subject = string(rec.AppID)
		}
		ev.Factor, ev.Hardware = model.FactorOther, hwFalse
		msi := ""
		if rec.ManagedServiceIdentity != nil {
			msi = noneIsEmpty(string(rec.ManagedServiceIdentity.MsiType))
		}
		ev.Detail = joinDetail("servicePrincipalName", string(rec.ServicePrincipalName), "clientCredentialType", noneIsEmpty(string(rec.ClientCredentialType)),
			"msiType", msi, "resourceDisplayName", string(rec.ResourceDisplayName), "signInEventTypes", strings.Join(rec.SignInEventTypes.Strings(), ","))
	case nonInteractive(rec, category):
		// A token redeemed on the user's behalf: nobody authenticated, whatever
		// method the original sign-in's steps name.
		ev.Category = model.CategorySession
		ev.Detail = joinDetail(append([]string{"authenticationMethod", firstMethod(ss, best)}, context...)...)
	case best >= 0:
		chosen := ss[best]
		ev.Factor, ev.Hardware = chosen.class.factor, chosen.class.hardware
		switch ev.Factor {
		case model.FactorWebAuthn, model.FactorPasskeySynced, model.FactorPlatform:
			ev.AAGUID = aaguidFromDetail(chosen.detail)
			if ev.AAGUID != "" && ev.Factor == model.FactorWebAuthn {
				// The label says device-bound, not which kind of device: the
				// AAGUID table decides (security key, platform or synced).
				ev.Hardware = nil
			}
		}
		ev.Detail = joinDetail(append([]string{"authenticationMethod", chosen.method, "authenticationMethodDetail", chosen.detail,
			"authenticationStepResultDetail", chosen.result}, context...)...)
	case reuse || token:
		// Token reuse: no authentication happened, no key was tapped.
		ev.Category = model.CategorySession
		ev.Detail = joinDetail(append([]string{"authenticationMethod", firstMethod(ss, -1)}, context...)...)
	default:
		ev.Factor = model.FactorOther
		ev.Detail = joinDetail(context...)
	}
	if rec.Status != nil && rec.Status.FailureReason != "" && outcome == model.OutcomeFailure {
		ev.Detail = strings.TrimPrefix(ev.Detail+"; failureReason="+string(rec.Status.FailureReason), "; ")
	}
	out.Auth = []model.AuthEvent{ev}
}

// firstMethod names the step that decided a session event: the chosen one,
// else the first reused claim, else the first step.
func firstMethod(ss []step, best int) string {
	if best >= 0 {
		return ss[best].method
	}
	for _, s := range ss {
		if s.reuse && s.method != "" {
			return s.method
		}
	}
	if len(ss) > 0 {
		return ss[0].method
	}
	return ""
}

func noneIsEmpty(s string) string {
	if strings.EqualFold(s, "none") {
		return ""
	}
	return s
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
