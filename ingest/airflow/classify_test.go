package airflow

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// designNames are the Airflow event names ../shared/DESIGN.md ("Airflow —
// what a human did") and issue 3 list, with the class each must get when the
// row carries no extra. A name missing from the table fails the test.
var designNames = []struct {
	event   string
	channel model.Channel
	action  model.ActionClass
	human   bool
}{
	// 2.x UI views
	{"trigger", model.ChannelUI, model.ActionTrigger, true},
	{"paused", model.ChannelUI, model.ActionPause, true},
	{"clear", model.ChannelUI, model.ActionClear, true},
	{"delete", model.ChannelUI, model.ActionDelete, true},
	{"dagrun_success", model.ChannelUI, model.ActionMarkState, true},
	{"dagrun_failed", model.ChannelUI, model.ActionMarkState, true},
	{"connection.create", model.ChannelUI, model.ActionConn, true},
	{"connection.edit", model.ChannelUI, model.ActionConn, true},
	{"connection.delete", model.ChannelUI, model.ActionConn, true},
	{"variable.create", model.ChannelUI, model.ActionVariable, true},
	{"variable.edit", model.ChannelUI, model.ActionVariable, true},
	{"variable.delete", model.ChannelUI, model.ActionVariable, true},
	{"pool.create", model.ChannelUI, model.ActionPool, true},
	{"graph", model.ChannelUI, model.ActionView, true},
	{"tree", model.ChannelUI, model.ActionView, true},
	{"grid", model.ChannelUI, model.ActionView, true},
	{"code", model.ChannelUI, model.ActionView, true},
	{"log", model.ChannelUI, model.ActionView, true},
	// 2.5–2.8 API
	{"dag_run.create", model.ChannelAPI, model.ActionTrigger, true},
	// 2.9+ api.<op> and ui.<op>
	{"api.post_dag_run", model.ChannelAPI, model.ActionTrigger, true},
	{"api.patch_dag", model.ChannelAPI, model.ActionPause, true},
	{"api.post_clear_task_instances", model.ChannelAPI, model.ActionClear, true},
	{"api.delete_dag", model.ChannelAPI, model.ActionDelete, true},
	{"api.post_connection", model.ChannelAPI, model.ActionConn, true},
	{"api.patch_variable", model.ChannelAPI, model.ActionVariable, true},
	{"api.post_pool", model.ChannelAPI, model.ActionPool, true},
	{"api.post_user", model.ChannelAPI, model.ActionUserAdmin, true},
	{"api.connection.create", model.ChannelAPI, model.ActionConn, true},
	{"api.variable.delete", model.ChannelAPI, model.ActionVariable, true},
	{"ui.post_dag_run", model.ChannelUI, model.ActionTrigger, true},
	{"ui.patch_dag", model.ChannelUI, model.ActionPause, true},
	// 3.x
	{"trigger_dag_run", model.ChannelAPI, model.ActionTrigger, true},
	{"patch_dag", model.ChannelAPI, model.ActionPause, true},
	{"clear_dag_run", model.ChannelAPI, model.ActionClear, true},
	{"post_clear_task_instances", model.ChannelAPI, model.ActionClear, true},
	{"patch_variable", model.ChannelAPI, model.ActionVariable, true},
	{"post_connection", model.ChannelAPI, model.ActionConn, true},
	{"post_backfill", model.ChannelAPI, model.ActionBackfill, true},
	{"create_backfill", model.ChannelAPI, model.ActionBackfill, true},
	{"delete_dag_run", model.ChannelAPI, model.ActionDelete, true},
	{"patch_task_instance", model.ChannelAPI, model.ActionMarkState, true},
	// CLI
	{"cli_dag_trigger", model.ChannelCLI, model.ActionTrigger, true},
	{"cli_dag_unpause", model.ChannelCLI, model.ActionUnpause, true},
	{"cli_dag_pause", model.ChannelCLI, model.ActionPause, true},
	{"cli_tasks_clear", model.ChannelCLI, model.ActionClear, true},
	{"cli_task_clear", model.ChannelCLI, model.ActionClear, true},
	{"cli_backfill", model.ChannelCLI, model.ActionBackfill, true},
	{"cli_dag_backfill", model.ChannelCLI, model.ActionBackfill, true},
	{"cli_connections_add", model.ChannelCLI, model.ActionConn, true},
	{"cli_variables_set", model.ChannelCLI, model.ActionVariable, true},
	{"cli_users_create", model.ChannelCLI, model.ActionUserAdmin, true},
	{"cli_task_run", model.ChannelSystem, model.ActionOther, false},
	{"cli_scheduler", model.ChannelSystem, model.ActionOther, false},
	// task states
	{"running", model.ChannelSystem, model.ActionTaskState, false},
	{"success", model.ChannelSystem, model.ActionTaskState, false},
	{"failed", model.ChannelSystem, model.ActionTaskState, false},
	{"up_for_retry", model.ChannelSystem, model.ActionTaskState, false},
	{"up_for_reschedule", model.ChannelSystem, model.ActionTaskState, false},
	{"skipped", model.ChannelSystem, model.ActionTaskState, false},
	{"upstream_failed", model.ChannelSystem, model.ActionTaskState, false},
}

