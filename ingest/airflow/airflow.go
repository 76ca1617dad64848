package airflow

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// Kind says which Airflow record type a Normalizer accepts.
type Kind int

// Record kinds.
const (
	// KindAuto detects the kind of each record: a record with an "event" key
	// is an audit event log row; otherwise one with "dag_run_id" or
	// "run_type" is a DAG run; anything else is rejected.
	KindAuto Kind = iota
	// KindEvents accepts only audit event log rows.
	KindEvents
	// KindRuns accepts only DAG runs.
	KindRuns
)

// Errors callers may branch on; every Normalize error wraps one of them or
// ErrTime.
var (
	ErrShape      = errors.New("not an airflow record")
	ErrMissing    = errors.New("required field missing")
	ErrBadField   = errors.New("bad field")
	ErrWrongKind  = errors.New("record of the other kind")
	errNotJSONObj = errors.New("record is not a JSON object")
)

// PersonResolver resolves an Airflow actor to a person id. The identity
// package's Resolver satisfies it.
type PersonResolver interface {
	// ResolveAirflow returns the person behind an Airflow owner or
	// triggering user seen on channel ch, and false when none is known.
	ResolveAirflow(owner string, ch model.Channel) (person string, ok bool)
}

// Normalizer turns Airflow audit event log rows and DAG runs into keytrail's
// model. Its zero value accepts both kinds, classifies with a private
// Classifier, resolves no persons and stamps time.Now as the receive time.
// Set the fields before the first Normalize call and do not change them
// afterwards; Normalize is then safe for concurrent use.
type Normalizer struct {
	// Kind restricts the accepted records; default KindAuto.
	Kind Kind
	// Classifier classifies event names and counts unknown ones; default a
	// Classifier private to this Normalizer (see Unknown).
	Classifier *Classifier
	// Resolver fills Person on events and runs; default nil (Person empty).
	Resolver PersonResolver
	// Now stamps ReceivedAt; default time.Now.
	Now func() time.Time

	defaultClassifier Classifier
}

var _ ingest.Normalizer = (*Normalizer)(nil)

// New returns a Normalizer that detects the record kind.
func New() *Normalizer { return &Normalizer{} }

// Source returns model.SourceAirflow.
func (n *Normalizer) Source() model.Source { return model.SourceAirflow }

// Envelopes lists the page keys of the v1 (2.x) and v2 (3.x) REST API:
// {"event_logs":[…]} and {"dag_runs":[…]}.
func (n *Normalizer) Envelopes() [][]string {
	return [][]string{{"event_logs"}, {"dag_runs"}}
}

// Unknown returns the counts of unknown event names seen by this
// Normalizer's classifier.
func (n *Normalizer) Unknown() map[string]int64 { return n.classifier().Unknown() }

func (n *Normalizer) classifier() *Classifier {
	if n.Classifier != nil {
		return n.Classifier
	}
	return &n.defaultClassifier
}

func (n *Normalizer) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// Normalize turns one record (an event log row or a DAG run, see Kind) into
// an Output holding one AirflowEvent or one DagRun and the raw record. It
// never retains raw.
//
// Event log rows need an id (event_log_id, or id in database exports) that is
// a positive integer, a time (when, or dttm) and an event name. DAG runs need
// dag_id, a run id (dag_run_id, or run_id) and a time: queued_at, else
// start_date, else logical_date / execution_date, else run_after (3.x).
// Optional fields that are present but malformed are errors too, so that a
// record is either taken whole or dead-lettered.
func (n *Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return ingest.Output{}, fmt.Errorf("airflow: %w: %w", ErrShape, errNotJSONObj)
	}
	var rec record
	if err := decodeRecord(trimmed, &rec); err != nil {
		if field := badField(trimmed); field != "" {
			return ingest.Output{}, fmt.Errorf("airflow: field %s: %w: %w", field, ErrBadField, err)
		}
		return ingest.Output{}, fmt.Errorf("airflow: decode record: %w: %w", ErrShape, err)
	}
	isEvent := rec.Event.set
	isRun := !isEvent && (rec.DagRunID.set || rec.RunType.set)
	switch {
	case n.Kind == KindEvents && !isEvent:
		if isRun {
			return ingest.Output{}, fmt.Errorf("airflow: %w: a DAG run where event logs were expected", ErrWrongKind)
		}
		return ingest.Output{}, fmt.Errorf("airflow: %w: no \"event\" field", ErrShape)
	case n.Kind == KindRuns && !isRun:
		if isEvent {
			return ingest.Output{}, fmt.Errorf("airflow: %w: an event log row where DAG runs were expected", ErrWrongKind)
		}
		return ingest.Output{}, fmt.Errorf("airflow: %w: no \"dag_run_id\" or \"run_type\" field", ErrShape)
	case isEvent:
		return n.event(&rec, raw, instance)
	case isRun:
		return n.run(&rec, raw, instance)
	}
	return ingest.Output{}, fmt.Errorf("airflow: %w: neither an event log row (no \"event\") nor a DAG run (no \"dag_run_id\"/\"run_type\")", ErrShape)
}

