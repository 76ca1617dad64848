package demo

import (
	"sort"
	"strconv"
	"time"

	"github.com/keytrail/keytrail/model"
)

// runsAndRows derives DAG runs from the schedule and the placed actions,
// task-state rows from the runs, and assigns event_log_ids.
func (g *gen) runsAndRows() {
	o := g.org
	ids := map[string]bool{}
	add := func(r dagRun) int32 {
		if r.queued >= g.end {
			return -1
		}
		key := strconv.Itoa(int(r.inst)) + "/" + strconv.Itoa(int(r.dag)) + "/" + r.runID
		if ids[key] {
			return -1 // Airflow refuses a second run with the same id
		}
		ids[key] = true
		r.start = r.queued + g.between(500, 8*secMS)
		d := &o.insts[r.inst].dags[r.dag]
		maxDur := 25 * minMS
		if d.sched == sched15Min {
			maxDur = 10 * minMS
		}
		r.end = r.start + g.between(minMS, maxDur)
		if r.end >= g.end {
			r.end = 0
		}
		r.failed = g.chance(0.04)
		o.runs = append(o.runs, r)
		return int32(len(o.runs) - 1)
	}
	// manual runs and backfills
	for i := range o.actions {
		a := &o.actions[i]
		switch a.kind {
		case kTrigger:
			logical := a.ts + g.between(10, 140)
			by := "ui"
			switch a.ch {
			case chAPI:
				by = "rest_api"
			case chCLI:
				by = "cli"
			}
			a.run = add(dagRun{runType: rtManual, triggeredBy: by, logical: logical, queued: a.ts + g.between(150, 1500),
				dag: a.dag, inst: a.inst, from: int32(i), runID: "manual__" + isoMicro(logical)})
		case kBackfill:
			n := 3 + g.rng.IntN(6)
			dayT := a.ts - a.ts%dayMS
			q := a.ts + secMS
			for k := n; k >= 1; k-- {
				logical := dayT - int64(k)*dayMS
				add(dagRun{runType: rtBackfill, triggeredBy: "backfill", logical: logical, queued: q,
					dag: a.dag, inst: a.inst, from: int32(i), runID: "backfill__" + isoRunID(logical)})
				q += g.between(20*secMS, 3*minMS)
			}
		}
	}
	// scheduled runs
	type span struct {
		lo, hi int64
		from   int32
	}
	toggles := map[[2]int16][]int32{}
	for i := range o.actions {
		a := &o.actions[i]
		if a.kind == kPause || a.kind == kUnpause {
			k := [2]int16{a.inst, a.dag}
			toggles[k] = append(toggles[k], int32(i))
		}
	}
	for ii, in := range o.insts {
		for di := range in.dags {
			d := &in.dags[di]
			iv := schedInterval(d.sched)
			if iv == 0 {
				continue
			}
			var spans []span
			if !d.toggled {
				spans = []span{{g.start, g.end, -1}}
			} else {
				ts := toggles[[2]int16{int16(ii), int16(di)}]
				sort.Slice(ts, func(x, y int) bool { return o.actions[ts[x]].ts < o.actions[ts[y]].ts })
				for x, ai := range ts {
					if o.actions[ai].kind != kUnpause {
						continue
					}
					hi := g.end
					if x+1 < len(ts) {
						hi = o.actions[ts[x+1]].ts
					}
					spans = append(spans, span{o.actions[ai].ts, hi, ai})
				}
			}
			seen := map[int64]bool{}
			for _, s := range spans {
				first := s.lo - s.lo%iv
				if s.from >= 0 {
					// catch-up run for the latest complete interval, right after the unpause
					logical := first - iv
					q := s.lo + g.between(3*secMS, 15*secMS)
					if q < s.hi && !seen[logical] {
						seen[logical] = true
						add(dagRun{runType: rtScheduled, triggeredBy: "timetable", logical: logical, queued: q,
							dag: int16(di), inst: int16(ii), from: s.from, runID: "scheduled__" + isoRunID(logical)})
					}
				}
				for tick := first + iv; tick < s.hi; tick += iv {
					q := tick + g.between(2*secMS, 20*secMS)
					logical := tick - iv
					if q >= s.hi || q >= g.end || seen[logical] {
						continue
					}
					if q < s.lo+30*secMS {
						continue
					}
					seen[logical] = true
					add(dagRun{runType: rtScheduled, triggeredBy: "timetable", logical: logical, queued: q,
						dag: int16(di), inst: int16(ii), from: s.from, runID: "scheduled__" + isoRunID(logical)})
				}
			}
		}
	}
	// asset-triggered runs follow the upstream daily DAG (index 1)
	n := len(o.runs)
	for ri := 0; ri < n; ri++ {
		r := o.runs[ri]
		if r.dag != 1 || r.runType != rtScheduled || r.end == 0 || r.failed {
			continue
		}
		for di := range o.insts[r.inst].dags {
			if o.insts[r.inst].dags[di].sched != schedAsset {
				continue
			}
			q := r.end + g.between(5*secMS, 30*secMS)
			prefix := "dataset_triggered__"
			if o.insts[r.inst].cfg.Version == Airflow31 {
				prefix = "asset_triggered__"
			}
			add(dagRun{runType: rtAsset, triggeredBy: "asset", logical: q, queued: q,
				dag: int16(di), inst: r.inst, from: -1, runID: prefix + isoMicro(q)})
		}
	}
	sort.SliceStable(o.runs, func(i, j int) bool { return o.runs[i].queued < o.runs[j].queued })
	// fix the action → run links after sorting
	for ri := range o.runs {
		r := &o.runs[ri]
		if r.runType == rtManual && r.from >= 0 {
			o.actions[r.from].run = int32(ri)
		}
	}

	// audit rows
	for i := range o.actions {
		a := &o.actions[i]
		in := o.insts[a.inst]
		in.rows = append(in.rows, afRow{ts: a.ts, kind: rowAction, ref: int32(i)})
	}
	for ri := range o.runs {
		r := &o.runs[ri]
		in := o.insts[r.inst]
		d := &in.dags[r.dag]
		dur := r.end - r.start
		if r.end == 0 {
			dur = 10 * minMS
		}
		nt := int64(len(d.tasks))
		for k := range d.tasks {
			rs := r.start + int64(k)*dur/nt + g.between(0, 2*secMS)
			re := rs + dur/nt*8/10
			addRow := func(ts int64, st, try uint8) {
				if ts < g.end {
					in.rows = append(in.rows, afRow{ts: ts, kind: rowTask, ref: int32(ri), task: int16(k), state: st, try: try})
				}
			}
			addRow(rs, tsRunning, 1)
			switch {
			case r.end == 0 && k == len(d.tasks)-1:
				// still running at the end of the period
			case r.failed && k == len(d.tasks)-1:
				addRow(re, tsFailed, 1)
			case g.chance(0.03):
				addRow(re, tsRetry, 1)
				addRow(re+20*secMS, tsStuck, 2)
				addRow(re+30*secMS, tsRunning, 2)
				addRow(re+90*secMS, tsSuccess, 2)
			default:
				addRow(re, tsSuccess, 1)
			}
		}
	}
	for ii, in := range o.insts {
		sort.SliceStable(in.rows, func(i, j int) bool { return in.rows[i].ts < in.rows[j].ts })
		id := 1 + g.rng.Int64N(5_000_000)
		if in.cfg.Version == Airflow31 {
			id = 1 + g.rng.Int64N(50_000)
		}
		gap := ii == g.instanceOf(Airflow210)
		for ri := range in.rows {
			if gap && ri == len(in.rows)/2 {
				in.gapAt, in.gapLen = id, 7
				id += in.gapLen
			}
			in.rows[ri].id = id
			id++
			if ri > 10 && g.chance(0.001) {
				in.rows[ri].late = true
			}
			if in.rows[ri].kind == rowAction {
				o.actions[in.rows[ri].ref].id = in.rows[ri].id
			}
		}
	}
}

