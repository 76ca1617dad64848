// Package demo generates a realistic, seeded organisation for `keytrail demo`:
// people spread over Okta, Entra ID, Google Workspace and Keycloak, their
// authenticators (hardware security keys with real AAGUIDs, synced passkeys,
// OTP, push, password-only holdouts), and two or three Airflow instances
// (2.10 and 3.1 style) with UI, API and CLI actions, DAG runs and task-state
// rows. Every record is emitted in the provider's raw API shape so that it
// goes through the real normalizers, store, correlator and report.
//
// Generate is deterministic for a Config: the same seed gives byte-identical
// files. Time never comes from the wall clock; Config.Start defaults to a
// fixed date.
//
// The generator records its intent: for every human Airflow action and every
// DAG run it writes the verdict it expects the correlator to reach under the
// default policy (DESIGN.md "Verdicts": privileged max_age 15 min, other
// human actions 12 h, clock skew 5 s). Generation keeps clear margins around
// the window edges — an action whose verdict would change if an
// authentication moved by a minute, or if a session event (token reuse,
// single sign-on, registration) were counted as an authentication, is moved
// or dropped — except for the deliberate clock-skew cases, where the key tap
// comes 1–3.5 s after the action.
//
// It also writes the messy parts on purpose: stale sessions, weak factors,
// an unmapped Airflow user, clock skew, records emitted late and out of
// order, duplicated deliveries, malformed records (broken JSON lines and
// records missing their id or time, expected as dead letters) and a gap in
// an Airflow event_log_id sequence.
//
// The package imports only the standard library and model.
package demo
