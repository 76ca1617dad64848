package demo

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
)

// idpRec is one identity-provider record to write.
type idpRec struct {
	ts   int64
	emit int64 // position key: ts, later for records emitted late
	ev   int32
	step uint8
}

type location struct{ city, state, country, postal, cc string }

var locations = []location{
	{"Berlin", "Land Berlin", "Germany", "10115", "DE"},
	{"London", "England", "United Kingdom", "EC1A", "GB"},
	{"Austin", "Texas", "United States", "78701", "US"},
	{"Toronto", "Ontario", "Canada", "M5H", "CA"},
	{"Lisbon", "Lisboa", "Portugal", "1100", "PT"},
	{"Bangalore", "Karnataka", "India", "560001", "IN"},
}

func (o *Org) ip(p int32) string {
	h := mix(uint64(p) + o.cfg.Seed<<32)
	nets := []string{"198.51.100.", "203.0.113.", "192.0.2."}
	return nets[h%3] + strconv.Itoa(int((h>>8)%250)+2)
}

func (o *Org) loc(p int32) location { return locations[mix(uint64(p)^0xabc)%uint64(len(locations))] }

// sessionID is stable for a person and day.
func (o *Org) sessionID(p int32, ts int64, prefix string) string {
	h := mix(uint64(p)<<32 ^ uint64(ts/dayMS) ^ o.cfg.Seed)
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte(prefix)
	for i := 0; i < 22; i++ {
		b = append(b, chars[h%62])
		h = mix(h + uint64(i))
	}
	return string(b)
}

func isoMS(b []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(b, `"2006-01-02T15:04:05.000Z"`)
}

func randUUID(r *rand.Rand) string { return uuidFrom(r.Uint64(), r.Uint64()) }

const userAgent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36"

