// Package airflow collects an Airflow deployment's audit log and DAG runs
// through its REST API: /api/v1 on Airflow 2.x (HTTP basic auth) and
// /api/v2 on 3.x (a JWT from POST /auth/token).
//
// The audit log (GET /eventLogs) is read from the beginning in event_log_id
// order, by offset and limit: the log table keeps years the identity
// providers have dropped, and last year's unpause is what attributes this
// year's scheduled runs. Offsets move when rows are deleted (airflow db
// clean) or a transaction commits a row after rows with higher ids, so the
// cursor keeps the id of the last row read and the ids of the Reread rows
// before it. Each page starts Reread rows early: a row found there that was
// not seen before (committed late) is published, and when the last row read
// is not where the cursor expects it the offset is found again by binary
// search on event_log_id. A row committed later than Reread rows is missed;
// the evidence pack shows it as a gap in the event_log_id ranges.
//
// Airflow lowers a limit above its [api] maximum_page_limit (default 100)
// without a word, so a page shorter than the limit is not the last: both
// streams tell the end of a listing by total_entries, and the audit log
// rereads at most half the rows a capped page holds (see eventLogs.rereadNow).
//
// DAG runs (GET /dags/~/dagRuns) change state after they are first seen, so
// the stream walks windows of updated_at (updated_at_gte, updated_at_lte,
// order_by=updated_at) and publishes the version of each run it finds:
// every distinct version is a record of its own (ingest/airflow keys it by
// dag_id/run_id@digest). The responses do not carry updated_at, so a page
// starts one row early and checks that row is the one the last page ended
// with; when a run updated during the walk has shifted the rows, the window
// is read again from its start. Each window is read again once it is Lag
// old, for rows committed late. The updated_at filters are new in Airflow
// 2.6; older releases refuse them, and the stream fails with
// ErrRunsNeedAirflow26 without asking again.
package airflow

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/oauth"
	ingestairflow "github.com/keytrail/keytrail/ingest/airflow"
	"github.com/keytrail/keytrail/model"
)

// REST API generations.
const (
	APIv1 = "v1" // Airflow 2.x: /api/v1, HTTP basic auth
	APIv2 = "v2" // Airflow 3.x: /api/v2, JWT from POST /auth/token
)

// Config is one Airflow deployment's collector. Zero fields take the
// defaults stated.
type Config struct {
	// Instance names the deployment in keytrail (required).
	Instance string `yaml:"instance"`
	// BaseURL is the API server, e.g. https://airflow.acme.example
	// (required; /api/v1|v2 and /auth/token follow it).
	BaseURL string `yaml:"base_url"`
	// API is v1 (Airflow 2.x) or v2 (3.x) (default v2).
	API string `yaml:"api"`
	// Username and Password authenticate (required).
	Username string         `yaml:"username"`
	Password collect.Secret `yaml:"password"`
	// PageSize is limit (default 100, Airflow's default
	// maximum_page_limit; larger values are capped by the server).
	PageSize int `yaml:"page_size"`
	// Reread is how many rows before the cursor each audit-log page reads
	// again, for rows committed late (default 20; less than PageSize).
	// When the server caps its pages below PageSize (maximum_page_limit),
	// at most half the rows a page brings, so that pages still move on.
	Reread int `yaml:"reread"`
	// Lag is how long after its time an audit-log row may still commit
	// (default 1m): the log counts as complete only up to now − Lag, which
	// is how long the streaming correlator holds a verdict such a row (an
	// unpause, a trigger) could still change before it makes it final.
	Lag time.Duration `yaml:"lag"`
	// Runs configures the DAG run stream.
	Runs RunsConfig `yaml:"runs"`
	// Poll paces the streams and their retries.
	Poll collect.PollConfig `yaml:"poll"`
}

