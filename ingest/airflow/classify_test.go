package airflow

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

var actionClasses = []model.ActionClass{
	model.ActionTrigger, model.ActionPause, model.ActionUnpause, model.ActionClear,
	model.ActionMarkState, model.ActionDelete, model.ActionConn, model.ActionVariable,
	model.ActionPool, model.ActionUserAdmin, model.ActionBackfill, model.ActionView,
	model.ActionTaskState, model.ActionOther,
}

// TestVocabulary walks every event name every Airflow version writes
// (vocabulary.tsv, derived from Airflow's source) and checks the classifier
// gives it the channel, class, human and privileged its row says, for a row
// whose extra says nothing (the rule-specific readings are tested below).
func TestVocabulary(t *testing.T) {
	require.Greater(t, len(vocabulary), 300)
	names := map[string][]vocabRow{}
	for _, r := range vocabulary {
		names[r.event] = append(names[r.event], r)
	}
	c := NewClassifier()
	for _, r := range vocabulary {
		t.Run(r.kind+"/"+r.event, func(t *testing.T) {
			require.Contains(t, actionClasses, r.class, "class of %s (%s): read %s and classify it", r.event, r.versions, r.source)
			require.NotEmpty(t, r.versions)
			require.NotEmpty(t, r.source)
			require.True(t, Known(r.event))
			want := Class{Action: r.class, Human: true}
			owner := "alice"
			switch r.kind {
			case "view", "model":
				want.Channel = model.ChannelUI
			case "api":
				want.Channel = model.ChannelAPI
				if strings.HasPrefix(r.event, "ui.") || slices.ContainsFunc(names[r.event], func(o vocabRow) bool { return o.kind == "model" }) {
					want.Channel = model.ChannelUI // a bare 2.5–2.8 name shared with a model view reads as ui without extra
				}
			case "cli":
				want.Channel = model.ChannelCLI
			case "system", "state":
				want = Class{Channel: model.ChannelSystem, Action: r.class}
				if r.rule&ruleOwner != 0 {
					owner = "scheduler"
				}
			default:
				t.Fatalf("kind %q", r.kind)
			}
			if r.rule&ruleDaemon != 0 {
				want = Class{Channel: model.ChannelSystem, Action: r.class}
			}
			if r.rule&ruleForm != 0 { // without the form's fields, success/failed is a task-state row
				want = Class{Channel: model.ChannelSystem, Action: model.ActionTaskState}
			}
			want.Privileged = want.Human && IsPrivileged(want.Action)
			require.Equal(t, want, c.Classify(r.event, owner, ""))
		})
	}
	require.Empty(t, c.Unknown())
}

// TestVocabularyFile checks vocabulary.tsv is as gen_vocabulary.py writes it:
// one row per (event, kind), sorted, and one class per name and reader.
func TestVocabularyFile(t *testing.T) {
	kinds := []string{"view", "model", "api", "cli", "system", "state"}
	seen := map[[2]string]bool{}
	for i, r := range vocabulary {
		key := [2]string{r.event, r.kind}
		require.False(t, seen[key], "duplicate row %v", key)
		seen[key] = true
		require.Contains(t, kinds, r.kind)
		if i > 0 {
			p := vocabulary[i-1]
			pk, rk := slices.Index(kinds, p.kind), slices.Index(kinds, r.kind)
			require.True(t, pk < rk || (pk == rk && p.event < r.event), "row %s/%s out of order", r.kind, r.event)
		}
	}
	_, err := mergeVocabulary(vocabulary)
	require.NoError(t, err)
	_, err = parseVocabulary("x\tview\tview\tmaybe\t2.0.0\tsrc")
	require.ErrorContains(t, err, "unknown rule")
	_, err = parseVocabulary("x\tview\tview")
	require.ErrorContains(t, err, "columns")
	_, err = mergeVocabulary([]vocabRow{{event: "x", kind: "view", class: model.ActionView}, {event: "x", kind: "cli", class: model.ActionClear}})
	require.ErrorContains(t, err, "classes")
}

