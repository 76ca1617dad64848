package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/model"
)

// Faults make an emulator misbehave on purpose. Each counts its own
// requests, pages and records; zero values mean no fault.
type Faults struct {
	// RateLimitEvery answers every Nth API request with 429 and the
	// provider's reset header (Okta X-Rate-Limit-Reset, Retry-After
	// elsewhere; Google sends none, its clients back off). The limit lasts
	// RateLimitFor (default 30s) on the emulator's clock: requests before
	// the reset are refused again and counted in Ledger.Early.
	RateLimitEvery int
	RateLimitFor   time.Duration
	// ErrorEvery answers every Nth API request with the provider's 5xx
	// (500 Okta E0000009, Keycloak and Airflow; 503 Graph and Google).
	ErrorEvery int
	// SlowEvery holds every Nth API request for Slow (real time) before
	// answering. A client that gives up first gets nothing, and nothing is
	// written to the ledger.
	SlowEvery int
	Slow      time.Duration
	// DuplicateEvery starts every Nth page with the last record of the
	// page before it: the same record on two pages.
	DuplicateEvery int
	// EmptyEvery answers every Nth page that would hold records with none
	// and its paging link unchanged (Okta, Graph and Google, whose pages
	// are linked).
	EmptyEvery int
	// PoisonEvery puts, before every Nth record served, a record the
	// provider's normalizer rejects; Ledger.Poison counts them. APIs that
	// page by offset (Airflow's audit log, Keycloak's events) serve every
	// Nth row as a bad row in its place instead, every time it is read.
	PoisonEvery int
	// LateBy is how long after their time the records the generator marks
	// late are listed. Zero keeps the generator's lateness (5 min to 3 h)
	// for IdP records and commits late Airflow audit rows 2 s late.
	LateBy time.Duration
	// LateEvery lists every Nth record of each IdP feed LateBy (default
	// 30 min) after its time, on top of the generator's late records.
	LateEvery int
	// TokenTTL is the lifetime of the access tokens issued (default 1h).
	TokenTTL time.Duration
}

// Credentials are what the emulators accept. NewCredentials fills them.
type Credentials struct {
	// OktaToken is the Okta API token (Authorization: SSWS …).
	OktaToken string
	// ClientID and ClientSecret authenticate client-credentials requests
	// to Entra and Keycloak; ClientID is also the Okta service app's.
	ClientID     string
	ClientSecret string
	// Tenant is the Entra tenant id in the token URL.
	Tenant string
	// Realm is the Keycloak realm.
	Realm string
	// ServiceAccount is the Google service account's client_email;
	// Admin is the administrator it acts as.
	ServiceAccount string
	Admin          string
	// Key signs the Google service account's and the Okta service app's
	// assertions; the emulators verify them with its public half.
	Key *rsa.PrivateKey
	// AirflowUser and AirflowPassword authenticate Airflow requests (basic
	// auth on /api/v1, POST /auth/token on /api/v2).
	AirflowUser     string
	AirflowPassword string
}

// NewCredentials returns credentials with fixed names and secrets and a
// fresh 2048-bit RSA key.
func NewCredentials() (Credentials, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		OktaToken: "00emulator-okta-api-token", ClientID: "keytrail-collector", ClientSecret: "emulator-client-secret",
		Tenant: "8a1f2c3d-0000-4000-8000-00000000beef", Realm: "corp",
		ServiceAccount: "keytrail@acme-audit.iam.gserviceaccount.com", Admin: "admin@acme.example", Key: key,
		AirflowUser: "keytrail", AirflowPassword: "emulator-airflow-password",
	}, nil
}

// Options configure an emulator.
type Options struct {
	// Clock is the provider's now: a record is listed once its Visible
	// time has passed. Default the real clock.
	Clock  clockwork.Clock
	Faults Faults
	Creds  Credentials
}

// Data is an organisation's feeds indexed for serving. Build it once per
// organisation and Faults.LateBy, and share it between emulators.
type Data struct {
	Org         *demo.Org
	feeds       []*feed
	poisonEvery int
}

// feed is a demo feed with the times the emulator lists its items at.
type feed struct {
	*demo.Feed
	vis   []int64 // when item i is listed, ms
	order []int32 // items by vis, then TS: the provider's persistence order
	byTS  []int32 // items by TS
	// next[i] is the index of the next version of the same DAG run, -1 for
	// the last (run feeds only).
	next []int32
	// rowPoison: the API pages by offset, so a poisoned record is a bad
	// row in the place of a good one (Airflow audit log, Keycloak events),
	// not one more record.
	rowPoison bool
	// noPoison: the feed is never poisoned (DAG run versions: a bad row
	// would stand for a run's state).
	noPoison bool
}

