package emulator

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/model"
)

// Keycloak imitates Keycloak's Admin REST API for one realm: GET
// /admin/realms/{realm}/events and /admin-events (dateFrom and dateTo as
// yyyy-MM-dd or epoch milliseconds, both inclusive; direction asc or desc,
// newest first by default; first and max, max defaulting to 100), GET
// /admin/realms/{realm}/users and GET
// /admin/realms/{realm}/users/{id}/credentials, behind tokens from the
// client credentials grant (POST
// /realms/{realm}/protocol/openid-connect/token). With DatesOnly it
// behaves like Keycloak releases that take dates only and always list
// newest first.
type Keycloak struct {
	*core
	Prefix string
	// DatesOnly refuses epoch-millisecond dateFrom/dateTo and ignores
	// direction, as older Keycloak releases do.
	DatesOnly bool
	events    *feed
	users     []int
}

// NewKeycloak returns an Admin REST emulator of data's Keycloak realm.
func NewKeycloak(data *Data, opts Options) *Keycloak {
	return &Keycloak{core: newCore(data, opts), events: data.find(demo.StreamKeycloakEvents, ""), users: data.people(model.SourceKeycloak)}
}

func (k *Keycloak) limited(w http.ResponseWriter, until time.Time) {
	secs := int64(until.Sub(k.now()) / time.Second)
	if until.Sub(k.now())%time.Second > 0 {
		secs++
	}
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too_many_requests"})
}

func (k *Keycloak) failed(w http.ResponseWriter) {
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
}

// ServeHTTP implements http.Handler.
func (k *Keycloak) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, k.Prefix)
	realm := k.creds.Realm
	if path == "/realms/"+realm+"/protocol/openid-connect/token" && r.Method == http.MethodPost {
		k.token(w, r)
		return
	}
	rest, ok := strings.CutPrefix(path, "/admin/realms/"+realm+"/")
	if !ok || r.Method != http.MethodGet {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm not found."})
		return
	}
	if !k.valid(bearer(r)) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "HTTP 401 Unauthorized"})
		return
	}
	if !k.fault(w, r, endpoint(rest), k.limited, k.failed) {
		return
	}
	switch {
	case rest == "events":
		k.listEvents(w, r, k.events)
	case rest == "admin-events":
		k.listEvents(w, r, nil)
	case rest == "users":
		k.listUsers(w, r)
	case strings.HasPrefix(rest, "users/") && strings.HasSuffix(rest, "/credentials"):
		k.credentials(w, strings.TrimSuffix(strings.TrimPrefix(rest, "users/"), "/credentials"))
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "HTTP 404 Not Found"})
	}
}

func (k *Keycloak) token(w http.ResponseWriter, r *http.Request) {
	k.ledger.count(func(l *Ledger) { l.stats.Requests++ })
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if id != k.creds.ClientID || secret != k.creds.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized_client", "error_description": "Invalid client or Invalid client credentials"})
		return
	}
	tok, ttl := k.issue()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": int(ttl.Seconds()), "refresh_expires_in": 0,
		"token_type": "Bearer", "not-before-policy": 0, "scope": "profile email"})
}

// parseKeycloakDate reads dateFrom/dateTo: yyyy-MM-dd (the day's first or
// last millisecond) or epoch milliseconds.
func (k *Keycloak) parseKeycloakDate(v string, end bool) (int64, bool) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return ms, !k.DatesOnly
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return 0, false
	}
	if end {
		return t.AddDate(0, 0, 1).UnixMilli() - 1, true
	}
	return t.UnixMilli(), true
}

func (k *Keycloak) listEvents(w http.ResponseWriter, r *http.Request, f *feed) {
	q := r.URL.Query()
	from, to := int64(-1<<62), int64(1<<62)
	if v := q.Get("dateFrom"); v != "" {
		ms, ok := k.parseKeycloakDate(v, false)
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Invalid value for 'Date(From)', expected format is yyyy-MM-dd"})
			return
		}
		from = ms
	}
	if v := q.Get("dateTo"); v != "" {
		ms, ok := k.parseKeycloakDate(v, true)
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Invalid value for 'Date(To)', expected format is yyyy-MM-dd"})
			return
		}
		to = ms
	}
	first, _ := strconv.Atoi(q.Get("first"))
	maxN := 100
	if v := q.Get("max"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			maxN = n
		}
	}
	asc := q.Get("direction") == "asc" && !k.DatesOnly
	if f == nil {
		writeBody(w, http.StatusOK, []byte("[]"))
		return
	}
	nowMS := k.now().UnixMilli()
	var matches []int32
	for j := range f.byTS {
		kk := j
		if !asc {
			kk = len(f.byTS) - 1 - j
		}
		i := f.byTS[kk]
		ts := f.Items[i].TS
		if ts < from || ts > to || f.vis[i] > nowMS {
			continue
		}
		matches = append(matches, i)
	}
	first = max(0, first)
	end := min(first+maxN, len(matches))
	var items []int32
	if first < len(matches) {
		items = matches[first:end]
	}
	if len(items) > 0 {
		if _, dup := k.pageFaults(); dup && first > 0 {
			items = append([]int32{matches[first-1]}, items...)
			k.ledger.count(func(l *Ledger) { l.stats.Duplicated++ })
		}
	}
	body, items, poisoned := k.render(f, items, '[', ']')
	writeBody(w, http.StatusOK, body)
	k.served(f, items, poisoned)
}

func (k *Keycloak) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	first, _ := strconv.Atoi(q.Get("first"))
	maxN := 100
	if v := q.Get("max"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			maxN = n
		}
	}
	first = max(0, min(first, len(k.users)))
	end := min(first+maxN, len(k.users))
	type user struct {
		ID               string `json:"id"`
		Username         string `json:"username"`
		Email            string `json:"email"`
		Enabled          bool   `json:"enabled"`
		CreatedTimestamp int64  `json:"createdTimestamp"`
	}
	out := []user{}
	for _, p := range k.users[first:end] {
		P := &k.data.Org.People[p]
		out = append(out, user{P.Subject, P.Username, P.ID, true, k.data.Org.Config().Start.AddDate(-1, 0, 0).UnixMilli()})
	}
	writeJSON(w, http.StatusOK, out)
}

func (k *Keycloak) credentials(w http.ResponseWriter, id string) {
	for _, p := range k.users {
		if k.data.Org.People[p].Subject == id {
			writeBody(w, http.StatusOK, k.data.Org.AppendInventory(nil, p, k.now()))
			k.ledger.snapshot(model.SourceKeycloak, id)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "User not found"})
}