// appendOkta renders one Okta System Log LogEvent.
func (o *Org) appendOkta(b []byte, rec idpRec, r *rand.Rand) []byte {
	ev := &o.auth[rec.ev]
	st := pattern(model.SourceOkta, ev.kind, ev.factor)[rec.step]
	p := &o.People[ev.person]
	loc := o.loc(ev.person)
	ip := o.ip(ev.person)
	var eventType, display, result, reason = "", "", "SUCCESS", "null"
	debug := `"requestId": "` + randB62(r, 24) + `"`
	credType := "null"
	var target []byte
	userTarget := func() {
		target = append(target, `{"id": `...)
		target = appendStr(target, p.Subject)
		target = append(target, `, "type": "User", "alternateId": `...)
		target = appendStr(target, p.ID)
		target = append(target, `, "displayName": `...)
		target = appendStr(target, p.Name)
		target = append(target, `, "detailEntry": null}`...)
	}
	enrollment := func(id, name, method, props string) {
		target = append(target, `, {"id": `...)
		target = appendStr(target, id)
		target = append(target, `, "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": `...)
		target = appendStr(target, name)
		if method == "" {
			target = append(target, `, "detailEntry": null}`...)
			return
		}
		target = append(target, `, "detailEntry": {"methodTypeUsed": `...)
		target = appendStr(target, method)
		target = append(target, `, "methodUsedVerifiedProperties": `...)
		target = appendStr(target, props)
		target = append(target, `}}`...)
	}
	userTarget()
	credID := func() string {
		if ev.cred >= 0 {
			return o.creds[ev.cred].id
		}
		return "opf" + strings.ToLower(p.Subject[3:]) + "f"
	}
	switch st.rec {
	case recOktaPassword, recOktaFail:
		eventType, display = "user.authentication.verify", "Verify user identity"
		debug += `, "requestUri": "/idp/idx/challenge/answer", "url": "/idp/idx/challenge/answer?", "factor": "PASSWORD"`
		enrollment("lae"+strings.ToLower(p.Subject[3:12])+"pwd", "Password", "Password", "[USER_PRESENCE]")
		if st.rec == recOktaFail {
			result, reason = "FAILURE", `"INVALID_CREDENTIALS"`
		}
	case recOktaMFA:
		eventType, display = "user.authentication.auth_via_mfa", "Authentication of user via MFA"
		debug += `, "requestUri": "/idp/idx/challenge/answer", "url": "/idp/idx/challenge/answer?"`
		switch ev.factor {
		case fHW:
			debug += `, "factor": "FIDO_WEBAUTHN", "keyTypeUsedForAuthentication": "CROSS_PLATFORM"`
			enrollment(credID(), "Security Key or Biometric", "Security Key or Biometric Authenticator (FIDO2)", "[USER_PRESENCE, USER_VERIFYING, PHISHING_RESISTANT, HARDWARE_PROTECTED, DEVICE_BOUND]")
		case fSynced:
			debug += `, "factor": "FIDO_WEBAUTHN", "keyTypeUsedForAuthentication": "PLATFORM"`
			enrollment(credID(), "Security Key or Biometric", "Security Key or Biometric Authenticator (FIDO2)", "[USER_PRESENCE, USER_VERIFYING, PHISHING_RESISTANT]")
		case fPlatform:
			// Windows Hello: Okta labels it FIDO2 and hardware-protected (a
			// TPM); the sign-in names neither AAGUID nor transports, the
			// enrolment does.
			debug += `, "factor": "FIDO_WEBAUTHN", "keyTypeUsedForAuthentication": "USER_VERIFYING_BIO_OR_PIN"`
			enrollment(credID(), "Security Key or Biometric", "Security Key or Biometric Authenticator (FIDO2)", "[USER_PRESENCE, USER_VERIFYING, PHISHING_RESISTANT, HARDWARE_PROTECTED, DEVICE_BOUND]")
		case fOTP:
			debug += `, "factor": "GOOGLE_OTP"`
			enrollment(credID(), "Google Authenticator", "Google Authenticator", "[USER_PRESENCE]")
		default:
			debug += `, "factor": "OKTA_VERIFY_PUSH"`
			enrollment(credID(), "Okta Verify", "Okta Verify Push", "[USER_PRESENCE, DEVICE_BOUND]")
		}
	case recOktaSessionStart:
		eventType, display = "user.session.start", "User login to Okta"
		credType = `"PASSWORD"`
		debug += `, "requestUri": "/idp/idx/identify", "url": "/idp/idx/identify?"`
	case recOktaSSO:
		eventType, display = "user.authentication.sso", "User single sign on to app"
		debug += `, "requestUri": "/app/acme_airflow_1/exk8airflow/sso/saml", "url": "/app/acme_airflow_1/exk8airflow/sso/saml?"`
		target = append(target, `, {"id": "0oa8airflowapp", "type": "AppInstance", "alternateId": "Airflow", "displayName": "Airflow", "detailEntry": {"signOnModeType": "OPENID_CONNECT"}}`...)
	case recOktaActivate, recOktaDeactivate:
		c := &o.creds[ev.cred]
		eventType, display = "user.mfa.factor.activate", "User set up a factor"
		if st.rec == recOktaDeactivate {
			eventType, display = "user.mfa.factor.deactivate", "Reset factor for user"
		}
		aaguid := c.key.AAGUID
		if mix(uint64(rec.ev))&1 == 0 {
			aaguid = strings.ToUpper(aaguid)
		}
		debug += `, "requestUri": "/idp/idx/credential/enroll", "url": "/idp/idx/credential/enroll?", "factor": "FIDO_WEBAUTHN", "aaguid": "` + aaguid + `", "passkey": "` + strconv.FormatBool(c.synced || c.platform) + `", "backupEligible": "` + strconv.FormatBool(c.synced) + `"`
		if c.platform && st.rec == recOktaActivate {
			target = append(target, `, {"id": `...)
			target = appendStr(target, c.id)
			target = append(target, `, "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": "FIDO2 (WebAuthn)", "detailEntry": {"authenticatorTransports": "[internal, hybrid]"}}`...)
			break
		}
		enrollment(c.id, c.key.Model, "", "")
	}
	b = append(b, `{"uuid": `...)
	b = appendStr(b, randUUID(r))
	b = append(b, `, "published": `...)
	b = isoMS(b, rec.ts)
	b = append(b, `, "eventType": `...)
	b = appendStr(b, eventType)
	b = append(b, `, "version": "0", "severity": "INFO", "legacyEventType": null, "displayMessage": `...)
	b = appendStr(b, display)
	b = append(b, `, "actor": {"id": `...)
	b = appendStr(b, p.Subject)
	b = append(b, `, "type": "User", "alternateId": `...)
	b = appendStr(b, p.ID)
	b = append(b, `, "displayName": `...)
	b = appendStr(b, p.Name)
	b = append(b, `, "detailEntry": null}, "client": {"userAgent": {"rawUserAgent": "`+userAgent+`", "os": "Mac OS X", "browser": "CHROME"}, "zone": "null", "device": "Computer", "id": null, "ipAddress": "`...)
	b = append(b, ip...)
	b = append(b, `", "geographicalContext": {"city": "`+loc.city+`", "state": "`+loc.state+`", "country": "`+loc.country+`", "postalCode": "`+loc.postal+`", "geolocation": {"lat": 0, "lon": 0}}}, "device": null, "authenticationContext": {"authenticationProvider": null, "credentialProvider": null, "credentialType": `...)
	b = append(b, credType...)
	b = append(b, `, "issuer": null, "interface": null, "authenticationStep": 0, "rootSessionId": "`...)
	b = append(b, o.sessionID(ev.person, rec.ts, "idx")...)
	b = append(b, `", "externalSessionId": "`...)
	b = append(b, o.sessionID(ev.person, rec.ts, "102")...)
	b = append(b, `"}, "outcome": {"result": "`+result+`", "reason": `+reason+`}, "securityContext": {"asNumber": 3320, "asOrg": "example transit", "isp": "example isp", "domain": "example.net", "isProxy": false}, "debugContext": {"debugData": {`...)
	b = append(b, debug...)
	b = append(b, `}}, "transaction": {"type": "WEB", "id": "`...)
	b = append(b, randB62(r, 27)...)
	b = append(b, `", "detail": {}}, "request": {"ipChain": [{"ip": "`...)
	b = append(b, ip...)
	b = append(b, `", "geographicalContext": {"city": "`+loc.city+`", "country": "`+loc.country+`"}, "version": "V4", "source": null}]}, "target": [`...)
	b = append(b, target...)
	return append(b, "]}"...)
}

