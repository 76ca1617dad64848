package emulator

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/collect/oauth"
	"github.com/keytrail/keytrail/demo"
)

// Google imitates the Admin SDK Reports API's activities.list for the
// login application (GET
// /admin/reports/v1/activity/users/all/applications/login: startTime and
// endTime inclusive, newest first, maxResults up to 1,000, pageToken and
// nextPageToken), behind tokens from a service account's JWT bearer grant
// (POST /token, RFC 7523, with domain-wide delegation: the assertion's sub
// is the administrator). Quota errors are 429 rateLimitExceeded without a
// reset header, as Google documents; clients back off.
type Google struct {
	*core
	Prefix string
	login  *feed
}

// NewGoogle returns a Reports API emulator of data's Workspace.
func NewGoogle(data *Data, opts Options) *Google {
	return &Google{core: newCore(data, opts), login: data.find(demo.StreamGoogleLogin, "")}
}

// ReportsScope is the OAuth scope activities.list needs.
const ReportsScope = "https://www.googleapis.com/auth/admin.reports.audit.readonly"

func googleErr(w http.ResponseWriter, status int, reason, msg, st string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg,
		"errors": []map[string]string{{"message": msg, "domain": "global", "reason": reason}}, "status": st}})
}

func (g *Google) limited(w http.ResponseWriter, _ time.Time) {
	googleErr(w, http.StatusTooManyRequests, "rateLimitExceeded", "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.", "RESOURCE_EXHAUSTED")
}

func (g *Google) failed(w http.ResponseWriter) {
	googleErr(w, http.StatusServiceUnavailable, "backendError", "The service is currently unavailable.", "UNAVAILABLE")
}

// ServeHTTP implements http.Handler.
func (g *Google) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, g.Prefix)
	if path == "/token" && r.Method == http.MethodPost {
		g.token(w, r)
		return
	}
	if !g.valid(bearer(r)) {
		googleErr(w, http.StatusUnauthorized, "authError", "Request had invalid authentication credentials.", "UNAUTHENTICATED")
		return
	}
	if !g.fault(w, r, path, g.limited, g.failed) {
		return
	}
	if path != "/admin/reports/v1/activity/users/all/applications/login" || r.Method != http.MethodGet {
		googleErr(w, http.StatusNotFound, "notFound", "Not Found", "NOT_FOUND")
		return
	}
	g.activities(w, r)
}

func (g *Google) token(w http.ResponseWriter, r *http.Request) {
	g.ledger.count(func(l *Ledger) { l.stats.Requests++ })
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "Invalid grant_type."})
		return
	}
	jwt := r.PostForm.Get("assertion")
	if err := verifyAssertion(jwt, g.creds, g.creds.ServiceAccount, "/token", g.now()); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": err.Error()})
		return
	}
	claims, _ := oauth.Verify(jwt, &g.creds.Key.PublicKey)
	if scope, _ := claims["scope"].(string); !strings.Contains(" "+scope+" ", " "+ReportsScope+" ") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope", "error_description": "Scope must include " + ReportsScope})
		return
	}
	if sub, _ := claims["sub"].(string); sub != g.creds.Admin {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized_client", "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."})
		return
	}
	tok, ttl := g.issue()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": int(ttl.Seconds()), "token_type": "Bearer"})
}

func (g *Google) activities(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := g.now()
	parse := func(name string, def time.Time) (time.Time, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			googleErr(w, http.StatusBadRequest, "invalid", "Invalid value for: "+name+" is not a valid RFC 3339 time", "INVALID_ARGUMENT")
			return t, false
		}
		return t, true
	}
	start, ok := parse("startTime", now.Add(-180*24*time.Hour))
	if !ok {
		return
	}
	end, ok := parse("endTime", now)
	if !ok {
		return
	}
	if start.After(now) || (q.Get("endTime") != "" && start.After(end)) {
		googleErr(w, http.StatusBadRequest, "invalid", "Start time must be less than end time and the current time.", "INVALID_ARGUMENT")
		return
	}
	max := 1000
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			googleErr(w, http.StatusBadRequest, "invalid", "Invalid value for: maxResults must be between 1 and 1000", "INVALID_ARGUMENT")
			return
		}
		max = n
	}
	offset := 0
	if v := q.Get("pageToken"); v != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(v, "A:"), ":emu"))
		if err != nil || n < 0 {
			googleErr(w, http.StatusBadRequest, "invalid", "Invalid page token.", "INVALID_ARGUMENT")
			return
		}
		offset = n
	}
	// newest first, inclusive bounds
	f := g.login
	nowMS, fromMS, toMS := now.UnixMilli(), start.UnixMilli(), end.UnixMilli()
	var matches []int32
	for k := len(f.byTS) - 1; k >= 0; k-- {
		i := f.byTS[k]
		ts := f.Items[i].TS
		if ts > toMS {
			continue
		}
		if ts < fromMS {
			break
		}
		if f.vis[i] <= nowMS {
			matches = append(matches, i)
		}
	}
	endIdx := min(offset+max, len(matches))
	var items []int32
	if offset < len(matches) {
		items = matches[offset:endIdx]
	}
	empty, dup := false, false
	if len(items) > 0 {
		empty, dup = g.pageFaults()
	}
	next := endIdx
	if empty {
		items, next = nil, offset
		g.ledger.count(func(l *Ledger) { l.stats.Empty++ })
	}
	if dup && offset > 0 && offset <= len(matches) {
		items = append([]int32{matches[offset-1]}, items...)
		g.ledger.count(func(l *Ledger) { l.stats.Duplicated++ })
	}
	b := []byte(`{"kind": "admin#reports#activities", "etag": "\"emulator\""`)
	if len(items) > 0 {
		page, items, poisoned := g.render(f, items, '[', ']')
		b = append(b, `, "items": `...)
		b = append(b, page...)
		defer g.served(f, items, poisoned)
	}
	if next < len(matches) {
		b = append(b, `, "nextPageToken": "A:`+strconv.Itoa(next)+`:emu"`...)
	}
	b = append(b, '}')
	writeBody(w, http.StatusOK, b)
}
