// Package entra collects an Entra ID tenant through Microsoft Graph: the
// sign-in log (beta auditLogs/signIns, one stream per sign-in event type:
// interactive sign-ins are all the endpoint lists unless a
// signInEventTypes filter asks for others), the directory audit log
// (v1.0 auditLogs/directoryAudits: key and security-info registrations)
// and, on a schedule, every user's FIDO2 methods (aaGuid, model).
//
// Graph lists sign-ins and audits newest first and pages them with
// @odata.nextLink; a query cannot be sorted the other way. So each stream
// walks time windows ($filter=createdDateTime ge A and createdDateTime lt B,
// activityDateTime for audits), following the nextLinks of a window to its
// end before the cursor moves past it; the cursor holds the window and the
// nextLink within it, so a restart resumes the walk. Entra lists records
// minutes after they happen, so every window is read a second time once it
// is Lag old (collect.NewWindowStream); the runner skips what it already
// published. Throttled requests (429) carry Retry-After, which the runner
// waits for.
//
// Credentials: an app registration with AuditLog.Read.All (and
// UserAuthenticationMethod.Read.All, User.Read.All for the inventory),
// using the client credentials grant of the Microsoft identity platform
// with scope https://graph.microsoft.com/.default.
package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/oauth"
	ingestentra "github.com/keytrail/keytrail/ingest/entra"
	"github.com/keytrail/keytrail/model"
)

// Sign-in event types of Graph's signInEventTypes.
const (
	Interactive      = "interactiveUser"
	NonInteractive   = "nonInteractiveUser"
	ServicePrincipal = "servicePrincipal"
	ManagedIdentity  = "managedIdentity"
)

// Config is one Entra tenant's collector. Zero fields take the defaults
// stated.
type Config struct {
	// Instance names the tenant in keytrail (default TenantID).
	Instance string `yaml:"instance"`
	// TenantID is the directory (tenant) id (required).
	TenantID string `yaml:"tenant_id"`
	// ClientID is the app registration's application id (required).
	ClientID string `yaml:"client_id"`
	// ClientSecret is the app's client secret (required).
	ClientSecret collect.Secret `yaml:"client_secret"`
	// LoginURL is the Microsoft identity platform (default
	// https://login.microsoftonline.com).
	LoginURL string `yaml:"login_url"`
	// GraphURL is Microsoft Graph (default https://graph.microsoft.com).
	GraphURL string `yaml:"graph_url"`
	// SignInEventTypes are the sign-in logs read, one stream each (default
	// interactiveUser and nonInteractiveUser; also servicePrincipal,
	// managedIdentity).
	SignInEventTypes []string `yaml:"sign_in_event_types"`
	// DirectoryAudits turns the directory audit stream off when false
	// (default on).
	DirectoryAudits *bool `yaml:"directory_audits"`
	// AuditFilter is an extra $filter clause for directory audits, e.g.
	// "loggedByService eq 'Authentication Methods'" (default none).
	AuditFilter string `yaml:"audit_filter"`
	// Lag is how late Entra may list a record; each window is read again
	// once it is Lag old (default 30m).
	Lag time.Duration `yaml:"lag"`
	// PageSize is $top (default 1000, Graph's maximum for sign-ins).
	PageSize int `yaml:"page_size"`
	// Start and Backfill say where a new cursor begins (default 30 days
	// back, Entra's retention).
	collect.StartConfig `yaml:",inline"`
	// Inventory schedules FIDO2 method snapshots (default daily).
	Inventory collect.InventoryConfig `yaml:"inventory"`
	// Poll paces the streams and their retries.
	Poll collect.PollConfig `yaml:"poll"`
}

// Defaults of Config.
const (
	DefaultLoginURL = "https://login.microsoftonline.com"
	DefaultGraphURL = "https://graph.microsoft.com"
	DefaultLag      = 30 * time.Minute
	DefaultPageSize = 1000
)

var eventTypes = map[string]bool{Interactive: true, NonInteractive: true, ServicePrincipal: true, ManagedIdentity: true}

