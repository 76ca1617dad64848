package demo

import (
	"fmt"
	"sort"
	"time"

	"github.com/keytrail/keytrail/model"
)

// DAG schedules.
const (
	schedHourly uint8 = iota
	sched15Min
	schedDaily
	schedAsset // triggered by an upstream DAG's asset/dataset
	schedNone  // manual only
)

// schedCycle is the schedule mix of DAGs beyond the first four.
var schedCycle = []uint8{schedHourly, schedDaily, schedDaily, sched15Min, schedDaily, schedHourly, schedAsset, schedDaily,
	schedHourly, schedDaily, schedNone, schedDaily, schedHourly, schedAsset, schedDaily, schedHourly, schedDaily, schedAsset, schedDaily, schedNone}

func schedInterval(s uint8) int64 {
	switch s {
	case schedHourly:
		return hourMS
	case sched15Min:
		return 15 * minMS
	case schedDaily:
		return dayMS
	}
	return 0
}

type dag struct {
	id      string
	sched   uint8
	tasks   []string
	owner   string
	toggled bool // starts paused; runs only while a person has unpaused it
}

// instData is one Airflow instance's generated content.
type instData struct {
	cfg    Instance
	dags   []dag
	rows   []afRow
	gapAt  int64 // the first id of the deliberate gap (0 when none)
	gapLen int64
}

// Airflow row kinds.
const (
	rowAction uint8 = iota // a human action (ref = action index)
	rowTask                // a task-state row (ref = run index)
)

// Task states written as rows, and the scheduler's row about a task stuck in
// queued (SchedulerJobRunner: "stuck in queued" in 2.10.0–2.10.3, "stuck in
// queued reschedule" from 2.10.5 and in 3.x), which Airflow writes with no
// owner and a text extra.
const (
	tsRunning uint8 = iota
	tsSuccess
	tsFailed
	tsRetry
	tsStuck
)

var taskStateNames = []string{"running", "success", "failed", "up_for_retry", "stuck in queued"}

type afRow struct {
	ts    int64
	id    int64
	ref   int32
	task  int16
	kind  uint8
	state uint8
	try   uint8
	late  bool
}

// Action kinds.
const (
	kView uint8 = iota
	kCLIView
	kTrigger
	kToggle // resolved to kPause / kUnpause once all actions are placed
	kPause
	kUnpause
	kClear
	kMark
	kVariable
	kConn
	kPool
	kUser
	kBackfill
)

// Channels of generated actions.
const (
	chUI uint8 = iota
	chAPI
	chCLI
)

// Scenarios.
const (
	scNone = iota
	scSkew
	scNoStepUp
)

type action struct {
	ts           int64
	sessLo       int64
	sessHi       int64
	assertAt     int64
	id           int64
	person       int32 // -1: an unmapped actor (see actor)
	actor        int32
	run          int32 // the run a trigger created (-1)
	dag          int16
	inst         int16
	kind         uint8
	ch           uint8
	scenario     uint8
	hasAssertion bool
	dropped      bool
	verdict      model.Verdict
}

func (a *action) privileged() bool { return a.kind != kView && a.kind != kCLIView }

// actor is an Airflow user that maps to no person.
type actor struct {
	owner string
	why   string
}

type dagRun struct {
	runID       string
	triggeredBy string
	logical     int64
	queued      int64
	start       int64
	end         int64 // 0 while running
	from        int32 // enabling action (-1 none)
	dag         int16
	inst        int16
	runType     uint8
	failed      bool
}

// Run types.
const (
	rtScheduled uint8 = iota
	rtManual
	rtBackfill
	rtAsset
)

var dagWords = []string{"orders", "payments", "customers", "inventory", "marketing", "finance", "events", "sessions", "invoices", "shipments", "churn", "forecast", "features", "embeddings", "ledger", "pricing", "fraud", "support", "search", "reviews"}
var dagVerbs = []string{"etl", "sync", "ingest", "export", "train", "score", "report", "dq", "compact", "snapshot"}
var taskWords = []string{"extract", "validate", "transform", "load", "dq_check", "aggregate", "publish", "export", "notify", "cleanup", "train", "evaluate", "register", "snapshot", "dedupe", "enrich", "partition", "compact", "backup", "index", "sample", "score", "reconcile", "archive"}
var dagOwners = []string{"data-eng", "airflow", "ml-platform", "analytics"}