// TestStateChanges are the state changes that read as other before the
// vocabulary was derived from Airflow's source (issue 11 B1): each must be a
// privileged change of its class.
func TestStateChanges(t *testing.T) {
	tests := []struct {
		event, extra string
		channel      model.Channel
		action       model.ActionClass
	}{
		// 2.3+ list views' bulk actions (FAB @action + @action_logging)
		{"action_set_failed", `{"action":"set_failed","rowid":["12","13"]}`, model.ChannelUI, model.ActionMarkState},
		{"action_set_success", ``, model.ChannelUI, model.ActionMarkState},
		{"action_set_running", ``, model.ChannelUI, model.ActionMarkState},
		{"action_set_queued", ``, model.ChannelUI, model.ActionMarkState},
		{"action_set_retry", ``, model.ChannelUI, model.ActionMarkState},
		{"action_set_skipped", ``, model.ChannelUI, model.ActionMarkState},
		{"action_clear", ``, model.ChannelUI, model.ActionClear},
		{"action_clear_downstream", ``, model.ChannelUI, model.ActionClear},
		{"action_muldelete", ``, model.ChannelUI, model.ActionDelete},
		// AirflowModelView.__getattribute__: "<route_base>.<permission>"
		{"dagrun.delete", `{"pk":"42"}`, model.ChannelUI, model.ActionDelete},
		{"taskinstance.delete", ``, model.ChannelUI, model.ActionDelete},
		{"dagrun.edit", ``, model.ChannelUI, model.ActionMarkState},
		{"dagrun.create", ``, model.ChannelUI, model.ActionTrigger},
		{"variables.varimport", ``, model.ChannelUI, model.ActionVariable},
		// 2.9+ REST
		{"api.patch_mapped_task_instance", `{"dry_run":false,"new_state":"failed"}`, model.ChannelAPI, model.ActionMarkState},
		{"ui.patch_mapped_task_instance", `{"dry_run":"false","new_state":"failed"}`, model.ChannelUI, model.ActionMarkState},
		{"api.variable.edit", `{"key":"k","value":"***"}`, model.ChannelAPI, model.ActionVariable},
		// CLI names as Airflow writes them: "cli_" + the decorated function
		{"cli_users_manage_role", ``, model.ChannelCLI, model.ActionUserAdmin},
		{"cli_user_reset_password", ``, model.ChannelCLI, model.ActionUserAdmin},
		{"cli_task_clear", ``, model.ChannelCLI, model.ActionClear},
		{"cli_asset_materialize", ``, model.ChannelCLI, model.ActionTrigger},
		{"cli_drop_archived", ``, model.ChannelCLI, model.ActionDelete},
		{"cli_create_backfill", ``, model.ChannelCLI, model.ActionBackfill},
		// authorisation and team set-up
		{"cli_team_create", ``, model.ChannelCLI, model.ActionUserAdmin},
		{"cli_team_delete", ``, model.ChannelCLI, model.ActionUserAdmin},
		{"cli_permissions_cleanup", ``, model.ChannelCLI, model.ActionUserAdmin},
		{"cli_init_avp", ``, model.ChannelCLI, model.ActionUserAdmin},
		{"cli_update_schema", ``, model.ChannelCLI, model.ActionUserAdmin},
		{"cli_create_all_command", ``, model.ChannelCLI, model.ActionUserAdmin},
		{"cli_create_permissions_command", ``, model.ChannelCLI, model.ActionUserAdmin},
		{"cli_sync_perm", ``, model.ChannelCLI, model.ActionUserAdmin},
	}
	c := NewClassifier()
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			require.Equal(t, Class{Channel: tc.channel, Action: tc.action, Human: true, Privileged: true}, c.Classify(tc.event, "alice", tc.extra))
		})
	}
	require.Empty(t, c.Unknown())
}

