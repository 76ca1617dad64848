package emulator

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/model"
)

// Okta imitates an Okta org's Management API: the System Log in polling
// mode (GET /api/v1/logs with since, after, limit, sortOrder=ASCENDING; the
// Link rel="next" header always present; events in persistence order),
// Users (GET /api/v1/users) and Factors (GET /api/v1/users/{id}/factors),
// with an API token (Authorization: SSWS) or a service app's access token
// from POST /oauth2/v1/token (client credentials with a private_key_jwt
// assertion). Rate-limited requests get 429 with X-Rate-Limit-Limit,
// -Remaining and -Reset (Unix seconds) and error E0000047.
type Okta struct {
	*core
	// Prefix is the path the emulator is mounted at ("" for the root).
	Prefix string
	logs   *feed
	users  []int
}

// NewOkta returns an Okta emulator of data's Okta org.
func NewOkta(data *Data, opts Options) *Okta {
	return &Okta{core: newCore(data, opts), logs: data.find(demo.StreamOktaLogs, ""), users: data.people(model.SourceOkta)}
}

type oktaError struct {
	ErrorCode    string   `json:"errorCode"`
	ErrorSummary string   `json:"errorSummary"`
	ErrorLink    string   `json:"errorLink"`
	ErrorID      string   `json:"errorId"`
	ErrorCauses  []string `json:"errorCauses"`
}

func oktaErr(w http.ResponseWriter, status int, code, summary string) {
	writeJSON(w, status, oktaError{ErrorCode: code, ErrorSummary: summary, ErrorLink: code, ErrorID: "oae" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36), ErrorCauses: []string{}})
}

func (o *Okta) limited(w http.ResponseWriter, until time.Time) {
	h := w.Header()
	h.Set("X-Rate-Limit-Limit", "600")
	h.Set("X-Rate-Limit-Remaining", "0")
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(ceilUnix(until), 10))
	oktaErr(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
}

func (o *Okta) failed(w http.ResponseWriter) {
	oktaErr(w, http.StatusInternalServerError, "E0000009", "Internal Server Error")
}

// ceilUnix is t in Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// ServeHTTP implements http.Handler.
func (o *Okta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, o.Prefix)
	if path == "/oauth2/v1/token" && r.Method == http.MethodPost {
		o.token(w, r)
		return
	}
	if r.Method != http.MethodGet {
		oktaErr(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}
	if !o.authorized(r) {
		oktaErr(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return
	}
	if !o.fault(w, r, endpoint(path), o.limited, o.failed) {
		return
	}
	w.Header().Set("X-Rate-Limit-Limit", "600")
	w.Header().Set("X-Rate-Limit-Remaining", "599")
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(ceilUnix(o.now().Add(time.Minute)), 10))
	switch {
	case path == "/api/v1/logs":
		o.systemLog(w, r)
	case path == "/api/v1/users":
		o.listUsers(w, r)
	case strings.HasPrefix(path, "/api/v1/users/") && strings.HasSuffix(path, "/factors"):
		o.factors(w, r, strings.TrimSuffix(strings.TrimPrefix(path, "/api/v1/users/"), "/factors"))
	default:
		oktaErr(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
	}
}

func (o *Okta) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if h == "SSWS "+o.creds.OktaToken && o.creds.OktaToken != "" {
		return true
	}
	return o.valid(bearer(r))
}

func (o *Okta) token(w http.ResponseWriter, r *http.Request) {
	o.ledger.count(func(l *Ledger) { l.stats.Requests++ })
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "grant_type must be client_credentials"})
		return
	}
	if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "private_key_jwt client authentication is required"})
		return
	}
	if err := verifyAssertion(r.PostForm.Get("client_assertion"), o.creds, o.creds.ClientID, "/oauth2/v1/token", o.now()); err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": err.Error()})
		return
	}
	tok, ttl := o.issue()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(ttl.Seconds()), "access_token": tok, "scope": r.PostForm.Get("scope")})
}

// selfURL is the absolute URL of r with query q.
func selfURL(r *http.Request, q url.Values) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path + "?" + q.Encode()
}

