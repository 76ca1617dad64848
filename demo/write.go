package demo

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/keytrail/keytrail/model"
)

// File shapes written.
const (
	ShapeOktaEventHook = "okta-event-hook-ndjson" // one Event Hook delivery ({"data":{"events":[…]}}) per line
	ShapeGraphPages    = "graph-pages-ndjson"     // one Graph page ({"value":[…]}) per line
	ShapeGraphPage     = "graph-page-json"        // one pretty Graph page
	ShapeReportsPages  = "reports-pages-ndjson"   // one Reports API page ({"items":[…]}) per line
	ShapeArrayPages    = "array-pages-ndjson"     // one JSON array (Keycloak admin REST page) per line
	ShapeAirflowPages  = "airflow-pages-ndjson"   // one /eventLogs or /dagRuns page per line
	ShapeRecordsNDJSON = "records-ndjson"         // one record per line
)

// FileInfo describes one written file.
type FileInfo struct {
	// Path is relative to the output directory.
	Path     string       `json:"path"`
	Source   model.Source `json:"source"`
	Instance string       `json:"instance"`
	Shape    string       `json:"shape"`
	// Records is the number of records ingest will split the file into,
	// malformed ones and duplicates included.
	Records    int `json:"records"`
	Malformed  int `json:"malformed"`
	Duplicates int `json:"duplicates"`
}

// Gap is a deliberate hole in an Airflow event_log_id sequence.
type Gap struct {
	Instance string `json:"instance"`
	FirstID  int64  `json:"first_missing_id"`
	LastID   int64  `json:"last_missing_id"`
}

// Expected holds the counts the pipeline should reproduce.
type Expected struct {
	// Records counts records per source, as split by ingest.
	Records map[model.Source]int `json:"records"`
	// Malformed records: broken JSON lines and records missing their id or
	// time. Each must become a dead letter.
	Malformed   int `json:"malformed"`
	DeadLetters int `json:"dead_letters"`
	// Duplicates are re-deliveries of records already written (same id).
	Duplicates int `json:"duplicates"`
	// Stored is Records − DeadLetters − Duplicates summed over sources.
	Stored       int                   `json:"stored"`
	AuditActions int                   `json:"audit_actions"`
	Runs         int                   `json:"runs"`
	Verdicts     map[model.Verdict]int `json:"verdicts"`
	Gaps         []Gap                 `json:"gaps"`
}

// Manifest lists what WriteFiles wrote; run `keytrail ingest --source S
// --instance I FILE` for each file, with the identity mapping loaded.
type Manifest struct {
	Seed     uint64     `json:"seed"`
	People   int        `json:"people"`
	Days     int        `json:"days"`
	Start    time.Time  `json:"start"`
	End      time.Time  `json:"end"`
	Files    []FileInfo `json:"files"`
	Mapping  string     `json:"mapping"` // identity mapping CSV (person,source,subject)
	Intent   string     `json:"intent"`  // intent.jsonl: one Intent per action
	Expected Expected   `json:"expected"`
}

// Output file names.
const (
	MappingFile  = "identity-mapping.csv"
	IntentFile   = "intent.jsonl"
	ManifestFile = "manifest.json"
)

// writer streams one file and counts records.
type writer struct {
	f        *os.File
	w        *bufio.Writer
	info     FileInfo
	progress func()
	err      error
}

func (o *Org) create(dir, name string, info FileInfo, progress func()) (*writer, error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	info.Path = name
	return &writer{f: f, w: bufio.NewWriterSize(f, 1<<20), info: info, progress: progress}, nil
}

func (w *writer) line(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
	}
	if w.err == nil {
		w.err = w.w.WriteByte('\n')
	}
}

func (w *writer) close() (FileInfo, error) {
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	if w.err != nil {
		return w.info, fmt.Errorf("write %s: %w", w.info.Path, w.err)
	}
	return w.info, nil
}

