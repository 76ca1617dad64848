package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/demo"
)

// Airflow imitates one Airflow deployment's REST API: 2.x at /api/v1 with
// HTTP basic auth, 3.x at /api/v2 with a JWT from POST /auth/token (JSON
// username and password, answered 201 {"access_token": …}). GET
// /eventLogs pages the audit log by offset and limit ordered by
// event_log_id (order_by event_log_id; id too on /api/v2), with
// after/before on when; rows whose transaction commits late appear after
// rows with higher ids. GET /dags/~/dagRuns lists each run's current
// version: runs change state (queued, running, success or failed) as the
// clock passes, filtered by updated_at_gte/lte (and _gt/_lt on /api/v2) and
// ordered by order_by (id by default, updated_at). A limit above the
// deployment's maximum_page_limit (AirflowConfig) is lowered to it without
// a word, as Airflow does. Every list is {"<name>": […], "total_entries":
// n}, n counting every row the filters match, not the page.
type Airflow struct {
	*core
	Prefix string
	// Version is demo.Airflow210 or demo.Airflow31.
	Version string
	logs    *feed
	runs    *feed
	late    []int32 // audit rows committed late, by event_log_id
	created []int32 // per run version: the index of its run's first version
	cleaned int64   // audit rows before this time (ms) are deleted
	cfg     AirflowConfig
}

// AirflowConfig is what a deployment's airflow.cfg and release change in
// its API, for tests of a collector against deployments other than the
// default one.
type AirflowConfig struct {
	// MaximumPageLimit is [api] maximum_page_limit (default 100, Airflow's
	// default): a larger limit is lowered to it without an error, on
	// /api/v1 (check_limit in airflow/api_connexion/parameters.py) and on
	// /api/v2 alike, and total_entries still counts every matching row. A
	// collector that takes a page shorter than its limit for the last one
	// stops early.
	MaximumPageLimit int
	// Before26 serves /api/v1 as Airflow 2.5 and older do: dagRuns has no
	// updated_at_gte/updated_at_lte (new in 2.6.0), and the API's strict
	// validation answers 400 "Extra query parameter(s) … not in spec".
	Before26 bool
}

// Configure sets c, for the requests after it.
func (a *Airflow) Configure(c AirflowConfig) {
	a.mu.Lock()
	a.cfg = c
	a.mu.Unlock()
}

// config is the deployment's AirflowConfig with its defaults applied.
func (a *Airflow) config() AirflowConfig {
	a.mu.Lock()
	c := a.cfg
	a.mu.Unlock()
	if c.MaximumPageLimit <= 0 {
		c.MaximumPageLimit = 100
	}
	return c
}

// Clean deletes the audit rows whose time is before before, as `airflow db
// clean --tables log` does: the offsets of the rows after them move.
func (a *Airflow) Clean(before time.Time) {
	a.mu.Lock()
	a.cleaned = before.UnixMilli()
	a.mu.Unlock()
}

// NewAirflow returns an emulator of data's Airflow deployment instance.
func NewAirflow(data *Data, instance string, opts Options) (*Airflow, error) {
	logs, runs := data.find(demo.StreamAirflowEventLogs, instance), data.find(demo.StreamAirflowDagRuns, instance)
	if logs == nil || runs == nil {
		return nil, fmt.Errorf("no Airflow instance %q in the organisation", instance)
	}
	a := &Airflow{core: newCore(data, opts), Version: logs.Version, logs: logs, runs: runs}
	for i := range logs.Items {
		if logs.vis[i] > logs.Items[i].TS {
			a.late = append(a.late, int32(i))
		}
	}
	a.created = make([]int32, len(runs.Items))
	first := map[string]int32{}
	for _, i := range runs.order {
		s := runs.Items[i].Subject
		if _, ok := first[s]; !ok {
			first[s] = i
		}
		a.created[i] = first[s]
	}
	return a, nil
}

func (a *Airflow) api() string {
	if a.Version == demo.Airflow31 {
		return "/api/v2"
	}
	return "/api/v1"
}

func airflowErr(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]any{"detail": detail, "status": status, "title": http.StatusText(status),
		"type": "https://airflow.apache.org/docs/apache-airflow/stable/stable-rest-api-ref.html#section/Errors"})
}

func (a *Airflow) limited(w http.ResponseWriter, until time.Time) {
	secs := int64(until.Sub(a.now()) / time.Second)
	if until.Sub(a.now())%time.Second > 0 {
		secs++
	}
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	airflowErr(w, http.StatusTooManyRequests, "Too Many Requests")
}

func (a *Airflow) failed(w http.ResponseWriter) {
	airflowErr(w, http.StatusInternalServerError, "Internal Server Error")
}

