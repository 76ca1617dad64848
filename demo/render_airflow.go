package demo

import (
	"strconv"
	"time"
)

// viewNames210 are the reads Airflow 2.10 writes for a person browsing: its
// page views are not logged (2.9 dropped @action_logging from them), but the
// grid's clear and mark-state dialogs first ask /clear, /dagrun_clear and
// /confirm for a preview, logged under the name of the change without
// confirmed=true.
var viewNames210 = []string{"clear", "confirm", "dagrun_clear", "clear", "confirm"}
var cliViews = []string{"cli_dag_list_dags", "cli_dag_state", "cli_task_list"}

// mix is a deterministic hash for choosing variants without consuming randomness.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb64e279c1ac3
	x ^= x >> 33
	return x
}

// eventName returns an action's Airflow event name and its extra as JSON text ("" for null).
func (o *Org) eventName(a *action) (string, string) {
	in := o.insts[a.inst]
	v31 := in.cfg.Version == Airflow31
	h := mix(uint64(a.ts) ^ uint64(a.id)<<20)
	dagID := ""
	if a.dag >= 0 {
		dagID = in.dags[a.dag].id
	}
	d := &in.dags[max(a.dag, 0)]
	task := d.tasks[int((h>>8)%uint64(len(d.tasks)))]
	if a.ch == chCLI {
		cmd := func(args ...string) string {
			b := []byte(`{"host_name": "bastion-01.acme.internal", "full_command": "['/usr/local/bin/airflow'`)
			for _, s := range args {
				b = append(b, ", '"...)
				b = append(b, s...)
				b = append(b, '\'')
			}
			return string(append(b, `]"}`...))
		}
		switch a.kind {
		case kCLIView:
			n := cliViews[int((h)%uint64(len(cliViews)))]
			switch n {
			case "cli_dag_list_dags":
				return n, cmd("dags", "list")
			case "cli_dag_state":
				return n, cmd("dags", "state", dagID, isoRunID(a.ts-a.ts%dayMS-dayMS))
			}
			return n, cmd("tasks", "list", dagID)
		case kTrigger:
			if a.run >= 0 {
				return "cli_dag_trigger", cmd("dags", "trigger", dagID, "--run-id", o.runs[a.run].runID)
			}
			return "cli_dag_trigger", cmd("dags", "trigger", dagID)
		case kPause:
			return "cli_dag_pause", cmd("dags", "pause", dagID)
		case kUnpause:
			return "cli_dag_unpause", cmd("dags", "unpause", dagID)
		case kClear, kMark:
			return "cli_task_clear", cmd("tasks", "clear", dagID, "-t", task, "-y")
		case kVariable:
			return "cli_variables_set", cmd("variables", "set", varKey(h), "***")
		case kConn:
			return "cli_connections_add", cmd("connections", "add", connID(h), "--conn-uri", "***")
		case kPool:
			return "cli_pool_set", cmd("pools", "set", "etl", "16", "etl pool")
		case kUser:
			return "cli_users_create", cmd("users", "create", "--username", "svc_report", "--role", "Viewer")
		case kBackfill:
			from, to := o.backfillRange(a)
			if v31 {
				return "cli_create_backfill", cmd("backfill", "create", "--dag-id", dagID, "--from-date", from, "--to-date", to)
			}
			return "cli_dag_backfill", cmd("dags", "backfill", dagID, "-s", from, "-e", to)
		}
	}
	runRef := func() string {
		if a.run >= 0 {
			return o.runs[a.run].runID
		}
		return "scheduled__" + isoRunID(a.ts-a.ts%dayMS-dayMS)
	}
	if v31 {
		switch a.kind {
		case kView:
			// the only read 3.1 logs: the task-instance list of the grid
			return "get_task_instances_batch", `{"dag_ids": ["` + dagID + `"], "page_limit": 100, "method": "POST"}`
		case kTrigger:
			return "trigger_dag_run", `{"dag_run_id": null, "logical_date": null, "conf": {}, "note": null, "method": "POST"}`
		case kPause:
			return "patch_dag", `{"is_paused": true, "method": "PATCH"}`
		case kUnpause:
			return "patch_dag", `{"is_paused": false, "method": "PATCH"}`
		case kClear:
			if h&1 == 0 {
				return "clear_dag_run", `{"dry_run": false, "only_failed": true, "method": "POST"}`
			}
			return "post_clear_task_instances", `{"dry_run": false, "task_ids": ["` + task + `"], "only_failed": false, "method": "POST"}`
		case kMark:
			return "patch_dag_run", `{"state": "success", "note": null, "method": "PATCH"}`
		case kVariable:
			return "patch_variable", `{"key": "` + varKey(h) + `", "value": "***", "description": null, "method": "PATCH"}`
		case kConn:
			return "post_connection", `{"connection_id": "` + connID(h) + `", "conn_type": "postgres", "host": "db.acme.internal", "password": "***", "method": "POST"}`
		case kPool:
			return "patch_pool", `{"pool": "etl", "slots": 16, "method": "PATCH"}`
		case kBackfill:
			from, to := o.backfillRange(a)
			return "create_backfill", `{"dag_id": "` + dagID + `", "from_date": "` + from + `", "to_date": "` + to + `", "max_active_runs": 4, "method": "POST"}`
		}
		return "get_task_instances_batch", `{"method": "POST"}`
	}
	api := a.ch == chAPI
	switch a.kind {
	case kView:
		// 2.9+ keep dag_id, task_id and dag_run_id out of extra (columns)
		switch n := viewNames210[int((h)%uint64(len(viewNames210)))]; n {
		case "confirm":
			return n, `{"state": "success", "upstream": "false", "downstream": "false", "future": "false", "past": "false", "map_index": "-1"}`
		case "dagrun_clear":
			return n, `{"only_failed": "false", "confirmed": "false"}`
		default:
			return n, `{"upstream": "false", "downstream": "true", "future": "false", "past": "false", "only_failed": "false", "confirmed": "false", "recursive": "true"}`
		}
	case kTrigger:
		if api {
			return "api.post_dag_run", `{"conf": {}, "dag_run_id": "` + runRef() + `", "note": null}`
		}
		return "trigger", `{"dag_id": "` + dagID + `", "run_id": "` + runRef() + `", "conf": "{}", "origin": "/dags/` + dagID + `/grid"}`
	case kPause, kUnpause:
		paused := "true"
		if a.kind == kUnpause {
			paused = "false"
		}
		if api {
			return "api.patch_dag", `{"is_paused": ` + paused + `}`
		}
		return "paused", `{"is_paused": ` + paused + `, "dag_id": "` + dagID + `"}`
	case kClear:
		if api {
			return "api.post_clear_task_instances", `{"dry_run": false, "task_ids": ["` + task + `"], "dag_run_id": "` + runRef() + `", "only_failed": true}`
		}
		return "clear", `{"dag_id": "` + dagID + `", "task_id": "` + task + `", "dag_run_id": "` + runRef() + `", "upstream": "false", "downstream": "true", "future": "false", "past": "false", "only_failed": "false", "confirmed": "true"}`
	case kMark:
		if api {
			return "api.update_dag_run_state", `{"state": "success"}`
		}
		return "dagrun_success", `{"dag_id": "` + dagID + `", "dag_run_id": "` + runRef() + `", "confirmed": "true", "origin": "/dags/` + dagID + `/grid"}`
	case kVariable:
		if api {
			return "api.variable.edit", `{"key": "` + varKey(h) + `", "value": "***"}`
		}
		return "variable.edit", `{"key": "` + varKey(h) + `", "val": "***", "description": ""}`
	case kConn:
		if api {
			return "api.connection.create", `{"connection_id": "` + connID(h) + `", "conn_type": "postgres", "host": "db.acme.internal", "password": "***"}`
		}
		return "connection.edit", `{"conn_id": "` + connID(h) + `", "conn_type": "postgres", "host": "db.acme.internal", "password": "***"}`
	case kPool:
		if api {
			return "api.post_pool", `{"name": "etl", "slots": 16}`
		}
		return "pool.edit", `{"pool": "etl", "slots": "16", "description": "etl pool"}`
	}
	return "confirm", "{}"
}