func (g *gen) dags() {
	for i, ic := range g.cfg.Instances {
		in := &instData{cfg: ic}
		used := map[string]bool{}
		for j := 0; j < ic.DAGs; j++ {
			var d dag
			for {
				d.id = dagVerbs[g.rng.IntN(len(dagVerbs))] + "_" + dagWords[g.rng.IntN(len(dagWords))]
				switch j % 3 {
				case 0:
					d.id += "_hourly"
				case 1:
					d.id += "_daily"
				}
				if !used[d.id] {
					break
				}
				d.id += fmt.Sprintf("_v%d", j)
				if !used[d.id] {
					break
				}
			}
			used[d.id] = true
			switch j {
			case 0:
				d.sched, d.toggled = schedHourly, true
			case 1:
				d.sched = schedDaily
			case 2:
				d.sched = schedNone
			case 3:
				d.sched = schedAsset
			default:
				// a fixed mix keeps the size steady across seeds
				d.sched = schedCycle[(j-4)%len(schedCycle)]
				d.toggled = (d.sched == schedHourly || d.sched == schedDaily) && g.chance(0.3)
			}
			n := max(1, g.cfg.TasksPerDAG/2+g.rng.IntN(g.cfg.TasksPerDAG+1))
			if n > len(taskWords) {
				n = len(taskWords)
			}
			perm := g.rng.Perm(len(taskWords))
			for k := 0; k < n; k++ {
				d.tasks = append(d.tasks, taskWords[perm[k]])
			}
			d.owner = dagOwners[g.rng.IntN(len(dagOwners))]
			in.dags = append(in.dags, d)
		}
		_ = i
		g.org.insts = append(g.org.insts, in)
	}
}

// personDays generates person p's authentications and Airflow actions, day by day.
func (g *gen) personDays(p int) {
	P := &g.org.People[p]
	ps := &g.pstate[p]
	isScripted := p < len(scripted)
	for d := 0; d < g.cfg.Days; d++ {
		day := g.start + int64(d)*dayMS
		wd := time.UnixMilli(day).UTC().Weekday()
		weekend := wd == time.Saturday || wd == time.Sunday
		works := (isScripted && d < 2) || (!weekend && g.chance(0.93)) || (weekend && g.chance(0.08))
		if !works {
			continue
		}
		L := day + 7*hourMS + g.between(0, 3*hourMS)
		end := L + 8*hourMS + g.between(0, 2*hourMS)
		forgot := !isScripted && P.Posture == PostureHardware && g.chance(0.06)

		// key life cycle
		if P.Posture == PostureHardware {
			if ps.hwFrom == -2 && day >= ps.regDay {
				at := L + 3*minMS + g.between(0, minMS)
				ps.cred = g.addCred(int32(p), false, at, false)
				ps.hwFrom = at
				g.addAuth(p, at, evRegister, fHW, ps.cred)
			}
			if ps.lostDay > 0 && ps.gapFrom < 0 && day >= ps.lostDay && ps.hwFrom >= 0 {
				at := L - 10*minMS - g.between(0, 10*minMS)
				ps.gapFrom = at
				g.org.creds[ps.cred].remAt = at
				g.addAuth(p, at, evRemove, fHW, ps.cred)
			} else if ps.gapFrom >= 0 && ps.gapTo < 0 && day > ps.gapFrom {
				at := L + 3*minMS + g.between(0, minMS)
				ps.cred2 = g.addCred(int32(p), false, at, false)
				ps.gapTo = at
				g.addAuth(p, at, evRegister, fHW, ps.cred2)
			}
		}

		// sign-ins
		if P.Posture == PostureNone {
			g.addAuth(p, L, evFail, fPassword, -1)
			if g.chance(0.5) {
				g.addAuth(p, L+g.between(20*secMS, 2*minMS), evFail, fPassword, -1)
			}
		} else {
			f, c := g.factorAt(p, L, forgot)
			g.addAuth(p, L, evLogin, f, c)
			if g.chance(0.3) {
				at := L + 4*hourMS + g.between(0, hourMS)
				f, c := g.factorAt(p, at, forgot)
				g.addAuth(p, at, evLogin, f, c)
			}
			if g.chance(0.04) {
				g.addAuth(p, L-g.between(30*secMS, 3*minMS), evFail, fPassword, -1)
			}
			if P.Source == model.SourceGoogle {
				g.addAuth(p, end+g.between(minMS, 20*minMS), evSession, fPassword, -1)
			} else {
				for t := L + 20*minMS + g.between(0, 40*minMS); t < end; t += 50*minMS + g.between(0, 50*minMS) {
					f, c := fPassword, int32(-1)
					if P.Source == model.SourceEntra {
						// Entra's non-interactive records name the methods of the
						// sign-in whose token they reuse.
						f, c = g.factorAt(p, t, false)
					}
					g.addAuth(p, t, evSession, f, c)
				}
			}
		}

		if P.Role == RoleNone || len(P.Instances) == 0 {
			continue
		}
		// page views
		mean := float64(g.cfg.ViewsPerDay)
		switch P.Role {
		case RoleOperator:
			mean *= 0.8
		case RoleAdmin:
			mean *= 0.5
		}
		if weekend {
			mean *= 0.3
		}
		nv := int(mean * (0.5 + g.rng.Float64()))
		if P.Posture == PostureNone {
			nv = 0 // an API token user: no browsing
		}
		for k := 0; k < nv; k++ {
			inst := P.Instances[g.rng.IntN(len(P.Instances))]
			g.addAction(p, -1, g.between(L+3*minMS, end), L, end, inst, kView, g.viewChannel(inst), -1)
		}
		if P.OSUser != "" {
			for k := g.rng.IntN(4); k > 0; k-- {
				inst := P.Instances[g.rng.IntN(len(P.Instances))]
				g.addAction(p, -1, g.between(L+3*minMS, end), L, end, inst, kCLIView, chCLI, -1)
			}
		}
		if P.Role != RoleOperator && P.Role != RoleAdmin {
			continue
		}
		// privileged actions
		np := 0
		for k := 0; k < 2*g.cfg.PrivilegedPerDay; k++ {
			if g.chance(0.5) {
				np++
			}
		}
		if P.Role == RoleAdmin {
			np = np * 2 / 3
		}
		for k := 0; k < np; k++ {
			t := g.between(L+25*minMS, end)
			inst := P.Instances[g.rng.IntN(len(P.Instances))]
			kind := g.privKind(P)
			g.privileged(p, t, L, end, inst, kind, g.privChannel(P, inst, kind), forgot, -1)
		}
		if isScripted && d < 2 {
			g.scriptedDay(p, d, L, end)
		}
	}
}

