package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/model"
)

// Entra imitates Microsoft Graph for an Entra ID tenant: GET
// /beta/auditLogs/signIns (newest first; $filter on createdDateTime and
// signInEventTypes, interactive sign-ins only without a signInEventTypes
// filter; $top up to 1,000; @odata.nextLink with $skiptoken), GET
// /v1.0/auditLogs/directoryAudits ($filter on activityDateTime), GET
// /v1.0/users and GET /v1.0/users/{id}/authentication/fido2Methods, behind
// tokens from the Microsoft identity platform's client credentials grant
// (POST /{tenant}/oauth2/v2.0/token, scope https://graph.microsoft.com/.default).
// Graph lives under /graph and the identity platform under /login of the
// emulator's prefix. Throttled requests get 429 with Retry-After.
type Entra struct {
	*core
	Prefix  string
	signIns *feed
	audits  *feed
	users   []int
}

// NewEntra returns a Graph emulator of data's Entra tenant.
func NewEntra(data *Data, opts Options) *Entra {
	return &Entra{core: newCore(data, opts), signIns: data.find(demo.StreamEntraSignIns, ""),
		audits: data.find(demo.StreamEntraAudits, ""), users: data.people(model.SourceEntra)}
}

func graphErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": "00000000-0000-0000-0000-000000000000"}}})
}

func (e *Entra) limited(w http.ResponseWriter, until time.Time) {
	secs := int64(until.Sub(e.now()) / time.Second)
	if until.Sub(e.now())%time.Second > 0 {
		secs++
	}
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	graphErr(w, http.StatusTooManyRequests, "TooManyRequests", "Too many requests.")
}

func (e *Entra) failed(w http.ResponseWriter) {
	graphErr(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable.")
}

// ServeHTTP implements http.Handler.
func (e *Entra) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, e.Prefix)
	if strings.HasPrefix(path, "/login/") {
		e.token(w, r, strings.TrimPrefix(path, "/login/"))
		return
	}
	path, ok := strings.CutPrefix(path, "/graph")
	if !ok || r.Method != http.MethodGet {
		graphErr(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment.")
		return
	}
	if !e.valid(bearer(r)) {
		graphErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or has expired.")
		return
	}
	if !e.fault(w, r, endpoint(path), e.limited, e.failed) {
		return
	}
	version, rest, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if version != "beta" && version != "v1.0" {
		graphErr(w, http.StatusNotFound, "Request_ResourceNotFound", "Unknown Graph version "+version)
		return
	}
	switch {
	case rest == "auditLogs/signIns" && version == "beta":
		e.list(w, r, e.signIns, "createdDateTime", "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns")
	case rest == "auditLogs/directoryAudits":
		e.list(w, r, e.audits, "activityDateTime", "https://graph.microsoft.com/"+version+"/$metadata#auditLogs/directoryAudits")
	case rest == "users":
		e.listUsers(w, r)
	case strings.HasPrefix(rest, "users/") && strings.HasSuffix(rest, "/authentication/fido2Methods"):
		e.fido2(w, strings.TrimSuffix(strings.TrimPrefix(rest, "users/"), "/authentication/fido2Methods"))
	default:
		graphErr(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment '"+rest+"'.")
	}
}

func (e *Entra) token(w http.ResponseWriter, r *http.Request, rest string) {
	e.ledger.count(func(l *Ledger) { l.stats.Requests++ })
	tenant, p, _ := strings.Cut(rest, "/")
	if p != "oauth2/v2.0/token" || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "invalid_request", "error_description": "AADSTS90002: not a token endpoint"})
		return
	}
	if tenant != e.creds.Tenant {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "AADSTS90002: Tenant '" + tenant + "' not found."})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "AADSTS70003: The app requested an unsupported grant type."})
		return
	}
	if r.PostForm.Get("client_id") != e.creds.ClientID || r.PostForm.Get("client_secret") != e.creds.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
		return
	}
	if r.PostForm.Get("scope") != "https://graph.microsoft.com/.default" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope", "error_description": "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier."})
		return
	}
	tok, ttl := e.issue()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(ttl.Seconds()), "ext_expires_in": int(ttl.Seconds()), "access_token": tok})
}

// graphFilter is a $filter of the clauses the emulator understands.
type graphFilter struct {
	from, to   int64 // [from, to) in ms
	eventTypes map[string]bool
}

var (
	reTimeClause  = regexp.MustCompile(`^(\w+)\s+(ge|gt|le|lt|eq)\s+([0-9T:.\-+Z]+)$`)
	reEventClause = regexp.MustCompile(`^signInEventTypes/any\(\s*(\w+)\s*:\s*(\w+)\s+eq\s+'(\w+)'\s*\)$`)
)