func (n *Normalizer) event(rec *record, raw []byte, instance string) (ingest.Output, error) {
	id := rec.EventLogID
	if !id.valid {
		id = rec.ID
	}
	if !id.valid {
		return ingest.Output{}, fmt.Errorf("airflow event: %w: event_log_id", ErrMissing)
	}
	if id.value <= 0 {
		return ingest.Output{}, fmt.Errorf("airflow event: %w: event_log_id %d is not positive", ErrBadField, id.value)
	}
	when := rec.When
	if !when.set || when.null {
		when = rec.Dttm
	}
	if when.value == "" {
		return ingest.Output{}, fmt.Errorf("airflow event %d: %w: when", id.value, ErrMissing)
	}
	ts, err := ParseTime(when.value)
	if err != nil {
		return ingest.Output{}, fmt.Errorf("airflow event %d: when: %w", id.value, err)
	}
	if rec.Event.value == "" {
		return ingest.Output{}, fmt.Errorf("airflow event %d: %w: event", id.value, ErrMissing)
	}
	logical, err := optTime(firstSet(rec.LogicalDate, rec.ExecutionDate))
	if err != nil {
		return ingest.Output{}, fmt.Errorf("airflow event %d: logical_date: %w", id.value, err)
	}
	mapIndex := int64(-1)
	if rec.MapIndex.valid {
		mapIndex = rec.MapIndex.value
	}
	extra := DecodeExtra(rec.Extra)
	cls := n.classifier().Classify(rec.Event.value, rec.Owner.value, extra)
	actor := rec.Owner.value
	if cls.Human && cls.Channel != model.ChannelCLI {
		actor = ownerUsername(actor)
	}
	received := model.Millis(n.now())
	ev := model.AirflowEvent{
		Instance:    instance,
		EventLogID:  id.value,
		TS:          model.Millis(ts),
		Event:       rec.Event.value,
		Channel:     cls.Channel,
		Action:      cls.Action,
		Human:       cls.Human,
		Privileged:  cls.Privileged,
		Actor:       actor,
		DagID:       rec.DagID.value,
		TaskID:      rec.TaskID.value,
		RunID:       rec.RunID.value,
		MapIndex:    mapIndex,
		TryNumber:   rec.TryNumber.value,
		LogicalDate: model.Millis(logical),
		Extra:       extra,
		ReceivedAt:  received,
	}
	if n.Resolver != nil && ev.Human && ev.Actor != "" {
		if p, ok := n.Resolver.ResolveAirflow(ev.Actor, ev.Channel); ok {
			ev.Person = p
		}
	}
	out := ingest.Output{Raw: rawRecord(raw, instance, strconv.FormatInt(id.value, 10), ev.TS, received)}
	ev.RawSHA256 = out.Raw.SHA256
	out.Airflow = []model.AirflowEvent{ev}
	return out, nil
}

func (n *Normalizer) run(rec *record, raw []byte, instance string) (ingest.Output, error) {
	dagID := rec.DagID.value
	if dagID == "" {
		return ingest.Output{}, fmt.Errorf("airflow run: %w: dag_id", ErrMissing)
	}
	runID := rec.DagRunID.value
	if runID == "" {
		runID = rec.RunID.value
	}
	if runID == "" {
		return ingest.Output{}, fmt.Errorf("airflow run %s: %w: dag_run_id", dagID, ErrMissing)
	}
	eid := dagID + "/" + runID
	var times [5]time.Time
	for i, f := range []struct {
		name string
		v    optString
	}{
		{"queued_at", rec.QueuedAt},
		{"start_date", rec.StartDate},
		{"logical_date", firstSet(rec.LogicalDate, rec.ExecutionDate)},
		{"run_after", rec.RunAfter},
		{"end_date", rec.EndDate},
	} {
		t, err := optTime(f.v)
		if err != nil {
			return ingest.Output{}, fmt.Errorf("airflow run %s: %s: %w", eid, f.name, err)
		}
		times[i] = t
	}
	queued, start, logical, runAfter, end := times[0], times[1], times[2], times[3], times[4]
	ts := queued
	for _, t := range []time.Time{start, logical, runAfter} {
		if !ts.IsZero() {
			break
		}
		ts = t
	}
	if ts.IsZero() {
		return ingest.Output{}, fmt.Errorf("airflow run %s: %w: queued_at, start_date, logical_date and run_after are all empty", eid, ErrMissing)
	}
	received := model.Millis(n.now())
	run := model.DagRun{
		Instance:       instance,
		DagID:          dagID,
		RunID:          runID,
		RunType:        runType(rec.RunType.value, runID, rec.ExternalTrigger),
		TriggeredBy:    rec.TriggeredBy.value,
		TriggeringUser: rec.TriggeringUserName.value,
		TS:             model.Millis(ts),
		LogicalDate:    model.Millis(logical),
		StartDate:      model.Millis(start),
		EndDate:        model.Millis(end),
		State:          rec.State.value,
		Conf:           DecodeExtra(rec.Conf),
		ReceivedAt:     received,
	}
	if n.Resolver != nil && run.TriggeringUser != "" {
		if p, ok := n.Resolver.ResolveAirflow(run.TriggeringUser, TriggerChannel(run.TriggeredBy)); ok {
			run.Person = p
		}
	}
	out := ingest.Output{Raw: rawRecord(raw, instance, eid, run.TS, received)}
	out.Raw.EventID = RunVersionID(dagID, runID, out.Raw.SHA256)
	run.RawSHA256 = out.Raw.SHA256
	out.Runs = []model.DagRun{run}
	return out, nil
}

