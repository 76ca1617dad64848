package airflow

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var received = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

// resolver returns an identity resolver that knows the people the fixtures use.
func resolver(t testing.TB) *identity.Resolver {
	t.Helper()
	mapping, err := identity.ParseMapping(strings.NewReader("person,source,subject\nalice@example.com,airflow,cli:alice\nroot-on-bastion,airflow,cli:root\n"))
	require.NoError(t, err)
	r, err := identity.NewResolver(mapping, func() time.Time { return received })
	require.NoError(t, err)
	r.Observe(model.SourceOkta, "00u1a2b3c4D5e6F7g8h9", "alice@example.com", "")
	r.Observe(model.SourceEntra, "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "bob@example.com", "")
	r.Observe(model.SourceGoogle, "104857600123456789012", "carol@example.com", "")
	r.Observe(model.SourceKeycloak, "0b7e4d2a-1c3f-4e5a-9b8c-7d6e5f4a3b2c", "dave@example.com", "dave")
	return r
}

func newTestNormalizer(t testing.TB) *Normalizer {
	return &Normalizer{Resolver: resolver(t), Now: func() time.Time { return received }}
}

// goldenEvent is the JSON view of an AirflowEvent in golden files, with the
// field names `keytrail events --kind airflow` uses.
type goldenEvent struct {
	Instance    string `json:"instance"`
	EventLogID  int64  `json:"event_log_id"`
	TS          string `json:"ts"`
	Event       string `json:"event"`
	Channel     string `json:"channel"`
	Action      string `json:"action"`
	Human       bool   `json:"human"`
	Privileged  bool   `json:"privileged"`
	Actor       string `json:"actor"`
	Person      string `json:"person"`
	DagID       string `json:"dag_id"`
	TaskID      string `json:"task_id"`
	RunID       string `json:"run_id"`
	MapIndex    int64  `json:"map_index"`
	TryNumber   int64  `json:"try_number"`
	LogicalDate string `json:"logical_date"`
	Extra       string `json:"extra"`
}

type goldenRun struct {
	Instance       string `json:"instance"`
	DagID          string `json:"dag_id"`
	RunID          string `json:"run_id"`
	RunType        string `json:"run_type"`
	TriggeredBy    string `json:"triggered_by"`
	TriggeringUser string `json:"triggering_user"`
	Person         string `json:"person"`
	TS             string `json:"ts"`
	LogicalDate    string `json:"logical_date"`
	StartDate      string `json:"start_date"`
	EndDate        string `json:"end_date"`
	State          string `json:"state"`
	Conf           string `json:"conf"`
}

type goldenResult struct {
	Offset    int64        `json:"offset"`
	Error     string       `json:"error,omitempty"`
	EventID   string       `json:"event_id,omitempty"`
	RawSHA256 string       `json:"raw_sha256,omitempty"`
	Event     *goldenEvent `json:"event,omitempty"`
	Run       *goldenRun   `json:"run,omitempty"`
}

type goldenFile struct {
	Results []goldenResult   `json:"results"`
	Unknown map[string]int64 `json:"unknown_events"`
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// normalizeFile splits and normalizes a whole input the way `keytrail
// ingest` does, checking the Normalizer contract on every accepted record.
func normalizeFile(t testing.TB, n *Normalizer, data []byte) goldenFile {
	t.Helper()
	var out goldenFile
	for _, p := range ingest.Split(data, n.Envelopes()) {
		r := goldenResult{Offset: p.Offset}
		if p.Err != nil {
			r.Error = "split: " + p.Err.Error()
			out.Results = append(out.Results, r)
			continue
		}
		o, err := n.Normalize(p.Raw, "prod")
		if err != nil {
			r.Error = err.Error()
			out.Results = append(out.Results, r)
			continue
		}
		checkOutput(t, o, p.Raw)
		r.EventID, r.RawSHA256 = o.Raw.EventID, o.Raw.SHA256
		for _, e := range o.Airflow {
			r.Event = &goldenEvent{
				Instance: e.Instance, EventLogID: e.EventLogID, TS: ts(e.TS), Event: e.Event,
				Channel: string(e.Channel), Action: string(e.Action), Human: e.Human, Privileged: e.Privileged,
				Actor: e.Actor, Person: e.Person, DagID: e.DagID, TaskID: e.TaskID, RunID: e.RunID,
				MapIndex: e.MapIndex, TryNumber: e.TryNumber, LogicalDate: ts(e.LogicalDate), Extra: e.Extra,
			}
		}
		for _, run := range o.Runs {
			r.Run = &goldenRun{
				Instance: run.Instance, DagID: run.DagID, RunID: run.RunID, RunType: run.RunType,
				TriggeredBy: run.TriggeredBy, TriggeringUser: run.TriggeringUser, Person: run.Person,
				TS: ts(run.TS), LogicalDate: ts(run.LogicalDate), StartDate: ts(run.StartDate),
				EndDate: ts(run.EndDate), State: run.State, Conf: run.Conf,
			}
		}
		out.Results = append(out.Results, r)
	}
	out.Unknown = n.Unknown()
	return out
}

// checkOutput asserts the ingest.Normalizer contract for an accepted record.
func checkOutput(t testing.TB, o ingest.Output, raw []byte) {
	t.Helper()
	require.NotEmpty(t, o.Raw.EventID)
	require.False(t, o.Raw.TS.IsZero())
	require.Equal(t, raw, o.Raw.Raw)
	require.Equal(t, model.SHA256Hex(raw), o.Raw.SHA256)
	require.Equal(t, model.SourceAirflow, o.Raw.Source)
	require.Equal(t, 1, len(o.Airflow)+len(o.Runs), "one row per record")
	for _, e := range o.Airflow {
		require.Positive(t, e.EventLogID)
		require.False(t, e.TS.IsZero())
		require.Equal(t, o.Raw.TS, e.TS)
		require.Equal(t, fmt.Sprint(e.EventLogID), o.Raw.EventID)
		require.Equal(t, o.Raw.SHA256, e.RawSHA256)
		require.True(t, e.Extra == "" || json.Valid([]byte(e.Extra)), "extra must be JSON: %q", e.Extra)
		require.Equal(t, e.Privileged, e.Human && IsPrivileged(e.Action))
		require.Equal(t, e.Human, e.Channel != model.ChannelSystem)
	}
	for _, r := range o.Runs {
		require.NotEmpty(t, r.DagID)
		require.NotEmpty(t, r.RunID)
		require.False(t, r.TS.IsZero())
		require.Equal(t, RunVersionID(r.DagID, r.RunID, o.Raw.SHA256), o.Raw.EventID)
		require.True(t, r.Conf == "" || json.Valid([]byte(r.Conf)), "conf must be JSON: %q", r.Conf)
	}
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	nd, err := filepath.Glob("testdata/*.ndjson")
	require.NoError(t, err)
	inputs = append(inputs, nd...)
	var n int
	for _, in := range inputs {
		if strings.HasSuffix(in, ".golden.json") {
			continue
		}
		n++
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			require.NoError(t, err)
			got := normalizeFile(t, newTestNormalizer(t), data)
			b, err := json.MarshalIndent(got, "", "  ")
			require.NoError(t, err)
			b = append(b, '\n')
			golden := strings.TrimSuffix(strings.TrimSuffix(in, ".json"), ".ndjson") + ".golden.json"
			if *update {
				require.NoError(t, os.WriteFile(golden, b, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create %s", golden)
			require.Equal(t, string(want), string(b))
		})
	}
	require.GreaterOrEqual(t, n, 10)
}

// TestFixtureClassification spells out the meaning of the key fixture rows so
// a wrong golden update cannot slip through.
func TestFixtureClassification(t *testing.T) {
	type want struct {
		event      string
		channel    model.Channel
		action     model.ActionClass
		human      bool
		privileged bool
		person     string
	}
	tests := map[int64]want{
		1001: {"trigger", model.ChannelUI, model.ActionTrigger, true, true, "alice@example.com"},
		1101: {"trigger", model.ChannelUI, model.ActionTrigger, true, true, "alice@example.com"}, // 2.6.2: "okta_… (Alice Liddell)"
		1102: {"dag_run.create", model.ChannelAPI, model.ActionTrigger, true, true, "carol@example.com"},
		1104: {"success", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		1002: {"paused", model.ChannelUI, model.ActionPause, true, true, "alice@example.com"},
		1003: {"paused", model.ChannelUI, model.ActionUnpause, true, true, "alice@example.com"},
		1004: {"clear", model.ChannelUI, model.ActionClear, true, true, "bob@example.com"},
		1005: {"success", model.ChannelUI, model.ActionMarkState, true, true, "bob@example.com"},
		1006: {"success", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		1008: {"dag_run.create", model.ChannelAPI, model.ActionTrigger, true, true, ""},
		1009: {"connection.create", model.ChannelUI, model.ActionConn, true, true, "carol@example.com"},
		1010: {"graph", model.ChannelUI, model.ActionView, true, false, "alice@example.com"},
		1011: {"cli_dag_trigger", model.ChannelCLI, model.ActionTrigger, true, true, "alice@example.com"},
		1012: {"cli_scheduler", model.ChannelSystem, model.ActionOther, false, false, ""},
		1013: {"custom_plugin_action", model.ChannelUI, model.ActionOther, true, false, "alice@example.com"},
		1015: {"dagrun_clear", model.ChannelUI, model.ActionView, true, false, "bob@example.com"},
		1016: {"connection.create", model.ChannelAPI, model.ActionConn, true, true, "carol@example.com"},
		1017: {"variable.delete", model.ChannelAPI, model.ActionVariable, true, true, "carol@example.com"},
		1018: {"dagrun.delete", model.ChannelUI, model.ActionDelete, true, true, "bob@example.com"},
		1019: {"action_muldelete", model.ChannelUI, model.ActionDelete, true, true, "bob@example.com"},
		1020: {"cli_users_manage_role", model.ChannelCLI, model.ActionUserAdmin, true, true, "root-on-bastion"},
		2001: {"paused", model.ChannelUI, model.ActionPause, true, true, "dave@example.com"},
		2002: {"paused", model.ChannelUI, model.ActionUnpause, true, true, "dave@example.com"},
		2003: {"dag_run.create", model.ChannelAPI, model.ActionTrigger, true, true, "carol@example.com"},
		2004: {"dagrun.create", model.ChannelUI, model.ActionTrigger, true, true, "dave@example.com"},
		2005: {"action_set_failed", model.ChannelUI, model.ActionMarkState, true, true, "dave@example.com"},
		2006: {"clear", model.ChannelUI, model.ActionView, true, false, "dave@example.com"},
		2007: {"variable.create", model.ChannelUI, model.ActionVariable, true, true, "dave@example.com"},
		2009: {"dagrun_failed", model.ChannelUI, model.ActionMarkState, true, true, "dave@example.com"},
		2011: {"failed", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		2013: {"variable.create", model.ChannelAPI, model.ActionVariable, true, true, "carol@example.com"},
		2014: {"dagrun_success", model.ChannelUI, model.ActionView, true, false, "dave@example.com"},
		2015: {"legacy_tree", model.ChannelUI, model.ActionView, true, false, "dave@example.com"},
		3002: {"ui.patch_dag", model.ChannelUI, model.ActionPause, true, true, "bob@example.com"},
		3003: {"paused", model.ChannelUI, model.ActionUnpause, true, true, "bob@example.com"},
		3004: {"api.connection.create", model.ChannelAPI, model.ActionConn, true, true, "carol@example.com"},
		3006: {"cli_user_reset_password", model.ChannelCLI, model.ActionUserAdmin, true, true, "root-on-bastion"},
		3008: {"api.variable.edit", model.ChannelAPI, model.ActionVariable, true, true, "carol@example.com"},
		3009: {"success", model.ChannelUI, model.ActionMarkState, true, true, "alice@example.com"},
		3010: {"success", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		3011: {"cli_task_clear", model.ChannelCLI, model.ActionClear, true, true, "root-on-bastion"},
		3012: {"cli_dag_unpause", model.ChannelCLI, model.ActionUnpause, true, true, "alice@example.com"},
		3013: {"cli_task_run", model.ChannelSystem, model.ActionOther, false, false, ""},
		3016: {"ui.post_clear_task_instances", model.ChannelUI, model.ActionView, true, false, "bob@example.com"},
		3017: {"ui.post_clear_task_instances", model.ChannelUI, model.ActionClear, true, true, "bob@example.com"},
		3018: {"api.post_set_task_instances_state", model.ChannelAPI, model.ActionView, true, false, "carol@example.com"},
		3019: {"api.patch_mapped_task_instance", model.ChannelAPI, model.ActionMarkState, true, true, "carol@example.com"},
		3020: {"stuck in queued", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		3021: {"task launch failure", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		3022: {"ecs task submit failure", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		3023: {"paused", model.ChannelSystem, model.ActionPause, false, false, ""},
		3024: {"taskinstance.delete", model.ChannelUI, model.ActionDelete, true, true, "alice@example.com"},
		3025: {"confirm", model.ChannelUI, model.ActionView, true, false, "alice@example.com"},
		4002: {"patch_dag", model.ChannelAPI, model.ActionPause, true, true, "alice@example.com"},
		4003: {"patch_dag", model.ChannelAPI, model.ActionUnpause, true, true, "alice@example.com"},
		4004: {"clear_dag_run", model.ChannelAPI, model.ActionClear, true, true, "dave@example.com"},
		4008: {"create_backfill", model.ChannelAPI, model.ActionBackfill, true, true, "dave@example.com"},
		4009: {"materialize_asset", model.ChannelAPI, model.ActionTrigger, true, true, "dave@example.com"},
		4011: {"patch_task_instance", model.ChannelAPI, model.ActionMarkState, true, true, "dave@example.com"},
		4012: {"patch_task_instance", model.ChannelAPI, model.ActionOther, true, false, "dave@example.com"},
		4013: {"running", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		4015: {"fail task", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		4016: {"skip task", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		4017: {"get_task_instances_batch", model.ChannelAPI, model.ActionView, true, false, "dave@example.com"},
		4018: {"cli_team_create", model.ChannelCLI, model.ActionUserAdmin, true, true, "root-on-bastion"},
		4019: {"lambda invoke failure", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		4020: {"paused", model.ChannelSystem, model.ActionPause, false, false, ""},
		6001: {"clear_dag_run", model.ChannelAPI, model.ActionView, true, false, "dave@example.com"},
		6002: {"post_clear_task_instances", model.ChannelAPI, model.ActionView, true, false, "dave@example.com"},
		6003: {"post_clear_task_instances", model.ChannelAPI, model.ActionClear, true, true, "dave@example.com"},
		6004: {"patch_dag", model.ChannelAPI, model.ActionUnpause, true, true, "dave@example.com"}, // 3.0 records is_paused false for every PATCH (doc.go)
		6005: {"task launch failure", model.ChannelSystem, model.ActionTaskState, false, false, ""},
		6006: {"cli_asset_materialize", model.ChannelCLI, model.ActionTrigger, true, true, "alice@example.com"},
		5003: {"cli_connections_add", model.ChannelCLI, model.ActionConn, true, true, "root-on-bastion"},
		5004: {"cli_users_create", model.ChannelCLI, model.ActionUserAdmin, true, true, "root-on-bastion"},
	}
	got := map[int64]model.AirflowEvent{}
	inputs, err := filepath.Glob("testdata/*_event_logs.json")
	require.NoError(t, err)
	inputs = append(inputs, "testdata/db_log_export.ndjson")
	n := newTestNormalizer(t)
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		require.NoError(t, err)
		for _, p := range ingest.Split(data, n.Envelopes()) {
			o, err := n.Normalize(p.Raw, "prod")
			require.NoError(t, err, in)
			for _, e := range o.Airflow {
				got[e.EventLogID] = e
			}
		}
	}
	for id, w := range tests {
		e, ok := got[id]
		require.True(t, ok, "fixture row %d", id)
		require.Equal(t, w, want{e.Event, e.Channel, e.Action, e.Human, e.Privileged, e.Person}, "row %d", id)
	}
	require.Equal(t, map[string]int64{"custom_plugin_action": 1, "ui.frobnicate_dag": 1}, n.Unknown())
}

func TestExtraEncodings(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"2.7 list of tuples", `"[('dag_id', 'x'), ('conf', '{}')]"`, `{"dag_id":"x","conf":"{}"}`},
		{"2.7 repeated field", `"[('map_index', '1'), ('map_index', '2'), ('dag_id', 'x')]"`, `{"map_index":["1","2"],"dag_id":"x"}`},
		{"2.7 empty list: no request values", `"[]"`, `{}`},
		{"2.8 appended bool", `"[('dag_id', 'x'), ('is_paused', True)]"`, `{"dag_id":"x","is_paused":true}`},
		{"2.x bulk action rowids", `"[('action', 'set_failed'), ('rowid', '12'), ('rowid', '13')]"`, `{"action":"set_failed","rowid":["12","13"]}`},
		{"2.x form value holding JSON", `"[('conf', '{\"a\": [1, 2]}'), ('unpause', 'on')]"`, `{"conf":"{\"a\": [1, 2]}","unpause":"on"}`},
		{"2.x masked connection extra", `"[('conn_id', 'c'), ('extra', '{\"password\": \"***\"}')]"`, `{"conn_id":"c","extra":"{\"password\": \"***\"}"}`},
		{"auto-pause (every version)", `"[('dag_id', 'etl'), ('is_paused', True)]"`, `{"dag_id":"etl","is_paused":true}`},
		{"dict repr (exports)", `"{'is_paused': True, 'dag_id': 'x', 'n': None}"`, `{"is_paused":true,"dag_id":"x","n":null}`},
		{"dict repr nested", `"{'body': {'conf': {'a': [1, 2.5, -3]}, 't': (1,)}}"`, `{"body":{"conf":{"a":[1,2.5,-3]},"t":[1]}}`},
		{"scheduler text", `"Task was in queued state for longer than 600.0 seconds."`, `"Task was in queued state for longer than 600.0 seconds."`},
		{"CLI JSON", `"{\"host_name\": \"b\", \"full_command\": \"['airflow', 'dags', 'list']\"}"`, `{"host_name":"b","full_command":"['airflow', 'dags', 'list']"}`},
		{"JSON", `"{\"is_paused\": true, \"method\": \"PATCH\"}"`, `{"is_paused":true,"method":"PATCH"}`},
		{"JSON with <html>", `"{\"a\": \"<b>&\"}"`, `{"a":"<b>&"}`},
		{"object value", `{"is_paused": true}`, `{"is_paused":true}`},
		{"null", `null`, ``},
		{"missing", ``, ``},
		{"empty string", `""`, ``},
		{"unparseable kept verbatim", `"<function x at 0x7f>"`, `"<function x at 0x7f>"`},
		{"datetime call kept verbatim", `"{'d': datetime.datetime(2024, 1, 1)}"`, `"{'d': datetime.datetime(2024, 1, 1)}"`},
		{"python escapes", `"{'a': 'it\\'s', 'b': \"say \\\"hi\\\"\", 'c': 'caf\\xe9 \\u00e9 \\U0001F600 \\n\\t\\\\', 'd': b'raw'}"`, `{"a":"it's","b":"say \"hi\"","c":"café é 😀 \n\t\\","d":"raw"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DecodeExtra(json.RawMessage(tc.in))
			require.Equal(t, tc.want, got)
			if got != "" {
				require.True(t, json.Valid([]byte(got)))
			}
		})
	}
}

func TestPythonLiteral(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: `None`, want: `null`},
		{in: `True`, want: `true`},
		{in: `False`, want: `false`},
		{in: `0`, want: `0`},
		{in: `-12`, want: `-12`},
		{in: `1_000`, want: `1000`},
		{in: `0x1F`, want: `31`},
		{in: `0o17`, want: `15`},
		{in: `0b101`, want: `5`},
		{in: `123456789012345678901234567890`, want: `123456789012345678901234567890`},
		{in: `1.5`, want: `1.5`},
		{in: `.5`, want: `0.5`},
		{in: `5.`, want: `5`},
		{in: `1e-5`, want: `1e-05`},
		{in: `-2.5E+3`, want: `-2500`},
		{in: `'a'`, want: `"a"`},
		{in: `"a'b"`, want: `"a'b"`},
		{in: `'a\'b'`, want: `"a'b"`},
		{in: `r'a\nb'`, want: `"a\\nb"`},
		{in: `u'x' 'y'`, want: `"xy"`},
		{in: `'''tri'ple'''`, want: `"tri'ple"`},
		{in: `'\101\x41\u0041'`, want: `"AAA"`},
		{in: `'\q'`, want: `"\\q"`},
		{in: `'\ud800'`, want: "\"\uFFFD\""},
		{in: `[]`, want: `[]`},
		{in: `()`, want: `[]`},
		{in: `(1,)`, want: `[1]`},
		{in: `[1, 2,]`, want: `[1,2]`},
		{in: `{}`, want: `{}`},
		{in: `{1, 2}`, want: `[1,2]`},
		{in: `{'a': 1, 2: 'b', (1, 2): None,}`, want: `{"a":1,"2":"b","[1,2]":null}`},
		{in: ` [ ( 'k' , 'v' ) ] `, want: `[["k","v"]]`},
		{in: `'a`, bad: true},
		{in: `[1`, bad: true},
		{in: `{'a' 1}`, bad: true},
		{in: `true`, bad: true},
		{in: `inf`, bad: true},
		{in: `1e999`, bad: true},
		{in: `1j`, bad: true},
		{in: `f'x'`, bad: true},
		{in: `'\N{DASH}'`, bad: true},
		{in: `[1] [2]`, bad: true},
		{in: `'line` + "\n" + `break'`, bad: true},
		{in: strings.Repeat("[", 1000) + strings.Repeat("]", 1000), bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := PythonLiteralToJSON(tc.in)
			if tc.bad {
				require.ErrorIs(t, err, ErrPythonLiteral)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.True(t, json.Valid([]byte(got)))
		})
	}
}

func TestParseTime(t *testing.T) {
	base := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024-03-04T05:06:07Z", base},
		{"2024-03-04T05:06:07.1Z", base.Add(100 * time.Millisecond)},
		{"2024-03-04T05:06:07.12Z", base.Add(120 * time.Millisecond)},
		{"2024-03-04T05:06:07.123Z", base.Add(123 * time.Millisecond)},
		{"2024-03-04T05:06:07.1234Z", base.Add(123400 * time.Microsecond)},
		{"2024-03-04T05:06:07.12345Z", base.Add(123450 * time.Microsecond)},
		{"2024-03-04T05:06:07.123456Z", base.Add(123456 * time.Microsecond)},
		{"2024-03-04T05:06:07.1234567Z", base.Add(1234567 * 100 * time.Nanosecond)},
		{"2024-03-04T05:06:07.123456789Z", base.Add(123456789 * time.Nanosecond)},
		{"2024-03-04T05:06:07+00:00", base},
		{"2024-03-04T07:06:07+02:00", base},
		{"2024-03-04T03:36:07-01:30", base},
		{"2024-03-04T07:06:07+0200", base},
		{"2024-03-04T07:06:07+02", base},
		{"2024-03-04 05:06:07.5+00", base.Add(500 * time.Millisecond)},
		{"2024-03-04 05:06:07", base},
		{"2024-03-04T05:06", base.Add(-7 * time.Second)},
		{"2024-03-04T05:06:07,25Z", base.Add(250 * time.Millisecond)},
		{"2024-03-04", time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTime(tc.in)
			require.NoError(t, err)
			require.True(t, tc.want.Equal(got), "got %s want %s", got, tc.want)
			require.Equal(t, time.UTC, got.Location())
		})
	}
	for _, bad := range []string{"", "yesterday", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-03-04T25:00:00Z",
		"2024-03-04T05:06:07.Z", "2024-03-04T05:06:07.1234567890Z", "2024-03-04T05:06:07+2:00", "2024-03-04T05:06:07 UTC",
		"2024-03-04T05:06:07Zjunk", "1709528767", "2024/03/04 05:06:07"} {
		_, err := ParseTime(bad)
		require.ErrorIs(t, err, ErrTime, bad)
	}
}

func TestKindSelection(t *testing.T) {
	ev := []byte(`{"event_log_id":1,"when":"2024-01-01T00:00:00Z","event":"trigger"}`)
	run := []byte(`{"dag_id":"d","dag_run_id":"r","run_type":"manual","queued_at":"2024-01-01T00:00:00Z"}`)
	for _, tc := range []struct {
		kind       Kind
		raw        []byte
		err        error
		events, rs int
	}{
		{KindAuto, ev, nil, 1, 0},
		{KindAuto, run, nil, 0, 1},
		{KindEvents, ev, nil, 1, 0},
		{KindEvents, run, ErrWrongKind, 0, 0},
		{KindRuns, run, nil, 0, 1},
		{KindRuns, ev, ErrWrongKind, 0, 0},
		{KindRuns, []byte(`{"x":1}`), ErrShape, 0, 0},
	} {
		n := &Normalizer{Kind: tc.kind}
		o, err := n.Normalize(tc.raw, "i")
		if tc.err != nil {
			require.ErrorIs(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Len(t, o.Airflow, tc.events)
		require.Len(t, o.Runs, tc.rs)
	}
}

func TestRunTimeFallback(t *testing.T) {
	n := &Normalizer{}
	for _, tc := range []struct{ rec, want string }{
		{`{"dag_id":"d","dag_run_id":"r","queued_at":"2024-01-01T00:00:01Z","start_date":"2024-01-01T00:00:02Z","logical_date":"2024-01-01T00:00:00Z"}`, "2024-01-01T00:00:01Z"},
		{`{"dag_id":"d","dag_run_id":"r","queued_at":null,"start_date":"2024-01-01T00:00:02Z","logical_date":"2024-01-01T00:00:00Z"}`, "2024-01-01T00:00:02Z"},
		{`{"dag_id":"d","dag_run_id":"r","logical_date":"2024-01-01T00:00:00Z"}`, "2024-01-01T00:00:00Z"},
		{`{"dag_id":"d","run_id":"r","run_type":"manual","execution_date":"2024-01-01T00:00:03Z"}`, "2024-01-01T00:00:03Z"},
		{`{"dag_id":"d","dag_run_id":"r","logical_date":null,"run_after":"2024-01-01T00:00:04Z"}`, "2024-01-01T00:00:04Z"},
	} {
		o, err := n.Normalize([]byte(tc.rec), "i")
		require.NoError(t, err, tc.rec)
		require.Equal(t, tc.want, o.Runs[0].TS.Format(time.RFC3339), tc.rec)
		require.Equal(t, "d/r@"+model.SHA256Hex([]byte(tc.rec))[:16], o.Raw.EventID)
	}
}

// TestRunVersions: every distinct version of a run is a record of its own
// (the dagRuns responses carry no updated_at), the same version read again
// has the same id, and every version updates the same dag_runs row.
func TestRunVersions(t *testing.T) {
	n := New()
	versions := []string{
		`{"dag_run_id": "manual__1", "dag_id": "d", "queued_at": "2025-03-03T10:00:00Z", "start_date": null, "end_date": null, "run_type": "manual", "state": "queued"}`,
		`{"dag_run_id": "manual__1", "dag_id": "d", "queued_at": "2025-03-03T10:00:00Z", "start_date": "2025-03-03T10:00:02Z", "end_date": null, "run_type": "manual", "state": "running"}`,
		`{"dag_run_id": "manual__1", "dag_id": "d", "queued_at": "2025-03-03T10:00:00Z", "start_date": "2025-03-03T10:00:02Z", "end_date": "2025-03-03T10:05:00Z", "run_type": "manual", "state": "success"}`,
		`{"dag_run_id": "manual__1", "dag_id": "d", "queued_at": "2025-03-03T10:00:00Z", "start_date": "2025-03-03T10:00:02Z", "end_date": "2025-03-03T10:05:00Z", "run_type": "manual", "state": "success", "note": "checked"}`,
	}
	ids := map[string]bool{}
	for _, v := range versions {
		o, err := n.Normalize([]byte(v), "i")
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(o.Raw.EventID, "d/manual__1@"), o.Raw.EventID)
		require.False(t, ids[o.Raw.EventID], "two versions share id %s", o.Raw.EventID)
		ids[o.Raw.EventID] = true
		again, err := n.Normalize([]byte(v), "i")
		require.NoError(t, err)
		require.Equal(t, o.Raw.EventID, again.Raw.EventID)
		require.Len(t, o.Runs, 1)
		require.Equal(t, "d", o.Runs[0].DagID)
		require.Equal(t, "manual__1", o.Runs[0].RunID)
	}
}

// TestRunTypeBefore24: the REST API writes no run_type before 2.4 (2.0–2.3
// DAGRunSchema); it is derived from external_trigger and the run id prefix
// DagRun.generate_run_id gives ("<run_type>__<date>"; 1.10 backfills
// "backfill_<date>"). Issue 11 B5: such manual runs were unattributed.
func TestRunTypeBefore24(t *testing.T) {
	n := &Normalizer{}
	for _, tc := range []struct {
		runID, external, runType, want string
	}{
		{"manual__2022-03-01T10:00:00+00:00", `true`, ``, model.RunManual},
		{"my_custom_run", `true`, ``, model.RunManual},                        // REST trigger with its own dag_run_id
		{"scheduled__2022-03-01T00:00:00+00:00", `true`, ``, model.RunManual}, // somebody triggered it under that name
		{"scheduled__2022-02-28T00:00:00+00:00", `false`, ``, model.RunScheduled},
		{"backfill__2022-02-01T00:00:00+00:00", `false`, ``, model.RunBackfill},
		{"backfill_2019-02-01T00:00:00", `false`, ``, model.RunBackfill}, // 1.10
		{"dataset_triggered__2022-12-01T00:00:00+00:00", `false`, ``, model.RunDatasetTriggered},
		{"asset_triggered__2025-06-01T00:00:00+00:00", `false`, ``, model.RunAssetTriggered},
		{"odd_run", `false`, ``, model.RunScheduled},
		{"manual__2022-03-01T10:00:00+00:00", `null`, ``, model.RunManual},
		{"scheduled__2022-02-28T00:00:00+00:00", `"False"`, ``, model.RunScheduled}, // CSV export
		{"manual__x", `1`, ``, model.RunManual},
		{"odd_run", `null`, ``, ""},
		{"manual__2024-01-01", `true`, `"scheduled"`, model.RunScheduled}, // 2.4+: run_type wins
		{"r", `true`, `"asset_triggered"`, model.RunAssetTriggered},
	} {
		rec := `{"dag_id":"d","dag_run_id":"` + tc.runID + `","logical_date":"2022-03-01T00:00:00+00:00","external_trigger":` + tc.external
		if tc.runType != "" {
			rec += `,"run_type":` + tc.runType
		}
		rec += `}`
		o, err := n.Normalize([]byte(rec), "i")
		require.NoError(t, err, rec)
		require.Equal(t, tc.want, o.Runs[0].RunType, rec)
	}
	_, err := n.Normalize([]byte(`{"dag_id":"d","dag_run_id":"r","logical_date":"2022-03-01T00:00:00Z","external_trigger":"maybe"}`), "i")
	require.ErrorIs(t, err, ErrBadField)
}

// TestOwnerWithFullName: Airflow 2.6.2–2.6.3 wrote the owner of web UI and
// REST rows as "<username> (<full name>)"; the actor is the user name.
func TestOwnerWithFullName(t *testing.T) {
	for _, tc := range []struct{ owner, want string }{
		{"okta_00u1a2b3c4D5e6F7g8h9 (Alice Liddell)", "okta_00u1a2b3c4D5e6F7g8h9"},
		{"carol@example.com (Carol (CD) Danvers)", "carol@example.com"},
		{"admin ()", "admin"},
		{"alice", "alice"},
		{"Alice Liddell (alice)", "Alice Liddell (alice)"}, // a user name has no space
		{"alice (", "alice ("},
		{"", ""},
	} {
		require.Equal(t, tc.want, ownerUsername(tc.owner), tc.owner)
	}
	n := newTestNormalizer(t)
	rec := func(event, owner string) model.AirflowEvent {
		o, err := n.Normalize([]byte(`{"event_log_id":1,"when":"2023-07-01T09:00:00Z","event":"`+event+`","owner":"`+owner+`"}`), "i")
		require.NoError(t, err)
		return o.Airflow[0]
	}
	e := rec("trigger", "okta_00u1a2b3c4D5e6F7g8h9 (Alice Liddell)")
	require.Equal(t, "okta_00u1a2b3c4D5e6F7g8h9", e.Actor)
	require.Equal(t, "alice@example.com", e.Person)
	require.Equal(t, "data eng (team)", rec("success", "data eng (team)").Actor, "task owners are kept")
	require.Equal(t, "root (x)", rec("cli_dag_trigger", "root (x)").Actor, "OS users are kept")
}

func TestDuplicateIDsAreIdempotent(t *testing.T) {
	n := &Normalizer{Now: func() time.Time { return received }}
	rec := []byte(`{"event_log_id":42,"when":"2024-01-01T00:00:00Z","event":"trigger","owner":"x"}`)
	a, err := n.Normalize(rec, "prod")
	require.NoError(t, err)
	b, err := n.Normalize(bytes.Clone(rec), "prod")
	require.NoError(t, err)
	require.Equal(t, a, b, "the same record normalizes to the same rows, so the store can deduplicate by id")
}

func TestNormalizeDoesNotRetainInput(t *testing.T) {
	n := &Normalizer{}
	rec := []byte(`{"event_log_id":42,"when":"2024-01-01T00:00:00Z","event":"trigger","owner":"x"}`)
	o, err := n.Normalize(rec, "prod")
	require.NoError(t, err)
	for i := range rec {
		rec[i] = 'x'
	}
	require.Equal(t, model.SHA256Hex(o.Raw.Raw), o.Raw.SHA256)
	require.Contains(t, string(o.Raw.Raw), `"event_log_id":42`)
}

func TestTenMegabyteFile(t *testing.T) {
	data, count := bigNDJSON(10 << 20)
	n := &Normalizer{}
	pieces := ingest.Split(data, n.Envelopes())
	require.Len(t, pieces, count)
	ids := map[string]bool{}
	for _, p := range pieces {
		require.NoError(t, p.Err)
		o, err := n.Normalize(p.Raw, "prod")
		require.NoError(t, err)
		ids[o.Raw.EventID] = true
	}
	require.Len(t, ids, count)
	require.Empty(t, n.Unknown())
}

func TestConcurrentNormalize(t *testing.T) {
	data, count := bigNDJSON(1 << 20)
	pieces := ingest.Split(data, nil)
	require.Len(t, pieces, count)
	n := &Normalizer{Resolver: resolver(t), Classifier: NewClassifier()}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range pieces {
				if _, err := n.Normalize(p.Raw, "prod"); err != nil {
					t.Error(err)
					return
				}
				n.Classifier.Classify("made_up", "", "")
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(4*count), n.Unknown()["made_up"])
}

// bigNDJSON returns at least size bytes of NDJSON event log rows cycling
// through representative events and extra encodings, and the row count.
func bigNDJSON(size int) ([]byte, int) {
	templates := []string{
		`{"event_log_id":%d,"when":"2024-06-01T10:00:00.123456+00:00","dag_id":"etl_daily","task_id":null,"run_id":null,"map_index":null,"try_number":null,"event":"trigger","execution_date":null,"owner":"okta_00u1a2b3c4D5e6F7g8h9","extra":"[('dag_id', 'etl_daily'), ('origin', '/home'), ('conf', '{}')]"}`,
		`{"event_log_id":%d,"when":"2024-06-01T10:00:01Z","dag_id":"etl_daily","task_id":"load","run_id":"scheduled__2024-05-31T00:00:00+00:00","map_index":-1,"try_number":1,"event":"running","execution_date":"2024-05-31T00:00:00+00:00","owner":"airflow","extra":null}`,
		`{"event_log_id":%d,"when":"2024-06-01T10:00:02.5Z","dag_id":"etl_daily","event":"paused","owner":"dave","extra":"{'is_paused': True, 'dag_id': 'etl_daily'}"}`,
		`{"event_log_id":%d,"when":"2024-06-01T10:00:03Z","dag_id":"etl_daily","event":"api.post_dag_run","owner":"carol@example.com","extra":"{\"conf\": {}, \"dag_run_id\": \"manual__x\", \"note\": null}"}`,
	}
	var buf bytes.Buffer
	n := 0
	for buf.Len() < size {
		n++
		fmt.Fprintf(&buf, templates[n%len(templates)], n)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), n
}
