// Package keycloak collects a Keycloak realm through its Admin REST API:
// user events (GET /admin/realms/{realm}/events), admin events (GET
// /admin/realms/{realm}/admin-events) and, on a schedule, every user's
// credentials (GET /admin/realms/{realm}/users/{id}/credentials), whose
// WebAuthn entries carry the AAGUID and credential id.
//
// The event endpoints filter by dateFrom and dateTo (epoch milliseconds in
// releases from 26.2, yyyy-MM-dd only before) and page by first and max;
// they list the newest first unless direction=asc (26.2 on). The stream
// walks time windows that lie in the past; each window is read from a
// dateFrom, never with a dateTo, which releases read differently and
// some drop events by (see events). With DatesOnly the request takes whole
// days, newest first, and the window keeps its events. Every window is
// read again once it is Lag old (collect.NewWindowStream).
//
// Credentials: a confidential client with a service account holding the
// realm-management roles view-events and view-users, using the client
// credentials grant (POST /realms/{realm}/protocol/openid-connect/token).
package keycloak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/oauth"
	ingestkeycloak "github.com/keytrail/keytrail/ingest/keycloak"
	"github.com/keytrail/keytrail/model"
)

// Config is one Keycloak realm's collector. Zero fields take the defaults
// stated.
type Config struct {
	// Instance names the realm in keytrail (default Realm).
	Instance string `yaml:"instance"`
	// BaseURL is the Keycloak server, e.g. https://sso.acme.example
	// (required; /admin/realms/… and /realms/… follow it).
	BaseURL string `yaml:"base_url"`
	// Realm is the realm collected (required).
	Realm string `yaml:"realm"`
	// ClientID and ClientSecret are the confidential client's (required).
	ClientID     string         `yaml:"client_id"`
	ClientSecret collect.Secret `yaml:"client_secret"`
	// TokenRealm is the realm of the client (default Realm).
	TokenRealm string `yaml:"token_realm"`
	// AdminEvents turns the admin event stream off when false (default on).
	AdminEvents *bool `yaml:"admin_events"`
	// DatesOnly sends dateFrom as yyyy-MM-dd and reads newest first, for
	// Keycloak releases before 26.2, which take no epoch milliseconds and
	// no direction (default false). Each window then pages past the
	// events recorded after it, listed first: a few for the fresh pass,
	// Lag's worth for the settling one.
	DatesOnly bool `yaml:"dates_only"`
	// Lag is how late Keycloak may list an event; each window is read
	// again once it is Lag old (default 2m).
	Lag time.Duration `yaml:"lag"`
	// PageSize is max (default 100, Keycloak's default).
	PageSize int `yaml:"page_size"`
	// Start and Backfill say where a new cursor begins (default 30 days
	// back).
	collect.StartConfig `yaml:",inline"`
	// Inventory schedules credential snapshots (default daily).
	Inventory collect.InventoryConfig `yaml:"inventory"`
	// Poll paces the streams and their retries.
	Poll collect.PollConfig `yaml:"poll"`
}

// Defaults of Config.
const (
	DefaultLag      = 2 * time.Minute
	DefaultPageSize = 100
)

// Validate reports every problem with c together.
func (c Config) Validate() error {
	var errs []error
	if _, err := collect.ParseBaseURL("base_url", c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	if c.Realm == "" {
		errs = append(errs, errors.New("realm: required"))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("client_id: required"))
	}
	if err := c.ClientSecret.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("client_secret: %w", err))
	}
	// errors.Join drops the nil ones.
	errs = append(errs, collect.CheckLag(c.Lag), collect.CheckPageSize(c.PageSize, 10000), c.StartConfig.Validate(), c.Inventory.Validate(), c.Poll.Validate())
	return errors.Join(errs...)
}