// ServeHTTP implements http.Handler.
func (a *Airflow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, a.Prefix)
	if path == "/auth/token" && a.Version == demo.Airflow31 && r.Method == http.MethodPost {
		a.token(w, r)
		return
	}
	rest, ok := strings.CutPrefix(path, a.api()+"/")
	if !ok || r.Method != http.MethodGet {
		airflowErr(w, http.StatusNotFound, "Not Found")
		return
	}
	if !a.authorized(r) {
		if a.Version == demo.Airflow31 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Not authenticated"})
		} else {
			airflowErr(w, http.StatusUnauthorized, "")
		}
		return
	}
	if !a.fault(w, r, endpoint(rest), a.limited, a.failed) {
		return
	}
	switch {
	case rest == "eventLogs":
		a.eventLogs(w, r)
	case strings.HasPrefix(rest, "dags/") && strings.HasSuffix(rest, "/dagRuns"):
		a.dagRuns(w, r, strings.TrimSuffix(strings.TrimPrefix(rest, "dags/"), "/dagRuns"))
	default:
		airflowErr(w, http.StatusNotFound, "Not Found")
	}
}

func (a *Airflow) authorized(r *http.Request) bool {
	if a.Version == demo.Airflow31 {
		return a.valid(bearer(r))
	}
	u, p, ok := r.BasicAuth()
	return ok && u == a.creds.AirflowUser && p == a.creds.AirflowPassword
}

func (a *Airflow) token(w http.ResponseWriter, r *http.Request) {
	a.ledger.count(func(l *Ledger) { l.stats.Requests++ })
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Username == "" || body.Password == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "Username and password must be provided"})
		return
	}
	if body.Username != a.creds.AirflowUser || body.Password != a.creds.AirflowPassword {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Invalid credentials"})
		return
	}
	sig, ttl := a.issue()
	// A JWT-shaped token whose claims carry its expiry, as Airflow's are.
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"sub": body.Username, "exp": a.now().Add(ttl).Unix()})
	tok := enc.EncodeToString([]byte(`{"alg":"HS512","typ":"JWT"}`)) + "." + enc.EncodeToString(claims) + "." + sig
	a.mu.Lock()
	a.tokens[tok] = a.tokens[sig]
	delete(a.tokens, sig)
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"access_token": tok})
}

// page reads limit and offset. limit defaults to 100 (the API's default and
// fallback_page_limit, which 0 also asks for) and is silently lowered to
// maximum_page_limit, as Airflow's check_limit does: only total_entries
// tells a client that a short page is not the last.
func (a *Airflow) page(r *http.Request) (limit, offset int, err error) {
	q := r.URL.Query()
	limit = 100
	if v := q.Get("limit"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			return 0, 0, fmt.Errorf("limit %q: not a non-negative integer", v)
		}
		if n > 0 {
			limit = n
		}
	}
	limit = min(limit, a.config().MaximumPageLimit)
	if v := q.Get("offset"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			return 0, 0, fmt.Errorf("offset %q: not a non-negative integer", v)
		}
		offset = n
	}
	return limit, offset, nil
}

func parseAirflowTime(v string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, err
	}
	return t.UnixMilli(), nil
}

func (a *Airflow) eventLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch ob := q.Get("order_by"); {
	case ob == "", ob == "event_log_id":
	case ob == "id" && a.Version == demo.Airflow210:
		// 2.x sorts by the API's names only (apply_sorting's allowed
		// attributes); 3.x takes the column's name as well.
		airflowErr(w, http.StatusBadRequest, "Ordering with 'id' is disallowed or the attribute does not exist on the model")
		return
	case ob == "id":
	default:
		airflowErr(w, http.StatusBadRequest, "Ordering with '"+strings.TrimPrefix(ob, "-")+"' is not served by the emulator: use event_log_id")
		return
	}
	limit, offset, err := a.page(r)
	if err != nil {
		airflowErr(w, http.StatusBadRequest, err.Error())
		return
	}
	after, before := int64(-1<<62), int64(1<<62)
	if v := q.Get("after"); v != "" {
		if after, err = parseAirflowTime(v); err != nil {
			airflowErr(w, http.StatusBadRequest, "after: "+err.Error())
			return
		}
	}
	if v := q.Get("before"); v != "" {
		if before, err = parseAirflowTime(v); err != nil {
			airflowErr(w, http.StatusBadRequest, "before: "+err.Error())
			return
		}
	}
	f := a.logs
	nowMS := a.now().UnixMilli()
	// Rows committed by now, in [after, before): the rows in the time range
	// up to the last whose time has come, less those whose transaction has
	// not committed yet.
	ts := func(i int) int64 { return f.Items[i].TS }
	a.mu.Lock()
	after = max(after, a.cleaned-1)
	a.mu.Unlock()
	lo := sort.Search(len(f.Items), func(i int) bool { return ts(i) > after })
	hi := sort.Search(len(f.Items), func(i int) bool { return ts(i) >= before || ts(i) > nowMS })
	hi = max(hi, lo)
	var pending []int // sorted
	for _, i := range a.late {
		if int(i) >= lo && int(i) < hi && f.vis[i] > nowMS {
			pending = append(pending, int(i))
		}
	}
	total := hi - lo - len(pending)
	// the position of the offset-th committed row
	pos, k := lo+offset, 0
	for k < len(pending) && pending[k] <= pos {
		pos++
		k++
	}
	var items []int32
	for ; pos < hi && len(items) < limit; pos++ {
		if k < len(pending) && pending[k] == pos {
			k++
			continue
		}
		items = append(items, int32(pos))
	}
	if len(items) > 0 && offset > 0 {
		if _, dup := a.pageFaults(); dup {
			// the row before the page again
			for i := int(items[0]) - 1; i >= lo; i-- {
				if !slices.Contains(pending, i) {
					items = append([]int32{int32(i)}, items...)
					a.ledger.count(func(l *Ledger) { l.stats.Duplicated++ })
					break
				}
			}
		}
	}
	body, items, poisoned := a.render(f, items, '[', ']')
	b := append([]byte(`{"event_logs": `), body...)
	b = append(b, `, "total_entries": `+strconv.Itoa(total)+`}`...)
	writeBody(w, http.StatusOK, b)
	a.served(f, items, poisoned)
}