// NewData indexes org's feeds, listing late records as faults say
// (LateBy, LateEvery).
func NewData(org *demo.Org, faults Faults) *Data {
	lateBy := faults.LateBy
	d := &Data{Org: org, poisonEvery: faults.PoisonEvery}
	for _, f := range org.Feeds() {
		fd := &feed{Feed: f, vis: make([]int64, len(f.Items)),
			rowPoison: f.Stream == demo.StreamAirflowEventLogs || f.Stream == demo.StreamKeycloakEvents,
			noPoison:  f.Stream == demo.StreamAirflowDagRuns}
		for i := range f.Items {
			it := &f.Items[i]
			fd.vis[i] = it.Visible
			switch {
			case f.Stream == demo.StreamAirflowEventLogs && it.Late:
				late := 2 * time.Second
				if lateBy > 0 {
					late = lateBy
				}
				fd.vis[i] = it.TS + late.Milliseconds()
			case it.Late && lateBy > 0:
				fd.vis[i] = it.TS + lateBy.Milliseconds()
			case faults.LateEvery > 0 && f.Source != model.SourceAirflow && (i+1)%faults.LateEvery == 0:
				late := 30 * time.Minute
				if lateBy > 0 {
					late = lateBy
				}
				fd.vis[i] = max(fd.vis[i], it.TS+late.Milliseconds())
			}
		}
		fd.order = identity(len(f.Items))
		sort.SliceStable(fd.order, func(a, b int) bool {
			i, j := fd.order[a], fd.order[b]
			if fd.vis[i] != fd.vis[j] {
				return fd.vis[i] < fd.vis[j]
			}
			return f.Items[i].TS < f.Items[j].TS
		})
		fd.byTS = identity(len(f.Items))
		sort.SliceStable(fd.byTS, func(a, b int) bool { return f.Items[fd.byTS[a]].TS < f.Items[fd.byTS[b]].TS })
		if f.Stream == demo.StreamAirflowDagRuns {
			fd.next = make([]int32, len(f.Items))
			last := map[string]int32{}
			for k := len(fd.order) - 1; k >= 0; k-- {
				i := fd.order[k]
				n, ok := last[f.Items[i].Subject]
				if !ok {
					n = -1
				}
				fd.next[i] = n
				last[f.Items[i].Subject] = i
			}
		}
		d.feeds = append(d.feeds, fd)
	}
	return d
}

func identity(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// find returns the feed of stream and instance, nil when there is none.
func (d *Data) find(st demo.Stream, instance string) *feed {
	for _, f := range d.feeds {
		if f.Stream == st && (instance == "" || f.Instance == instance) {
			return f
		}
	}
	return nil
}

// people returns the indexes of the people of src.
func (d *Data) people(src model.Source) []int {
	var out []int
	for i := range d.Org.People {
		if d.Org.People[i].Source == src {
			out = append(out, i)
		}
	}
	return out
}

// core is what every emulator shares: clock, faults, ledger, counters.
type core struct {
	data   *Data
	clock  clockwork.Clock
	faults Faults
	creds  Credentials
	ledger *Ledger

	requests atomic.Int64
	pages    atomic.Int64
	records  atomic.Int64

	mu           sync.Mutex
	limitedUntil map[string]time.Time // per rate-limit bucket
	limitedAt    map[string]time.Time
	tokens       map[string]time.Time
}

func newCore(data *Data, opts Options) *core {
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Faults.RateLimitFor <= 0 {
		opts.Faults.RateLimitFor = 30 * time.Second
	}
	if opts.Faults.TokenTTL <= 0 {
		opts.Faults.TokenTTL = time.Hour
	}
	return &core{data: data, clock: opts.Clock, faults: opts.Faults, creds: opts.Creds, ledger: newLedger(data), tokens: map[string]time.Time{}, limitedUntil: map[string]time.Time{}, limitedAt: map[string]time.Time{}}
}

// Ledger returns the emulator's ledger.
func (c *core) Ledger() *Ledger { return c.ledger }

func (c *core) now() time.Time { return c.clock.Now() }

func every(n int, k int64) bool { return n > 0 && k%int64(n) == 0 }

// fault decides the request-level faults of one API request: it answers
// 429 or 5xx itself (returning false), or holds a slow request. Rate
// limits are per bucket, as the providers count them per endpoint; bucket
// is the request's endpoint. limited writes the provider's 429 with its
// reset; failed its 5xx.
func (c *core) fault(w http.ResponseWriter, r *http.Request, bucket string, limited func(w http.ResponseWriter, until time.Time), failed func(w http.ResponseWriter)) bool {
	k := c.requests.Add(1)
	c.ledger.count(func(l *Ledger) { l.stats.Requests++ })
	now := c.now()
	c.mu.Lock()
	until := c.limitedUntil[bucket]
	if now.Before(until) {
		// A request sent at the very time of the 429 crossed it; one
		// sent later ignored it.
		early := now.After(c.limitedAt[bucket])
		c.mu.Unlock()
		c.ledger.count(func(l *Ledger) {
			if early {
				l.stats.Early++
			}
			l.stats.RateLimited++
		})
		limited(w, until)
		return false
	}
	if every(c.faults.RateLimitEvery, k) {
		until = now.Add(c.faults.RateLimitFor)
		c.limitedUntil[bucket] = until
		c.limitedAt[bucket] = now
		c.mu.Unlock()
		c.ledger.count(func(l *Ledger) { l.stats.RateLimited++ })
		limited(w, until)
		return false
	}
	c.mu.Unlock()
	if every(c.faults.ErrorEvery, k) {
		c.ledger.count(func(l *Ledger) { l.stats.Errors++ })
		failed(w)
		return false
	}
	if every(c.faults.SlowEvery, k) && c.faults.Slow > 0 {
		t := time.NewTimer(c.faults.Slow)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			c.ledger.count(func(l *Ledger) { l.stats.Abandoned++ })
			return false
		}
	}
	return true
}

