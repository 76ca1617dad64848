package airflow

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/keytrail/keytrail/model"
)

// Class is what an Airflow audit event name means.
type Class struct {
	Channel    model.Channel
	Action     model.ActionClass
	Human      bool // a person did this (UI, API or CLI), as opposed to the scheduler or a task runner
	Privileged bool // the action is in a privileged class (see PrivilegedActions) and human
}

// PrivilegedActions lists the action classes DESIGN.md calls privileged.
var PrivilegedActions = []model.ActionClass{
	model.ActionTrigger, model.ActionClear, model.ActionMarkState, model.ActionDelete,
	model.ActionPause, model.ActionUnpause, model.ActionConn, model.ActionVariable,
	model.ActionPool, model.ActionUserAdmin, model.ActionBackfill,
}

// IsPrivileged reports whether a human action of class a is privileged.
func IsPrivileged(a model.ActionClass) bool {
	switch a {
	case model.ActionTrigger, model.ActionClear, model.ActionMarkState, model.ActionDelete,
		model.ActionPause, model.ActionUnpause, model.ActionConn, model.ActionVariable,
		model.ActionPool, model.ActionUserAdmin, model.ActionBackfill:
		return true
	}
	return false
}

// rule names a classification that depends on the row, not only its name
// (the rule column of vocabulary.tsv).
type rule uint8

const (
	rulePause   rule = 1 << iota // pause vs unpause from extra.is_paused
	ruleConfirm                  // 2.x clear / mark-state views: a preview page unless extra.confirmed is true
	ruleDryRun                   // REST clear / set-state: a preview unless extra.dry_run is false
	ruleForm                     // 2.x mark-state form vs task-state row (success, failed)
	ruleNote                     // 3.x PATCH of a run or task instance: a note-only edit is other
	ruleOwner                    // Airflow's own row when the owner is a system owner
	ruleVia                      // 2.5–2.8 bare name shared by a UI model view and the REST API
	ruleDaemon                   // a CLI command that starts one of Airflow's own processes
)

var ruleNames = map[string]rule{
	"-": 0, "pause": rulePause, "confirm": ruleConfirm, "dry_run": ruleDryRun, "form": ruleForm,
	"note": ruleNote, "owner": ruleOwner, "via": ruleVia, "daemon": ruleDaemon,
}

// vocabulary.tsv lists every event name each Airflow version writes, with the
// versions, the source location and keytrail's class; testdata/gen_vocabulary.py
// derives it from Airflow's source.
//
//go:embed vocabulary.tsv
var vocabularyTSV string

// vocabRow is one row of vocabulary.tsv.
type vocabRow struct {
	event, kind, versions, source string
	class                         model.ActionClass
	rule                          rule
}

// entry is what a name means, merged over its vocabulary rows.
type entry struct {
	human   bool              // a person writes it (view, model, api or cli row)
	action  model.ActionClass // the class when a person wrote it
	channel model.Channel     // the channel when a person wrote it
	system  model.ActionClass // the class when Airflow wrote it ("" when it never does)
	rules   rule
}

var vocabulary, table = mustLoadVocabulary(vocabularyTSV)

// mustLoadVocabulary parses vocabulary.tsv and merges its rows by name; the
// file is compiled in, so a malformed one is a programming error.
func mustLoadVocabulary(text string) ([]vocabRow, map[string]entry) {
	rows, err := parseVocabulary(text)
	if err != nil {
		panic(err)
	}
	m, err := mergeVocabulary(rows)
	if err != nil {
		panic(err)
	}
	return rows, m
}

