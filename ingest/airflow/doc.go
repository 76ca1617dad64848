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
// run's id is dag_id + "/" + run_id.
//
// # extra
//
// Airflow has written the audit row's `extra` three ways: the repr of a list
// of (name, value) tuples (≤2.7), the repr of a dict (2.8) and JSON (2.9+,
// 3.x, and CLI rows always). DecodeExtra turns all three into JSON with a
// small Python-literal parser (PythonLiteralToJSON); text that is none of
// them is kept verbatim as a JSON string.
//
// # Classification
//
// Classifier maps event names to channel (ui, api, cli, system), action
// class, human and privileged; see Classifier.Classify for the lookup order
// and the rules that need the row (pause vs unpause from extra.is_paused,
// the 2.x mark-success view vs task-state rows). Unknown names are kept as
// class other and counted.
//
// Known limitation: Airflow 3.0.x recorded extra.is_paused as
// (body value == "false") for the JSON body of PATCH /dags/{id}, so every
// 3.0.x pause and unpause reads as an unpause; later 3.x versions record the
// requested state and are read correctly.
package airflow