func varKey(h uint64) string {
	keys := []string{"warehouse_schema", "slack_webhook", "api_token", "batch_size", "feature_flags", "s3_bucket"}
	return keys[int((h>>16)%uint64(len(keys)))]
}

func connID(h uint64) string {
	ids := []string{"warehouse", "s3_raw", "salesforce", "snowflake_prod", "postgres_ops"}
	return ids[int((h>>24)%uint64(len(ids)))]
}

func (o *Org) backfillRange(a *action) (string, string) {
	from, to := "", ""
	for ri := range o.runs {
		r := &o.runs[ri]
		if r.runType == rtBackfill && r.from >= 0 && &o.actions[r.from] == a {
			s := time.UnixMilli(r.logical).UTC().Format("2006-01-02")
			if from == "" {
				from = s
			}
			to = s
		}
	}
	if from == "" {
		d := time.UnixMilli(a.ts).UTC().AddDate(0, 0, -3).Format("2006-01-02")
		return d, d
	}
	return from, to
}

// airflowTime formats an Airflow timestamp: 2.10 writes +00:00, 3.1 Z.
func airflowTime(b []byte, ms int64, v31 bool) []byte {
	t := time.UnixMilli(ms).UTC()
	if v31 {
		return t.AppendFormat(b, `"2006-01-02T15:04:05.000000Z"`)
	}
	return t.AppendFormat(b, `"2006-01-02T15:04:05.000000+00:00"`)
}

