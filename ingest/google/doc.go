// Package google normalizes Google Workspace Admin SDK Reports API login
// activities (activities.list with applicationName=login) into keytrail's
// model. It accepts the API page ({"items":[…]}), a JSON array, NDJSON and
// single activities, including the shapes log shippers write: events as one
// object rather than an array, numeric uniqueQualifier and profileId, and the
// Cloud Logging multiStrValue.
//
// One activity can hold several events. Google defines an activity's
// uniqueness by id.uniqueQualifier together with id.time, the application and
// the customer, so the raw record's id is
// "<applicationName>/<customerId>/<time>/<uniqueQualifier>" (time in UTC,
// milliseconds) and each event becomes its own AuthEvent with the id
// "<activity id>/<index>/<event name>".
//
// login_success and login_failure are logins, login_verification and
// login_challenge (and any login with is_second_factor=true) are MFA, logout
// is a session event; a login whose challenges present no credential ("none",
// captcha) or a credential exchange (login_type exchange) is a session event
// too. 2sv_enroll / 2sv_disable and passkey_enrolled / passkey_removed are
// registrations and removals, each with an Authenticator (Google exposes no
// AAGUID and no credential id, so a passkey's hardware stays undecided).
// Other events are kept as category other. An actor whose callerType is KEY
// is Principal service.
//
// The factor is the strongest login_challenge_method value (events.go holds
// the vocabulary): security_key is WebAuthn and explicitly hardware (Google's
// only hardware signal), passkey is WebAuthn left undecided,
// security_key_otp, authenticator codes and backup codes are TOTP, Google
// prompts are push, idv_*_phone are phone factors, idv_*_email email, and
// password and the knowledge_* challenges (which send nothing) are
// knowledge factors counted as password.
package google
