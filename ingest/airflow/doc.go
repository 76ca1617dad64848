// Package airflow normalizes Airflow's audit log and DAG runs into
// keytrail's model and classifies audit events by what a person did.
//
// # Input
//
// One Normalizer takes both record kinds, in every shape users have:
// REST pages ({"event_logs":[…],"total_entries":n} from /api/v1/eventLogs
// (2.x) and /api/v2/eventLogs (3.x); {"dag_runs":[…]} from the dagRuns
// endpoints), single records, JSON arrays, NDJSON, and rows exported from
// the metadata database tables `log` (id, dttm, …) and `dag_run`. The kind
// of each record is detected from its fields (see KindAuto) so one file may
// mix both; set Normalizer.Kind to insist on one.
//
// Event ids: an audit row's id is its event_log_id as a decimal string (the
// database id, the same on every instance that reads the same database); a
// DAG run record's id is dag_id + "/" + run_id + "@" + the first 16 hex
// digits of the SHA-256 of its bytes. A run changes as it goes (queued,
// running, success; cleared and run again; a note added), and neither the
// v1 nor the v2 dagRuns response carries updated_at, so each distinct
// version a collector reads is a record of its own: the same version read
// again is a duplicate, a new version is new evidence, never a conflict.
// The dag_runs table keeps one row per (instance, dag_id, run_id), the
// version stored last.
//
// # extra
//
// Airflow has written the audit row's `extra` as the repr of a list of
// (name, value) tuples (the 1.10–2.8 web UI and REST decorators, and the
// scheduler's auto-pause in every version) and as JSON (2.9+ views and REST
// calls, 3.x, and CLI rows always); scheduler and executor rows hold plain
// text. DecodeExtra turns the reprs (and a dict repr, which exports
// produce) into JSON with a small Python-literal parser
// (PythonLiteralToJSON); text that is none of them is kept verbatim as a JSON
// string.
//
// # Classification
//
// Classifier maps event names to channel (ui, api, cli, system), action
// class, human and privileged. Its table is vocabulary.tsv: every name each
// Airflow version writes (1.10.15, 2.0–2.11, 3.0–3.1), derived from Airflow's
// source by testdata/gen_vocabulary.py — the web UI views and their
// @action_logging, the FAB model views AirflowModelView wraps, the REST
// operations (2.5–2.8 "dag_run.create", 2.9+ "api.<op>" / "ui.<op>", 3.x
// FastAPI endpoint names), the CLI commands ("cli_<function>") and the rows
// the scheduler, executors and task runner write — with the versions and the
// source location of each. See Classifier.Classify for the rules that need
// the row: pause vs unpause, previews (2.x confirmation pages, REST dry runs)
// read as views, the scheduler's auto-pause and task-state rows as system.
// Unknown names are kept as class other and counted.
//
// To re-derive the table after an Airflow release, add the release to
// VERSIONS in testdata/gen_vocabulary.py and run it against git directories
// of apache/airflow (or a fork that carries its tags and main history):
//
//	python3 testdata/gen_vocabulary.py --git2 DIR --git3 DIR          # rewrite vocabulary.tsv
//	python3 testdata/gen_vocabulary.py --git2 DIR --git3 DIR --check  # exit 1 if it is stale
//
// New names get class "?", which TestVocabulary rejects until someone reads
// the source and classifies them.
//
// Known limitation: Airflow 3.0.x recorded extra.is_paused as
// (value == "false") for the JSON body of PATCH /dags/{id}, so every 3.0.x
// pause and unpause reads as an unpause; 3.1+ record the requested state and
// are read correctly.
package airflow
