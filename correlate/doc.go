// Package correlate links every human Airflow action and every DAG run to the
// hardware-key assertion that backs it, under a written Policy, and gives each
// one of the verdicts DESIGN.md defines.
//
// # Verdicts
//
// A human action is an Airflow audit event with Human set (UI, API or CLI);
// task-state rows and other system events are not actions. For an action by
// person P at time t whose class has max_age M, with clock_skew S:
//
//   - unknown_identity: the actor resolved to no person (empty Person).
//   - verified: P has a hardware-backed assertion in [t−M, t+S] (both ends
//     inclusive).
//   - weak_factor: P authenticated successfully in [t−M, t+S], but not with a
//     hardware-backed assertion (password, OTP, push, SMS, synced passkey, a
//     WebAuthn assertion that is not hardware-backed).
//   - stale: P's latest hardware-backed assertion at or before t−M lies within
//     the lookback, [t−lookback, t−M).
//   - no_assertion: none of the above.
//
// An authentication is an AuthEvent with Outcome success, Category login or
// mfa, a Factor other than none and a human Principal (user, or unset):
// token reuse and session rows (Category session, Factor none) are not
// authentications, nor are failures, nor are sign-ins of services and of the
// provider itself — they count for no one, whatever person they name.
// Authentications whose Person is empty are ignored.
//
// The factor an authentication counts as is its own, except that a WebAuthn
// sign-in whose credential's registration (the latest at or before it, its
// blanks — an Okta unsuspend names no AAGUID — filled by earlier
// registrations of the credential) says platform or passkey_synced takes the
// registration's factor: a sign-in often carries no AAGUID while its
// registration does, and the registration may arrive after the sign-in.
//
// An authentication is hardware-backed when that factor is one of the
// policy's hardware factors (default webauthn, a security key; platform — a
// device-bound platform credential such as Windows Hello, Touch ID or Okta
// FastPass — counts only when the policy names it, and otherwise makes the
// action weak_factor with the reason "device-bound platform credential (…),
// not a security key; policy hardware_factors does not name platform") and,
// in this order:
//
//  1. its credential had been removed at the assertion's time — the latest
//     registration or removal of the credential (matched by source, instance
//     and credential id) at or before the assertion is a removal — then it is
//     not hardware-backed: a removed credential cannot assert, so such an
//     assertion is evidence of a data problem, and it counts only as a weak
//     authentication. An assertion made before the removal still counts in
//     full, even for actions after the removal: the key was registered when
//     it was tapped. A suspension is a removal, an unsuspension a new
//     registration;
//  2. its AAGUID (the event's own, else that of the credential's registration
//     at or before the assertion — a later registration is not consulted, so
//     that a verdict never waits on the future) is on the policy's deny list:
//     not hardware-backed;
//  3. its AAGUID is on the allow list: hardware-backed;
//  4. the event's Hardware flag, when set, decides;
//  5. else the registration's Hardware flag, when set, decides;
//  6. else it is not hardware-backed.
//
// Where several authentications fall in the window, the correlation relies on
// the latest one at or before t, else the earliest one after t. Equal times
// are ordered by assertion id, so the choice is deterministic.
//
// # DAG runs
//
// A run's action id is instance:dag_id:run_id; an audit action's is
// instance:event_log_id. A manual run is linked to a trigger audit event of
// the same instance and dag_id whose time lies in [run−trigger_window,
// run+clock_skew] and that names the run's run_id in its RunID or in its
// Extra JSON (dag_run_id or run_id) — or names no run id at all. Task-level
// "run" events (TaskID set) are not DAG triggers; a trigger whose person
// differs from the run's resolved person is not a match. An event naming the
// run id wins over one matched by time; then the latest trigger at or before
// the run, then the earliest after it. A manual run is the triggering
// person's own act: a linked run gets its trigger's verdict (verified,
// weak_factor, stale, no_assertion or unknown_identity — never inherited),
// person and assertion, with TriggerActionID naming the trigger. A manual run
// with no trigger event but a triggering user (Airflow 3.1+) is judged as a
// trigger-class human action by that person at the run's time; without either
// it is unattributed.
//
// Scheduled, dataset- and asset-triggered runs (and runs of an unknown type)
// inherit from the latest unpause of the DAG at or before run+clock_skew;
// backfill runs from the latest backfill request. Without one they are
// unattributed. An inherited correlation carries the enabling action's id,
// verdict, person and assertion; its assertion age is the one measured for
// that action. Manual and backfill runs are privileged when the trigger and
// backfill classes are; scheduled and asset runs are not (their unpause is the
// privileged action, and alerting every run would repeat it).
//
// # Batch and streaming
//
// Batch correlates in-memory events in any order; Sweep correlates events
// read in time order in one pass, emitting each final verdict as soon as no
// later event can change it, with state bounded by the policy's max_age and
// lookback (a stored period of any length), and SweepParallel does the same
// on several goroutines, split by person; Engine correlates events one at
// a time, in any order within the policy's grace, and emits provisional,
// changed and final verdicts to a Sink. All three evaluate with the same
// code over the same indexed state, so for every action whose events all
// arrive within grace they give identical verdicts. None reads the wall
// clock: verdicts depend only on events, and Correlation.ComputedAt is left
// zero for the caller to stamp.
//
// The engine finalises by a finality watermark: the latest event time it
// has seen, or — once Engine.Progress names the sources and how far each
// is complete — the earliest of those progresses, so that a source that
// lags or is polled slower than another holds back the actions it could
// still change instead of losing its events as late (live sources never
// arrive in time order). An audit action at t is final once the finality
// watermark passes t+clock_skew+grace (its assertion may lie a skew after it
// and arrive grace late); a run once it passes t+2·clock_skew+grace (its
// trigger may lie a skew after it, and the trigger's assertion a skew after
// that). State expires by the same watermark. Events later than grace are
// still taken in (and counted in Stats.Late) but do not change final
// verdicts. Redelivered events (same id) are ignored by both correlators.
//
// The package imports only the standard library, model and yaml.v3.
package correlate