func parseVocabulary(text string) ([]vocabRow, error) {
	var rows []vocabRow
	for i, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "event\t") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("vocabulary.tsv line %d: %d columns, want 6", i+1, len(f))
		}
		r := vocabRow{event: f[0], kind: f[1], class: model.ActionClass(f[2]), versions: f[4], source: f[5]}
		for _, name := range strings.Split(f[3], ",") {
			bit, ok := ruleNames[name]
			if !ok {
				return nil, fmt.Errorf("vocabulary.tsv line %d: unknown rule %q", i+1, name)
			}
			r.rule |= bit
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func mergeVocabulary(rows []vocabRow) (map[string]entry, error) {
	m := make(map[string]entry, len(rows))
	for _, r := range rows {
		e := m[r.event]
		e.rules |= r.rule
		switch r.kind {
		case "system", "state":
			if e.system != "" && e.system != r.class {
				return nil, fmt.Errorf("vocabulary.tsv: %s: system classes %s and %s", r.event, e.system, r.class)
			}
			e.system = r.class
			m[r.event] = e
			continue
		case "view", "model":
			e.channel = model.ChannelUI
		case "api":
			if e.channel == "" { // a model row of the same name (rule via) keeps ui
				e.channel = model.ChannelAPI
			}
			if strings.HasPrefix(r.event, "ui.") {
				e.channel = model.ChannelUI
			}
		case "cli":
			e.channel = model.ChannelCLI
		default:
			return nil, fmt.Errorf("vocabulary.tsv: %s: unknown kind %q", r.event, r.kind)
		}
		if e.human && e.action != r.class {
			return nil, fmt.Errorf("vocabulary.tsv: %s: classes %s and %s", r.event, e.action, r.class)
		}
		e.human, e.action = true, r.class
		m[r.event] = e
	}
	return m, nil
}

// markStateFormFields are the request fields of the 2.x UI mark-state views
// (/success, /failed); a success/failed row whose extra names one of them was
// written by that view, not by the task runner.
var markStateFormFields = []string{"upstream", "downstream", "future", "past", "confirmed", "origin", "dag_run_id", "execution_date", "map_indexes", "map_index", "state", "group_id"}

// restPathParams are the only request values the 2.5–2.8 REST API puts in the
// extra of connection.* and variable.* rows (its JSON body is not logged); the
// UI model views log their form fields or the row's pk instead.
var restPathParams = []string{"connection_id", "variable_key", "update_mask"}

// systemOwners are the owners Airflow writes on rows it makes itself under a
// name a person's view also writes: DagRun._check_last_n_dagruns_failed
// (2.9+) pauses a DAG as "scheduler". The task owner default "airflow" is not
// one: it is also the quick-start admin's user name.
var systemOwners = []string{"scheduler"}

// maxUnknownNames bounds the distinct unknown names a Classifier tracks.
const maxUnknownNames = 10000

// OverflowName is the Unknown() key counting unknown names seen after the
// Classifier stopped tracking new ones.
const OverflowName = "(other unknown names)"

// Classifier maps Airflow audit event names to a Class and counts the names
// it does not know. The zero value is ready to use; it is safe for concurrent
// use.
type Classifier struct {
	mu      sync.Mutex
	unknown map[string]int64
}

// NewClassifier returns an empty Classifier.
func NewClassifier() *Classifier { return &Classifier{} }

// Known reports whether event is in the vocabulary (vocabulary.tsv).
func Known(event string) bool {
	_, ok := lookup(event)
	return ok
}

// Classify returns the class of an audit row from its event name, its owner
// and its decoded extra (JSON as DecodeExtra returns it, or "").
//
// The name is looked up in the vocabulary (vocabulary.tsv, derived from
// Airflow's source): its kind gives the channel — ui for 2.x views and model
// views and for "ui."-prefixed REST names, api for REST names, cli for
// "cli_<command>" — and whether Airflow itself writes it (scheduler, executor
// and task-runner rows, task states: channel system, not human). A name that
// differs only in case from a known one is read as that name.
//
// Rules that need the row:
//   - pause (paused, patch_dag, patch_dags): the new state is extra.is_paused.
//     A boolean is the new state (2.8+ write it). A string is the raw request
//     parameter: for the 2.x UI toggle "paused" it is the state *before* the
//     click, so "false" means the DAG was paused; for the REST operations it
//     is the requested state. When extra says nothing the row is a pause.
//   - owner (paused): owner "scheduler" is Airflow pausing a DAG after too
//     many failed runs (2.9+): system.
//   - form (success, failed): the 2.x UI mark-state views share these names
//     with task-state rows. A row is a mark-state (human, ui) when its extra
//     names a field of the mark-state form; otherwise it is a task-state row.
//   - confirm (clear, dagrun_clear, dagrun_success, dagrun_failed,
//     dagrun_queued): the 2.x views first answer without confirmed=true with
//     the list of task instances the change would touch, logged under the same
//     name. A row whose extra is an object without confirmed=true is that
//     preview: class view.
//   - dry_run (2.9+ REST clear and set-state, 3.x clear_dag_run and
//     post_clear_task_instances): dry_run defaults to true, so a row whose
//     extra is an object without dry_run=false is a preview: class view. 3.0
//     logs dry runs; 3.1+ skip them.
//   - note (3.x patch_dag_run, patch_task_instance): mark_state when extra
//     carries a state (state, new_state) or nothing; a note-only edit is other.
//   - via (2.5–2.8 bare connection.* / variable.*): written by both the UI
//     model view and the REST API; api when extra holds only REST path
//     parameters (connection_id, variable_key, update_mask) or nothing.
//   - daemon (cli_scheduler, cli_webserver, cli_task_run, …): Airflow's own
//     processes, system.
//
// Where extra is missing or not an object, confirm and dry_run read the row
// as the change: keytrail cannot tell, and a privileged reading is the one
// that gets checked.
//
// An unknown name is kept: class other, channel from its prefix ("cli_",
// "api.", "ui."; a bare name that looks like a REST operation — post_, patch_,
// put_, delete_, bulk_, create_, update_… — is api, any other bare name ui),
// human, and it is counted in Unknown.
func (c *Classifier) Classify(event, owner, extra string) Class {
	e, ok := lookup(event)
	if !ok {
		c.count(event)
		return Class{Channel: unknownChannel(event), Action: model.ActionOther, Human: true}
	}
	if !e.human {
		return Class{Channel: model.ChannelSystem, Action: e.system}
	}
	obj := extraObject(extra)
	switch {
	case e.rules&ruleDaemon != 0:
		return Class{Channel: model.ChannelSystem, Action: e.action}
	case e.rules&ruleOwner != 0 && isSystemOwner(owner):
		return Class{Channel: model.ChannelSystem, Action: e.system}
	case e.rules&ruleForm != 0 && !hasAnyField(obj, markStateFormFields):
		return Class{Channel: model.ChannelSystem, Action: e.system}
	}
	action, ch := e.action, e.channel
	if e.rules&ruleVia != 0 && obj != nil && onlyFields(obj, restPathParams) {
		ch = model.ChannelAPI
	}
	switch {
	case e.rules&rulePause != 0:
		if paused, ok := newPausedState(baseName(event), obj); ok && !paused {
			action = model.ActionUnpause
		} else {
			action = model.ActionPause
		}
	case e.rules&ruleConfirm != 0 && obj != nil && !truthy(obj["confirmed"]):
		action = model.ActionView
	case e.rules&ruleDryRun != 0 && obj != nil && !falsy(obj["dry_run"]):
		action = model.ActionView
	case e.rules&ruleNote != 0:
		if obj != nil && !nonNull(obj, "state") && !nonNull(obj, "new_state") {
			if _, hasNote := obj["note"]; hasNote {
				action = model.ActionOther
			}
		}
	}
	return Class{Channel: ch, Action: action, Human: true, Privileged: IsPrivileged(action)}
}

// Unknown returns a copy of the counts of unknown event names seen so far.
func (c *Classifier) Unknown() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.unknown))
	for k, v := range c.unknown {
		out[k] = v
	}
	return out
}