// scriptedDay places the actions that guarantee every scenario at small sizes.
func (g *gen) scriptedDay(p, d int, L, end int64) {
	P := &g.org.People[p]
	home := P.Instances[0]
	switch {
	case p == 0 && d == 0:
		g.privileged(p, L+3*hourMS+17*minMS, L, end, home, kClear, chUI, false, scNoStepUp)
		g.privileged(p, L+5*hourMS+11*minMS, L, end, home, kVariable, chAPI, false, scSkew)
		g.privileged(p, L+6*hourMS+3*minMS, L, end, home, kToggle, chUI, false, -1)
	case p == 0 && d == 1:
		g.privileged(p, L+2*hourMS+7*minMS, L, end, home, kTrigger, chUI, false, -1)
		g.privileged(p, L+3*hourMS+29*minMS, L, end, home, kMark, chAPI, false, scNoStepUp)
		g.privileged(p, L+5*hourMS+41*minMS, L, end, home, kClear, chCLI, false, scSkew)
	case p == 1 && d == 0:
		g.privileged(p, L+2*hourMS, L, end, home, kConn, chUI, false, -1)
		g.privileged(p, L+4*hourMS, L, end, home, kUser, chAPI, false, -1)
	case p == 3 && d == 0:
		g.privileged(p, L+2*hourMS+13*minMS, L, end, home, kToggle, chCLI, false, -1)
	case p == 4 && d == 0:
		g.privileged(p, L+hourMS+5*minMS, L, end, home, kTrigger, chAPI, false, -1)
	case p == 6 && d == 0:
		g.privileged(p, L+hourMS+35*minMS, L, end, home, kClear, chUI, false, -1)
	case p == 7:
		g.privileged(p, L+hourMS+50*minMS, L, end, home, kTrigger, chAPI, false, -1)
		g.addAction(p, -1, L+2*hourMS, L, end, home, kView, g.viewChannel(home), -1)
	case p == 9 && d == 0:
		i210 := g.instanceOf(Airflow210)
		g.privileged(p, L+2*hourMS+21*minMS, L, end, i210, kBackfill, chCLI, false, -1)
		g.privileged(p, L+4*hourMS+2*minMS, L, end, i210, kTrigger, chCLI, false, -1)
	case p == 9 && d == 1:
		i31 := g.instanceOf(Airflow31)
		g.privileged(p, L+2*hourMS+21*minMS, L, end, i31, kBackfill, chAPI, false, -1)
		g.privileged(p, L+3*hourMS+2*minMS, L, end, i31, kTrigger, chUI, false, -1)
	}
}