// WriteFiles writes every source's raw records into dir (created if
// needed), the identity mapping, the intent and the manifest, and returns
// the manifest. progress, if not nil, is called now and then with the
// records written so far and the total.
func (o *Org) WriteFiles(dir string, progress func(done, total int)) (Manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("create output dir: %w", err)
	}
	total := o.totalRecords()
	done := 0
	tick := func() {
		done++
		if progress != nil && done%20000 == 0 {
			progress(done, total)
		}
	}
	m := Manifest{
		Seed: o.cfg.Seed, People: o.cfg.People, Days: o.cfg.Days,
		Start: o.cfg.Start, End: o.cfg.Start.Add(time.Duration(o.cfg.Days) * 24 * time.Hour),
		Mapping: MappingFile, Intent: IntentFile,
	}
	steps := []func(string, func()) ([]FileInfo, error){o.writeOkta, o.writeEntra, o.writeGoogle, o.writeKeycloak, o.writeAirflow}
	for _, step := range steps {
		infos, err := step(dir, tick)
		if err != nil {
			return Manifest{}, err
		}
		m.Files = append(m.Files, infos...)
	}
	if err := o.writeMapping(dir); err != nil {
		return Manifest{}, err
	}
	if err := o.writeIntent(dir, tick); err != nil {
		return Manifest{}, err
	}
	e := Expected{Records: map[model.Source]int{}, Verdicts: o.Verdicts()}
	for _, f := range m.Files {
		e.Records[f.Source] += f.Records
		e.Malformed += f.Malformed
		e.Duplicates += f.Duplicates
		e.Stored += f.Records - f.Malformed - f.Duplicates
	}
	e.DeadLetters = e.Malformed
	e.AuditActions = len(o.actions)
	e.Runs = len(o.runs)
	for _, in := range o.insts {
		if in.gapLen > 0 {
			e.Gaps = append(e.Gaps, Gap{Instance: in.cfg.Name, FirstID: in.gapAt, LastID: in.gapAt + in.gapLen - 1})
		}
	}
	m.Expected = e
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("encode manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644); err != nil {
		return Manifest{}, fmt.Errorf("write manifest: %w", err)
	}
	if progress != nil {
		progress(total, total)
	}
	return m, nil
}

func (o *Org) totalRecords() int {
	n := 0
	for _, a := range o.auth {
		n += len(pattern(o.People[a.person].Source, a.kind, a.factor))
	}
	for _, in := range o.insts {
		n += len(in.rows)
	}
	n += len(o.runs)
	return n + len(o.actions) + len(o.runs) // records, then intent lines
}

// fileRand gives each file its own deterministic stream of ids.
func (o *Org) fileRand(name string) *rand.Rand {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return rand.New(rand.NewPCG(o.cfg.Seed^h, h))
}

// idpRecords lists the records of source src, in emission order: by time,
// except that about 0.5% of sign-in and session records are emitted late
// (5 min to 3 h after their time). Registrations are never late, so an
// AAGUID is always known before the credential is used.
func (o *Org) idpRecords(src model.Source, keep func(*authEv) bool) []idpRec {
	var out []idpRec
	for i := range o.auth {
		a := &o.auth[i]
		if o.People[a.person].Source != src || !keep(a) {
			continue
		}
		for s, st := range pattern(src, a.kind, a.factor) {
			ts := a.ts + st.dt
			rec := idpRec{ts: ts, emit: ts, ev: int32(i), step: uint8(s)}
			if a.kind != evRegister && a.kind != evRemove && mix(uint64(i)<<4^uint64(s)^o.cfg.Seed)%200 == 0 {
				rec.emit = ts + 5*minMS + int64(mix(uint64(i))%uint64(3*hourMS))
			}
			out = append(out, rec)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].emit < out[j].emit })
	return out
}

func all(*authEv) bool { return true }

// Malformed samples: a record cut short (a broken JSON line) and records
// lacking the provider's id or time.
const (
	brokenOkta     = `{"uuid": "5b1d0c2e-truncated", "published": "2025-03-03T09:00:00.000Z", "eventType": "user.authentication.auth_via_mfa", "actor": {"id": "00u`
	brokenEntra    = `{"id": "0d4c-truncated", "createdDateTime": "2025-03-03T09:00:00Z", "userPrincipalName": "trunc`
	brokenGoogle   = `{"kind": "admin#reports#activity", "id": {"time": "2025-03-03T09:00:00.000Z", "uniqueQualifier": "12`
	brokenKeycloak = `{"id": "7e1f-truncated", "time": 1740992400000, "type": "LOGIN", "realmId": "corp", "details": {"username": "tr`
	brokenAirflow  = `{"event_log_id": 99, "when": "2025-03-03T09:00:00+00:00", "event": "trigger", "owner": "adm`
)

