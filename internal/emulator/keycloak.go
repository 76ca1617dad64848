package emulator

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/model"
)

// Keycloak imitates Keycloak's Admin REST API for one realm: GET
// /admin/realms/{realm}/events and /admin-events (dateFrom and dateTo,
// first and max, max defaulting to 100; direction in releases that take
// it, newest first by default), GET /admin/realms/{realm}/users and GET
// /admin/realms/{realm}/users/{id}/credentials, behind tokens from the
// client credentials grant (POST
// /realms/{realm}/protocol/openid-connect/token). Version picks the
// release whose reading of dateFrom, dateTo and direction it imitates,
// bugs included. Like Keycloak (JpaEventQuery orders by time alone), it
// lists events of the same millisecond in no set order: one way on one
// request, the other way on the next.
//
// The organisation's Keycloak events are its user events; it has no admin
// events. Add lists more of either, for tests.
type Keycloak struct {
	*core
	Prefix string
	// Version is the release imitated (default KeycloakCurrent).
	Version KeycloakVersion
	// Zone is the server's time zone, in which a yyyy-MM-dd dateFrom or
	// dateTo is read (default UTC).
	Zone   *time.Location
	events *feed
	users  []int

	addMu sync.Mutex
	added []KeycloakEvent
	// lists counts the listings of /events and /admin-events: the order
	// of events of the same millisecond flips with each.
	lists [2]atomic.Int64
}

// KeycloakVersion is a Keycloak release, as /events and /admin-events
// read their parameters (RealmAdminResource, JpaEventQuery and
// JpaAdminEventQuery).
type KeycloakVersion string

// Keycloak releases the emulator imitates.
const (
	// KeycloakCurrent is 26.2 with keycloak#38911 fixed and later:
	// dateFrom and dateTo are epoch milliseconds or yyyy-MM-dd (dateTo
	// then the day's last millisecond), both inclusive; direction is asc
	// or desc.
	KeycloakCurrent KeycloakVersion = ""
	// Keycloak2620 is 26.2.0, which brought epoch milliseconds and
	// direction (keycloak#36600): as KeycloakCurrent, but any dateTo
	// makes the result empty (keycloak#38911, fixed in a 26.2 patch).
	Keycloak2620 KeycloakVersion = "26.2.0"
	// Keycloak260 is 26.0 and 26.1: yyyy-MM-dd only (epoch milliseconds
	// get 400) and no direction (newest first); /events reads dateTo as
	// the day's last millisecond, /admin-events still as its first
	// (keycloak#38442).
	Keycloak260 KeycloakVersion = "26.0"
	// Keycloak25 is 25 and earlier: yyyy-MM-dd only, no direction, and
	// both endpoints keep the events up to 00:00 of the dateTo day
	// (keycloak#30414): a dateTo of today lists nothing of today.
	Keycloak25 KeycloakVersion = "25"
)

// datesOnly reports whether v refuses epoch milliseconds and ignores
// direction.
func (v KeycloakVersion) datesOnly() bool { return v == Keycloak260 || v == Keycloak25 }

// KeycloakEvent is an event listed beside the organisation's (Add).
type KeycloakEvent struct {
	// Admin lists it on /admin-events, else on /events.
	Admin bool
	// Time is its time in epoch milliseconds, the "time" of Raw.
	Time int64
	// Listed is when it is listed, in epoch milliseconds (at Time when
	// earlier).
	Listed int64
	// Raw is the event's representation.
	Raw []byte
}

// Add lists evs beside the organisation's events, each once the clock
// passes its Listed time. They are not in the Ledger. It is safe to call
// while the emulator serves.
func (k *Keycloak) Add(evs ...KeycloakEvent) {
	k.addMu.Lock()
	k.added = append(k.added, evs...)
	k.addMu.Unlock()
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
		k.listEvents(w, r, false)
	case rest == "admin-events":
		k.listEvents(w, r, true)
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

// parseDate reads dateFrom or dateTo: epoch milliseconds (unless the
// release takes dates only) or yyyy-MM-dd in the server's zone, the day's
// first millisecond or, with endOfDay, its last.
func (k *Keycloak) parseDate(v string, endOfDay bool) (int64, bool) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return ms, !k.Version.datesOnly()
	}
	zone := k.Zone
	if zone == nil {
		zone = time.UTC
	}
	t, err := time.ParseInLocation("2006-01-02", v, zone)
	if err != nil {
		return 0, false
	}
	if endOfDay {
		return t.AddDate(0, 0, 1).UnixMilli() - 1, true
	}
	return t.UnixMilli(), true
}