// RunVersionID is the event id of one version of a DAG run:
// dag_id/run_id@ and the first 16 hex digits of sha256, the hex SHA-256 of
// the record's bytes (see the package documentation).
func RunVersionID(dagID, runID, sha256 string) string {
	return dagID + "/" + runID + "@" + sha256[:min(16, len(sha256))]
}

// ownerUsername returns the user name in the owner Airflow 2.6.2–2.6.3 wrote
// for web UI and REST rows, "<username> (<full name>)"
// (airflow/www/decorators.py); any other owner is returned as it is.
func ownerUsername(owner string) string {
	if i := strings.Index(owner, " ("); i > 0 && strings.HasSuffix(owner, ")") && !strings.ContainsAny(owner[:i], " \t") {
		return owner[:i]
	}
	return owner
}

// runTypePrefixes are the run id prefixes Airflow gives the runs it names
// itself: DagRun.generate_run_id writes "<run_type>__<logical date>" (2.0+);
// 1.10 backfills are "backfill_<date>".
var runTypePrefixes = []struct{ prefix, runType string }{
	{"manual__", model.RunManual},
	{"scheduled__", model.RunScheduled},
	{"backfill_", model.RunBackfill},
	{"dataset_triggered__", model.RunDatasetTriggered},
	{"asset_triggered__", model.RunAssetTriggered},
}

// runType returns a run's run_type. The REST API writes none before 2.4
// (2.0–2.3; the dag_run table has had the column since 2.0): then a run
// somebody triggered (external_trigger true: the UI, REST API or CLI) is
// manual whatever its run id; otherwise the run id prefix Airflow gave it
// decides, and a run the scheduler made under another name (external_trigger
// false) is scheduled. Without external_trigger or a known prefix it stays "".
func runType(given, runID string, external optBool) string {
	if given != "" {
		return given
	}
	if external.valid && external.value {
		return model.RunManual
	}
	for _, p := range runTypePrefixes {
		if strings.HasPrefix(runID, p.prefix) {
			return p.runType
		}
	}
	if external.valid {
		return model.RunScheduled
	}
	return ""
}

// TriggerChannel maps a 3.x DagRun.triggered_by value to the channel the
// triggering user acted through: cli → cli; ui → ui; rest_api, backfill (the
// user who requested the backfill, usually through the UI or REST API) and ""
// → api; timetable, asset, operator, test and the like → system.
func TriggerChannel(triggeredBy string) model.Channel {
	switch triggeredBy {
	case "cli":
		return model.ChannelCLI
	case "ui":
		return model.ChannelUI
	case "rest_api", "backfill", "":
		return model.ChannelAPI
	}
	return model.ChannelSystem
}

func rawRecord(raw []byte, instance, id string, ts, received time.Time) model.RawRecord {
	b := bytes.Clone(raw)
	return model.RawRecord{
		Source:     model.SourceAirflow,
		Instance:   instance,
		EventID:    id,
		TS:         ts,
		ReceivedAt: received,
		Raw:        b,
		SHA256:     model.SHA256Hex(b),
	}
}

// firstSet returns a if it holds a value, else b.
func firstSet(a, b optString) optString {
	if a.value != "" {
		return a
	}
	return b
}

// optTime parses an optional time; absent, null and "" give the zero time.
func optTime(s optString) (time.Time, error) {
	if s.value == "" {
		return time.Time{}, nil
	}
	return ParseTime(s.value)
}
