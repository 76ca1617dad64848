package oidc

import (
	"slices"
	"strings"

	"github.com/keytrail/keytrail/model"
)

// Method is what one amr value says about the authentication.
type Method struct {
	// Factor is the factor the value names; "" for values that name no
	// factor (risk signals, presence, "mfa" alone).
	Factor model.Factor
	// Hardware is true when the value itself says the key is hardware-bound,
	// false when it rules that out, nil when it does not say.
	Hardware *bool
	// Meaning is the value's definition, from RFC 8176 or the provider.
	Meaning string
}

var (
	yes = model.Bool(true)
	no  = model.Bool(false)
)

// amrMethods is the amr vocabulary: RFC 8176 §2 (the IANA "Authentication
// Method Reference Values" registry), Okta's additions and Microsoft Entra
// ID's v1 token values. Values are compared lower-case; an unknown value
// names no factor and is kept in Methods.
var amrMethods = map[string]Method{
	// RFC 8176.
	"face": {model.FactorPlatform, nil, "RFC 8176: biometric authentication using facial recognition"},
	"fpt":  {model.FactorPlatform, nil, "RFC 8176: biometric authentication using a fingerprint"},
	"geo":  {"", nil, "RFC 8176: use of geolocation information (a signal, not a factor)"},
	"hwk":  {model.FactorWebAuthn, yes, "RFC 8176: proof-of-possession of a hardware-secured key"},
	"iris": {model.FactorPlatform, nil, "RFC 8176: biometric authentication using an iris scan"},
	"kba":  {model.FactorOther, no, "RFC 8176: knowledge-based authentication"},
	"mca":  {model.FactorOther, no, "RFC 8176: multiple-channel authentication"},
	"mfa":  {"", nil, "RFC 8176: multiple-factor authentication (the methods are named beside it)"},
	"otp":  {model.FactorTOTP, no, "RFC 8176: one-time password"},
	"pin":  {model.FactorPassword, no, "RFC 8176: personal identification number or pattern"},
	"pop": {model.FactorWebAuthn, nil, "RFC 8176: proof-of-possession of a key, storage unspecified " +
		"(Okta: WebAuthn and Okta FastPass)"},
	"pwd":    {model.FactorPassword, no, "RFC 8176: password-based authentication"},
	"rba":    {"", nil, "RFC 8176: risk-based authentication (a signal, not a factor)"},
	"retina": {model.FactorPlatform, nil, "RFC 8176: biometric authentication using a retina scan"},
	"sc":     {model.FactorOther, nil, "RFC 8176: smart card"},
	"sms":    {model.FactorSMS, no, "RFC 8176: confirmation using SMS text message to the user at a registered number"},
	"swk":    {model.FactorOther, no, "RFC 8176: proof-of-possession of a software-secured key"},
	"tel":    {model.FactorSMS, no, "RFC 8176: confirmation by telephone call to the user at a registered number"},
	"user":   {"", nil, "RFC 8176: user presence test (a property, not a factor)"},
	"vbm":    {model.FactorPlatform, nil, "RFC 8176: biometric authentication using a voiceprint"},
	"wia":    {model.FactorOther, no, "RFC 8176 / Entra ID: Windows integrated authentication"},
	// Okta.
	"email": {model.FactorEmail, no, "Okta: email magic link or code"},
	// Microsoft Entra ID (v1 tokens).
	"fed":      {model.FactorOther, nil, "Entra ID: a federated identity provider authenticated the user (keytrail cannot see how)"},
	"fido":     {model.FactorWebAuthn, nil, "Entra ID: FIDO2 security key or passkey (the AAGUID, not in the token, decides hardware)"},
	"ngcmfa":   {model.FactorPlatform, nil, "Entra ID: Windows Hello for Business or an equivalent advanced credential"},
	"rsa":      {model.FactorOther, no, "Entra ID: proof of an RSA key, e.g. Microsoft Authenticator or a certificate"},
	"wiaormfa": {model.FactorOther, nil, "Entra ID: Windows integrated authentication or MFA"},
	"none":     {model.FactorNone, no, "Entra ID: no authentication was performed"},
}

// AMRMethods returns the amr vocabulary, sorted by value, for documentation.
func AMRMethods() []string {
	out := make([]string, 0, len(amrMethods))
	for k := range amrMethods {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// LookupAMR returns what an amr value means.
func LookupAMR(v string) (Method, bool) {
	m, ok := amrMethods[strings.ToLower(strings.TrimSpace(v))]
	return m, ok
}

// Hardware-protected acr values: OpenID Connect EAP ACR Values 1.0
// (Okta's predefined acr_values): phr is phishing-resistant, phrh
// phishing-resistant and hardware-protected.
const (
	ACRPhishingResistant         = "phr"
	ACRPhishingResistantHardware = "phrh"
)

// Factor is the factor and hardware FactorOf decided.
type Factor struct {
	Factor   model.Factor
	Hardware *bool
}

// FactorOf decides the factor of an authentication from its amr values and
// acr: the strongest factor named (model.Factors order) with that value's
// hardware flag — hwk wins over every other WebAuthn value, and a value that
// says hardware over one that does not — else "other" (undecided hardware)
// when no value names a factor. acr phrh makes a WebAuthn or platform
// factor hardware-backed.
func FactorOf(amr []string, acr string) Factor {
	best := Factor{Factor: model.FactorOther}
	rank := len(model.Factors)
	for _, v := range amr {
		m, ok := LookupAMR(v)
		if !ok || m.Factor == "" {
			continue
		}
		r := slices.Index(model.Factors, m.Factor)
		better := r < rank || (r == rank && m.Hardware != nil && *m.Hardware && (best.Hardware == nil || !*best.Hardware))
		if better {
			best, rank = Factor{Factor: m.Factor, Hardware: m.Hardware}, r
		}
	}
	if strings.EqualFold(strings.TrimSpace(acr), ACRPhishingResistantHardware) &&
		(best.Factor == model.FactorWebAuthn || best.Factor == model.FactorPlatform) {
		best.Hardware = yes
	}
	if best.Hardware != nil {
		h := *best.Hardware
		best.Hardware = &h
	}
	return best
}