func randB62(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnumChars[r.IntN(len(alnumChars))]
	}
	return string(b)
}

// entraMethod is one authenticationDetails entry; result "" writes the
// usual result of the step.
func entraMethod(b []byte, ms int64, method, detail, requirement string, ok bool, result string) []byte {
	b = append(b, `{"authenticationStepDateTime": `...)
	b = entraTime(b, ms)
	b = append(b, `, "authenticationMethod": `...)
	b = appendStr(b, method)
	b = append(b, `, "authenticationMethodDetail": `...)
	b = appendNullStr(b, detail)
	b = append(b, `, "succeeded": `...)
	b = strconv.AppendBool(b, ok)
	res := "MFA successfully completed"
	switch {
	case result != "":
		res = result
	case !ok:
		res = "Invalid username or password or Invalid on-premise username or password."
	case method == "Previously satisfied":
		res = "First factor requirement satisfied by claim in the token"
	}
	b = append(b, `, "authenticationStepResultDetail": `...)
	b = appendStr(b, res)
	b = append(b, `, "authenticationStepRequirement": `...)
	b = appendStr(b, requirement)
	return append(b, '}')
}

// entraMethodOf is the authenticationMethod (and its detail) Entra writes for
// an interaction's factor.
func (o *Org) entraMethodOf(ev *authEv) (method, detail string) {
	switch ev.factor {
	case fHW:
		if ev.cred >= 0 {
			c := &o.creds[ev.cred]
			detail = c.key.Model + " - " + strings.ToUpper(c.key.AAGUID)
		}
		return "FIDO2 security key", detail
	case fSynced:
		return "Passkey (synced)", ""
	case fOTP:
		return "OATH verification code", ""
	case fPush:
		return "Mobile app notification", ""
	}
	return "Password", ""
}

func entraTime(b []byte, ms int64) []byte {
	return time.UnixMilli(ms).UTC().AppendFormat(b, `"2006-01-02T15:04:05.0000000Z"`)
}