// parseGraphFilter reads $filter: clauses joined by "and", each on the time
// property (ge, le, eq: what Graph documents for the audit logs' times; gt
// and lt are refused) or signInEventTypes/any(t: t eq '…').
func parseGraphFilter(s, timeProp string) (graphFilter, error) {
	f := graphFilter{from: -1 << 62, to: 1 << 62}
	s = strings.TrimSpace(s)
	if s == "" {
		return f, nil
	}
	for _, clause := range splitAnd(s) {
		c := strings.TrimSpace(clause)
		for strings.HasPrefix(c, "(") && strings.HasSuffix(c, ")") && balanced(c[1:len(c)-1]) {
			c = strings.TrimSpace(c[1 : len(c)-1])
		}
		if m := reEventClause.FindStringSubmatch(c); m != nil && m[1] == m[2] {
			if f.eventTypes == nil {
				f.eventTypes = map[string]bool{}
			}
			f.eventTypes[m[3]] = true
			continue
		}
		m := reTimeClause.FindStringSubmatch(c)
		if m == nil || m[1] != timeProp {
			return f, fmt.Errorf("invalid filter clause: %s", c)
		}
		t, err := time.Parse(time.RFC3339Nano, m[3])
		if err != nil {
			return f, fmt.Errorf("invalid filter clause: %s: %w", c, err)
		}
		ms := t.UnixMilli()
		switch m[2] {
		case "ge":
			f.from = max(f.from, ms)
		case "le":
			f.to = min(f.to, ms+1)
		case "lt", "gt":
			// Graph documents eq, le and ge on createdDateTime and
			// activityDateTime; a client must not rely on the others.
			return f, fmt.Errorf("invalid filter clause: %s: operator %s is not supported on this property", c, m[2])
		case "eq":
			f.from, f.to = max(f.from, ms), min(f.to, ms+1)
		}
	}
	return f, nil
}

// splitAnd splits s at " and " outside parentheses and quotes.
func splitAnd(s string) []string {
	var out []string
	depth, quote, start := 0, false, 0
	low := strings.ToLower(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quote = !quote
		case quote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(low[i:], " and "):
			out = append(out, s[start:i])
			i += len(" and ") - 1
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func balanced(s string) bool {
	depth := 0
	for _, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// list serves a Graph collection of f newest first, filtered and paged.
func (e *Entra) list(w http.ResponseWriter, r *http.Request, f *feed, timeProp, context string) {
	q := r.URL.Query()
	filter, err := parseGraphFilter(q.Get("$filter"), timeProp)
	if err != nil {
		graphErr(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if f == e.signIns && filter.eventTypes == nil {
		filter.eventTypes = map[string]bool{demo.KindInteractive: true} // beta lists interactive sign-ins unless asked
	}
	top := 1000
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			graphErr(w, http.StatusBadRequest, "BadRequest", "Invalid $top value.")
			return
		}
		top = min(n, 1000)
	}
	offset := 0
	if v := q.Get("$skiptoken"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "emu"))
		if err != nil || !strings.HasPrefix(v, "emu") || n < 0 {
			graphErr(w, http.StatusBadRequest, "BadRequest", "Invalid $skiptoken.")
			return
		}
		offset = n
	}
	matches := e.match(f, filter)
	end := min(offset+top, len(matches))
	var items []int32
	if offset < len(matches) {
		items = matches[offset:end]
	}
	empty, dup := false, false
	if len(items) > 0 {
		empty, dup = e.pageFaults()
	}
	next := end
	if empty {
		items, next = nil, offset
		e.ledger.count(func(l *Ledger) { l.stats.Empty++ })
	}
	if dup && offset > 0 && offset <= len(matches) {
		items = append([]int32{matches[offset-1]}, items...)
		e.ledger.count(func(l *Ledger) { l.stats.Duplicated++ })
	}
	b := []byte(`{"@odata.context": "` + context + `"`)
	if next < len(matches) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skiptoken", "emu"+strconv.Itoa(next))
		b = append(b, `, "@odata.nextLink": `...)
		b = appendJSONString(b, selfURL(r, nq))
	}
	b = append(b, `, "value": `...)
	page, items, poisoned := e.render(f, items, '[', ']')
	b = append(b, page...)
	b = append(b, '}')
	writeBody(w, http.StatusOK, b)
	e.served(f, items, poisoned)
}

// match returns the listed items of f that pass filter, newest first.
func (e *Entra) match(f *feed, filter graphFilter) []int32 {
	nowMS := e.now().UnixMilli()
	var out []int32
	for k := len(f.byTS) - 1; k >= 0; k-- {
		i := f.byTS[k]
		it := &f.Items[i]
		if it.TS >= filter.to {
			continue
		}
		if it.TS < filter.from {
			break
		}
		if f.vis[i] > nowMS || (filter.eventTypes != nil && !filter.eventTypes[it.Kind]) {
			continue
		}
		out = append(out, i)
	}
	return out
}

func (e *Entra) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	top := 100
	if v := q.Get("$top"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			top = min(n, 999)
		}
	}
	offset, _ := strconv.Atoi(strings.TrimPrefix(q.Get("$skiptoken"), "emu"))
	offset = max(0, min(offset, len(e.users)))
	end := min(offset+top, len(e.users))
	type user struct {
		ID                string `json:"id"`
		UserPrincipalName string `json:"userPrincipalName"`
		DisplayName       string `json:"displayName"`
	}
	page := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,displayName)"}
	vals := []user{}
	for _, p := range e.users[offset:end] {
		P := &e.data.Org.People[p]
		vals = append(vals, user{P.Subject, P.ID, P.Name})
	}
	page["value"] = vals
	if end < len(e.users) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("$skiptoken", "emu"+strconv.Itoa(end))
		page["@odata.nextLink"] = selfURL(r, nq)
	}
	writeJSON(w, http.StatusOK, page)
}

func (e *Entra) fido2(w http.ResponseWriter, id string) {
	for _, p := range e.users {
		if e.data.Org.People[p].Subject == id {
			writeBody(w, http.StatusOK, e.data.Org.AppendInventory(nil, p, e.now()))
			e.ledger.snapshot(model.SourceEntra, id)
			return
		}
	}
	graphErr(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, c)...)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
