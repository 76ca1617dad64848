package demo

import (
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Inventory sources: the providers whose APIs list a person's enrolled
// authenticators. Google's Reports API keeps no such list.
var inventorySources = map[model.Source]bool{model.SourceOkta: true, model.SourceEntra: true, model.SourceKeycloak: true}

// HasInventory reports whether src lists a person's authenticators.
func HasInventory(src model.Source) bool { return inventorySources[src] }

// IdPInstance returns the instance name the organisation's records of src
// carry ("" for a source it does not use).
func IdPInstance(src model.Source) string { return idpInstance[src] }

// AppendInventory renders person p's authenticator inventory as their
// identity provider's API returns it at time at, and appends it to b:
//   - Okta: the JSON array of GET /api/v1/users/{id}/factors (WebAuthn
//     factors with profile.credentialId and profile.authenticatorName, plus
//     the person's push or OTP factor);
//   - Entra ID: the Graph page of GET /users/{id}/authentication/fido2Methods
//     (aaGuid, model, attestationLevel);
//   - Keycloak: the JSON array of GET /admin/realms/{realm}/users/{id}/credentials
//     (the password, OTP and WebAuthn credentials, credentialData holding
//     the AAGUID and credential id).
//
// A credential is listed from its registration until its removal. A person
// of another source renders nothing.
func (o *Org) AppendInventory(b []byte, p int, at time.Time) []byte {
	P := &o.People[p]
	ms := at.UnixMilli()
	var creds []*credential
	for i := range o.creds {
		c := &o.creds[i]
		if int(c.person) == p && c.regAt <= ms && (c.remAt == 0 || c.remAt > ms) {
			creds = append(creds, c)
		}
	}
	created := o.cfg.Start.UnixMilli() - 400*dayMS + int64(mix(uint64(p)^o.cfg.Seed)%uint64(200*dayMS))
	switch P.Source {
	case model.SourceOkta:
		return o.appendOktaFactors(b, P, creds, created)
	case model.SourceEntra:
		return o.appendFido2Methods(b, P, creds)
	case model.SourceKeycloak:
		return o.appendKeycloakCredentials(b, P, creds, created)
	}
	return b
}

// credentialID is the WebAuthn credential id of c, base64url as the
// providers show it: Okta's factor id and Entra's method id are ids of their
// own, Keycloak names credentials by the WebAuthn id.
func credentialID(c *credential) string {
	h := mix(uint64(len(c.id)) ^ uint64(c.regAt))
	var sb strings.Builder
	for i := 0; i < 64; i++ {
		const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		if i%8 == 0 {
			h = mix(h + uint64(c.id[i%len(c.id)]))
		}
		sb.WriteByte(chars[h&63])
		h >>= 6
	}
	return sb.String()
}

func (o *Org) appendOktaFactors(b []byte, P *Person, creds []*credential, created int64) []byte {
	const base = "https://acme.okta.com/api/v1/users/"
	links := func(b []byte, id string) []byte {
		b = append(b, `, "_links": {"self": {"href": "`+base+P.Subject+`/factors/`+id+`", "hints": {"allow": ["GET", "DELETE"]}}, "user": {"href": "`+base+P.Subject+`", "hints": {"allow": ["GET"]}}}}`...)
		return b
	}
	b = append(b, '[')
	n := 0
	sep := func() {
		if n > 0 {
			b = append(b, ", "...)
		}
		n++
	}
	switch P.Posture {
	case PosturePush, PostureOTP:
		id := "opf" + strings.ToLower(P.Subject[3:]) + "f"
		typ, provider, vendor := "push", "OKTA", "OKTA"
		if P.Posture == PostureOTP {
			typ, provider, vendor = "token:software:totp", "GOOGLE", "GOOGLE"
		}
		sep()
		b = append(b, `{"id": "`+id+`", "factorType": "`+typ+`", "provider": "`+provider+`", "vendorName": "`+vendor+`", "status": "ACTIVE", "created": `...)
		b = isoMS(b, created)
		b = append(b, `, "lastUpdated": `...)
		b = isoMS(b, created)
		b = append(b, `, "profile": {"credentialId": `...)
		b = appendStr(b, P.ID)
		b = append(b, '}')
		b = links(b, id)
	}
	for _, c := range creds {
		sep()
		b = append(b, `{"id": `...)
		b = appendStr(b, c.id)
		b = append(b, `, "factorType": "webauthn", "provider": "FIDO", "vendorName": "FIDO", "status": "ACTIVE", "created": `...)
		b = isoMS(b, c.regAt)
		b = append(b, `, "lastUpdated": `...)
		b = isoMS(b, c.regAt)
		b = append(b, `, "profile": {"credentialId": "`+credentialID(c)+`", "authenticatorName": `...)
		b = appendStr(b, c.key.Model)
		b = append(b, '}')
		b = links(b, c.id)
	}
	return append(b, ']')
}

func (o *Org) appendFido2Methods(b []byte, P *Person, creds []*credential) []byte {
	b = append(b, `{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('`+P.Subject+`')/authentication/fido2Methods", "value": [`...)
	for i, c := range creds {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, `{"id": `...)
		b = appendStr(b, c.id)
		b = append(b, `, "displayName": `...)
		b = appendStr(b, c.key.Model)
		b = append(b, `, "createdDateTime": `...)
		b = entraTime(b, c.regAt)
		b = append(b, `, "aaGuid": "`+c.key.AAGUID+`", "model": `...)
		b = appendStr(b, c.key.Model)
		if c.synced {
			b = append(b, `, "attestationCertificates": [], "attestationLevel": "notAttested"}`...)
			continue
		}
		b = append(b, `, "attestationCertificates": ["`+strconv.FormatUint(mix(uint64(c.regAt)), 16)+`"], "attestationLevel": "attested"}`...)
	}
	return append(b, "]}"...)
}

func (o *Org) appendKeycloakCredentials(b []byte, P *Person, creds []*credential, created int64) []byte {
	h := mix(uint64(created) ^ o.cfg.Seed)
	b = append(b, `[{"id": "`+uuidFrom(h, mix(h))+`", "type": "password", "createdDate": `...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `, "credentialData": "{\"hashIterations\":27500,\"algorithm\":\"pbkdf2-sha256\",\"additionalParameters\":{}}"}`...)
	if P.Posture == PostureOTP {
		b = append(b, `, {"id": "`+uuidFrom(mix(h+1), h)+`", "type": "otp", "userLabel": "Phone", "createdDate": `...)
		b = strconv.AppendInt(b, created+dayMS, 10)
		b = append(b, `, "credentialData": "{\"subType\":\"totp\",\"digits\":6,\"counter\":0,\"period\":30,\"algorithm\":\"HmacSHA1\"}"}`...)
	}
	for _, c := range creds {
		typ, transports := "webauthn", `\"usb\",\"nfc\"`
		if c.synced || c.platform {
			typ, transports = "webauthn-passwordless", `\"internal\",\"hybrid\"`
		}
		b = append(b, `, {"id": "`+uuidFrom(mix(uint64(c.regAt)), mix(h^uint64(c.regAt)))+`", "type": "`+typ+`", "userLabel": `...)
		b = appendStr(b, c.key.Model)
		b = append(b, `, "createdDate": `...)
		b = strconv.AppendInt(b, c.regAt, 10)
		b = append(b, `, "credentialData": "{\"aaguid\":\"`+c.key.AAGUID+`\",\"credentialId\":\"`+c.id+`\",\"counter\":0,\"attestationStatementFormat\":\"packed\",\"transports\":[`+transports+`]}"}`...)
	}
	return append(b, ']')
}
