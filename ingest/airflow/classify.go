package airflow

import (
	"encoding/json"
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

// rule names a classification that depends on the row, not only its name.
type rule uint8

const (
	ruleNone        rule = iota
	rulePause            // pause vs unpause from extra.is_paused
	ruleMarkOrState      // 2.x UI mark-state view vs task-state row (success, failed)
	ruleStateOrNote      // a PATCH that changes a state or only a note
)

type entry struct {
	action  model.ActionClass
	channel model.Channel // the channel of the bare name; "" means unused (cli table)
	system  bool          // written by Airflow itself, not a person
	rule    rule
}

// uiViews are Airflow 2.x web UI view functions decorated with
// @action_logging: the event is the function name (or the explicit event).
var uiViews = map[string]entry{
	// privileged
	"trigger":        {action: model.ActionTrigger},
	"run":            {action: model.ActionTrigger}, // "Run" a task instance from the UI
	"paused":         {action: model.ActionPause, rule: rulePause},
	"clear":          {action: model.ActionClear},
	"dagrun_clear":   {action: model.ActionClear},
	"delete":         {action: model.ActionDelete},
	"dagrun_success": {action: model.ActionMarkState},
	"dagrun_failed":  {action: model.ActionMarkState},
	"dagrun_queued":  {action: model.ActionMarkState},
	"success":        {action: model.ActionMarkState, rule: ruleMarkOrState},
	"failed":         {action: model.ActionMarkState, rule: ruleMarkOrState},
	// connection, variable and pool model views (event "<resource>.<permission>")
	"connection.create":       {action: model.ActionConn},
	"connection.edit":         {action: model.ActionConn},
	"connection.delete":       {action: model.ActionConn},
	"connection.muldelete":    {action: model.ActionConn},
	"connection.mulduplicate": {action: model.ActionConn},
	"variable.create":         {action: model.ActionVariable},
	"variable.edit":           {action: model.ActionVariable},
	"variable.delete":         {action: model.ActionVariable},
	"variable.varimport":      {action: model.ActionVariable},
	"varimport":               {action: model.ActionVariable},
	"pool.create":             {action: model.ActionPool},
	"pool.edit":               {action: model.ActionPool},
	"pool.delete":             {action: model.ActionPool},
	// page views and reads
	"graph":                    {action: model.ActionView},
	"tree":                     {action: model.ActionView},
	"grid":                     {action: model.ActionView},
	"code":                     {action: model.ActionView},
	"log":                      {action: model.ActionView},
	"gantt":                    {action: model.ActionView},
	"duration":                 {action: model.ActionView},
	"tries":                    {action: model.ActionView},
	"landing_times":            {action: model.ActionView},
	"calendar":                 {action: model.ActionView},
	"task":                     {action: model.ActionView},
	"xcom":                     {action: model.ActionView},
	"dag_details":              {action: model.ActionView},
	"dagrun_details":           {action: model.ActionView},
	"rendered_templates":       {action: model.ActionView},
	"rendered_k8s":             {action: model.ActionView},
	"get_logs_with_metadata":   {action: model.ActionView},
	"redirect_to_external_log": {action: model.ActionView},
	"legacy_graph":             {action: model.ActionView},
	"legacy_tree":              {action: model.ActionView},
	"task_instances":           {action: model.ActionView},
	"extra_links":              {action: model.ActionView},
	"audit_log":                {action: model.ActionView},
	"confirm":                  {action: model.ActionView}, // preview of a mark-state; the change itself logs success/failed
	"blocked":                  {action: model.ActionView},
	"grid_data":                {action: model.ActionView},
	"graph_data":               {action: model.ActionView},
	"dag_code":                 {action: model.ActionView},
	// other human actions
	"refresh":     {action: model.ActionOther},
	"refresh_all": {action: model.ActionOther},
}

// apiOps are REST operations: Airflow 2.x api_connexion function names and
// permission-style events (2.5–2.8 "dag_run.create"), and Airflow 3.x
// FastAPI endpoint names. Bare, they are API calls; 2.8+ prefixes them with
// "api." or "ui." (a call from Airflow's own web UI).
var apiOps = map[string]entry{
	// trigger
	"post_dag_run":         {action: model.ActionTrigger},
	"dag_run.create":       {action: model.ActionTrigger},
	"trigger_dag_run":      {action: model.ActionTrigger},
	"create_dataset_event": {action: model.ActionTrigger}, // a dataset event schedules downstream DAGs
	"dataset_event.create": {action: model.ActionTrigger},
	"create_asset_event":   {action: model.ActionTrigger},
	"materialize_asset":    {action: model.ActionTrigger},
	// pause / unpause
	"patch_dag":  {action: model.ActionPause, rule: rulePause},
	"patch_dags": {action: model.ActionPause, rule: rulePause},
	"dag.edit":   {action: model.ActionPause, rule: rulePause},
	// clear
	"clear_dag_run":             {action: model.ActionClear},
	"dag_run.clear":             {action: model.ActionClear},
	"post_clear_task_instances": {action: model.ActionClear},
	"task_instance.clear":       {action: model.ActionClear},
	// mark state
	"update_dag_run_state":          {action: model.ActionMarkState},
	"dag_run.edit":                  {action: model.ActionMarkState},
	"patch_dag_run":                 {action: model.ActionMarkState, rule: ruleStateOrNote},
	"post_set_task_instances_state": {action: model.ActionMarkState},
	"task_instance.edit":            {action: model.ActionMarkState},
	"patch_task_instance":           {action: model.ActionMarkState, rule: ruleStateOrNote},
	"patch_task_instances":          {action: model.ActionMarkState, rule: ruleStateOrNote},
	"bulk_task_instances":           {action: model.ActionMarkState},
	"set_mapped_task_instance_note": {action: model.ActionOther},
	"set_task_instance_note":        {action: model.ActionOther},
	"set_dag_run_note":              {action: model.ActionOther},
	// delete
	"delete_dag":                       {action: model.ActionDelete},
	"dag.delete":                       {action: model.ActionDelete},
	"delete_dag_run":                   {action: model.ActionDelete},
	"dag_run.delete":                   {action: model.ActionDelete},
	"delete_task_instance":             {action: model.ActionDelete},
	"delete_dataset_queued_events":     {action: model.ActionDelete},
	"delete_dag_dataset_queued_event":  {action: model.ActionDelete},
	"delete_dag_dataset_queued_events": {action: model.ActionDelete},
	"delete_asset_queued_events":       {action: model.ActionDelete},
	"delete_dag_asset_queued_event":    {action: model.ActionDelete},
	"delete_dag_asset_queued_events":   {action: model.ActionDelete},
	// connections
	"post_connection":            {action: model.ActionConn},
	"patch_connection":           {action: model.ActionConn},
	"delete_connection":          {action: model.ActionConn},
	"bulk_connections":           {action: model.ActionConn},
	"test_connection":            {action: model.ActionConn},
	"create_default_connections": {action: model.ActionConn},
	// variables
	"post_variable":    {action: model.ActionVariable},
	"patch_variable":   {action: model.ActionVariable},
	"delete_variable":  {action: model.ActionVariable},
	"bulk_variables":   {action: model.ActionVariable},
	"import_variables": {action: model.ActionVariable},
	// pools
	"post_pool":   {action: model.ActionPool},
	"patch_pool":  {action: model.ActionPool},
	"delete_pool": {action: model.ActionPool},
	"bulk_pools":  {action: model.ActionPool},
	// users and roles (2.x API, FAB auth manager API in 3.x)
	"post_user":   {action: model.ActionUserAdmin},
	"patch_user":  {action: model.ActionUserAdmin},
	"delete_user": {action: model.ActionUserAdmin},
	"create_user": {action: model.ActionUserAdmin},
	"update_user": {action: model.ActionUserAdmin},
	"post_role":   {action: model.ActionUserAdmin},
	"patch_role":  {action: model.ActionUserAdmin},
	"delete_role": {action: model.ActionUserAdmin},
	"create_role": {action: model.ActionUserAdmin},
	"user.create": {action: model.ActionUserAdmin},
	"user.edit":   {action: model.ActionUserAdmin},
	"user.delete": {action: model.ActionUserAdmin},
	"role.create": {action: model.ActionUserAdmin},
	"role.edit":   {action: model.ActionUserAdmin},
	"role.delete": {action: model.ActionUserAdmin},
	// backfill (3.x)
	"post_backfill":    {action: model.ActionBackfill},
	"create_backfill":  {action: model.ActionBackfill},
	"pause_backfill":   {action: model.ActionBackfill},
	"unpause_backfill": {action: model.ActionBackfill},
	"cancel_backfill":  {action: model.ActionBackfill},
	// other writes
	"reparse_dag_file":   {action: model.ActionOther},
	"favorite_dag":       {action: model.ActionOther},
	"unfavorite_dag":     {action: model.ActionOther},
	"create_xcom_entry":  {action: model.ActionOther},
	"update_xcom_entry":  {action: model.ActionOther},
	"delete_xcom_entry":  {action: model.ActionOther},
	"update_hitl_detail": {action: model.ActionOther},
	"get_log":            {action: model.ActionView},
}

// sharedPermissionNames are permission-style names that Airflow ≤2.7 wrote
// for both the UI model views and the REST API; bare, they are taken as UI.
var sharedPermissionNames = map[string]bool{
	"connection.create": true, "connection.edit": true, "connection.delete": true,
	"variable.create": true, "variable.edit": true, "variable.delete": true,
	"pool.create": true, "pool.edit": true, "pool.delete": true,
}

// cliCommands are Airflow CLI functions; the event is "cli_" + the function
// name and the owner is the OS user that ran the command.
var cliCommands = map[string]entry{
	// trigger and runs
	"dag_trigger": {action: model.ActionTrigger},
	"trigger_dag": {action: model.ActionTrigger}, // 1.10
	"dag_test":    {action: model.ActionTrigger}, // creates and runs a DAG run in the metadata DB
	// pause
	"dag_pause":   {action: model.ActionPause},
	"dag_unpause": {action: model.ActionUnpause},
	"pause":       {action: model.ActionPause},   // 1.10
	"unpause":     {action: model.ActionUnpause}, // 1.10
	// clear and state
	"task_clear":  {action: model.ActionClear},
	"tasks_clear": {action: model.ActionClear},
	"clear":       {action: model.ActionClear}, // 1.10
	"dag_clear":   {action: model.ActionClear},
	"set_state":   {action: model.ActionMarkState},
	// delete
	"dag_delete":     {action: model.ActionDelete},
	"delete_dag":     {action: model.ActionDelete}, // 1.10
	"resetdb":        {action: model.ActionDelete},
	"db_reset":       {action: model.ActionDelete},
	"cleanup_tables": {action: model.ActionDelete},
	// backfill
	"backfill":        {action: model.ActionBackfill},
	"dag_backfill":    {action: model.ActionBackfill},
	"create_backfill": {action: model.ActionBackfill},
	"backfill_create": {action: model.ActionBackfill},
	// connections
	"connections_add":                        {action: model.ActionConn},
	"connections_delete":                     {action: model.ActionConn},
	"connections_import":                     {action: model.ActionConn},
	"connections_export":                     {action: model.ActionConn},
	"connections_create_default_connections": {action: model.ActionConn},
	"connections_test":                       {action: model.ActionConn},
	"connections":                            {action: model.ActionConn}, // 1.10
	// variables
	"variables_set":    {action: model.ActionVariable},
	"variables_delete": {action: model.ActionVariable},
	"variables_import": {action: model.ActionVariable},
	"variables_export": {action: model.ActionVariable},
	"variables":        {action: model.ActionVariable}, // 1.10
	// pools
	"pool_set":    {action: model.ActionPool},
	"pool_delete": {action: model.ActionPool},
	"pool_import": {action: model.ActionPool},
	"pool_export": {action: model.ActionPool},
	"pool":        {action: model.ActionPool}, // 1.10
	// users and roles
	"users_create":         {action: model.ActionUserAdmin},
	"users_delete":         {action: model.ActionUserAdmin},
	"users_add_role":       {action: model.ActionUserAdmin},
	"users_remove_role":    {action: model.ActionUserAdmin},
	"users_import":         {action: model.ActionUserAdmin},
	"users_export":         {action: model.ActionUserAdmin},
	"users_reset_password": {action: model.ActionUserAdmin},
	"roles_create":         {action: model.ActionUserAdmin},
	"roles_delete":         {action: model.ActionUserAdmin},
	"roles_add_perms":      {action: model.ActionUserAdmin},
	"roles_del_perms":      {action: model.ActionUserAdmin},
	"roles_import":         {action: model.ActionUserAdmin},
	"roles_export":         {action: model.ActionUserAdmin},
	"create_user":          {action: model.ActionUserAdmin}, // 1.10
	"delete_user":          {action: model.ActionUserAdmin}, // 1.10
	// reads and other human commands
	"task_test":               {action: model.ActionOther},
	"task_render":             {action: model.ActionView},
	"task_state":              {action: model.ActionView},
	"task_states_for_dag_run": {action: model.ActionView},
	"task_list":               {action: model.ActionView},
	"dag_state":               {action: model.ActionView},
	"dag_show":                {action: model.ActionView},
	"dag_list_dags":           {action: model.ActionView},
	"dag_list_runs":           {action: model.ActionView},
	"dag_list_jobs":           {action: model.ActionView},
	"dag_next_execution":      {action: model.ActionView},
	"dag_report":              {action: model.ActionView},
	"dag_details":             {action: model.ActionView},
	"dag_reserialize":         {action: model.ActionOther},
	"dag_list_import_errors":  {action: model.ActionView},
	"initdb":                  {action: model.ActionOther},
	"upgradedb":               {action: model.ActionOther},
	"migratedb":               {action: model.ActionOther},
	"downgrade":               {action: model.ActionOther},
	"shell":                   {action: model.ActionOther},
	"rotate_fernet_key":       {action: model.ActionConn},
	"sync_perm":               {action: model.ActionUserAdmin},
	// daemons and task execution: Airflow's own processes
	"task_run":       {action: model.ActionOther, system: true},
	"run":            {action: model.ActionOther, system: true}, // 1.10 task run
	"scheduler":      {action: model.ActionOther, system: true},
	"webserver":      {action: model.ActionOther, system: true},
	"api_server":     {action: model.ActionOther, system: true},
	"triggerer":      {action: model.ActionOther, system: true},
	"dag_processor":  {action: model.ActionOther, system: true},
	"worker":         {action: model.ActionOther, system: true},
	"flower":         {action: model.ActionOther, system: true},
	"kerberos":       {action: model.ActionOther, system: true},
	"standalone":     {action: model.ActionOther, system: true},
	"internal_api":   {action: model.ActionOther, system: true},
	"serve_logs":     {action: model.ActionOther, system: true},
	"fab_api_server": {action: model.ActionOther, system: true},
	"edge_worker":    {action: model.ActionOther, system: true},
}

// taskStates are rows the task runner and scheduler write about a task
// instance: event = the state, owner = the task's owner attribute.
var taskStates = map[string]entry{
	"running":           {action: model.ActionTaskState},
	"success":           {action: model.ActionTaskState},
	"failed":            {action: model.ActionTaskState},
	"up_for_retry":      {action: model.ActionTaskState},
	"up_for_reschedule": {action: model.ActionTaskState},
	"upstream_failed":   {action: model.ActionTaskState},
	"skipped":           {action: model.ActionTaskState},
	"queued":            {action: model.ActionTaskState},
	"scheduled":         {action: model.ActionTaskState},
	"removed":           {action: model.ActionTaskState},
	"restarting":        {action: model.ActionTaskState},
	"deferred":          {action: model.ActionTaskState},
	"shutdown":          {action: model.ActionTaskState},
	"none":              {action: model.ActionTaskState},
	"state mismatch":    {action: model.ActionTaskState},
	"heartbeat timeout": {action: model.ActionTaskState},
	"zombie":            {action: model.ActionTaskState},
}

// bare is every name as written without a prefix, with its channel.
var bare = func() map[string]entry {
	m := make(map[string]entry, len(uiViews)+len(apiOps)+len(taskStates))
	for k, e := range taskStates {
		e.channel, e.system = model.ChannelSystem, true
		m[k] = e
	}
	for k, e := range apiOps {
		e.channel = model.ChannelAPI
		m[k] = e
	}
	for k, e := range uiViews {
		e.channel = model.ChannelUI
		m[k] = e // success/failed: the UI entry carries ruleMarkOrState
	}
	for k := range sharedPermissionNames {
		e := m[k]
		e.channel = model.ChannelUI
		m[k] = e
	}
	return m
}()

// markStateFormFields are the request fields of the 2.x UI mark-state views
// (/success, /failed); a success/failed row whose extra names one of them was
// written by that view, not by the task runner.
var markStateFormFields = []string{"upstream", "downstream", "future", "past", "confirmed", "origin", "dag_run_id", "execution_date", "map_indexes", "state"}

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

// Known reports whether event is in the classification table (with or
// without an "api."/"ui." prefix, or as "cli_<command>").
func Known(event string) bool {
	_, ok := lookup(event)
	return ok
}

// Classify returns the class of an audit row from its event name, its task
// id and its decoded extra (JSON as DecodeExtra returns it, or "").
//
// Names are looked up in this order: "cli_<command>" in the CLI table
// (daemons such as cli_scheduler and cli_task_run are system); "api.<op>" /
// "ui.<op>" (2.8+) in the REST table with channel api / ui; otherwise the
// bare name among the 2.x UI views (channel ui), the REST operations (2.x
// api_connexion and permission-style names such as dag_run.create, 3.x
// endpoint names; channel api) and task states (channel system).
//
// Rules that need the row:
//   - pause vs unpause (paused, patch_dag, patch_dags, dag.edit): the new
//     state is extra.is_paused (or extra.body.is_paused in 2.8). A boolean is
//     the new state (2.8+ write the new state). A string is the raw request
//     parameter: for the 2.x UI toggle "paused" it is the state *before* the
//     click, so "false" means the DAG was paused; for the REST operations it
//     is the requested state. When extra says nothing the row is a pause.
//   - success / failed: the 2.x UI mark-state views share these names with
//     task-state rows. A row is a mark-state (human, ui) when its extra names
//     a field of the mark-state form (upstream, downstream, future, past,
//     confirmed, origin, dag_run_id, execution_date, map_indexes, state);
//     otherwise it is a task-state row written by Airflow (system): those
//     rows carry no extra.
//   - patch_dag_run / patch_task_instance(s) (3.x): mark_state when extra
//     carries a state (state, new_state) or nothing; a note-only edit is other.
//
// An unknown name is kept: class other, channel from its prefix ("cli_",
// "api.", "ui."; a bare name that looks like a REST operation — post_, patch_,
// put_, delete_, bulk_, create_, update_… — is api, any other bare name ui),
// human, and it is counted in Unknown.
func (c *Classifier) Classify(event, taskID, extra string) Class {
	e, ok := lookup(event)
	if !ok {
		c.count(event)
		return Class{Channel: unknownChannel(event), Action: model.ActionOther, Human: true}
	}
	action := e.action
	ch := e.channel
	system := e.system
	switch e.rule {
	case rulePause:
		if paused, ok := newPausedState(baseName(event), extra); ok && !paused {
			action = model.ActionUnpause
		} else {
			action = model.ActionPause
		}
	case ruleMarkOrState:
		if !hasAnyField(extra, markStateFormFields) {
			action, ch, system = model.ActionTaskState, model.ChannelSystem, true
		}
	case ruleStateOrNote:
		obj := extraObject(extra)
		if obj != nil && !nonNull(obj, "state") && !nonNull(obj, "new_state") {
			if _, hasNote := obj["note"]; hasNote {
				action = model.ActionOther
			}
		}
	}
	if system {
		return Class{Channel: model.ChannelSystem, Action: action}
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

// lookup finds the table entry for an event name, channel filled in.
func lookup(event string) (entry, bool) {
	name := event
	if e, ok := lookupName(name); ok {
		return e, true
	}
	if lower := strings.ToLower(strings.TrimSpace(name)); lower != name {
		return lookupName(lower)
	}
	return entry{}, false
}

func lookupName(name string) (entry, bool) {
	switch {
	case strings.HasPrefix(name, "cli_"):
		e, ok := cliCommands[name[len("cli_"):]]
		e.channel = model.ChannelCLI
		return e, ok
	case strings.HasPrefix(name, "api."), strings.HasPrefix(name, "ui."):
		ch := model.ChannelAPI
		if strings.HasPrefix(name, "ui.") {
			ch = model.ChannelUI
		}
		op := name[strings.IndexByte(name, '.')+1:]
		e, ok := apiOps[op]
		if !ok {
			e, ok = uiViews[op]
		}
		e.channel = ch
		if e.rule == ruleMarkOrState { // an API call is never a task-state row
			e.rule = ruleNone
		}
		return e, ok
	}
	e, ok := bare[name]
	return e, ok
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
func newPausedState(event, extra string) (paused, ok bool) {
	obj := extraObject(extra)
	if obj == nil {
		return false, false
	}
	v, found := obj["is_paused"]
	if !found {
		if body, isObj := obj["body"].(map[string]any); isObj {
			v, found = body["is_paused"]
		}
	}
	if !found {
		return false, false
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
	case []any: // a repeated form field: the first value counts
		if len(t) > 0 {
			if s, isStr := t[0].(string); isStr {
				b, _ := json.Marshal(map[string]string{"is_paused": s})
				return newPausedState(event, string(b))
			}
		}
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

func hasAnyField(extra string, fields []string) bool {
	obj := extraObject(extra)
	if obj == nil {
		return false
	}
	for _, f := range fields {
		if _, ok := obj[f]; ok {
			return true
		}
	}
	return false
}

func nonNull(obj map[string]any, k string) bool {
	v, ok := obj[k]
	return ok && v != nil
}