// RunsConfig configures the DAG run stream.
type RunsConfig struct {
	// Disabled turns it off.
	Disabled bool `yaml:"disabled"`
	// Lag is how late a run's update may be listed; each window is read
	// again once it is Lag old (default 1m).
	Lag time.Duration `yaml:"lag"`
	// Start and Backfill say where a new cursor begins (default 30 days of
	// updates back). Needs Airflow 2.6+ (updated_at_gte).
	collect.StartConfig `yaml:",inline"`
}

// Defaults of Config.
const (
	DefaultPageSize = 100
	DefaultReread   = 20
	DefaultRunsLag  = time.Minute
	DefaultLogLag   = time.Minute
)

// Validate reports every problem with c together.
func (c Config) Validate() error {
	var errs []error
	if c.Instance == "" {
		errs = append(errs, errors.New("instance: required"))
	}
	if _, err := collect.ParseBaseURL("base_url", c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	if c.API != "" && c.API != APIv1 && c.API != APIv2 {
		errs = append(errs, fmt.Errorf("api %q: want v1 (Airflow 2.x) or v2 (3.x)", c.API))
	}
	if c.Username == "" {
		errs = append(errs, errors.New("username: required"))
	}
	if err := c.Password.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("password: %w", err))
	}
	if c.PageSize < 0 || c.PageSize == 1 {
		errs = append(errs, fmt.Errorf("page_size %d: want 2 or more", c.PageSize))
	}
	if c.Reread < 0 {
		errs = append(errs, fmt.Errorf("reread %d: must not be negative", c.Reread))
	} else if ps := or(c.PageSize, DefaultPageSize); c.Reread >= ps {
		errs = append(errs, fmt.Errorf("reread %d: must be less than page_size %d", c.Reread, ps))
	}
	if err := collect.CheckLag(c.Lag); err != nil {
		errs = append(errs, err)
	}
	if c.Runs.Lag < 0 {
		errs = append(errs, fmt.Errorf("runs.lag %s: must not be negative", c.Runs.Lag))
	}
	for _, err := range []error{c.Runs.StartConfig.Validate(), c.Poll.Validate()} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// PollConfig is c.Poll with the in_flight default of c's pages, which
// bring page_size less reread new rows each (collect.PollConfig.ForPages):
// what New's collector runs with.
func (c Config) PollConfig() collect.PollConfig {
	limit, reread := c.pages()
	return c.Poll.ForPages(limit - reread)
}

// pages is c's page size and the rows each page reads again, defaults
// applied.
func (c Config) pages() (limit, reread int) {
	return or(c.PageSize, DefaultPageSize), or(c.Reread, DefaultReread)
}

// New returns the collector of c: "event_logs" and "dag_runs" (unless
// turned off). It reads its secret now.
func New(c Config, opts collect.Options) (*collect.Collector, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("airflow %s: %w", c.Instance, err)
	}
	opts = opts.WithDefaults()
	pass, err := c.Password.Value()
	if err != nil {
		return nil, fmt.Errorf("airflow %s: password: %w", c.Instance, err)
	}
	base, _ := collect.ParseBaseURL("base_url", c.BaseURL)
	api := or(c.API, APIv2)
	poll := c.Poll.WithDefaults()
	client := collect.NewClient(opts, nil, poll.Timeout)
	if api == APIv1 {
		client.Auth = oauth.Static{Header: "Authorization", Value: "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+pass))}
	} else {
		client.Auth = &oauth.Bearer{Clock: opts.Clock, Source: &password{url: base.String() + "/auth/token", user: c.Username, pass: pass,
			client: collect.NewClient(opts, nil, poll.Timeout), clock: opts.Clock}}
	}
	root := base.String() + "/api/" + api
	split := collect.Splitter{Source: model.SourceAirflow, Instance: c.Instance, Envelopes: ingestairflow.New().Envelopes()}
	limit, reread := c.pages()
	col := &collect.Collector{Source: model.SourceAirflow, Instance: c.Instance, Poll: c.PollConfig()}
	col.Streams = append(col.Streams, &eventLogs{url: root + "/eventLogs", v2: api == APIv2, client: client, split: split,
		limit: limit, reread: reread, lag: or(c.Lag, DefaultLogLag), clock: opts.Clock, log: opts.Logger.With("collector", col.Name())})
	if !c.Runs.Disabled {
		win := collect.WindowConfig{Start: c.Runs.StartConfig.From(opts.Clock.Now(), collect.DefaultBackfill), Lag: or(c.Runs.Lag, DefaultRunsLag)}
		col.Streams = append(col.Streams, collect.NewWindowStream("dag_runs",
			&dagRuns{url: root + "/dags/~/dagRuns", client: client, split: split, limit: limit, clock: opts.Clock}, win, opts.Clock))
	}
	return col, nil
}