// pageFaults returns the faults of the next page that would hold records:
// empty (list nothing) and dup (start with the previous page's last record).
func (c *core) pageFaults() (empty, dup bool) {
	k := c.pages.Add(1)
	return every(c.faults.EmptyEvery, k), every(c.faults.DuplicateEvery, k)
}

// poisonRow reports whether row i of an offset-paged feed is a poisoned
// row: every PoisonEvery-th row, the same one every time it is read.
func (c *core) poisonRow(i int) bool { return c.data.poisonEvery > 0 && (i+1)%c.data.poisonEvery == 0 }

// poisonNext returns the poison record to put before the next record, nil
// for none: a JSON object no normalizer accepts (it names no provider
// field), numbered so that every poison record is distinct.
func (c *core) poisonNext() []byte {
	k := c.records.Add(1)
	if !every(c.faults.PoisonEvery, k) {
		return nil
	}
	return []byte(`{"keytrail_emulator": "poisoned record: not a provider record", "n": ` + strconv.FormatInt(k, 10) + `}`)
}

// issue returns a new access token valid for TokenTTL.
func (c *core) issue() (string, time.Duration) {
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	c.mu.Lock()
	c.tokens[tok] = c.now().Add(c.faults.TokenTTL)
	c.mu.Unlock()
	return tok, c.faults.TokenTTL
}

// valid reports whether tok was issued and has not expired.
func (c *core) valid(tok string) bool {
	c.mu.Lock()
	exp, ok := c.tokens[tok]
	c.mu.Unlock()
	return ok && c.now().Before(exp)
}

// bearer returns the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) string {
	const p = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(p) && h[:len(p)] == p {
		return h[len(p):]
	}
	return ""
}

// writeJSON writes status and the JSON encoding of v.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeBody writes a JSON body built by the emulator.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Listed reports whether item i of f is listed by the emulators at time at
// (for a DAG run version: whether it has become visible, current or not),
// unspoiled (not a poisoned row).
func (d *Data) Listed(f *demo.Feed, i int, at time.Time) bool {
	for _, fd := range d.feeds {
		if fd.Feed == f {
			if fd.rowPoison && d.poisonEvery > 0 && (i+1)%d.poisonEvery == 0 {
				return false
			}
			return fd.vis[i] <= at.UnixMilli()
		}
	}
	return false
}

// ListedAt returns when the emulators start listing item i of f: its
// Visible time, or later for a record listed late as Faults say. It is the
// zero time when f is not one of d's feeds.
func (d *Data) ListedAt(f *demo.Feed, i int) time.Time {
	for _, fd := range d.feeds {
		if fd.Feed == f {
			return time.UnixMilli(fd.vis[i]).UTC()
		}
	}
	return time.Time{}
}

// Feeds returns the organisation's feeds.
func (d *Data) Feeds() []*demo.Feed {
	out := make([]*demo.Feed, len(d.feeds))
	for i, f := range d.feeds {
		out[i] = f.Feed
	}
	return out
}

// Feed returns the feed of stream (and instance, for Airflow), nil when
// there is none.
func (d *Data) Feed(st demo.Stream, instance string) *demo.Feed {
	if f := d.find(st, instance); f != nil {
		return f.Feed
	}
	return nil
}

// endpoint is a request path's rate-limit bucket: the path with the ids of
// users left out (/api/v1/users/{id}/factors counts as one endpoint).
func endpoint(path string) string {
	parts := strings.Split(path, "/")
	for i := 1; i < len(parts); i++ {
		if parts[i-1] == "users" {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}