// New returns the collector of c: "events", "admin_events" and
// "credentials" (unless turned off). It reads its secret now.
func New(c Config, opts collect.Options) (*collect.Collector, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("keycloak: %w", err)
	}
	opts = opts.WithDefaults()
	secret, err := c.ClientSecret.Value()
	if err != nil {
		return nil, fmt.Errorf("keycloak: client_secret: %w", err)
	}
	base, _ := collect.ParseBaseURL("base_url", c.BaseURL)
	instance := c.Instance
	if instance == "" {
		instance = c.Realm
	}
	tokenRealm := c.TokenRealm
	if tokenRealm == "" {
		tokenRealm = c.Realm
	}
	poll := c.Poll.WithDefaults()
	client := collect.NewClient(opts, nil, poll.Timeout)
	client.Auth = &oauth.Bearer{Clock: opts.Clock, Source: &oauth.ClientCredentials{
		TokenURL: base.String() + "/realms/" + url.PathEscape(tokenRealm) + "/protocol/openid-connect/token",
		ClientID: c.ClientID, ClientSecret: secret, Client: collect.NewClient(opts, nil, poll.Timeout), Clock: opts.Clock}}
	lag := c.Lag
	if lag == 0 {
		lag = DefaultLag
	}
	pageSize := c.PageSize
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	admin := base.String() + "/admin/realms/" + url.PathEscape(c.Realm)
	split := collect.Splitter{Source: model.SourceKeycloak, Instance: instance, Envelopes: ingestkeycloak.New().Envelopes(), Key: subjectOf}
	win := collect.WindowConfig{Start: c.StartConfig.From(opts.Clock.Now(), collect.DefaultBackfill), Lag: lag}
	col := &collect.Collector{Source: model.SourceKeycloak, Instance: instance, Poll: c.Poll.ForPages(pageSize)}
	col.Streams = append(col.Streams, collect.NewWindowStream("events",
		&events{url: admin + "/events", client: client, split: split, max: pageSize, datesOnly: c.DatesOnly, clock: opts.Clock}, win, opts.Clock))
	if c.AdminEvents == nil || *c.AdminEvents {
		col.Streams = append(col.Streams, collect.NewWindowStream("admin_events",
			&events{url: admin + "/admin-events", client: client, split: split, max: pageSize, datesOnly: c.DatesOnly, clock: opts.Clock}, win, opts.Clock))
	}
	if !c.Inventory.Disabled {
		col.Streams = append(col.Streams, collect.NewInventoryStream(model.SourceKeycloak, instance, ingestkeycloak.InventoryKind,
			&credentials{admin: admin, client: client, max: pageSize}, c.Inventory, opts.Clock))
	}
	return col, nil
}

// events reads an event endpoint by window.
//
// It never sends dateTo: releases read it differently and several drop
// events silently. Up to 25 a dateTo keeps events up to 00:00 of its day
// in the server's zone (keycloak#30414), so a window inside one day lists
// nothing; 26.0–26.1 fixed /events but not /admin-events (keycloak#38442);
// 26.2.0 lists nothing at all for any dateTo (keycloak#38911). It sends
// dateFrom only, and ends the window on its side: it keeps the events of
// [from, to), and stops at the first event past the window in the order
// the events come in. Keycloak orders them by time alone, so that is
// sound, but events of the same millisecond come in any order, a different
// one on each request: a page boundary must never fall among them.
//
// In the default mode a page asks for the events from a dateFrom on (epoch
// milliseconds), oldest first (direction=asc), and the window ends at the
// first event at or after to. The next page starts at the millisecond of
// the page's last event, by dateFrom, not by offset: that millisecond's
// events are left out of this page and all listed again on the next,
// whatever their order, and events dropped from the start of the list
// (Keycloak expires old ones) shift nothing.
//
// With DatesOnly (releases before 26.2, which take neither epoch
// milliseconds nor direction) a page asks for the days from the UTC day
// before from's, which starts before from in any server zone, newest
// first, by offset; the window ends at the first event before from, and
// the events at or after to, listed first, are skipped. Events recorded
// while it pages come at the top, pushing the rest towards later offsets:
// some are read twice, none skipped. The next page starts at the offset of
// the page's last millisecond, whose events it lists again.
//
// A full page of a single millisecond is asked for again twice as long.
// A window's walk is over, and the stream's cursor moves to its end, only
// once a page ends the window (or the list): every event listed before
// then that the window holds was read. Events listed later than their
// time, behind the page being read, are the settling pass's (Lag).
type events struct {
	url       string
	client    *collect.Client
	split     collect.Splitter
	max       int
	datesOnly bool
	clock     clockwork.Clock
}

// eventsPage is where a window's next page starts: from (epoch
// milliseconds, oldest first) or first (the offset, newest first), and
// max when the page asked for is longer than the configured one.
type eventsPage struct {
	from  int64
	first int
	max   int
}

// parsePage reads a page token, "" or one that is not eventsPage's (an
// older release's offset) meaning the window's first page: read again,
// the window loses nothing.
func (e *events) parsePage(page string, from time.Time) eventsPage {
	p := eventsPage{from: from.UnixMilli(), max: e.max}
	v, err := url.ParseQuery(page)
	if err != nil {
		return p
	}
	if n, err := strconv.ParseInt(v.Get("from"), 10, 64); err == nil && !e.datesOnly && n >= p.from {
		p.from = n
	} else if n, err := strconv.Atoi(v.Get("first")); err == nil && e.datesOnly && n >= 0 {
		p.first = n
	} else {
		return p
	}
	if n, err := strconv.Atoi(v.Get("max")); err == nil && n > e.max {
		p.max = n
	}
	return p
}

func (e *events) token(p eventsPage) string {
	v := url.Values{}
	if e.datesOnly {
		v.Set("first", strconv.Itoa(p.first))
	} else {
		v.Set("from", strconv.FormatInt(p.from, 10))
	}
	if p.max > e.max {
		v.Set("max", strconv.Itoa(p.max))
	}
	return v.Encode()
}