func TestEveryDesignNameIsClassified(t *testing.T) {
	c := NewClassifier()
	for _, n := range designNames {
		t.Run(n.event, func(t *testing.T) {
			require.True(t, Known(n.event), "%q is missing from the classification table", n.event)
			got := c.Classify(n.event, "", "")
			want := Class{Channel: n.channel, Action: n.action, Human: n.human, Privileged: n.human && IsPrivileged(n.action)}
			require.Equal(t, want, got)
		})
	}
	require.Empty(t, c.Unknown())
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
		name, event, extra string
		want               model.ActionClass
		channel            model.Channel
	}{
		{"2.7 toggle from unpaused pauses", "paused", `{"is_paused":"false","dag_id":"d"}`, model.ActionPause, model.ChannelUI},
		{"2.7 toggle from paused unpauses", "paused", `{"is_paused":"true"}`, model.ActionUnpause, model.ChannelUI},
		{"2.7 repeated field uses first value", "paused", `{"is_paused":["true","true"]}`, model.ActionUnpause, model.ChannelUI},
		{"2.8+ bool is the new state", "paused", `{"is_paused":true}`, model.ActionPause, model.ChannelUI},
		{"2.8+ bool false unpauses", "paused", `{"is_paused":false}`, model.ActionUnpause, model.ChannelUI},
		{"2.8 body", "api.patch_dag", `{"body":{"is_paused":false}}`, model.ActionUnpause, model.ChannelAPI},
		{"REST string is the requested state", "patch_dags", `{"is_paused":"false"}`, model.ActionUnpause, model.ChannelAPI},
		{"no is_paused means pause", "patch_dag", `{"method":"PATCH"}`, model.ActionPause, model.ChannelAPI},
		{"garbage is_paused means pause", "patch_dag", `{"is_paused":"maybe"}`, model.ActionPause, model.ChannelAPI},
		{"mark success form", "success", `{"upstream":"false"}`, model.ActionMarkState, model.ChannelUI},
		{"mark failed form", "failed", `{"origin":"/x","confirmed":"true"}`, model.ActionMarkState, model.ChannelUI},
		{"task state with unrelated extra", "success", `{"host_name":"w"}`, model.ActionTaskState, model.ChannelSystem},
		{"task state with non-object extra", "failed", `"oops"`, model.ActionTaskState, model.ChannelSystem},
		{"api success is never a task state", "api.success", ``, model.ActionMarkState, model.ChannelAPI},
		{"patch dag run state", "patch_dag_run", `{"state":"failed"}`, model.ActionMarkState, model.ChannelAPI},
		{"patch dag run note", "patch_dag_run", `{"note":"x"}`, model.ActionOther, model.ChannelAPI},
		{"patch ti null state and note", "patch_task_instance", `{"new_state":null,"note":"x"}`, model.ActionOther, model.ChannelAPI},
		{"patch ti unparsed extra", "patch_task_instance", `"garbled"`, model.ActionMarkState, model.ChannelAPI},
		{"upper-case name", "TRIGGER", ``, model.ActionTrigger, model.ChannelUI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := c.Classify(tc.event, "t", tc.extra)
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
