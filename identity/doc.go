// Package identity decides which person an identity-provider subject or an
// Airflow actor is.
//
// A person id is a stable canonical string: the person column of the
// operator's mapping file, verbatim, when a mapping row names the subject;
// otherwise the lower-cased email the identity provider reports; otherwise
// "<source>:<subject>" (for example "okta:00u1a2b3c4d5e6f7g8h9").
//
// A Resolver learns identities as auth events are ingested (Observe) and
// from the operator's mapping (ParseMapping), which always wins over
// inference. It resolves Airflow `owner` values in the forms Flask-AppBuilder
// OAuth writes — okta_<sub>, the bare Entra object id, google_<id>, the
// Keycloak preferred_username, a username or an email — to the person of an
// observed IdP identity. Airflow CLI owners are OS user names and are
// resolved only through the mapping. Subjects are compared case-insensitively.
//
// The package imports only the standard library and model.
package identity