func (o *Org) writeOkta(dir string, tick func()) ([]FileInfo, error) {
	const name = "okta-system-log.ndjson"
	w, err := o.create(dir, name, FileInfo{Source: model.SourceOkta, Instance: idpInstance[model.SourceOkta], Shape: ShapeOktaEventHook}, tick)
	if err != nil {
		return nil, err
	}
	r := o.fileRand(name)
	recs := o.idpRecords(model.SourceOkta, all)
	var b, evs []byte
	batch := 0
	var lastSingle []byte
	flush := func(ts int64) {
		if batch == 0 {
			return
		}
		b = append(b[:0], `{"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1", "source": "https://acme.okta.com/api/v1/eventHooks/who8keytrail01", "eventId": "`...)
		b = append(b, randUUID(r)...)
		b = append(b, `", "data": {"events": [`...)
		b = append(b, evs...)
		b = append(b, `]}, "eventTime": `...)
		b = isoMS(b, ts)
		b = append(b, `, "contentType": "application/json"}`...)
		w.line(b)
		if batch == 1 && w.info.Duplicates < 3 && len(lastSingle) > 0 && r.IntN(50) == 0 {
			w.line(b) // at-least-once: the same delivery again
			w.info.Records++
			w.info.Duplicates++
		}
		evs, batch = evs[:0], 0
	}
	mid := len(recs) / 2
	for i, rec := range recs {
		if i == mid {
			flush(rec.ts)
			w.line([]byte(brokenOkta))
			missing := o.appendOkta(nil, rec, r)
			w.line(withoutKey(missing, `"uuid": `))
			w.info.Records += 2
			w.info.Malformed += 2
		}
		if batch > 0 {
			evs = append(evs, ", "...)
		}
		start := len(evs)
		evs = o.appendOkta(evs, rec, r)
		lastSingle = evs[start:]
		batch++
		w.info.Records++
		tick()
		if batch >= 1+int(mix(uint64(i))%20) {
			flush(rec.ts)
		}
	}
	if len(recs) > 0 {
		flush(recs[len(recs)-1].ts)
	}
	info, err := w.close()
	return []FileInfo{info}, err
}