// TestSystemRows are rows Airflow writes itself that read as a person's UI
// action before (issue 11 B2).
func TestSystemRows(t *testing.T) {
	tests := []struct {
		event, owner, extra string
		action              model.ActionClass
	}{
		{"stuck in queued", "", "Task was in queued state for longer than 600.0 seconds.", model.ActionTaskState},
		{"stuck in queued reschedule", "", "", model.ActionTaskState},
		{"stuck in queued tries exceeded", "", "", model.ActionTaskState},
		{"task launch failure", "", "", model.ActionTaskState},
		{"ecs task submit failure", "", "", model.ActionTaskState},
		{"batch job submit failure", "", "", model.ActionTaskState},
		{"lambda invoke failure", "", "", model.ActionTaskState},
		{"fail task", "", "", model.ActionTaskState},
		{"skip task", "", "", model.ActionTaskState},
		{"heartbeat timeout", "", "", model.ActionTaskState},
		{"state mismatch", "", "", model.ActionTaskState},
		{"failed", "data-eng", "", model.ActionTaskState},
		{"up_for_retry", "airflow", "", model.ActionTaskState},
		{"deferred", "airflow", "", model.ActionTaskState},
		// DagRun._check_last_n_dagruns_failed (2.9+) pauses the DAG as the scheduler
		{"paused", "scheduler", `{"dag_id":"etl","is_paused":true}`, model.ActionPause},
		{"paused", "Scheduler", `{"dag_id":"etl","is_paused":true}`, model.ActionPause},
		{"cli_scheduler", "airflow", "", model.ActionOther},
		{"cli_task_run", "airflow", "", model.ActionOther},
		{"cli_api_server", "airflow", "", model.ActionOther},
	}
	c := NewClassifier()
	for _, tc := range tests {
		t.Run(tc.event+"/"+tc.owner, func(t *testing.T) {
			require.Equal(t, Class{Channel: model.ChannelSystem, Action: tc.action}, c.Classify(tc.event, tc.owner, tc.extra))
		})
	}
	require.Empty(t, c.Unknown())
	// A person's pause with the same extra is the person's, whatever the
	// name: "airflow" is the quick-start admin's user name too.
	for _, owner := range []string{"airflow", "alice", ""} {
		require.Equal(t, Class{Channel: model.ChannelUI, Action: model.ActionPause, Human: true, Privileged: true},
			c.Classify("paused", owner, `{"dag_id":"etl","is_paused":true}`), owner)
	}
}