func (g *gen) viewChannel(inst int) uint8 {
	if g.cfg.Instances[inst].Version == Airflow31 {
		return chAPI
	}
	return chUI
}

func (g *gen) privKind(P *Person) uint8 {
	r := g.rng.IntN(100)
	switch {
	case r < 28:
		return kTrigger
	case r < 46:
		return kClear
	case r < 54:
		return kMark
	case r < 64:
		return kToggle
	case r < 74:
		return kVariable
	case r < 80:
		return kConn
	case r < 84:
		return kPool
	case r < 88:
		if P.Role == RoleAdmin {
			return kUser
		}
		return kVariable
	case r < 92:
		return kBackfill
	}
	return kTrigger
}

func (g *gen) privChannel(P *Person, inst int, kind uint8) uint8 {
	r := g.rng.Float64()
	if P.OSUser != "" && r < 0.2 {
		return chCLI
	}
	if kind == kBackfill && g.cfg.Instances[inst].Version == Airflow210 {
		// 2.x backfills run from the CLI only
		if P.OSUser != "" {
			return chCLI
		}
		return 255
	}
	if r < 0.65 {
		return chUI
	}
	return chAPI
}

// privileged places a privileged action at t with the step-up the person's
// habits give it. force is a scenario to impose, or -1.
func (g *gen) privileged(p int, t, lo, hi int64, inst int, kind, ch uint8, forgot bool, force int) {
	if ch == 255 {
		kind, ch = kTrigger, chUI
	}
	P := &g.org.People[p]
	if kind == kUser && ch != chCLI {
		// Airflow logs user and role changes only from the CLI
		// (cli_users_create, …): the FAB views and REST endpoints write no
		// audit row. A person without a CLI account changes a variable instead.
		if P.OSUser != "" {
			ch = chCLI
		} else {
			kind = kVariable
		}
	}
	sc := scNone
	if P.Posture != PostureNone {
		f, c := g.factorAt(p, t, forgot)
		r := g.rng.Float64()
		switch {
		case force == scNoStepUp:
			sc = scNoStepUp
		case force == scSkew && f == fHW:
			sc = scSkew
			g.addAuth(p, t+g.between(1000, 3500), evStepUp, f, c)
		case force >= 0:
			g.addAuth(p, t-g.between(5*secMS, 10*minMS), evStepUp, f, c)
		case f == fHW && r < 0.80:
			g.addAuth(p, t-g.between(5*secMS, 10*minMS), evStepUp, f, c)
		case f == fHW && r < 0.87 && kind != kTrigger && kind != kBackfill:
			sc = scSkew
			g.addAuth(p, t+g.between(1000, 3500), evStepUp, f, c)
		case f == fHW:
			sc = scNoStepUp
		case r < 0.9:
			g.addAuth(p, t-g.between(5*secMS, 10*minMS), evStepUp, f, c)
		default:
			sc = scNoStepUp
		}
	}
	i := g.addAction(p, -1, t, lo, hi, inst, kind, ch, -1)
	g.org.actions[i].scenario = uint8(sc)
}

func (g *gen) addAction(p int, actorIdx int32, t, lo, hi int64, inst int, kind, ch uint8, dagIdx int) int {
	in := g.org.insts[inst]
	if dagIdx < 0 {
		dagIdx = g.pickDag(in, kind)
	}
	g.org.actions = append(g.org.actions, action{
		ts: t, sessLo: lo, sessHi: hi, person: int32(p), actor: actorIdx, run: -1,
		dag: int16(dagIdx), inst: int16(inst), kind: kind, ch: ch,
	})
	return len(g.org.actions) - 1
}

// pickDag chooses the DAG an action is about.
func (g *gen) pickDag(in *instData, kind uint8) int {
	for tries := 0; ; tries++ {
		j := g.rng.IntN(len(in.dags))
		d := &in.dags[j]
		switch kind {
		case kToggle:
			if d.toggled || tries > 50 {
				return firstToggled(in, j)
			}
		case kClear, kMark:
			if !d.toggled && schedInterval(d.sched) > 0 {
				return j
			}
			if tries > 50 {
				return 1
			}
		case kTrigger:
			if d.sched == schedNone || !d.toggled && g.chance(0.3) || tries > 50 {
				return j
			}
		case kBackfill:
			if d.sched == schedDaily && !d.toggled {
				return j
			}
			if tries > 50 {
				return 1
			}
		default:
			return j
		}
	}
}