// UnknownNames returns the unknown names seen so far, most frequent first.
func (c *Classifier) UnknownNames() []string {
	counts := c.Unknown()
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	return names
}

func (c *Classifier) count(event string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unknown == nil {
		c.unknown = make(map[string]int64)
	}
	if _, ok := c.unknown[event]; !ok && len(c.unknown) >= maxUnknownNames {
		event = OverflowName
	}
	c.unknown[event]++
}

// lookup finds the vocabulary entry for an event name.
func lookup(event string) (entry, bool) {
	if e, ok := table[event]; ok {
		return e, true
	}
	if lower := strings.ToLower(strings.TrimSpace(event)); lower != event {
		e, ok := table[lower]
		return e, ok
	}
	return entry{}, false
}

func baseName(event string) string {
	if i := strings.IndexByte(event, '.'); i >= 0 && (strings.HasPrefix(event, "api.") || strings.HasPrefix(event, "ui.")) {
		return event[i+1:]
	}
	return event
}

var restVerbs = []string{"post_", "patch_", "put_", "delete_", "get_", "bulk_", "create_", "update_", "trigger_", "clear_", "set_"}

func unknownChannel(event string) model.Channel {
	switch {
	case strings.HasPrefix(event, "cli_"):
		return model.ChannelCLI
	case strings.HasPrefix(event, "api."):
		return model.ChannelAPI
	case strings.HasPrefix(event, "ui."):
		return model.ChannelUI
	}
	for _, v := range restVerbs {
		if strings.HasPrefix(event, v) {
			return model.ChannelAPI
		}
	}
	return model.ChannelUI
}