// appendRow renders one event log row.
func (o *Org) appendRow(b []byte, in *instData, row *afRow) []byte {
	v31 := in.cfg.Version == Airflow31
	var dagID, taskID, runID, event, owner, extra string
	mapIndex, try := "null", "null"
	logical := int64(-1)
	if row.kind == rowAction {
		a := &o.actions[row.ref]
		event, extra = o.eventName(a)
		owner = o.owner(a)
		if a.dag >= 0 && a.kind != kVariable && a.kind != kConn && a.kind != kPool && a.kind != kUser && !(a.kind == kCLIView && event == "cli_dag_list_dags") {
			dagID = in.dags[a.dag].id
		}
		switch a.kind {
		case kMark:
			if v31 {
				runID = "scheduled__" + isoRunID(a.ts-a.ts%dayMS-dayMS)
			}
		case kClear:
			if v31 && event == "clear_dag_run" {
				runID = "scheduled__" + isoRunID(a.ts-a.ts%dayMS-dayMS)
			}
		}
	} else {
		r := &o.runs[row.ref]
		d := &in.dags[r.dag]
		dagID, taskID, runID = d.id, d.tasks[row.task], r.runID
		event, owner = taskStateNames[row.state], d.owner
		if row.state == tsStuck {
			event, owner = "stuck in queued", ""
			extra = "Task was in queued state for longer than 600.0 seconds; task state will be set back to scheduled."
			if v31 {
				event = "stuck in queued reschedule"
			}
		}
		mapIndex, try = "-1", strconv.Itoa(int(row.try))
		logical = r.logical
	}
	b = append(b, `{"event_log_id": `...)
	b = strconv.AppendInt(b, row.id, 10)
	b = append(b, `, "when": `...)
	b = airflowTime(b, row.ts, v31)
	b = append(b, `, "dag_id": `...)
	b = appendNullStr(b, dagID)
	b = append(b, `, "task_id": `...)
	b = appendNullStr(b, taskID)
	b = append(b, `, "run_id": `...)
	b = appendNullStr(b, runID)
	b = append(b, `, "map_index": `...)
	b = append(b, mapIndex...)
	b = append(b, `, "try_number": `...)
	b = append(b, try...)
	b = append(b, `, "event": `...)
	b = appendStr(b, event)
	if v31 {
		b = append(b, `, "owner": `...)
		b = appendNullStr(b, owner)
		b = append(b, `, "extra": `...)
		b = appendNullStr(b, extra)
		b = append(b, `, "owner_display_name": null, "logical_date": `...)
		if logical >= 0 {
			b = airflowTime(b, logical, true)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `, "dag_display_name": `...)
		b = appendNullStr(b, dagID)
		b = append(b, `, "task_display_name": `...)
		b = appendNullStr(b, taskID)
		return append(b, '}')
	}
	b = append(b, `, "execution_date": `...)
	if logical >= 0 {
		b = airflowTime(b, logical, false)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `, "owner": `...)
	b = appendNullStr(b, owner)
	b = append(b, `, "extra": `...)
	b = appendNullStr(b, extra)
	return append(b, '}')
}