func (a *Airflow) dagRuns(w http.ResponseWriter, r *http.Request, dagID string) {
	q := r.URL.Query()
	if a.Version == demo.Airflow210 && a.config().Before26 {
		var extra []string
		for _, p := range []string{"updated_at_gte", "updated_at_lte"} {
			if q.Has(p) {
				extra = append(extra, p)
			}
		}
		if len(extra) > 0 {
			// connexion's strict validation, before the endpoint runs
			airflowErr(w, http.StatusBadRequest, "Extra query parameter(s) "+strings.Join(extra, ", ")+" not in spec")
			return
		}
	}
	limit, offset, err := a.page(r)
	if err != nil {
		airflowErr(w, http.StatusBadRequest, err.Error())
		return
	}
	lo, hi := int64(-1<<62), int64(1<<62)
	bounds := []struct {
		name string
		set  func(int64)
	}{
		{"updated_at_gte", func(ms int64) { lo = max(lo, ms) }},
		{"updated_at_lte", func(ms int64) { hi = min(hi, ms) }},
	}
	if a.Version == demo.Airflow31 {
		bounds = append(bounds,
			struct {
				name string
				set  func(int64)
			}{"updated_at_gt", func(ms int64) { lo = max(lo, ms+1) }},
			struct {
				name string
				set  func(int64)
			}{"updated_at_lt", func(ms int64) { hi = min(hi, ms-1) }})
	}
	for _, b := range bounds {
		if v := q.Get(b.name); v != "" {
			ms, err := parseAirflowTime(v)
			if err != nil {
				airflowErr(w, http.StatusBadRequest, b.name+": "+err.Error())
				return
			}
			b.set(ms)
		}
	}
	orderBy := q.Get("order_by")
	switch orderBy {
	case "", "id", "updated_at", "-updated_at", "-id":
	default:
		airflowErr(w, http.StatusBadRequest, "Ordering with '"+strings.TrimPrefix(orderBy, "-")+"' is not served by the emulator: use id or updated_at")
		return
	}
	f := a.runs
	nowMS := a.now().UnixMilli()
	var matches []int32
	first := sort.Search(len(f.byTS), func(k int) bool { return f.Items[f.byTS[k]].TS >= lo })
	for _, i := range f.byTS[first:] {
		it := &f.Items[i]
		if it.TS > hi || it.TS > nowMS {
			break
		}
		if f.vis[i] > nowMS {
			continue
		}
		if n := f.next[i]; n >= 0 && f.vis[n] <= nowMS {
			continue // a later version is current
		}
		if dagID != "~" && !strings.HasPrefix(it.Subject, dagID+"/") {
			continue
		}
		matches = append(matches, i)
	}
	switch orderBy {
	case "", "id":
		sort.SliceStable(matches, func(x, y int) bool { return a.created[matches[x]] < a.created[matches[y]] })
	case "-id":
		sort.SliceStable(matches, func(x, y int) bool { return a.created[matches[x]] > a.created[matches[y]] })
	case "-updated_at":
		for x, y := 0, len(matches)-1; x < y; x, y = x+1, y-1 {
			matches[x], matches[y] = matches[y], matches[x]
		}
	}
	end := min(offset+limit, len(matches))
	var items []int32
	if offset < len(matches) {
		items = matches[offset:end]
	}
	body, items, poisoned := a.render(f, items, '[', ']')
	b := append([]byte(`{"dag_runs": `), body...)
	b = append(b, `, "total_entries": `+strconv.Itoa(len(matches))+`}`...)
	writeBody(w, http.StatusOK, b)
	a.served(f, items, poisoned)
}