// withoutKey removes the first `"key": "value", ` member from a rendered record.
func withoutKey(rec []byte, key string) []byte {
	s := string(rec)
	i := indexOf(s, key)
	if i < 0 {
		return rec
	}
	j := i + len(key)
	if s[j] == '"' {
		j++
		for s[j] != '"' {
			j++
		}
		j++
	} else {
		for s[j] != ',' && s[j] != '}' {
			j++
		}
	}
	if s[j] == ',' {
		j += 2
	}
	return []byte(s[:i] + s[j:])
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// pager writes records grouped into pages, one page per line.
type pager struct {
	w      *writer
	size   int
	n      int
	body   []byte
	head   func([]byte) []byte
	tail   func([]byte, int) []byte
	page   []byte
	pages  int
	broken string
}

func (p *pager) add(rec []byte) {
	if p.n > 0 {
		p.body = append(p.body, ", "...)
	}
	p.body = append(p.body, rec...)
	p.n++
	p.w.info.Records++
	p.w.progress()
	if p.n >= p.size {
		p.flush()
	}
}

func (p *pager) flush() {
	if p.n == 0 {
		return
	}
	p.page = p.head(p.page[:0])
	p.page = append(p.page, p.body...)
	p.page = p.tail(p.page, p.n)
	p.w.line(p.page)
	p.pages++
	p.body, p.n = p.body[:0], 0
	if p.pages == 3 && p.broken != "" {
		p.w.line([]byte(p.broken))
		p.w.info.Records++
		p.w.info.Malformed++
	}
}

func (o *Org) writeEntra(dir string, tick func()) ([]FileInfo, error) {
	const name = "entra-signins.ndjson"
	w, err := o.create(dir, name, FileInfo{Source: model.SourceEntra, Instance: idpInstance[model.SourceEntra], Shape: ShapeGraphPages}, tick)
	if err != nil {
		return nil, err
	}
	r := o.fileRand(name)
	recs := o.idpRecords(model.SourceEntra, func(a *authEv) bool { return a.kind != evRegister && a.kind != evRemove })
	pg := &pager{w: w, size: 100, broken: brokenEntra,
		head: func(b []byte) []byte {
			return append(b, `{"@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns", "value": [`...)
		},
		tail: func(b []byte, n int) []byte {
			b = append(b, `], "@odata.nextLink": "https://graph.microsoft.com/beta/auditLogs/signIns?$top=100&$skiptoken=`...)
			b = append(b, randB62(r, 32)...)
			return append(b, `"}`...)
		}}
	for i, rec := range recs {
		one := o.appendEntraSignIn(nil, rec, r)
		if i == len(recs)/2 {
			pg.add(withoutKey(one, `"createdDateTime": `))
			w.info.Malformed++ // a damaged copy; the genuine record follows, so the intent holds
		}
		pg.add(one)
	}
	pg.flush()
	if pg.pages < 3 {
		w.line([]byte(brokenEntra))
		w.info.Records++
		w.info.Malformed++
	}
	info, err := w.close()
	if err != nil {
		return nil, err
	}
	// directory audits: one pretty Graph page
	const audits = "entra-directory-audits.json"
	w2, err := o.create(dir, audits, FileInfo{Source: model.SourceEntra, Instance: idpInstance[model.SourceEntra], Shape: ShapeGraphPage}, tick)
	if err != nil {
		return nil, err
	}
	recs = o.idpRecords(model.SourceEntra, func(a *authEv) bool { return a.kind == evRegister || a.kind == evRemove })
	w2.line([]byte("{\n  \"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits\",\n  \"value\": ["))
	for i, rec := range recs {
		b := []byte("    ")
		b = o.appendEntraAudit(b, rec, r)
		if i < len(recs)-1 {
			b = append(b, ',')
		}
		w2.line(b)
		w2.info.Records++
		tick()
	}
	w2.line([]byte("  ]\n}"))
	info2, err := w2.close()
	return []FileInfo{info, info2}, err
}

func (o *Org) writeGoogle(dir string, tick func()) ([]FileInfo, error) {
	const name = "google-login-activities.ndjson"
	w, err := o.create(dir, name, FileInfo{Source: model.SourceGoogle, Instance: idpInstance[model.SourceGoogle], Shape: ShapeReportsPages}, tick)
	if err != nil {
		return nil, err
	}
	r := o.fileRand(name)
	recs := o.idpRecords(model.SourceGoogle, all)
	pg := &pager{w: w, size: 200, broken: brokenGoogle,
		head: func(b []byte) []byte {
			b = append(b, `{"kind": "admin#reports#activities", "etag": "\"`...)
			b = append(b, randB62(r, 27)...)
			return append(b, `\"", "items": [`...)
		},
		tail: func(b []byte, n int) []byte {
			b = append(b, `], "nextPageToken": "A:`...)
			b = strconv.AppendUint(b, r.Uint64()>>12, 10)
			return append(b, `:C03az79cb"}`...)
		}}
	for i, rec := range recs {
		one := o.appendGoogle(nil, rec, r)
		if i == len(recs)/2 {
			pg.add(withoutKey(one, `"time": `))
			w.info.Malformed++ // a damaged copy; the genuine record follows, so the intent holds
		}
		pg.add(one)
	}
	pg.flush()
	if pg.pages < 3 {
		w.line([]byte(brokenGoogle))
		w.info.Records++
		w.info.Malformed++
	}
	info, err := w.close()
	return []FileInfo{info}, err
}

func (o *Org) writeKeycloak(dir string, tick func()) ([]FileInfo, error) {
	const name = "keycloak-events.ndjson"
	w, err := o.create(dir, name, FileInfo{Source: model.SourceKeycloak, Instance: idpInstance[model.SourceKeycloak], Shape: ShapeArrayPages}, tick)
	if err != nil {
		return nil, err
	}
	r := o.fileRand(name)
	recs := o.idpRecords(model.SourceKeycloak, all)
	pg := &pager{w: w, size: 100, broken: brokenKeycloak,
		head: func(b []byte) []byte { return append(b, '[') },
		tail: func(b []byte, n int) []byte { return append(b, ']') }}
	for i, rec := range recs {
		one := o.appendKeycloak(nil, rec, r)
		if i == len(recs)/2 {
			pg.add(withoutKey(one, `"time": `))
			w.info.Malformed++ // a damaged copy; the genuine record follows, so the intent holds
		}
		pg.add(one)
	}
	pg.flush()
	if pg.pages < 3 {
		w.line([]byte(brokenKeycloak))
		w.info.Records++
		w.info.Malformed++
	}
	info, err := w.close()
	return []FileInfo{info}, err
}

func (o *Org) writeAirflow(dir string, tick func()) ([]FileInfo, error) {
	var out []FileInfo
	for _, in := range o.insts {
		name := in.cfg.Name + "-event-logs.ndjson"
		shape := ShapeAirflowPages
		if in.cfg.Shape == ShapeNDJSON {
			shape = ShapeRecordsNDJSON
		}
		w, err := o.create(dir, name, FileInfo{Source: model.SourceAirflow, Instance: in.cfg.Name, Shape: shape}, tick)
		if err != nil {
			return nil, err
		}
		// late rows are written some pages after their place
		order := make([]int, len(in.rows))
		key := make([]int, len(in.rows))
		for i := range in.rows {
			order[i], key[i] = i, i
			if in.rows[i].late {
				key[i] = i + 150 + int(mix(uint64(i))%2000)
			}
		}
		sort.SliceStable(order, func(x, y int) bool { return key[order[x]] < key[order[y]] })
		var pg *pager
		if in.cfg.Shape == ShapePages {
			total := len(in.rows)
			pg = &pager{w: w, size: 100, broken: brokenAirflow,
				head: func(b []byte) []byte { return append(b, `{"event_logs": [`...) },
				tail: func(b []byte, n int) []byte {
					b = append(b, `], "total_entries": `...)
					b = strconv.AppendInt(b, int64(total), 10)
					return append(b, '}')
				}}
		}
		var one []byte
		bad := false
		emit := func(b []byte) {
			if pg != nil {
				pg.add(b)
				return
			}
			w.line(b)
			w.info.Records++
			tick()
		}
		for k, ri := range order {
			row := &in.rows[ri]
			one = o.appendRow(one[:0], in, row)
			if !bad && k >= len(order)/3 && row.kind == rowTask {
				bad = true
				emit(withoutKey(one, `"event_log_id": `))
				w.info.Malformed++
				emit(withoutKey(one, `"when": `))
				w.info.Malformed++
			}
			if k == len(order)/4 && pg == nil {
				w.line([]byte(brokenAirflow))
				w.info.Records++
				w.info.Malformed++
			}
			emit(one)
		}
		if pg != nil {
			pg.flush()
			if pg.pages < 3 {
				w.line([]byte(brokenAirflow))
				w.info.Records++
				w.info.Malformed++
			}
		} else if len(order) < 4 {
			w.line([]byte(brokenAirflow))
			w.info.Records++
			w.info.Malformed++
		}
		info, err := w.close()
		if err != nil {
			return nil, err
		}
		out = append(out, info)

		// DAG runs
		rname := in.cfg.Name + "-dag-runs.ndjson"
		w, err = o.create(dir, rname, FileInfo{Source: model.SourceAirflow, Instance: in.cfg.Name, Shape: shape}, tick)
		if err != nil {
			return nil, err
		}
		var runs []int
		for ri := range o.runs {
			if &o.insts[o.runs[ri].inst].cfg == &in.cfg {
				runs = append(runs, ri)
			}
		}
		pg = nil
		if in.cfg.Shape == ShapePages {
			total := len(runs)
			pg = &pager{w: w, size: 100,
				head: func(b []byte) []byte { return append(b, `{"dag_runs": [`...) },
				tail: func(b []byte, n int) []byte {
					b = append(b, `], "total_entries": `...)
					b = strconv.AppendInt(b, int64(total), 10)
					return append(b, '}')
				}}
		}
		for _, ri := range runs {
			one = o.appendRun(one[:0], in, &o.runs[ri])
			if pg != nil {
				pg.add(one)
				continue
			}
			w.line(one)
			w.info.Records++
			tick()
		}
		if pg != nil {
			pg.flush()
		}
		info, err = w.close()
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// writeMapping writes the operator's identity mapping (Mapping).
func (o *Org) writeMapping(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, MappingFile), o.Mapping(), 0o644); err != nil {
		return fmt.Errorf("write identity mapping: %w", err)
	}
	return nil
}

// Mapping returns the operator's identity mapping as CSV (the MappingFile
// WriteFiles writes): CLI OS users, and subjects whose provider reports no
// email (Keycloak) or that never sign in.
func (o *Org) Mapping() []byte {
	b := []byte("# keytrail demo identity mapping: person,source,subject\nperson,source,subject\n")
	for i := range o.People {
		p := &o.People[i]
		if p.OSUser != "" {
			b = append(b, p.ID+",airflow,cli:"+p.OSUser+"\n"...)
		}
		if p.Source == model.SourceKeycloak || p.Posture == PostureNone {
			b = append(b, p.ID+","+string(p.Source)+","+p.Subject+"\n"...)
		}
	}
	return b
}

func (o *Org) writeIntent(dir string, tick func()) error {
	w, err := o.create(dir, IntentFile, FileInfo{}, tick)
	if err != nil {
		return err
	}
	var line []byte
	o.EachIntent(func(it *Intent) {
		line, err = json.Marshal(it)
		if err != nil && w.err == nil {
			w.err = fmt.Errorf("encode intent %s: %w", it.ActionID, err)
		}
		w.line(line)
		tick()
	})
	_, err = w.close()
	return err
}