func firstToggled(in *instData, j int) int {
	if in.dags[j].toggled {
		return j
	}
	return 0
}

// unknownActors adds Airflow users that map to no person.
func (g *gen) unknownActors() {
	o := g.org
	i210, i31 := g.instanceOf(Airflow210), g.instanceOf(Airflow31)
	o.actors = []actor{
		{owner: "admin", why: "local Flask-AppBuilder admin account, no IdP identity"},
		{owner: "deploy", why: "CLI OS user without a mapping"},
		{owner: "okta_00uC0ntr4ct0rX9z2q7", why: "Okta user never seen at the IdP (contractor)"},
	}
	for d := 0; d < g.cfg.Days; d++ {
		day := g.start + int64(d)*dayMS
		wd := time.UnixMilli(day).UTC().Weekday()
		if d > 0 && (wd == time.Saturday || wd == time.Sunday) {
			continue
		}
		lo, hi := day+8*hourMS, day+18*hourMS
		for k := 3 + g.rng.IntN(8); k > 0; k-- {
			g.addAction(-1, 0, g.between(lo, hi), lo, hi, i210, kView, chUI, -1)
		}
		if d == 0 || g.chance(0.3) {
			g.addAction(-1, 0, g.between(lo, hi), lo, hi, i210, kVariable, chUI, -1)
		}
		g.addAction(-1, 1, day+6*hourMS+g.between(0, 10*minMS), lo, hi, i31, kTrigger, chCLI, 2)
		if d == 0 || g.chance(0.4) {
			g.addAction(-1, 2, g.between(lo, hi), lo, hi, i31, kView, chAPI, -1)
			g.addAction(-1, 2, g.between(lo, hi), lo, hi, i31, kClear, chAPI, -1)
		}
	}
}

// decide computes every human action's verdict, moving or dropping actions
// whose verdict would be ambiguous.
func (g *gen) decide() {
	o := g.org
	for i := range o.actions {
		a := &o.actions[i]
		if a.person < 0 {
			a.verdict = model.VerdictUnknownIdentity
			continue
		}
		maxAge := int64(HumanMaxAge / time.Millisecond)
		if a.privileged() {
			maxAge = int64(PrivilegedMaxAge / time.Millisecond)
		}
		pts := o.points[a.person]
		ok := false
		for k := 0; k < 16 && !ok; k++ {
			t := a.ts
			if k > 0 {
				step := int64((k+1)/2) * 4 * minMS
				if k%2 == 1 {
					t += step
				} else {
					t -= step
				}
				if t < a.sessLo+2*minMS || t > a.sessHi+30*minMS || t >= g.end {
					continue
				}
			}
			if v, at, good := robust(pts, t, maxAge); good {
				a.ts, a.verdict, ok = t, v, true
				if at != 0 {
					a.assertAt, a.hasAssertion = at, true
				}
				if k > 0 && a.scenario == scSkew {
					a.scenario = scNone
				}
			}
		}
		if !ok || a.ts >= g.end || a.ts < g.start {
			a.dropped = true
		}
	}
	// keep only placed actions; resolve toggles into pause and unpause
	kept := o.actions[:0]
	for _, a := range o.actions {
		if !a.dropped {
			kept = append(kept, a)
		}
	}
	o.actions = kept
	idx := make([]int, 0, 64)
	for i := range o.actions {
		if o.actions[i].kind == kToggle {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(x, y int) bool {
		a, b := &o.actions[idx[x]], &o.actions[idx[y]]
		if a.inst != b.inst {
			return a.inst < b.inst
		}
		if a.dag != b.dag {
			return a.dag < b.dag
		}
		return a.ts < b.ts
	})
	paused := map[[2]int16]bool{}
	for _, i := range idx {
		a := &o.actions[i]
		k := [2]int16{a.inst, a.dag}
		p, seen := paused[k]
		if !seen {
			p = true // toggled DAGs start paused
		}
		if p {
			a.kind = kUnpause
		} else {
			a.kind = kPause
		}
		paused[k] = !p
	}
}