// TestPreviews checks that a preview of a change is read as a view (issue 11
// B3): the 2.x confirmation pages (logged under the name of the change, with
// no confirmed=true) and REST calls whose dry_run is not false (dry_run
// defaults to true in every version that logs these endpoints: 2.9+
// api_connexion schemas, 3.x bodies; 3.0 logs the dry runs, 3.1+ skip them).
// A row whose extra is missing cannot be told apart and reads as the change.
func TestPreviews(t *testing.T) {
	view := func(ch model.Channel) Class { return Class{Channel: ch, Action: model.ActionView, Human: true} }
	change := func(ch model.Channel, a model.ActionClass) Class {
		return Class{Channel: ch, Action: a, Human: true, Privileged: true}
	}
	ui, api := model.ChannelUI, model.ChannelAPI
	tests := []struct {
		name, event, extra string
		want               Class
	}{
		// 1.10–2.11 web UI: clear and mark-state views answer first with a preview
		{"2.7 clear preview", "clear", `{"dag_id":"d","task_id":"t","upstream":"false","downstream":"true","only_failed":"false"}`, view(ui)},
		{"2.7 clear confirmed", "clear", `{"dag_id":"d","task_id":"t","confirmed":"true"}`, change(ui, model.ActionClear)},
		{"2.10 clear preview", "clear", `{"downstream":"true","only_failed":"false"}`, view(ui)},
		{"2.10 clear confirmed", "clear", `{"downstream":"true","confirmed":"true"}`, change(ui, model.ActionClear)},
		{"dagrun_clear preview", "dagrun_clear", `{"dag_id":"d","dag_run_id":"r"}`, view(ui)},
		{"dagrun_clear confirmed", "dagrun_clear", `{"dag_id":"d","confirmed":"true"}`, change(ui, model.ActionClear)},
		{"dagrun_success preview", "dagrun_success", `{"dag_run_id":"r","confirmed":"false"}`, view(ui)},
		{"dagrun_success confirmed", "dagrun_success", `{"dag_run_id":"r","confirmed":"true"}`, change(ui, model.ActionMarkState)},
		{"dagrun_failed preview", "dagrun_failed", `{}`, view(ui)},
		{"dagrun_queued confirmed", "dagrun_queued", `{"confirmed":["true"]}`, change(ui, model.ActionMarkState)},
		{"clear without extra", "clear", ``, change(ui, model.ActionClear)},
		{"clear with text extra", "clear", `"garbled"`, change(ui, model.ActionClear)},
		{"confirm page", "confirm", `{"state":"success"}`, view(ui)},
		// 2.9+ REST: dry_run defaults to true
		{"2.9 clear default", "api.post_clear_task_instances", `{"task_ids":["t"]}`, view(api)},
		{"2.9 clear dry run", "ui.post_clear_task_instances", `{"dry_run":true}`, view(ui)},
		{"2.9 clear", "ui.post_clear_task_instances", `{"dry_run":false}`, change(ui, model.ActionClear)},
		{"2.9 set state default", "api.post_set_task_instances_state", `{"new_state":"success"}`, view(api)},
		{"2.9 set state", "api.post_set_task_instances_state", `{"new_state":"success","dry_run":false}`, change(api, model.ActionMarkState)},
		{"2.9 patch ti default", "api.patch_task_instance", `{"new_state":"failed"}`, view(api)},
		{"2.9 patch ti", "api.patch_task_instance", `{"new_state":"failed","dry_run":"False"}`, change(api, model.ActionMarkState)},
		{"2.9 patch mapped ti default", "ui.patch_mapped_task_instance", `{"new_state":"failed"}`, view(ui)},
		{"2.9 clear run default", "api.clear_dag_run", `{}`, view(api)},
		{"2.9 clear run", "api.clear_dag_run", `{"dry_run":false}`, change(api, model.ActionClear)},
		{"2.9 update run state has no dry run", "api.update_dag_run_state", `{"state":"failed"}`, change(api, model.ActionMarkState)},
		// 3.0 logs clear dry runs; 3.1+ log only dry_run=false
		{"3.0 clear run default", "clear_dag_run", `{"only_failed":false,"method":"POST"}`, view(api)},
		{"3.0 clear tis dry run", "post_clear_task_instances", `{"dry_run":true,"method":"POST"}`, view(api)},
		{"3.x clear tis", "post_clear_task_instances", `{"dry_run":false,"method":"POST"}`, change(api, model.ActionClear)},
		{"3.x clear run", "clear_dag_run", `{"dry_run":false,"method":"POST"}`, change(api, model.ActionClear)},
		{"REST without extra", "clear_dag_run", ``, change(api, model.ActionClear)},
	}
	c := NewClassifier()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, c.Classify(tc.event, "alice", tc.extra))
		})
	}
	require.Empty(t, c.Unknown())
}

