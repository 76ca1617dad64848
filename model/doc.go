// Package model holds keytrail's domain vocabulary: the normalized events that
// collectors produce, the identities that tie them to people, the verdicts the
// correlator gives, and the records an auditor receives. It imports only the
// standard library; every other package depends on it, never the reverse.
//
// Times are UTC with millisecond precision (see Millis). A zero time.Time means
// "absent" and is stored as NULL.
package model