// appendEntraSignIn renders one Microsoft Graph signIn resource.
func (o *Org) appendEntraSignIn(b []byte, rec idpRec, r *rand.Rand) []byte {
	ev := &o.auth[rec.ev]
	st := pattern(model.SourceEntra, ev.kind, ev.factor)[rec.step]
	p := &o.People[ev.person]
	loc := o.loc(ev.person)
	errCode, failure := "0", "Other."
	interactive := "true"
	requirement := "multiFactorAuthentication"
	eventType, token := "interactiveUser", "none"
	var details []byte
	mfa := func(first string) {
		m, detail := o.entraMethodOf(ev)
		if ev.factor == fSynced || ev.factor == fPassword {
			if first == "Previously satisfied" {
				details = entraMethod(details, rec.ts, first, "", "Primary authentication", true, "")
				details = append(details, ", "...)
				details = entraMethod(details, rec.ts, m, detail, "Primary authentication", true, "")
				return
			}
			details = entraMethod(details, rec.ts, m, detail, "Primary authentication", true, "")
			requirement = "singleFactorAuthentication"
			return
		}
		details = entraMethod(details, rec.ts, first, "", "Primary authentication", true, "")
		details = append(details, ", "...)
		details = entraMethod(details, rec.ts, m, detail, "Multifactor authentication", true, "")
	}
	switch st.rec {
	case recSignIn:
		mfa("Password")
	case recStepUp:
		mfa("Previously satisfied")
	case recSessionEvent:
		// A token redeemed on the user's behalf (NonInteractiveUserSignInLogs):
		// the steps name the original sign-in's methods, every one satisfied
		// by a claim in the token — even a key's, which is no tap.
		interactive, eventType, token = "false", "nonInteractiveUser", "refreshToken"
		details = entraMethod(details, rec.ts, "Previously satisfied", "", "Primary authentication", true, "")
		if m, detail := o.entraMethodOf(ev); m != "Password" {
			details = append(details, ", "...)
			details = entraMethod(details, rec.ts, m, detail, "Multifactor authentication", true, "MFA requirement satisfied by claim in the token")
		} else {
			requirement = "singleFactorAuthentication"
		}
	case recFailEvent:
		errCode, failure = "50126", "Error validating credentials due to invalid username or password."
		requirement = "singleFactorAuthentication"
		details = entraMethod(details, rec.ts, "Password", "", "Primary authentication", false, "")
	}
	b = append(b, `{"id": `...)
	b = appendStr(b, randUUID(r))
	b = append(b, `, "createdDateTime": `...)
	b = entraTime(b, rec.ts)
	b = append(b, `, "userDisplayName": `...)
	b = appendStr(b, p.Name)
	b = append(b, `, "userPrincipalName": `...)
	b = appendStr(b, p.ID)
	b = append(b, `, "userId": `...)
	b = appendStr(b, p.Subject)
	b = append(b, `, "appId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064", "appDisplayName": "Airflow", "ipAddress": "`...)
	b = append(b, o.ip(ev.person)...)
	b = append(b, `", "clientAppUsed": "Browser", "correlationId": `...)
	b = appendStr(b, randUUID(r))
	b = append(b, `, "conditionalAccessStatus": "success", "isInteractive": `+interactive+`, "signInEventTypes": ["`+eventType+`"], "incomingTokenType": "`+token+`", "riskDetail": "none", "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none", "riskState": "none", "resourceDisplayName": "Airflow", "resourceId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064", "status": {"errorCode": `+errCode+`, "failureReason": "`+failure+`", "additionalDetails": null}, "deviceDetail": {"deviceId": "", "displayName": null, "operatingSystem": "MacOs", "browser": "Chrome 133.0.0", "isCompliant": null, "isManaged": null, "trustType": null}, "location": {"city": "`+loc.city+`", "state": "`+loc.state+`", "countryOrRegion": "`+loc.cc+`", "geoCoordinates": {"altitude": null, "latitude": 0, "longitude": 0}}, "authenticationRequirement": "`+requirement+`", "sessionId": "`...)
	b = append(b, uuidFrom(mix(uint64(ev.person)<<20^uint64(rec.ts/dayMS)), mix(o.cfg.Seed^uint64(ev.person)))...)
	b = append(b, `", "authenticationDetails": [`...)
	b = append(b, details...)
	return append(b, `], "appliedConditionalAccessPolicies": []}`...)
}