// TestReads are reads that landed in other before (issue 11 B4).
func TestReads(t *testing.T) {
	tests := []struct {
		event   string
		channel model.Channel
	}{
		{"robots", model.ChannelUI},
		{"dag", model.ChannelUI},
		{"list", model.ChannelUI},
		{"tree_data", model.ChannelUI},
		{"graph_data", model.ChannelUI},
		{"legacy_graph", model.ChannelUI},
		{"legacy_tree", model.ChannelUI},
		{"legacy_gantt", model.ChannelUI},
		{"legacy_calendar", model.ChannelUI},
		{"legacy_duration", model.ChannelUI},
		{"legacy_landing_times", model.ChannelUI},
		{"legacy_tries", model.ChannelUI},
		{"blocked", model.ChannelUI},
		{"rendered", model.ChannelUI},
		{"elasticsearch", model.ChannelUI},
		{"get_task_instances_batch", model.ChannelAPI},
		{"cli_check", model.ChannelCLI},
		{"cli_checkdb", model.ChannelCLI},
		{"cli_status", model.ChannelCLI},
		{"cli_dag_list_dags", model.ChannelCLI},
		{"cli_dag_list_dag_runs", model.ChannelCLI},
		{"cli_dag_list_jobs", model.ChannelCLI},
		{"cli_dag_list_import_errors", model.ChannelCLI},
		{"cli_list_dags", model.ChannelCLI},
		{"cli_list_users", model.ChannelCLI},
		{"cli_asset_list", model.ChannelCLI},
		{"cli_asset_details", model.ChannelCLI},
		{"cli_team_list", model.ChannelCLI},
		{"cli_list_workers", model.ChannelCLI},
		{"cli_list_edge_workers", model.ChannelCLI},
		{"cli_export_archived", model.ChannelCLI},
		{"cli_task_failed_deps", model.ChannelCLI},
	}
	c := NewClassifier()
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			require.Equal(t, Class{Channel: tc.channel, Action: model.ActionView, Human: true}, c.Classify(tc.event, "alice", ""))
		})
	}
	require.Empty(t, c.Unknown())
}

// TestNamesAirflowNeverWrites: names keytrail's earlier table carried that
// no Airflow version writes are unknown now, so they are counted.
func TestNamesAirflowNeverWrites(t *testing.T) {
	for _, name := range []string{"cli_tasks_clear", "cli_users_add_role", "cli_users_reset_password", "api.post_user",
		"create_user", "post_backfill", "api.patch_variable", "get_log", "cli_connections_export", "cli_db_reset", "zombie"} {
		require.False(t, Known(name), name)
	}
}

func TestPrivilegedClasses(t *testing.T) {
	for _, a := range PrivilegedActions {
		require.True(t, IsPrivileged(a))
	}
	for _, a := range []model.ActionClass{model.ActionView, model.ActionTaskState, model.ActionOther, model.ActionRun} {
		require.False(t, IsPrivileged(a))
	}
}

