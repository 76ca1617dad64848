// Package entra normalizes Microsoft Entra ID sign-ins and directory audits
// into keytrail's model. It accepts Microsoft Graph pages ({"value":[…]},
// with @odata.nextLink), Azure Monitor / Event Hubs exports
// ({"records":[{category, time, properties:{…}}]}), NDJSON and single objects.
//
// Sign-ins (Graph signIn resources, or records of category SignInLogs,
// NonInteractiveUserSignInLogs, ServicePrincipalSignInLogs,
// ManagedIdentitySignInLogs) become one AuthEvent: event id = id, time =
// createdDateTime, outcome success when status.errorCode is 0. The factor is
// the strongest method among authenticationDetails (succeeded steps when the
// sign-in succeeded): "FIDO2 security key" and "Passkey (device-bound)" are
// WebAuthn and explicitly hardware; a synced passkey is passkey_synced and
// never hardware; "Passkey (Microsoft Authenticator)" is WebAuthn left
// undecided for the AAGUID table. A sign-in whose only method is
// "Previously satisfied" is token reuse: category session, factor none —
// not a key tap. An AAGUID at the end of authenticationMethodDetail
// ("<nickname> - <aaguid>") is kept, lower-cased.
//
// Directory audits (records with activityDisplayName, or category AuditLogs)
// that add or delete a passkey or FIDO2 security key become an AuthEvent of
// category registration/removal and a model.Authenticator with the
// additionalDetails AAGuid; other audits are kept as category other.
package entra
