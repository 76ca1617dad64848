// Package keycloak normalizes Keycloak events, as the admin REST API returns
// them (GET /admin/realms/{realm}/events and /admin-events: JSON arrays), and
// as NDJSON or single objects, into keytrail's model.
//
// User events: time is epoch milliseconds. Every type of Keycloak's
// EventType enum (and its _ERROR twin, a failure) has a category in
// eventCategories: LOGIN and the identity-provider logins are logins; token,
// logout, client-login (client credentials), impersonation and device-grant
// events are session events — no one authenticated; UPDATE_CREDENTIAL and
// UPDATE_TOTP register a credential, REMOVE_CREDENTIAL and REMOVE_TOTP remove
// one, unless the credential is a password; CUSTOM_REQUIRED_ACTION registers
// one when its custom_required_action is webauthn-register(-passwordless),
// CONFIGURE_TOTP or CONFIGURE_RECOVERY_AUTHN_CODES. The factor is
// details.credential_type (webauthn and webauthn-passwordless → webauthn,
// otp/totp/hotp → totp, password); a LOGIN naming public_key_credential_id
// is a WebAuthn sign-in even without a credential_type (Keycloak before 26
// sets none). Keycloak gives no explicit hardware signal, so a WebAuthn
// sign-in leaves Hardware nil and carries public_key_credential_id as
// CredentialID for the enrichment step, which finds the AAGUID
// (public_key_credential_aaguid) in the registration. REMOVE_CREDENTIAL
// names Keycloak's own credential id (details.credential_id), not the
// WebAuthn credential id sign-ins carry.
//
// Principals: CLIENT_LOGIN, a client_credentials grant and a client's
// service-account user (username service-account-…) are services, not
// people; everyone else is a user.
//
// Admin events: an admin's removal of a user's credential — operation ACTION
// (DELETE on older servers) on users/{id}/credentials/{credential} — and
// users/{id}/disable-credential-types are removals of the user's
// credentials; other admin events are kept as category other.
//
// A JSON object that has neither a user event's type nor an admin event's
// operationType or authDetails is not a Keycloak event and is rejected as
// such; a field of the wrong JSON type is a type error naming the field and
// the event.
//
// Event id: the event's id field (Keycloak 23+). When absent, a stable id is
// derived: "kc-" + the first 32 hex digits of the SHA-256 of the event's
// identifying fields (realm, time, type or operation, user, session, client,
// IP, error, resource path and the sorted details), so the same event
// fetched twice — even re-serialized — gets the same id.
package keycloak