// appendEntraAudit renders one directoryAudit for a key registration or removal.
func (o *Org) appendEntraAudit(b []byte, rec idpRec, r *rand.Rand) []byte {
	ev := &o.auth[rec.ev]
	p := &o.People[ev.person]
	c := &o.creds[ev.cred]
	activity, op := "Add FIDO2 security key", "Add"
	if ev.kind == evRemove {
		activity, op = "Delete FIDO2 security key", "Delete"
	}
	b = append(b, `{"id": "Directory_`...)
	b = append(b, randUUID(r)...)
	b = append(b, `", "category": "UserManagement", "correlationId": `...)
	b = appendStr(b, randUUID(r))
	b = append(b, `, "result": "success", "resultReason": "", "activityDisplayName": "`+activity+`", "activityDateTime": `...)
	b = entraTime(b, rec.ts)
	b = append(b, `, "loggedByService": "Authentication Methods", "operationType": "`+op+`", "initiatedBy": {"app": null, "user": {"id": `...)
	b = appendStr(b, p.Subject)
	b = append(b, `, "displayName": null, "userPrincipalName": `...)
	b = appendStr(b, p.ID)
	b = append(b, `, "ipAddress": "`+o.ip(ev.person)+`"}}, "targetResources": [{"id": `...)
	b = appendStr(b, p.Subject)
	b = append(b, `, "displayName": `...)
	b = appendStr(b, p.Name)
	b = append(b, `, "type": "User", "userPrincipalName": `...)
	b = appendStr(b, p.ID)
	b = append(b, `, "groupType": null, "modifiedProperties": []}], "additionalDetails": [{"key": "AAGuid", "value": "`+strings.ToUpper(c.key.AAGUID)+`"}, {"key": "Model", "value": `...)
	b = appendStr(b, c.key.Model)
	b = append(b, `}, {"key": "CredentialId", "value": `...)
	b = appendStr(b, c.id)
	return append(b, `}]}`...)
}

func googleParam(b []byte, name string, multi []string, value string, boolean string) []byte {
	b = append(b, `{"name": "`+name+`", `...)
	switch {
	case multi != nil:
		b = append(b, `"multiValue": [`...)
		for i, m := range multi {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendStr(b, m)
		}
		b = append(b, ']')
	case boolean != "":
		b = append(b, `"boolValue": `+boolean...)
	default:
		b = append(b, `"value": `...)
		b = appendStr(b, value)
	}
	return append(b, '}')
}

func googleMethod(f uint8) string {
	switch f {
	case fHW:
		return "security_key"
	case fOTP:
		return "google_authenticator"
	case fPush:
		return "internal_two_factor"
	}
	return "password"
}

// appendGoogle renders one Reports API login activity.
func (o *Org) appendGoogle(b []byte, rec idpRec, r *rand.Rand) []byte {
	ev := &o.auth[rec.ev]
	st := pattern(model.SourceGoogle, ev.kind, ev.factor)[rec.step]
	p := &o.People[ev.person]
	var events []byte
	event := func(name string, params func([]byte) []byte) {
		if len(events) > 0 {
			events = append(events, ", "...)
		}
		events = append(events, `{"type": "login", "name": "`+name+`", "parameters": [`...)
		events = params(events)
		events = append(events, "]}"...)
	}
	m := googleMethod(ev.factor)
	verification := func(e []byte) []byte {
		e = googleParam(e, "login_type", nil, "google_password", "")
		e = append(e, ", "...)
		e = googleParam(e, "login_challenge_method", []string{m}, "", "")
		e = append(e, ", "...)
		e = googleParam(e, "is_second_factor", nil, "", "true")
		e = append(e, ", "...)
		return googleParam(e, "login_challenge_status", nil, "passed", "")
	}
	switch st.rec {
	case recSignIn:
		methods := []string{"password"}
		if ev.factor != fPassword {
			event("login_verification", verification)
			methods = append(methods, m)
		}
		event("login_success", func(e []byte) []byte {
			e = googleParam(e, "login_type", nil, "google_password", "")
			e = append(e, ", "...)
			e = googleParam(e, "login_challenge_method", methods, "", "")
			e = append(e, ", "...)
			return googleParam(e, "is_suspicious", nil, "", "false")
		})
	case recStepUp:
		event("login_verification", verification)
	case recSessionEvent:
		event("logout", func(e []byte) []byte { return googleParam(e, "login_type", nil, "google_password", "") })
	case recFailEvent:
		event("login_failure", func(e []byte) []byte {
			e = googleParam(e, "login_type", nil, "google_password", "")
			e = append(e, ", "...)
			e = googleParam(e, "login_challenge_method", []string{"password"}, "", "")
			e = append(e, ", "...)
			e = googleParam(e, "login_failure_type", nil, "login_failure_invalid_password", "")
			e = append(e, ", "...)
			return googleParam(e, "is_suspicious", nil, "", "false")
		})
	case recRegisterEvent:
		event("2sv_enroll", func(e []byte) []byte { return e })
	case recRemoveEvent:
		event("2sv_disable", func(e []byte) []byte { return e })
	}
	q := strconv.FormatInt(int64(r.Uint64()>>1)*(1-2*int64(r.IntN(2))), 10)
	b = append(b, `{"kind": "admin#reports#activity", "id": {"time": `...)
	b = isoMS(b, rec.ts)
	b = append(b, `, "uniqueQualifier": "`+q+`", "applicationName": "login", "customerId": "C03az79cb"}, "etag": "\"`...)
	b = append(b, randB62(r, 27)...)
	b = append(b, `\"", "actor": {"callerType": "USER", "email": `...)
	b = appendStr(b, p.ID)
	b = append(b, `, "profileId": "`+p.Subject+`"}, "ipAddress": "`+o.ip(ev.person)+`", "events": [`...)
	b = append(b, events...)
	return append(b, "]}"...)
}