// password gets Airflow 3's JWT: POST /auth/token with the user name and
// password as JSON, answered {"access_token": …}; the token's exp claim
// says when it expires.
type password struct {
	url, user, pass string
	client          *collect.Client
	clock           clockwork.Clock
}

// Token implements oauth.Source.
func (p *password) Token(ctx context.Context) (oauth.Token, error) {
	body, err := json.Marshal(map[string]string{"username": p.user, "password": p.pass})
	if err != nil {
		return oauth.Token{}, err
	}
	resp, err := p.client.Do(ctx, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	})
	if err != nil {
		return oauth.Token{}, fmt.Errorf("%w: %w", oauth.ErrToken, err)
	}
	t, err := oauth.ParseTokenResponse(resp.Body, p.clock.Now())
	if err != nil {
		return oauth.Token{}, err
	}
	if t.Expiry.IsZero() {
		t.Expiry = jwtExpiry(t.Value)
	}
	return t, nil
}

// jwtExpiry reads a JWT's exp claim without checking its signature (the
// collector only needs to know when to ask for a new one); zero when there
// is none.
func jwtExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp float64 `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil || claims.Exp <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(claims.Exp), 0)
}

// logCursor is the audit log's position.
type logCursor struct {
	// Offset is the number of rows before the next row to read.
	Offset int `json:"offset"`
	// Last is the event_log_id of the row at Offset − 1.
	Last int64 `json:"last,omitempty"`
	// Seen are the ids of the rows before Offset that the next page reads
	// again.
	Seen []int64 `json:"seen,omitempty"`
}

// eventLogs reads GET /eventLogs by offset in event_log_id order. Only
// the Runner's goroutine of the stream calls Next, so capped needs no lock.
type eventLogs struct {
	url    string
	v2     bool
	client *collect.Client
	split  collect.Splitter
	limit  int
	reread int
	lag    time.Duration // how late a row may commit
	clock  clockwork.Clock
	log    *slog.Logger
	// capped is how many rows the last page shorter than limit brought
	// though total_entries said more rows followed: the server caps its
	// pages (maximum_page_limit) at that. 0 while no page was capped, or
	// since a page brought the whole limit.
	capped int
}

// rereadNow is how many rows before the cursor the next page reads again:
// Reread, unless the server caps its pages below limit and Reread is more
// than half the rows a capped page brings, then that half (at least one,
// the row that shows where the cursor is). A Reread at or above the cap
// would make every page hold only rows read before: the cursor would never
// move (or, the last row read not on the page, be sought again and again).
// Half keeps as much of the protection against late commits as the cap
// allows while every page still brings at least as many new rows as it
// reads again, so a backlog is read at no less than half the speed the cap
// allows. Learning the cap from the pages, rather than refusing a Reread
// above it in Validate, works whatever the server's maximum_page_limit,
// which the collector cannot ask for, and follows it when it changes.
func (e *eventLogs) rereadNow() int {
	if e.capped == 0 {
		return e.reread
	}
	return min(e.reread, max(e.capped/2, 1))
}

// noteCap learns the server's page cap from a page of n rows asked for with
// limit; more is whether total_entries says rows follow it. A short page
// with rows behind it was capped; one that brought the whole limit shows
// there is no cap below limit. A short page that only rows deleted between
// the server's count and its page made short is corrected by the next
// page. It logs when the cap lowers the rows read again, which narrows the
// late commits caught.
func (e *eventLogs) noteCap(n int, more bool) {
	switch {
	case n >= e.limit:
		e.capped = 0
	case more && n > 0:
		before := e.rereadNow()
		e.capped = n
		if now := e.rereadNow(); now < before {
			e.log.Warn("Airflow serves fewer audit-log rows a page than page_size (its [api] maximum_page_limit): reading fewer rows again",
				"page_size", e.limit, "rows_served", n, "reread", e.reread, "reread_now", now)
		}
	}
}

func (e *eventLogs) Name() string { return "event_logs" }

type logRow struct {
	id   int64
	when time.Time
}

// page reads limit rows at offset: the records, each row's id and time (0
// when a row cannot be read) and the page's total_entries (-1 when it has
// none).
func (e *eventLogs) page(ctx context.Context, offset, limit int) ([]bus.Record, []logRow, int, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
	if e.v2 {
		q.Set("order_by", "event_log_id") // 2.x orders by it when asked for nothing
	}
	link := e.url + "?" + q.Encode()
	resp, err := e.client.Get(ctx, link, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	recs := e.split.Split(resp.Body, link, e.clock.Now())
	rows := make([]logRow, len(recs))
	for i, r := range recs {
		var row struct {
			ID   int64     `json:"event_log_id"`
			When time.Time `json:"when"`
		}
		if json.Unmarshal(r.Raw, &row) == nil {
			rows[i] = logRow{row.ID, row.When}
		}
	}
	return recs, rows, totalEntries(resp.Body), nil
}

// totalEntries reads a list page's total_entries: how many rows match the
// request's filters, not how many the page holds. -1 when the page has none
// (or is not a JSON object): the callers then take a page shorter than the
// limit asked for as the last, as before Airflow capped limits. Airflow
// writes total_entries after the list, so it is read from what follows the
// page's last ']' without decoding the rows again (decoding the whole page
// cost a quarter of BenchmarkEventLogs' throughput); from the whole page
// when that finds none.
func totalEntries(body []byte) int {
	decode := func(doc []byte) int {
		var env struct {
			Total *int `json:"total_entries"`
		}
		if json.Unmarshal(doc, &env) != nil || env.Total == nil || *env.Total < 0 {
			return -1
		}
		return *env.Total
	}
	if i := bytes.LastIndexByte(body, ']'); i >= 0 {
		if n := decode(append([]byte{'{'}, bytes.TrimLeft(body[i+1:], " \t\r\n,")...)); n >= 0 {
			return n
		}
	}
	return decode(body)
}

// Next implements collect.Stream.
func (e *eventLogs) Next(ctx context.Context, cursor string) (collect.Page, error) {
	var c logCursor
	if cursor != "" {
		if err := json.Unmarshal([]byte(cursor), &c); err != nil {
			return collect.Page{}, fmt.Errorf("event log cursor %q: %w", cursor, err)
		}
	}
	reread := e.rereadNow()
	from := max(0, c.Offset-reread)
	recs, rows, total, err := e.page(ctx, from, e.limit)
	if err != nil {
		return collect.Page{}, err
	}
	// Whether rows follow this page: by total_entries, since the server
	// lowers a limit above its maximum_page_limit without a word and a
	// short page is not the last; by the page's length (below) only when
	// it has no total_entries.
	end := from + len(rows)
	if total >= 0 {
		e.noteCap(len(rows), end < total)
	}
	at := -1 // index of the last row read before, in this page
	if c.Offset > 0 {
		if k := c.Offset - 1 - from; k < len(rows) && rows[k].id == c.Last {
			at = k
		} else if j := slices.IndexFunc(rows, func(r logRow) bool { return r.id == c.Last }); j >= 0 {
			at = j // rows before it were inserted or deleted
		} else if e.rereadNow() < reread {
			// The page ended before the last row read: the server caps
			// its pages at fewer rows than this one read again. Read
			// again with fewer.
			return collect.Page{Cursor: cursor, More: true, Position: e.clock.Now()}, nil
		} else {
			if total < 0 {
				return collect.Page{}, fmt.Errorf("event_log_id %d not at offset %d, and the page has no total_entries to search by", c.Last, c.Offset-1)
			}
			return e.seek(ctx, c, total)
		}
	}
	more := len(rows) >= e.limit && len(rows) > at+1
	if total >= 0 {
		more = end < total
		if more && len(rows) <= at+1 && end <= c.Offset && e.rereadNow() >= reread {
			// No row past those read before though more follow, and
			// the cursor would not move: the server served no more rows
			// than the page reads again (or none at all). Fail rather
			// than stall while Complete moves on; a page that taught a
			// lower cap is fine, the next one reads fewer again.
			return collect.Page{}, fmt.Errorf("event log page at offset %d brought %d rows, none after event_log_id %d, though total_entries is %d: reread %d must be below the server's page cap",
				from, len(rows), c.Last, total, reread)
		}
	}
	var out []bus.Record
	for i := range recs {
		switch {
		case i > at:
			out = append(out, recs[i])
		case i < at && rows[i].id != 0 && !slices.Contains(c.Seen, rows[i].id):
			out = append(out, recs[i]) // committed after the rows around it were read
		}
	}
	next := c
	if len(rows) > 0 {
		next = logCursor{Offset: end, Last: rows[len(rows)-1].id}
		// the rows the next page reads again, at most reread
		for _, r := range rows[max(0, len(rows)-reread):] {
			next.Seen = append(next.Seen, r.id)
		}
	}
	b, err := json.Marshal(next)
	if err != nil {
		return collect.Page{}, err
	}
	page := collect.Page{Records: out, Cursor: string(b), More: more, Position: e.clock.Now()}
	if page.More && !rows[len(rows)-1].when.IsZero() {
		page.Position = rows[len(rows)-1].when
	}
	if !more && (total >= 0 || len(rows) <= at+1) {
		// Caught up: every row the server counts is read (or, without
		// total_entries, no row after the last one read). Rows are listed
		// by id, not by time, so no earlier page says how complete the log
		// is; a row committing now may still carry a time up to lag back.
		page.Complete = page.Position.Add(-e.lag)
	}
	return page, nil
}

// seek finds the offset of the first row after c.Last again, by binary
// search on event_log_id (rows were deleted, or inserted in number), and
// returns a page without records that moves the cursor there.
func (e *eventLogs) seek(ctx context.Context, c logCursor, total int) (collect.Page, error) {
	lo, hi := 0, total
	for lo < hi {
		mid := (lo + hi) / 2
		_, rows, _, err := e.page(ctx, mid, 1)
		if err != nil {
			return collect.Page{}, fmt.Errorf("seek event_log_id %d: %w", c.Last, err)
		}
		if len(rows) == 0 {
			hi = mid
			continue
		}
		if rows[0].id <= c.Last {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	b, err := json.Marshal(logCursor{Offset: lo, Last: c.Last})
	if err != nil {
		return collect.Page{}, err
	}
	// The row before the new offset is not c.Last when c.Last was deleted:
	// start one page early and let the seen-set do its work.
	if lo > 0 {
		_, rows, _, err := e.page(ctx, lo-1, 1)
		if err != nil {
			return collect.Page{}, fmt.Errorf("seek event_log_id %d: %w", c.Last, err)
		}
		if len(rows) == 1 {
			b, err = json.Marshal(logCursor{Offset: lo, Last: rows[0].id, Seen: []int64{rows[0].id}})
			if err != nil {
				return collect.Page{}, err
			}
		}
	}
	return collect.Page{Cursor: string(b), More: true, Position: e.clock.Now()}, nil
}

// dagRuns reads GET /dags/~/dagRuns by windows of updated_at. Only the
// Runner's goroutine of the stream calls ReadWindow, so refused needs no
// lock.
type dagRuns struct {
	url    string
	client *collect.Client
	split  collect.Splitter
	limit  int
	clock  clockwork.Clock
	// refused is the error of a server too old for the updated_at filters,
	// returned from then on without asking again.
	refused error
}

// ErrRunsNeedAirflow26 is the dag_runs stream's error on Airflow 2.5 and
// older, whose dagRuns endpoint has no updated_at_gte/updated_at_lte: no
// retry can succeed, so the stream stops asking. The collect package has
// no permanent error, so the Runner keeps the stream in backoff with this
// as its last error (keytrail status) while event_logs goes on.
var ErrRunsNeedAirflow26 = errors.New("DAG-run collection needs Airflow ≥ 2.6 (updated_at_gte/updated_at_lte on dagRuns); " +
	"set runs.disabled: true to collect only the audit log, or upgrade Airflow and restart the collector")

// before26 reports whether err is Airflow 2.5 or older refusing the
// updated_at filters: its API validates query parameters strictly against
// a spec that does not name them yet, answering 400 "Extra query
// parameter(s) updated_at_gte, updated_at_lte not in spec". Other 400s (a
// time it cannot parse) are not taken for it.
func before26(err error) bool {
	var he *collect.HTTPError
	return errors.As(err, &he) && he.Status == http.StatusBadRequest &&
		strings.Contains(he.Body, "not in spec") && strings.Contains(he.Body, "updated_at_")
}

// runTime formats t for updated_at_gte/lte.
func runTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// ReadWindow implements collect.WindowReader. The page token is
// "<offset>:<digest of the last row read>"; a page after the first starts
// one row early to check that row is still the one read last.
func (d *dagRuns) ReadWindow(ctx context.Context, from, to time.Time, page string) ([]bus.Record, string, error) {
	if d.refused != nil {
		return nil, "", d.refused
	}
	offset, last := 0, ""
	if page != "" {
		o, digest, ok := strings.Cut(page, ":")
		n, err := strconv.Atoi(o)
		if !ok || err != nil || n < 0 {
			return nil, "", fmt.Errorf("dagRuns page %q: want <offset>:<digest>", page)
		}
		offset, last = n, digest
	}
	start := offset
	if last != "" && offset > 0 {
		start = offset - 1
	}
	q := url.Values{"updated_at_gte": {runTime(from)}, "updated_at_lte": {runTime(to.Add(-time.Microsecond))},
		"order_by": {"updated_at"}, "limit": {strconv.Itoa(d.limit)}, "offset": {strconv.Itoa(start)}}
	link := d.url + "?" + q.Encode()
	resp, err := d.client.Get(ctx, link, nil)
	if before26(err) {
		d.refused = fmt.Errorf("%w: %w", ErrRunsNeedAirflow26, err)
		return nil, "", d.refused
	}
	if err != nil {
		return nil, "", err
	}
	recs := d.split.Split(resp.Body, link, d.clock.Now())
	if start < offset {
		if len(recs) == 0 || digest(recs[0].Raw) != last {
			// A run updated since the last page left the window and the
			// rows moved up: read the window again from its start.
			return nil, "0:", nil
		}
		recs = recs[1:]
	}
	// Whether rows follow: by total_entries, the runs the window holds,
	// since the server lowers a limit above its maximum_page_limit
	// without a word and a short page is not the last; by the page's
	// length only when it has no total_entries.
	more := len(recs)+(offset-start) >= d.limit
	if total := totalEntries(resp.Body); total >= 0 {
		more = offset+len(recs) < total
		if more && len(recs) == 0 {
			// Runs left the window between the server's count and its
			// page, or the server serves no row past the one read
			// again: ask again after a backoff rather than loop at once.
			return nil, "", fmt.Errorf("dagRuns offset %d: no rows though total_entries is %d", offset, total)
		}
	}
	next := ""
	if more && len(recs) > 0 {
		next = strconv.Itoa(offset+len(recs)) + ":" + digest(recs[len(recs)-1].Raw)
	}
	return recs, next, nil
}

func digest(raw []byte) string { return model.SHA256Hex(raw)[:16] }