// kcRow is an event of a listing: item of the organisation's feed, or an
// added event (item < 0, raw its bytes).
type kcRow struct {
	ts   int64
	item int32
	raw  []byte
	tie  int // the order of rows of the same time, one way or the other
}

// rows returns the events of /events or /admin-events listed at now, by
// time, those of the same time in the order of tie or, with flip, the
// other way.
func (k *Keycloak) rows(admin bool, now int64, flip bool) []kcRow {
	var out []kcRow
	n := 0
	if f := k.events; f != nil {
		n = len(f.Items)
		if !admin {
			for _, i := range f.byTS {
				if f.vis[i] <= now {
					out = append(out, kcRow{ts: f.Items[i].TS, item: i, tie: int(i)})
				}
			}
		}
	}
	k.addMu.Lock()
	for j, ev := range k.added {
		if ev.Admin == admin && max(ev.Listed, ev.Time) <= now {
			out = append(out, kcRow{ts: ev.Time, item: -1, raw: ev.Raw, tie: n + j})
		}
	}
	k.addMu.Unlock()
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].ts != out[b].ts {
			return out[a].ts < out[b].ts
		}
		return (out[a].tie < out[b].tie) != flip
	})
	return out
}

func (k *Keycloak) listEvents(w http.ResponseWriter, r *http.Request, admin bool) {
	q := r.URL.Query()
	from, to := int64(-1<<62), int64(1<<62)
	if v := q.Get("dateFrom"); v != "" {
		ms, ok := k.parseDate(v, false)
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Invalid value for 'Date(From)', expected format is yyyy-MM-dd"})
			return
		}
		from = ms
	}
	hasTo := false
	if v := q.Get("dateTo"); v != "" {
		// Up to 25, and for admin events up to 26.1, a dateTo day ends
		// at its first millisecond.
		endOfDay := k.Version != Keycloak25 && !(k.Version == Keycloak260 && admin)
		ms, ok := k.parseDate(v, endOfDay)
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Invalid value for 'Date(To)', expected format is yyyy-MM-dd"})
			return
		}
		to, hasTo = ms, true
	}
	asc := false
	if !k.Version.datesOnly() { // earlier releases ignore direction
		switch q.Get("direction") {
		case "", "desc":
		case "asc":
			asc = true
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Invalid value for sortDirection, expected value is asc or desc"})
			return
		}
	}
	first, _ := strconv.Atoi(q.Get("first"))
	maxN := 100
	if v := q.Get("max"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			maxN = n
		}
	}
	if hasTo && k.Version == Keycloak2620 {
		writeBody(w, http.StatusOK, []byte("[]"))
		return
	}
	endpoint := 0
	if admin {
		endpoint = 1
	}
	all := k.rows(admin, k.now().UnixMilli(), k.lists[endpoint].Add(1)%2 == 0)
	if !asc {
		slices.Reverse(all)
	}
	// The dates keep a run of all: matches[k] is its k-th row's index.
	var matches []int
	for j, row := range all {
		if row.ts >= from && row.ts <= to {
			matches = append(matches, j)
		}
	}
	first = max(0, first)
	var page []kcRow
	if first < len(matches) {
		for _, j := range matches[first:min(first+maxN, len(matches))] {
			page = append(page, all[j])
		}
		// The row listed just before the page, dates or not: a page
		// read from a dateFrom (first 0) repeats the one before it.
		if _, dup := k.pageFaults(); dup && matches[first] > 0 {
			page = append([]kcRow{all[matches[first]-1]}, page...)
			k.ledger.count(func(l *Ledger) { l.stats.Duplicated++ })
		}
	}
	b := append(make([]byte, 0, 1024*len(page)+2), '[')
	var clean []int32
	poisoned := 0
	for n, row := range page {
		if n > 0 {
			b = append(b, ", "...)
		}
		switch {
		case row.item < 0:
			b = append(b, row.raw...)
		case k.poisonRow(int(row.item)):
			b = append(b, `{"keytrail_emulator": "poisoned row", "n": `+strconv.Itoa(int(row.item))+`}`...)
			poisoned++
		default:
			// a row outside the dates asked for (a repeated one) is
			// not in the ledger: a collector may drop it
			if row.ts >= from && row.ts <= to {
				clean = append(clean, row.item)
			}
			b = k.events.Append(b, int(row.item))
		}
	}
	writeBody(w, http.StatusOK, append(b, ']'))
	if k.events != nil {
		k.served(k.events, clean, poisoned)
	}
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