// newPausedState reads the DAG's paused state after the action from extra.
func newPausedState(event string, obj map[string]any) (paused, ok bool) {
	if obj == nil {
		return false, false
	}
	v, found := obj["is_paused"]
	if !found {
		return false, false
	}
	if list, isList := v.([]any); isList && len(list) > 0 { // a repeated form field: the first value counts
		v = list[0]
	}
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		s := strings.ToLower(strings.TrimSpace(t))
		if s != "true" && s != "false" {
			return false, false
		}
		if event == "paused" { // 2.x UI toggle: the parameter is the state before the click
			return s == "false", true
		}
		return s == "true", true
	}
	return false, false
}

// extraObject decodes extra when it is a JSON object.
func extraObject(extra string) map[string]any {
	if len(extra) < 2 || extra[0] != '{' {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(extra), &m); err != nil {
		return nil
	}
	return m
}

func hasAnyField(obj map[string]any, fields []string) bool {
	for _, f := range fields {
		if _, ok := obj[f]; ok {
			return true
		}
	}
	return false
}

// onlyFields reports whether every key of obj is one of fields.
func onlyFields(obj map[string]any, fields []string) bool {
	for k := range obj {
		if !slices.Contains(fields, k) {
			return false
		}
	}
	return true
}

func nonNull(obj map[string]any, k string) bool {
	v, ok := obj[k]
	return ok && v != nil
}

func isSystemOwner(owner string) bool {
	return slices.Contains(systemOwners, strings.ToLower(strings.TrimSpace(owner)))
}

// truthy reports whether a form or JSON value is true (true, "true", "on",
// "1", …; a repeated form field counts by its first value).
func truthy(v any) bool { return boolValue(v) == 1 }

// falsy reports whether a form or JSON value is false (false, "false", 0, …).
func falsy(v any) bool { return boolValue(v) == 0 }

// boolValue reads v as marshmallow's Boolean field does: 1 true, 0 false, -1
// neither (absent, null or anything else).
func boolValue(v any) int {
	if list, ok := v.([]any); ok && len(list) > 0 {
		v = list[0]
	}
	switch t := v.(type) {
	case bool:
		if t {
			return 1
		}
		return 0
	case float64:
		switch t {
		case 1:
			return 1
		case 0:
			return 0
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true", "t", "1", "on", "yes", "y":
			return 1
		case "false", "f", "0", "off", "no", "n":
			return 0
		}
	}
	return -1
}