func TestClassifyRules(t *testing.T) {
	c := NewClassifier()
	tests := []struct {
		name, event, owner, extra string
		want                      model.ActionClass
		channel                   model.Channel
	}{
		{"2.7 toggle from unpaused pauses", "paused", "a", `{"is_paused":"false","dag_id":"d"}`, model.ActionPause, model.ChannelUI},
		{"2.7 toggle from paused unpauses", "paused", "a", `{"is_paused":"true"}`, model.ActionUnpause, model.ChannelUI},
		{"2.7 repeated field uses first value", "paused", "a", `{"is_paused":["true","true"]}`, model.ActionUnpause, model.ChannelUI},
		{"2.8+ bool is the new state", "paused", "a", `{"is_paused":true}`, model.ActionPause, model.ChannelUI},
		{"2.8+ bool false unpauses", "paused", "a", `{"is_paused":false}`, model.ActionUnpause, model.ChannelUI},
		{"2.9 api bool", "api.patch_dag", "a", `{"is_paused":false}`, model.ActionUnpause, model.ChannelAPI},
		{"2.9 ui bulk", "ui.patch_dags", "a", `{"is_paused":true}`, model.ActionPause, model.ChannelUI},
		{"REST string is the requested state", "patch_dags", "a", `{"is_paused":"false"}`, model.ActionUnpause, model.ChannelAPI},
		{"no is_paused means pause", "patch_dag", "a", `{"method":"PATCH"}`, model.ActionPause, model.ChannelAPI},
		{"garbage is_paused means pause", "patch_dag", "a", `{"is_paused":"maybe"}`, model.ActionPause, model.ChannelAPI},
		{"mark success form", "success", "a", `{"upstream":"false"}`, model.ActionMarkState, model.ChannelUI},
		{"mark failed form", "failed", "a", `{"origin":"/x","confirmed":"true"}`, model.ActionMarkState, model.ChannelUI},
		{"mark success of a group", "success", "a", `{"group_id":"g"}`, model.ActionMarkState, model.ChannelUI},
		{"task state with unrelated extra", "success", "a", `{"host_name":"w"}`, model.ActionTaskState, model.ChannelSystem},
		{"task state with non-object extra", "failed", "a", `"oops"`, model.ActionTaskState, model.ChannelSystem},
		{"patch dag run state", "patch_dag_run", "a", `{"state":"failed"}`, model.ActionMarkState, model.ChannelAPI},
		{"patch dag run note", "patch_dag_run", "a", `{"note":"x"}`, model.ActionOther, model.ChannelAPI},
		{"patch ti null state and note", "patch_task_instance", "a", `{"new_state":null,"note":"x"}`, model.ActionOther, model.ChannelAPI},
		{"patch ti unparsed extra", "patch_task_instance", "a", `"garbled"`, model.ActionMarkState, model.ChannelAPI},
		{"2.5–2.8 API create: no request values", "connection.create", "a", `{}`, model.ActionConn, model.ChannelAPI},
		{"2.5–2.8 API delete: path parameter", "variable.delete", "a", `{"variable_key":"k"}`, model.ActionVariable, model.ChannelAPI},
		{"2.5–2.8 API edit: path and mask", "connection.edit", "a", `{"connection_id":"c","update_mask":"host"}`, model.ActionConn, model.ChannelAPI},
		{"UI model view form", "connection.create", "a", `{"conn_id":"c","conn_type":"postgres"}`, model.ActionConn, model.ChannelUI},
		{"UI model view delete", "connection.delete", "a", `{"pk":"3"}`, model.ActionConn, model.ChannelUI},
		{"UI model view pool form", "pool.create", "a", `{}`, model.ActionPool, model.ChannelUI},
		{"upper-case name", "TRIGGER", "a", ``, model.ActionTrigger, model.ChannelUI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := c.Classify(tc.event, tc.owner, tc.extra)
			require.Equal(t, tc.want, got.Action)
			require.Equal(t, tc.channel, got.Channel)
		})
	}
	require.Empty(t, c.Unknown())
}

func TestUnknownNames(t *testing.T) {
	var c Classifier // the zero value works
	tests := []struct {
		event   string
		channel model.Channel
	}{
		{"cli_brand_new", model.ChannelCLI},
		{"api.brand_new", model.ChannelAPI},
		{"ui.brand_new", model.ChannelUI},
		{"post_brand_new", model.ChannelAPI},
		{"brand_new_view", model.ChannelUI},
		{"", model.ChannelUI},
	}
	for _, tc := range tests {
		got := c.Classify(tc.event, "", "")
		require.Equal(t, Class{Channel: tc.channel, Action: model.ActionOther, Human: true}, got, tc.event)
		require.False(t, Known(tc.event))
	}
	c.Classify("cli_brand_new", "", "")
	require.Equal(t, int64(2), c.Unknown()["cli_brand_new"])
	require.Equal(t, "cli_brand_new", c.UnknownNames()[0])
	u := c.Unknown()
	u["x"] = 1
	require.NotContains(t, c.Unknown(), "x", "Unknown returns a copy")
}

func TestUnknownCountIsBoundedAndConcurrent(t *testing.T) {
	c := NewClassifier()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				c.Classify("x_"+string(rune('a'+w))+"_"+itoa(i), "", "")
				_ = c.Unknown()
			}
		}(w)
	}
	wg.Wait()
	u := c.Unknown()
	require.LessOrEqual(t, len(u), maxUnknownNames+1)
	var total int64
	for _, v := range u {
		total += v
	}
	require.Equal(t, int64(16000), total)
	require.Positive(t, u[OverflowName])
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
