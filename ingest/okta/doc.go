// Package okta normalizes Okta System Log LogEvents — from GET /api/v1/logs
// pages (a JSON array), Event Hook deliveries (the envelope data.events[]),
// NDJSON exports or single objects — into keytrail's model.
//
// Event id is the LogEvent uuid, time its published timestamp. Sign-ins
// (user.session.start, user.authentication.*) become AuthEvents; factor
// registration (user.mfa.factor.activate) and removal
// (user.mfa.factor.deactivate, user.mfa.factor.reset_all) become both an
// AuthEvent and a model.Authenticator.
//
// The factor comes from debugContext.debugData.factor, else from the
// AuthenticatorEnrollment target's methodTypeUsed, else from
// authenticationContext.credentialType. A WebAuthn sign-in whose
// methodUsedVerifiedProperties include HARDWARE_PROTECTED is explicitly
// hardware; otherwise Hardware is left nil for the enrichment step, which
// looks up the AAGUID registered for CredentialID — the Okta authenticator
// enrollment id (target[type=AuthenticatorEnrollment].id), present in both
// the sign-in and the registration. Non-WebAuthn factors are never hardware.
// A registration with backupEligible=true is a synced passkey: not hardware.
package okta
