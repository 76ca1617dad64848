// Package keycloak collects a Keycloak realm through its Admin REST API:
// user events (GET /admin/realms/{realm}/events), admin events (GET
// /admin/realms/{realm}/admin-events) and, on a schedule, every user's
// credentials (GET /admin/realms/{realm}/users/{id}/credentials), whose
// WebAuthn entries carry the AAGUID and credential id.
//
// The event endpoints filter by dateFrom and dateTo (both inclusive; epoch
// milliseconds in current releases, yyyy-MM-dd only in older ones) and page
// by first and max; they list the newest first unless direction=asc (in
// releases that take it). A stream walks time windows that lie in the past,
// so no event can join a window ahead of the offset being read: the set is
// fixed, and an event recorded late can only push others towards later
// offsets, which reads some twice and skips none. With DatesOnly the
// request asks for whole days and keeps the window's events. Every window
// is read again once it is Lag old (collect.NewWindowStream).
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
	// DatesOnly sends dateFrom and dateTo as yyyy-MM-dd, for Keycloak
	// releases that take no epoch milliseconds (default false).
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

// events reads an event endpoint by window, paging by first and max.
type events struct {
	url       string
	client    *collect.Client
	split     collect.Splitter
	max       int
	datesOnly bool
	clock     clockwork.Clock
}

// ReadWindow implements collect.WindowReader: the page token is the offset
// of the next page.
func (e *events) ReadWindow(ctx context.Context, from, to time.Time, page string) ([]bus.Record, string, error) {
	first := 0
	if page != "" {
		n, err := strconv.Atoi(page)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("events page %q: not an offset", page)
		}
		first = n
	}
	last := to.Add(-time.Millisecond) // dateTo is inclusive
	q := url.Values{"first": {strconv.Itoa(first)}, "max": {strconv.Itoa(e.max)}}
	if e.datesOnly {
		q.Set("dateFrom", from.UTC().Format("2006-01-02"))
		q.Set("dateTo", last.UTC().Format("2006-01-02"))
	} else {
		q.Set("dateFrom", strconv.FormatInt(from.UnixMilli(), 10))
		q.Set("dateTo", strconv.FormatInt(last.UnixMilli(), 10))
		q.Set("direction", "asc")
	}
	link := e.url + "?" + q.Encode()
	resp, err := e.client.Get(ctx, link, nil)
	if err != nil {
		return nil, "", err
	}
	recs := e.split.Split(resp.Body, link, e.clock.Now())
	next := ""
	if len(recs) >= e.max && len(recs) > 0 {
		next = strconv.Itoa(first + len(recs))
	}
	if e.datesOnly {
		// whole days were asked for: keep the window's events
		kept := recs[:0]
		for _, r := range recs {
			if t, ok := eventTime(r.Raw); !ok || (!t.Before(from) && t.Before(to)) {
				kept = append(kept, r)
			}
		}
		recs = kept
	}
	return recs, next, nil
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