func keycloakCredType(f uint8) string {
	switch f {
	case fHW:
		return "webauthn"
	case fSynced, fPlatform:
		return "webauthn-passwordless"
	case fOTP:
		return "otp"
	}
	return "password"
}

// appendKeycloak renders one Keycloak user event.
func (o *Org) appendKeycloak(b []byte, rec idpRec, r *rand.Rand) []byte {
	ev := &o.auth[rec.ev]
	st := pattern(model.SourceKeycloak, ev.kind, ev.factor)[rec.step]
	p := &o.People[ev.person]
	sess := uuidFrom(mix(uint64(ev.person)<<24^uint64(rec.ts/dayMS)^o.cfg.Seed), mix(uint64(ev.person)))
	typ, errField := "LOGIN", ""
	d := []byte(`"auth_method": "openid-connect", "username": `)
	d = appendStr(d, p.Username)
	switch st.rec {
	case recSignIn, recStepUp:
		d = append(d, `, "auth_type": "code", "redirect_uri": "https://airflow.acme.example/oauth-authorized/keycloak", "code_id": "`+sess+`", "credential_type": "`+keycloakCredType(ev.factor)+`"`...)
		if ev.cred >= 0 {
			d = append(d, `, "web_authn_authenticator_user_verification_checked": "true", "public_key_credential_id": `...)
			d = appendStr(d, o.creds[ev.cred].id)
		}
	case recSessionEvent:
		typ = "REFRESH_TOKEN"
		d = append(d[:0], `"token_id": "`+randUUID(r)+`", "refresh_token_type": "Refresh", "refresh_token_id": "`+randUUID(r)+`"`...)
	case recFailEvent:
		typ, errField = "LOGIN_ERROR", "invalid_user_credentials"
		d = append(d, `, "auth_type": "code", "redirect_uri": "https://airflow.acme.example/oauth-authorized/keycloak", "credential_type": "password"`...)
	case recRegisterEvent:
		c := &o.creds[ev.cred]
		typ = "CUSTOM_REQUIRED_ACTION"
		action := "webauthn-register"
		if c.synced || c.platform {
			action = "webauthn-register-passwordless"
		}
		d = append(d[:0], `"custom_required_action": "`+action+`", "username": `...)
		d = appendStr(d, p.Username)
		d = append(d, `, "credential_type": "`+strings.ReplaceAll(action, "-register", "")+`", "public_key_credential_id": `...)
		d = appendStr(d, c.id)
		d = append(d, `, "public_key_credential_aaguid": "`+c.key.AAGUID+`", "public_key_credential_label": `...)
		d = appendStr(d, c.key.Model)
	case recRemoveEvent:
		typ = "REMOVE_CREDENTIAL"
		d = append(d[:0], `"credential_type": "webauthn", "credential_id": `...)
		d = appendStr(d, o.creds[ev.cred].id)
		d = append(d, `, "username": `...)
		d = appendStr(d, p.Username)
	}
	b = append(b, `{"id": `...)
	b = appendStr(b, randUUID(r))
	b = append(b, `, "time": `...)
	b = strconv.AppendInt(b, rec.ts, 10)
	b = append(b, `, "type": "`+typ+`", "realmId": "corp", "clientId": "airflow", "userId": "`+p.Subject+`", "sessionId": "`+sess+`", "ipAddress": "`+o.ip(ev.person)+`", "details": {`...)
	b = append(b, d...)
	b = append(b, '}')
	if errField != "" {
		b = append(b, `, "error": "`+errField+`"`...)
	}
	return append(b, '}')
}
