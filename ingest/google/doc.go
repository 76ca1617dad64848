// Package google normalizes Google Workspace Admin SDK Reports API login
// activities (activities.list with applicationName=login) into keytrail's
// model. It accepts the API page ({"items":[…]}), a JSON array, NDJSON and
// single activities.
//
// One activity can hold several events. The raw record's id is the
// activity's id.uniqueQualifier and its time id.time; each event becomes its
// own AuthEvent with the stable id "<uniqueQualifier>/<index>/<event name>".
// login_success and login_failure are logins, login_verification and
// login_challenge (and any event with is_second_factor=true) are MFA,
// logout is a session event, 2sv_enroll / 2sv_disable are registration and
// removal; other events are kept as category other.
//
// The factor is the strongest value of the login_challenge_method
// parameter: security_key is WebAuthn and explicitly hardware (Google's only
// hardware signal — it exposes no AAGUID), passkey is WebAuthn left
// undecided, google_authenticator / totp / backup codes are TOTP, Google
// prompts are push, phone codes SMS, password password.
package google
