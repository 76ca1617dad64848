// Package report builds and verifies keytrail's SOC 2 / ISO/IEC 27001 evidence
// packs: for a period and an Airflow scope, every action with its verdict, the
// exceptions, the authenticator inventory, a reproducible sample, a readable PDF,
// and a signed manifest that lets an auditor check nothing was altered.
//
// The package reads its rows through Source, an interface it declares and the
// store adapter implements; it imports no store, driver or ingest code.
//
// # The pack (Write)
//
//	population.csv     every action in scope, ordered by action_ts, action_id; header PopulationHeader
//	population.jsonl   the same rows, one JSON object per line, keys in PopulationHeader order
//	exceptions.csv     the rows that are neither verified nor inherited from a verified action (IsException); complete, in time order
//	authenticators.csv credentials registered, removed or used in the period, per person, with hardware status and model
//	sample.csv         sample_rank, sample_key, then the population fields of the sampled rows
//	evidence.pdf       the report for people (cover, summary, controls, chart, exceptions by severity
//	                   with summaries by verdict, person and DAG, inventory, completeness, sampling,
//	                   methodology with the policy text, signing key)
//	manifest.json      canonical JSON (CanonicalManifest) of model.Manifest: report id, period, scope,
//	                   keytrail_version, policy_version with policy_text (Options.PolicyText) and
//	                   policy_sha256, queries (text, SHA-256, params, rows), coverage (incl. Airflow
//	                   event_log_id ranges and gaps), data_digest, sample, public_key, and the
//	                   name, SHA-256 and size of every file above
//	manifest.sig       the raw 64-byte Ed25519 signature of the exact bytes of manifest.json
//
// Times are RFC 3339 UTC with milliseconds (TimeFormat); assertion_age_s is seconds
// with three decimals and is empty (null in JSONL) with assertion_ts when no
// assertion backs the action. In the CSV files, free-text values beginning with
// = + - @ tab or CR are prefixed with an apostrophe against spreadsheet formula
// injection; JSONL values are exact.
//
// Rows are streamed: memory holds the aggregates, the sample (at most 60 rows) and
// the rows shown in the PDF's tables (capped; the PDF says when a table is cut).
//
// # The cover digest
//
// manifest.json lists the PDF's hash, so the PDF cannot print the manifest's. The
// cover prints the data digest instead (DataDigest): the SHA-256 of the sha256sum
// listing of the five data files, in name order, which manifest.json records as
// data_digest and Verify recomputes:
//
//	sha256sum authenticators.csv exceptions.csv population.csv population.jsonl sample.csv | sha256sum
//
// # Sampling
//
// SampleAlgorithm: each row's key is HMAC-SHA256(seed, action_id); the sample is
// the n rows with the lowest keys, in key order. One pass, n rows in memory, and
// anyone holding the population and the seed can re-draw it. n is 25, 40 or 60;
// the seed defaults to the report id.
//
// # Keys
//
// The signing key file (LoadPrivateKey) is either a PEM "PRIVATE KEY" block with a
// PKCS#8 Ed25519 key (GenerateKey writes one, mode 0600; so does
// `openssl genpkey -algorithm ed25519`) or the standard base64 of a raw 32-byte
// Ed25519 seed. The PDF prints the public key, its PEM and its fingerprint
// ("SHA256:" + hex SHA-256 of the raw 32-byte key).
//
// # Determinism
//
// The same rows, Options (including GeneratedAt) and key give byte-identical
// files: the PDF's dates are pinned to GeneratedAt, its catalog is sorted and its
// fonts are embedded from the binary; Ed25519 signatures are deterministic.
//
// # Text in the PDF
//
// DejaVu Sans (regular, bold) and Droid Sans Fallback (CJK) are embedded (licences
// in fonts/). Each string is sanitized (control characters become U+FFFD, bidi
// overrides and zero-width characters are dropped, at most 400 runes), split into
// runs by the font that has the glyph, and cut to its cell with an ellipsis. Code
// points neither font has, such as emoji, print as U+FFFD. Right-to-left scripts
// print in logical order (gofpdf has no bidi layout).
//
// # Verification
//
// Verify checks the signature, the canonical form, every file's size and SHA-256,
// the data digest and the policy text's SHA-256. VerifyWithSource also recomputes population.csv,
// population.jsonl, authenticators.csv, the coverage and the query row counts
// through a Source and names the first differing rows.
package report