// Validate reports every problem with c together.
func (c Config) Validate() error {
	var errs []error
	if c.TenantID == "" {
		errs = append(errs, errors.New("tenant_id: required"))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("client_id: required"))
	}
	if err := c.ClientSecret.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("client_secret: %w", err))
	}
	for name, u := range map[string]string{"login_url": c.LoginURL, "graph_url": c.GraphURL} {
		if u != "" {
			if _, err := collect.ParseBaseURL(name, u); err != nil {
				errs = append(errs, err)
			}
		}
	}
	seen := map[string]bool{}
	for _, t := range c.SignInEventTypes {
		if !eventTypes[t] {
			errs = append(errs, fmt.Errorf("sign_in_event_types: %q: want interactiveUser, nonInteractiveUser, servicePrincipal or managedIdentity", t))
		}
		if seen[t] {
			errs = append(errs, fmt.Errorf("sign_in_event_types: %q twice", t))
		}
		seen[t] = true
	}
	// errors.Join drops the nil ones.
	errs = append(errs, collect.CheckLag(c.Lag), collect.CheckPageSize(c.PageSize, 1000), c.StartConfig.Validate(), c.Inventory.Validate(), c.Poll.Validate())
	return errors.Join(errs...)
}

// New returns the collector of c: "signins/<event type>" streams,
// "directory_audits" and "fido2Methods" (unless turned off). It reads its
// secret now.
func New(c Config, opts collect.Options) (*collect.Collector, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	opts = opts.WithDefaults()
	secret, err := c.ClientSecret.Value()
	if err != nil {
		return nil, fmt.Errorf("entra: client_secret: %w", err)
	}
	login, graph := or(c.LoginURL, DefaultLoginURL), or(c.GraphURL, DefaultGraphURL)
	graphURL, err := collect.ParseBaseURL("graph_url", graph)
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	instance := or(c.Instance, c.TenantID)
	poll := c.Poll.WithDefaults()
	client := collect.NewClient(opts, nil, poll.Timeout)
	client.Auth = &oauth.Bearer{Clock: opts.Clock, Source: &oauth.ClientCredentials{
		TokenURL: login + "/" + url.PathEscape(c.TenantID) + "/oauth2/v2.0/token", ClientID: c.ClientID, ClientSecret: secret,
		Scopes: []string{"https://graph.microsoft.com/.default"}, Client: collect.NewClient(opts, nil, poll.Timeout), Clock: opts.Clock}}
	lag := c.Lag
	if lag == 0 {
		lag = DefaultLag
	}
	pageSize := c.PageSize
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	start := c.StartConfig.From(opts.Clock.Now(), collect.DefaultBackfill)
	win := collect.WindowConfig{Start: start, Lag: lag}
	split := collect.Splitter{Source: model.SourceEntra, Instance: instance, Envelopes: ingestentra.New().Envelopes(), Key: subjectOf}
	col := &collect.Collector{Source: model.SourceEntra, Instance: instance, Poll: c.Poll.ForPages(pageSize)}
	types := c.SignInEventTypes
	if len(types) == 0 {
		types = []string{Interactive, NonInteractive}
	}
	for _, t := range types {
		r := &lister{base: graphURL, client: client, split: split, clock: opts.Clock, top: pageSize,
			path: "/beta/auditLogs/signIns", timeProp: "createdDateTime",
			filter: "signInEventTypes/any(t: t eq '" + t + "')"}
		col.Streams = append(col.Streams, collect.NewWindowStream("signins/"+t, r, win, opts.Clock))
	}
	if c.DirectoryAudits == nil || *c.DirectoryAudits {
		r := &lister{base: graphURL, client: client, split: split, clock: opts.Clock, top: pageSize,
			path: "/v1.0/auditLogs/directoryAudits", timeProp: "activityDateTime", filter: c.AuditFilter}
		col.Streams = append(col.Streams, collect.NewWindowStream("directory_audits", r, win, opts.Clock))
	}
	if !c.Inventory.Disabled {
		col.Streams = append(col.Streams, collect.NewInventoryStream(model.SourceEntra, instance, ingestentra.InventoryKind,
			&fido2{base: graphURL, client: client}, c.Inventory, opts.Clock))
	}
	return col, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// graphTime formats t as an OData DateTimeOffset literal.
func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// lister reads one Graph audit collection by time window.
type lister struct {
	base     *url.URL
	client   *collect.Client
	split    collect.Splitter
	clock    clockwork.Clock
	top      int
	path     string
	timeProp string
	filter   string // extra clause
}

// ReadWindow implements collect.WindowReader: the page token is the
// window's @odata.nextLink.
func (l *lister) ReadWindow(ctx context.Context, from, to time.Time, page string) ([]bus.Record, string, error) {
	link := page
	if link == "" {
		// Graph documents eq, le and ge on the audit logs' times (not lt):
		// [from, to] is asked, and an event at to itself, read again by
		// the next window, is stored once.
		f := l.timeProp + " ge " + graphTime(from) + " and " + l.timeProp + " le " + graphTime(to)
		if l.filter != "" {
			f += " and " + l.filter
		}
		link = l.base.String() + l.path + "?" + url.Values{"$filter": {f}, "$top": {strconv.Itoa(l.top)}}.Encode()
	} else if err := collect.SameOrigin(l.base, link); err != nil {
		return nil, "", err
	}
	resp, err := l.client.Get(ctx, link, nil)
	if err != nil {
		return nil, "", err
	}
	var env struct {
		NextLink string `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(resp.Body, &env); err != nil {
		return nil, "", fmt.Errorf("decode Graph page: %w", err)
	}
	if env.NextLink != "" {
		if err := collect.SameOrigin(l.base, env.NextLink); err != nil {
			return nil, "", err
		}
	}
	return l.split.Split(resp.Body, link, l.clock.Now()), env.NextLink, nil
}

// subjectOf is the partition key of a sign-in (userId) or a directory
// audit (the user it targets, else the user who acted).
func subjectOf(raw []byte) string {
	var rec struct {
		UserID      string `json:"userId"`
		InitiatedBy struct {
			User *struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"initiatedBy"`
		TargetResources []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"targetResources"`
	}
	_ = json.Unmarshal(raw, &rec)
	if rec.UserID != "" {
		return rec.UserID
	}
	for _, t := range rec.TargetResources {
		if t.Type == "User" && t.ID != "" {
			return t.ID
		}
	}
	if rec.InitiatedBy.User != nil {
		return rec.InitiatedBy.User.ID
	}
	return ""
}

// fido2 lists users and reads their FIDO2 methods.
type fido2 struct {
	base   *url.URL
	client *collect.Client
}

// Users implements collect.InventoryLister: GET /v1.0/users, paged by
// @odata.nextLink.
func (f *fido2) Users(ctx context.Context, page string) ([]string, string, error) {
	link := page
	if link == "" {
		link = f.base.String() + "/v1.0/users?" + url.Values{"$select": {"id,userPrincipalName"}, "$top": {"999"}}.Encode()
	} else if err := collect.SameOrigin(f.base, link); err != nil {
		return nil, "", err
	}
	resp, err := f.client.Get(ctx, link, nil)
	if err != nil {
		return nil, "", err
	}
	var p struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
		NextLink string `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(resp.Body, &p); err != nil {
		return nil, "", fmt.Errorf("decode users page: %w", err)
	}
	if p.NextLink != "" {
		if err := collect.SameOrigin(f.base, p.NextLink); err != nil {
			return nil, "", err
		}
	}
	ids := make([]string, 0, len(p.Value))
	for _, u := range p.Value {
		if u.ID != "" {
			ids = append(ids, u.ID)
		}
	}
	return ids, p.NextLink, nil
}

// Inventory implements collect.InventoryLister: GET
// /v1.0/users/{id}/authentication/fido2Methods.
func (f *fido2) Inventory(ctx context.Context, subject string) ([]byte, string, error) {
	link := f.base.String() + "/v1.0/users/" + url.PathEscape(subject) + "/authentication/fido2Methods"
	resp, err := f.client.Get(ctx, link, nil)
	if err != nil {
		return nil, "", err
	}
	return resp.Body, link, nil
}