// isoMicro formats ms as Airflow writes a manual run's logical date.
func isoMicro(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

// isoRunID formats a schedule-aligned logical date as in scheduled__ run ids.
func isoRunID(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05+00:00")
}

// actionID is the correlator's id of a human audit action.
func (o *Org) actionID(a *action) string {
	return o.insts[a.inst].cfg.Name + ":" + strconv.FormatInt(a.id, 10)
}

func (o *Org) runActionID(r *dagRun) string {
	in := o.insts[r.inst]
	return in.cfg.Name + ":" + in.dags[r.dag].id + ":" + r.runID
}

// intents tallies the verdicts.
func (g *gen) intents() {
	o := g.org
	o.verdicts = map[model.Verdict]int{}
	o.EachIntent(func(it *Intent) { o.verdicts[it.Verdict]++ })
}

// EachIntent calls fn with the intent of every action: audit actions by
// instance and event_log_id, then runs by time. fn must not keep it.
func (o *Org) EachIntent(fn func(*Intent)) {
	var it Intent
	for _, in := range o.insts {
		for ri := range in.rows {
			row := &in.rows[ri]
			if row.kind != rowAction {
				continue
			}
			a := &o.actions[row.ref]
			name, _ := o.eventName(a)
			it = Intent{
				ActionID: o.actionID(a), Kind: model.KindAudit, Instance: in.cfg.Name,
				TS: time.UnixMilli(a.ts).UTC(), Event: name, Channel: o.channel(a),
				Privileged: a.privileged(), Actor: o.owner(a), Verdict: a.verdict,
			}
			if a.dag >= 0 && a.kind != kVariable && a.kind != kConn && a.kind != kPool && a.kind != kUser {
				it.DagID = in.dags[a.dag].id
			}
			if a.person >= 0 {
				it.Person = o.People[a.person].ID
			}
			if a.hasAssertion {
				off := a.ts - a.assertAt
				it.AssertionOffsetMS = &off
				if off < 0 {
					it.Scenario = "clock_skew"
				}
			}
			switch {
			case a.person < 0:
				it.Scenario = "unmapped_actor"
			case a.verdict == model.VerdictStale:
				it.Scenario = "stale_session"
			}
			fn(&it)
		}
	}
	for ri := range o.runs {
		r := &o.runs[ri]
		in := o.insts[r.inst]
		it = Intent{
			ActionID: o.runActionID(r), Kind: "run", Instance: in.cfg.Name,
			TS: time.UnixMilli(r.queued).UTC(), DagID: in.dags[r.dag].id, RunID: r.runID,
			RunType: runTypeName(in.cfg.Version, r.runType), Verdict: model.VerdictUnattributed,
		}
		if r.from >= 0 {
			a := &o.actions[r.from]
			if r.runType == rtManual { // the triggering person's own act: the trigger's verdict
				it.Verdict = a.verdict
				it.TriggerActionID = o.actionID(a)
			} else { // enabled by an unpause or a backfill request
				it.Verdict = model.VerdictInherited
				it.InheritedFrom = o.actionID(a)
				it.InheritedVerdict = a.verdict
			}
			it.Actor = o.owner(a)
			if a.person >= 0 {
				it.Person = o.People[a.person].ID
			}
		}
		fn(&it)
	}
}

// channel is the channel keytrail classifies an action's event into: 3.x
// logs UI and REST calls under the same bare endpoint names (api).
func (o *Org) channel(a *action) model.Channel {
	if a.ch == chUI && o.insts[a.inst].cfg.Version == Airflow31 {
		return model.ChannelAPI
	}
	return channelOf(a.ch)
}

func channelOf(ch uint8) model.Channel {
	switch ch {
	case chAPI:
		return model.ChannelAPI
	case chCLI:
		return model.ChannelCLI
	}
	return model.ChannelUI
}

func runTypeName(version string, t uint8) string {
	switch t {
	case rtManual:
		return model.RunManual
	case rtBackfill:
		return model.RunBackfill
	case rtAsset:
		if version == Airflow31 {
			return model.RunAssetTriggered
		}
		return model.RunDatasetTriggered
	}
	return model.RunScheduled
}

// owner is the Airflow owner written for an action.
func (o *Org) owner(a *action) string {
	if a.person < 0 {
		return o.actors[a.actor].owner
	}
	p := &o.People[a.person]
	if a.ch == chCLI {
		return p.OSUser
	}
	return p.Owner
}
