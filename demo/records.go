package demo

import (
	"math/rand/v2"
	"sort"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Stream names one list a provider's API serves.
type Stream string

// The streams the organisation's providers serve.
const (
	StreamOktaLogs         Stream = "okta/logs"          // System Log LogEvents (GET /api/v1/logs)
	StreamEntraSignIns     Stream = "entra/signins"      // Graph signIn resources (GET /beta/auditLogs/signIns)
	StreamEntraAudits      Stream = "entra/audits"       // Graph directoryAudit resources (GET /v1.0/auditLogs/directoryAudits)
	StreamGoogleLogin      Stream = "google/login"       // Reports API login activities (activities.list)
	StreamKeycloakEvents   Stream = "keycloak/events"    // Keycloak user events (GET /admin/realms/{realm}/events)
	StreamAirflowEventLogs Stream = "airflow/event_logs" // Airflow audit log rows (GET /api/v1|v2/eventLogs)
	StreamAirflowDagRuns   Stream = "airflow/dag_runs"   // Airflow DAG run versions (GET /api/v1|v2/dags/~/dagRuns)
)

// Entra sign-in kinds (the signInEventTypes value of a sign-in).
const (
	KindInteractive    = "interactiveUser"
	KindNonInteractive = "nonInteractiveUser"
)

// DAG run states a run version carries.
const (
	RunQueued  = "queued"
	RunRunning = "running"
	RunSuccess = "success"
	RunFailed  = "failed"
)

// Feed is one stream of one provider instance: every record its API lists
// over the period, in the order the provider keeps them (by Visible, then by
// time), rendered on demand. The same Org gives the same feeds, byte for
// byte; the IdP records carry their own provider ids, not those of the
// files WriteFiles writes (both describe the same events).
type Feed struct {
	Stream   Stream
	Source   model.Source
	Instance string
	// Version is the Airflow version of an Airflow feed ("" otherwise).
	Version string
	Items   []Item

	o    *Org
	inst *instData
	seed uint64
}

// Item is one record of a feed.
type Item struct {
	// TS is the record's own time in Unix milliseconds: Okta published,
	// Entra createdDateTime / activityDateTime, Google id.time, Keycloak
	// time, Airflow when; for a DAG run version, the time the run changed to
	// it (its updated_at).
	TS int64
	// Visible is when the provider starts listing the record, in Unix
	// milliseconds: TS, or later for a record the generator delivers late.
	Visible int64
	// Subject is the provider's id of the person the record is about (Okta
	// actor.id, Entra userId, Google profileId, Keycloak userId); for
	// Airflow records, "dag_id/run_id" of a DAG run version and "" for an
	// audit row.
	Subject string
	// Kind is the Entra sign-in's signInEventTypes value or a DAG run
	// version's state; "" otherwise.
	Kind string
	// Seq is an Airflow audit row's event_log_id (0 otherwise).
	Seq int64
	// Late is set on records the generator delivers out of order: IdP
	// records emitted minutes to hours after their time (Visible > TS) and
	// Airflow audit rows committed after rows with higher ids.
	Late bool

	ref  int32 // auth event, audit row or run index
	step uint8 // record step of an auth event; run phase
}

// Time returns the item's own time.
func (it *Item) Time() time.Time { return time.UnixMilli(it.TS).UTC() }

// VisibleAt returns when the provider starts listing the item.
func (it *Item) VisibleAt() time.Time { return time.UnixMilli(it.Visible).UTC() }

// Feeds returns every stream of the organisation: Okta, Entra (sign-ins and
// directory audits), Google and Keycloak, then each Airflow instance's audit
// log and DAG run versions. A DAG run has a version for each state it passes
// through (queued, running, then success or failed), each visible from the
// time the run changed to it, as the dagRuns endpoint shows it then.
func (o *Org) Feeds() []*Feed {
	var out []*Feed
	idp := func(st Stream, src model.Source, keep func(*authEv) bool) {
		f := &Feed{Stream: st, Source: src, Instance: idpInstance[src], o: o, seed: o.streamSeed(string(st))}
		for _, rec := range o.idpRecords(src, keep) {
			ev := &o.auth[rec.ev]
			it := Item{TS: rec.ts, Visible: rec.emit, Subject: o.People[ev.person].Subject, ref: rec.ev, step: rec.step, Late: rec.emit > rec.ts}
			if src == model.SourceEntra && st == StreamEntraSignIns {
				it.Kind = KindInteractive
				if pattern(src, ev.kind, ev.factor)[rec.step].rec == recSessionEvent {
					it.Kind = KindNonInteractive
				}
			}
			f.Items = append(f.Items, it)
		}
		f.sortItems()
		out = append(out, f)
	}
	isReg := func(a *authEv) bool { return a.kind == evRegister || a.kind == evRemove }
	idp(StreamOktaLogs, model.SourceOkta, all)
	idp(StreamEntraSignIns, model.SourceEntra, func(a *authEv) bool { return !isReg(a) })
	idp(StreamEntraAudits, model.SourceEntra, isReg)
	idp(StreamGoogleLogin, model.SourceGoogle, all)
	idp(StreamKeycloakEvents, model.SourceKeycloak, all)
	for ii, in := range o.insts {
		logs := &Feed{Stream: StreamAirflowEventLogs, Source: model.SourceAirflow, Instance: in.cfg.Name, Version: in.cfg.Version, o: o, inst: in}
		for ri := range in.rows {
			row := &in.rows[ri]
			logs.Items = append(logs.Items, Item{TS: row.ts, Visible: row.ts, Seq: row.id, Late: row.late, ref: int32(ri)})
		}
		runs := &Feed{Stream: StreamAirflowDagRuns, Source: model.SourceAirflow, Instance: in.cfg.Name, Version: in.cfg.Version, o: o, inst: in}
		for ri := range o.runs {
			r := &o.runs[ri]
			if int(r.inst) != ii {
				continue
			}
			subject := in.dags[r.dag].id + "/" + r.runID
			add := func(ts int64, phase uint8, state string) {
				runs.Items = append(runs.Items, Item{TS: ts, Visible: ts, Subject: subject, Kind: state, ref: int32(ri), step: phase})
			}
			add(r.queued, phaseQueued, RunQueued)
			add(r.start, phaseRunning, RunRunning)
			if r.end > 0 {
				state := RunSuccess
				if r.failed {
					state = RunFailed
				}
				add(r.end, phaseFinal, state)
			}
		}
		runs.sortItems()
		out = append(out, logs, runs)
	}
	return out
}

func (f *Feed) sortItems() {
	sort.SliceStable(f.Items, func(i, j int) bool {
		a, b := &f.Items[i], &f.Items[j]
		if a.Visible != b.Visible {
			return a.Visible < b.Visible
		}
		return a.TS < b.TS
	})
}

// streamSeed derives a feed's seed from the organisation's.
func (o *Org) streamSeed(name string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return mix(h ^ o.cfg.Seed)
}

// Append renders item i of the feed as the provider's API lists it and
// appends it to b. It is deterministic and safe for concurrent use.
func (f *Feed) Append(b []byte, i int) []byte {
	it := &f.Items[i]
	switch f.Stream {
	case StreamAirflowEventLogs:
		return f.o.appendRow(b, f.inst, &f.inst.rows[it.ref])
	case StreamAirflowDagRuns:
		return f.o.appendRunPhase(b, f.inst, &f.o.runs[it.ref], it.step)
	}
	// Every IdP record draws its provider ids from a stream of its own, so
	// that records render independently of each other.
	r := rand.New(rand.NewPCG(f.seed, uint64(it.ref)<<8|uint64(it.step)))
	rec := idpRec{ts: it.TS, emit: it.Visible, ev: it.ref, step: it.step}
	switch f.Stream {
	case StreamOktaLogs:
		return f.o.appendOkta(b, rec, r)
	case StreamEntraSignIns:
		return f.o.appendEntraSignIn(b, rec, r)
	case StreamEntraAudits:
		return f.o.appendEntraAudit(b, rec, r)
	case StreamGoogleLogin:
		return f.o.appendGoogle(b, rec, r)
	case StreamKeycloakEvents:
		return f.o.appendKeycloak(b, rec, r)
	}
	return b
}
