// Package entra normalizes Microsoft Entra ID sign-ins and directory audits
// into keytrail's model. It accepts Microsoft Graph pages ({"value":[…]},
// with @odata.nextLink), Azure Monitor / Event Hubs exports
// ({"records":[{category, time, properties:{…}}]}), NDJSON and single objects.
//
// Sign-ins (Graph signIn resources, or records of category SignInLogs,
// NonInteractiveUserSignInLogs, ServicePrincipalSignInLogs,
// ManagedIdentitySignInLogs, MicrosoftServicePrincipalSignInLogs) become one
// AuthEvent: event id = id, time = createdDateTime, outcome success when
// status.errorCode is 0.
//
//   - Who: a service principal or managed identity (by category,
//     signInEventTypes servicePrincipal/managedIdentity, managedServiceIdentity,
//     or a servicePrincipalId without a user) is Principal service, with the
//     principal's id as Subject and no Email: stored, never a person.
//   - Not an authentication: a non-interactive sign-in (category
//     NonInteractiveUserSignInLogs, isInteractive false, signInEventTypes
//     nonInteractiveUser) is category session, factor none, whatever its
//     steps say. So is an interactive one whose steps only reuse a claim
//     ("Previously satisfied", "Satisfied by token", a step whose
//     authenticationStepResultDetail says the requirement was satisfied by a
//     claim in the token or by the multi-factor device — even on a FIDO2
//     step), or that presented a token (incomingTokenType) and no step.
//   - The factor is the strongest step that authenticated (succeeded steps
//     when the sign-in succeeded; skipped steps never count), else the
//     strongest of authenticationMethodsUsed when there are no details. The
//     method vocabulary is in methods.go: passwordless phone sign-in is push,
//     voice and calls are phone factors like SMS, OATH hardware and software
//     tokens are TOTP, PTA and PHS are passwords, "FIDO" is WebAuthn.
//   - Keys: an AAGUID at the end of authenticationMethodDetail
//     ("<nickname> - <aaguid>") is kept lower-cased, and then a "FIDO2
//     security key" or "Passkey (device-bound)" step is WebAuthn with
//     Hardware undecided (nil): the AAGUID table decides security key,
//     platform or synced. Without an AAGUID, "FIDO2 security key" keeps
//     Entra's word (hardware) and "Passkey (device-bound)" stays undecided,
//     because Microsoft Authenticator and Windows Hello passkeys are
//     device-bound too. Windows Hello for Business, platform credentials and
//     Authenticator or Windows Hello passkeys are factor platform
//     (hardware-bound, not a security-key tap); "Passkey (synced)" is
//     passkey_synced and never hardware.
//
// Directory audits (records with activityDisplayName, or category AuditLogs)
// that add or delete a credential (Device Registration Service "Add Passkey
// (device-bound)", "Add FIDO2 security key", "Add Windows Hello for Business
// credential", "Add passwordless phone sign-in credential", "Add platform
// credential" and their Delete counterparts) or security info (Authentication
// Methods "User/Admin registered/deleted security info", the method read from
// additionalDetails AuthenticationMethod or resultReason) become an AuthEvent
// of category registration/removal and, when they succeeded, a
// model.Authenticator with the AAGUID from additionalDetails or the target's
// modifiedProperties. "User registered all required security info" is a
// registration that names no method and adds no credential. Other audits are
// kept as category other.
//
// A record that fails to decode is rejected with an error naming the record
// id and the field (see decode.JSON).
package entra