func (o *Okta) systemLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := o.now()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			oktaErr(w, http.StatusBadRequest, "E0000001", "Api validation failed: 'limit': must be a number between 0 and 1000.")
			return
		}
		limit = min(n, 1000)
	}
	if so := q.Get("sortOrder"); so != "" && so != "ASCENDING" {
		oktaErr(w, http.StatusBadRequest, "E0000001", "Api validation failed: this emulator serves polling requests (sortOrder=ASCENDING) only.")
		return
	}
	if q.Get("until") != "" {
		oktaErr(w, http.StatusBadRequest, "E0000001", "Api validation failed: this emulator serves polling requests (until unspecified) only.")
		return
	}
	since := now.Add(-7 * 24 * time.Hour)
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			oktaErr(w, http.StatusBadRequest, "E0000001", "Api validation failed: 'since': The date format in your query is not recognized. Please enter dates using ISO8601 string format.")
			return
		}
		since = t
	}
	pos := -1 // persistence position of the last event already listed
	if v := q.Get("after"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "p"))
		if err != nil || !strings.HasPrefix(v, "p") || n < -1 {
			oktaErr(w, http.StatusBadRequest, "E0000001", "Api validation failed: 'after': invalid cursor")
			return
		}
		pos = n
	}
	f := o.logs
	nowMS, sinceMS := now.UnixMilli(), since.UnixMilli()
	visible := sort.Search(len(f.order), func(k int) bool { return f.vis[f.order[k]] > nowMS })
	var items []int32
	next := pos
	for k := pos + 1; k < visible && len(items) < limit; k++ {
		next = k
		if i := f.order[k]; f.Items[i].TS >= sinceMS {
			items = append(items, i)
		}
	}
	empty, dup := false, false
	if len(items) > 0 {
		empty, dup = o.pageFaults()
	}
	if empty {
		items, next = nil, pos
		o.ledger.count(func(l *Ledger) { l.stats.Empty++ })
	}
	if dup && pos >= 0 {
		items = append([]int32{f.order[pos]}, items...)
		o.ledger.count(func(l *Ledger) { l.stats.Duplicated++ })
	}
	nq := url.Values{}
	for k, v := range q {
		nq[k] = v
	}
	nq.Set("after", "p"+strconv.Itoa(next))
	nq.Set("sortOrder", "ASCENDING")
	nq.Set("limit", strconv.Itoa(limit))
	w.Header().Add("Link", "<"+selfURL(r, q)+`>; rel="self"`)
	w.Header().Add("Link", "<"+selfURL(r, nq)+`>; rel="next"`)
	body, items, poisoned := o.render(f, items, '[', ']')
	writeBody(w, http.StatusOK, body)
	o.served(f, items, poisoned)
}

// render renders items as a JSON array between open and close. It
// returns the body and the items it holds unspoiled; the rest of items
// were served as poisoned rows (see feed.rowPoison).
func (c *core) render(f *feed, items []int32, open, close byte) ([]byte, []int32, int) {
	b := make([]byte, 0, 1024*len(items)+2)
	b = append(b, open)
	poisoned := 0
	clean := items
	if f.rowPoison {
		clean = make([]int32, 0, len(items))
	}
	for k, i := range items {
		if k > 0 {
			b = append(b, ", "...)
		}
		if f.rowPoison {
			if c.poisonRow(int(i)) {
				b = append(b, `{"keytrail_emulator": "poisoned row", "n": `+strconv.Itoa(int(i))+`}`...)
				poisoned++
				continue
			}
			clean = append(clean, i)
		} else if p := c.poisonNext(); p != nil && !f.noPoison {
			b = append(b, p...)
			b = append(b, ", "...)
			poisoned++
		}
		b = f.Append(b, int(i))
	}
	return append(b, close), clean, poisoned
}

// served records a written page in the ledger.
func (c *core) served(f *feed, items []int32, poisoned int) {
	c.ledger.add(f, items)
	if poisoned > 0 {
		c.ledger.count(func(l *Ledger) { l.stats.Poison += int64(poisoned) })
	}
}

type oktaUser struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Created string `json:"created"`
	Profile struct {
		Login     string `json:"login"`
		Email     string `json:"email"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
	} `json:"profile"`
}

func (o *Okta) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 200
	if v := q.Get("limit"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			limit = min(n, 200)
		}
	}
	start := 0
	if after := q.Get("after"); after != "" {
		start = len(o.users)
		for k, p := range o.users {
			if o.data.Org.People[p].Subject == after {
				start = k + 1
				break
			}
		}
	}
	end := min(start+limit, len(o.users))
	out := make([]oktaUser, 0, end-start)
	for _, p := range o.users[start:end] {
		P := &o.data.Org.People[p]
		u := oktaUser{ID: P.Subject, Status: "ACTIVE", Created: o.data.Org.Config().Start.AddDate(-1, 0, 0).Format("2006-01-02T15:04:05.000Z")}
		first, last, _ := strings.Cut(P.Name, " ")
		u.Profile.Login, u.Profile.Email, u.Profile.FirstName, u.Profile.LastName = P.ID, P.ID, first, last
		out = append(out, u)
	}
	w.Header().Add("Link", "<"+selfURL(r, q)+`>; rel="self"`)
	if end < len(o.users) {
		nq := url.Values{"limit": {strconv.Itoa(limit)}, "after": {o.data.Org.People[o.users[end-1]].Subject}}
		w.Header().Add("Link", "<"+selfURL(r, nq)+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
}

func (o *Okta) factors(w http.ResponseWriter, r *http.Request, id string) {
	for _, p := range o.users {
		if o.data.Org.People[p].Subject == id {
			writeBody(w, http.StatusOK, o.data.Org.AppendInventory(nil, p, o.now()))
			o.ledger.snapshot(model.SourceOkta, id)
			return
		}
	}
	oktaErr(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (User)")
}
