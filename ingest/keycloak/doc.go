// Package keycloak normalizes Keycloak events, as the admin REST API returns
// them (GET /admin/realms/{realm}/events and /admin-events: JSON arrays), and
// as NDJSON or single objects, into keytrail's model.
//
// User events: time is epoch milliseconds; LOGIN / LOGIN_ERROR are logins,
// token and logout events are session events, CUSTOM_REQUIRED_ACTION with
// custom_required_action=webauthn-register(-passwordless) and
// UPDATE_CREDENTIAL / UPDATE_TOTP are registrations, REMOVE_CREDENTIAL /
// REMOVE_TOTP removals; other types are kept as category other. The factor is
// details.credential_type (webauthn and webauthn-passwordless → webauthn,
// otp → totp, password). Keycloak gives no explicit hardware signal, so a
// WebAuthn sign-in leaves Hardware nil and carries
// public_key_credential_id as CredentialID for the enrichment step, which
// finds the AAGUID (public_key_credential_aaguid) in the registration.
//
// Admin events: a DELETE on users/{id}/credentials/{credential} is a
// removal; other admin events are kept as category other.
//
// Event id: the event's id field (Keycloak 23+). When absent, a stable id is
// derived: "kc-" + the first 32 hex digits of the SHA-256 of the event's
// identifying fields (realm, time, type or operation, user, session, client,
// IP, error, resource path and the sorted details), so the same event
// fetched twice — even re-serialized — gets the same id.
package keycloak