// ReadWindow implements collect.WindowReader.
func (e *events) ReadWindow(ctx context.Context, from, to time.Time, page string) ([]bus.Record, string, error) {
	p := e.parsePage(page, from)
	q := url.Values{"first": {strconv.Itoa(p.first)}, "max": {strconv.Itoa(p.max)}}
	if e.datesOnly {
		q.Set("dateFrom", from.UTC().AddDate(0, 0, -1).Format("2006-01-02"))
	} else {
		q.Set("dateFrom", strconv.FormatInt(p.from, 10))
		q.Set("direction", "asc")
	}
	link := e.url + "?" + q.Encode()
	resp, err := e.client.Get(ctx, link, nil)
	if err != nil {
		return nil, "", err
	}
	recs := e.split.Split(resp.Body, link, e.clock.Now())
	times := make([]time.Time, len(recs)) // zero: no time (not an event)
	end, done := len(recs), len(recs) < p.max
	for i, r := range recs {
		t, ok := eventTime(r.Raw)
		if !ok {
			continue
		}
		times[i] = t
		if e.datesOnly && t.Before(from) || !e.datesOnly && !t.Before(to) {
			end, done = i, true // the rest lie past the window too
			break
		}
	}
	next := ""
	if !done {
		// A full page inside the window: the events of its last
		// millisecond start at cut and go to the next page.
		cut := -1
		for i := end - 1; i >= 0; i-- {
			if times[i].IsZero() {
				continue
			}
			if cut >= 0 && !times[i].Equal(times[cut]) {
				break
			}
			cut = i
		}
		switch {
		case cut >= 0 && !e.datesOnly && times[cut].UnixMilli() > p.from:
			next, end = e.token(eventsPage{from: times[cut].UnixMilli()}), cut
		case cut > 0 && e.datesOnly:
			next, end = e.token(eventsPage{first: p.first + cut}), cut
		default: // one millisecond fills the page: ask for a longer one
			p.max *= 2
			next, end = e.token(p), 0
		}
	}
	kept := make([]bus.Record, 0, end)
	for i, r := range recs[:end] {
		if t := times[i]; t.IsZero() || !t.Before(from) && t.Before(to) {
			kept = append(kept, r) // records with no time are the sink's to judge
		}
	}
	return kept, next, nil
}

// eventTime reads an event's time (epoch milliseconds).
func eventTime(raw []byte) (time.Time, bool) {
	var ev struct {
		Time json.Number `json:"time"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return time.Time{}, false
	}
	ms, err := ev.Time.Int64()
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

// subjectOf is the partition key of an event: the user event's userId, or
// the user an admin event's resourcePath names (users/{id}/…), else the
// admin who acted.
func subjectOf(raw []byte) string {
	var ev struct {
		UserID       string `json:"userId"`
		ResourcePath string `json:"resourcePath"`
		AuthDetails  *struct {
			UserID string `json:"userId"`
		} `json:"authDetails"`
	}
	_ = json.Unmarshal(raw, &ev)
	if ev.AuthDetails == nil {
		return ev.UserID
	}
	if rest, ok := strings.CutPrefix(ev.ResourcePath, "users/"); ok {
		id, _, _ := strings.Cut(rest, "/")
		if id != "" {
			return id
		}
	}
	return ev.AuthDetails.UserID
}

// credentials lists users and reads their credentials.
type credentials struct {
	admin  string
	client *collect.Client
	max    int
}

// Users implements collect.InventoryLister: GET
// /admin/realms/{realm}/users?briefRepresentation=true, paged by first and
// max (the page token is the offset).
func (c *credentials) Users(ctx context.Context, page string) ([]string, string, error) {
	first := 0
	if page != "" {
		n, err := strconv.Atoi(page)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("users page %q: not an offset", page)
		}
		first = n
	}
	link := c.admin + "/users?" + url.Values{"briefRepresentation": {"true"}, "first": {strconv.Itoa(first)}, "max": {strconv.Itoa(c.max)}}.Encode()
	resp, err := c.client.Get(ctx, link, nil)
	if err != nil {
		return nil, "", err
	}
	var users []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &users); err != nil {
		return nil, "", fmt.Errorf("decode users page: %w", err)
	}
	ids := make([]string, 0, len(users))
	for _, u := range users {
		if u.ID != "" {
			ids = append(ids, u.ID)
		}
	}
	next := ""
	if len(users) >= c.max && len(users) > 0 {
		next = strconv.Itoa(first + len(users))
	}
	return ids, next, nil
}

// Inventory implements collect.InventoryLister: GET
// /admin/realms/{realm}/users/{id}/credentials.
func (c *credentials) Inventory(ctx context.Context, subject string) ([]byte, string, error) {
	link := c.admin + "/users/" + url.PathEscape(subject) + "/credentials"
	resp, err := c.client.Get(ctx, link, nil)
	if err != nil {
		return nil, "", err
	}
	return resp.Body, link, nil
}