// DAG run phases: the versions of a run the dagRuns endpoint shows over time.
const (
	phaseQueued  uint8 = iota // created, waiting for the scheduler
	phaseRunning              // started
	phaseFinal                // ended (or, for a run still going at the end of the period, running)
)

// appendRun renders one DAG run as the dagRuns endpoint returns it at the
// end of the period.
func (o *Org) appendRun(b []byte, in *instData, r *dagRun) []byte {
	return o.appendRunPhase(b, in, r, phaseFinal)
}

// appendRunPhase renders one DAG run as the dagRuns endpoint returns it
// while the run is in phase.
func (o *Org) appendRunPhase(b []byte, in *instData, r *dagRun, phase uint8) []byte {
	v31 := in.cfg.Version == Airflow31
	d := &in.dags[r.dag]
	tm := func(b []byte, ms int64) []byte {
		if ms <= 0 {
			return append(b, "null"...)
		}
		return airflowTime(b, ms, v31)
	}
	state := "success"
	switch {
	case phase == phaseQueued:
		state = "queued"
		cp := *r
		cp.start, cp.end = 0, 0
		r = &cp
	case phase == phaseRunning || r.end == 0:
		state = "running"
		cp := *r
		cp.end = 0
		r = &cp
	case r.failed:
		state = "failed"
	}
	b = append(b, `{"dag_run_id": `...)
	b = appendStr(b, r.runID)
	b = append(b, `, "dag_id": `...)
	b = appendStr(b, d.id)
	b = append(b, `, "logical_date": `...)
	b = tm(b, r.logical)
	if v31 {
		b = append(b, `, "queued_at": `...)
		b = tm(b, r.queued)
	} else {
		b = append(b, `, "execution_date": `...)
		b = tm(b, r.logical)
	}
	b = append(b, `, "start_date": `...)
	b = tm(b, r.start)
	b = append(b, `, "end_date": `...)
	b = tm(b, r.end)
	if v31 {
		b = append(b, `, "duration": `...)
		if r.end > 0 {
			b = strconv.AppendFloat(b, float64(r.end-r.start)/1000, 'f', 3, 64)
		} else {
			b = append(b, "null"...)
		}
	}
	iv := schedInterval(d.sched)
	b = append(b, `, "data_interval_start": `...)
	b = tm(b, r.logical)
	b = append(b, `, "data_interval_end": `...)
	b = tm(b, r.logical+iv)
	if v31 {
		b = append(b, `, "run_after": `...)
		b = tm(b, r.logical+iv)
	}
	b = append(b, `, "last_scheduling_decision": `...)
	b = tm(b, r.end)
	b = append(b, `, "run_type": `...)
	b = appendStr(b, runTypeName(in.cfg.Version, r.runType))
	b = append(b, `, "state": `...)
	b = appendStr(b, state)
	if v31 {
		b = append(b, `, "triggered_by": `...)
		b = appendStr(b, r.triggeredBy)
		b = append(b, `, "triggering_user_name": `...)
		user := ""
		if (r.runType == rtManual || r.runType == rtBackfill) && r.from >= 0 {
			user = o.owner(&o.actions[r.from])
		}
		b = appendNullStr(b, user)
	} else {
		b = append(b, `, "external_trigger": `...)
		b = strconv.AppendBool(b, r.runType == rtManual)
	}
	b = append(b, `, "conf": {}, "note": null`...)
	if v31 {
		b = append(b, `, "bundle_version": null, "dag_display_name": `...)
		b = appendStr(b, d.id)
	}
	return append(b, '}')
}

// appendStr appends s as a JSON string.
func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func appendNullStr(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendStr(b, s)
}
