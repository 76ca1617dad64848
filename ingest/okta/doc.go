// Package okta normalizes Okta System Log LogEvents — from GET /api/v1/logs
// pages (a JSON array), Event Hook deliveries (the envelope data.events[]),
// NDJSON exports or single objects — into keytrail's model.
//
// Event id is the LogEvent uuid, time its published timestamp. The category
// of every event type in Okta's event type catalog that concerns sign-ins,
// sessions, tokens and factors comes from one table (eventCategories):
// user.session.start and the user.authentication.auth* types are logins,
// user.authentication.auth_via_mfa / verify and the Okta Verify types factor
// verifications (a refused push a failure); user.mfa.attempt_bypass, SSO,
// logout, session, impersonation and OAuth 2.0 token events are session
// events — no one authenticated; user.mfa.factor.activate and .unsuspend
// register a factor, .deactivate, .suspend and .reset_all remove one (an
// unsuspend undoes a suspend); system.mfa.* and security.authenticator.* are
// the org's settings, no user's enrollment. Registrations and removals also
// become a model.Authenticator for the target user.
//
// The factor comes from debugData.factor, else the AuthenticatorEnrollment
// target's methodTypeUsed or authenticatorKey, else (primary sign-ins)
// authenticationContext.credentialType, each read through factorNames, the
// documented vocabulary; an enrollment naming an AAGUID is WebAuthn. FastPass
// (signed_nonce) and Windows Hello are platform credentials; a WebAuthn
// credential reached over internal or hybrid transports
// (authenticatorTransports) is a platform credential, one reached over usb,
// nfc or ble a roaming security key; FIDO U2F is a security key. A WebAuthn
// or platform assertion whose methodUsedVerifiedProperties include
// HARDWARE_PROTECTED is explicitly hardware; otherwise Hardware is left nil
// for the enrichment step, which decides from the AAGUID of the
// credential's registration (CredentialID is the enrollment id, present in
// both). A backup-eligible credential (debugData or detailEntry) is a synced
// passkey: not hardware. Non-WebAuthn factors are never hardware.
//
// Principals: the event's subject (the actor, or for registrations the
// target user) is a person when its type is User; Okta's SystemPrincipal is
// the provider itself, any other type (PublicClientApp…) a service.
// Okta's placeholder strings "null" and "unknown" are not values: a missing
// client.ipAddress falls back to request.ipChain[0].ip. A field of the wrong
// JSON type is a type error naming the field and the event.
package okta
