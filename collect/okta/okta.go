// Package okta collects an Okta org: the System Log in polling mode and,
// on a schedule, every user's enrolled factors.
//
// The System Log is read as Okta documents for consumers of an ongoing
// stream (developer.okta.com, System Log query): GET /api/v1/logs with
// since and sortOrder=ASCENDING and no until, then the Link rel="next"
// header of every page. Polling requests list events in persistence order
// and always carry a next link; an empty page means caught up. The cursor
// is the next link itself, so a restart continues exactly where the last
// published page ended, and events Okta persists late are listed after it
// rather than lost. Because of those, the log is complete (Page.Complete:
// no event with an earlier published time is still to come) only up to
// Lag before the time of the last caught-up request, not up to it. Rate limits answer 429 with X-Rate-Limit-Reset (Unix
// seconds), which the runner waits for.
//
// Factors are read with GET /api/v1/users (paged by Link rel="next") and
// GET /api/v1/users/{id}/factors, each answer stored as an inventory
// snapshot that ingest/okta turns into key registrations.
//
// Credentials: an API token (Authorization: SSWS) or, as Okta recommends,
// an OAuth service app: client credentials with a private_key_jwt
// assertion and the scopes okta.logs.read and okta.users.read.
package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/collect"
	"github.com/keytrail/keytrail/collect/oauth"
	ingestokta "github.com/keytrail/keytrail/ingest/okta"
	"github.com/keytrail/keytrail/model"
)

// Config is one Okta org's collector. Zero fields take the defaults stated.
type Config struct {
	// Instance names the org in keytrail (default: BaseURL's host).
	Instance string `yaml:"instance"`
	// BaseURL is the org's URL, e.g. https://acme.okta.com (required).
	BaseURL string `yaml:"base_url"`
	// Token is an API token, sent as "Authorization: SSWS <token>". Set
	// Token or OAuth.
	Token collect.Secret `yaml:"token"`
	// OAuth authenticates as a service app instead of Token.
	OAuth *OAuthConfig `yaml:"oauth"`
	// Lag is how long after its published time Okta may still persist an
	// event (default 15m). Polling lists such an event after the cursor, so
	// none is lost; the log counts as complete only up to now − Lag, which
	// is how long the streaming correlator holds a verdict an Okta event
	// could still change before it makes it final.
	Lag time.Duration `yaml:"lag"`
	// PageSize is the System Log's limit per page (default 1000, Okta's
	// maximum).
	PageSize int `yaml:"page_size"`
	// Start and Backfill say where a new cursor begins (default 30 days
	// back; Okta keeps 90).
	collect.StartConfig `yaml:",inline"`
	// Inventory schedules factor snapshots (default daily).
	Inventory collect.InventoryConfig `yaml:"inventory"`
	// Poll paces the streams and their retries.
	Poll collect.PollConfig `yaml:"poll"`
}

// OAuthConfig is an Okta service app that signs its token requests
// (private_key_jwt).
type OAuthConfig struct {
	// ClientID is the service app's client id (required).
	ClientID string `yaml:"client_id"`
	// PrivateKey is the app's RSA private key in PEM (required).
	PrivateKey collect.Secret `yaml:"private_key"`
	// KeyID is the key's kid in the app's JWKS, when it has several.
	KeyID string `yaml:"key_id"`
	// Scopes default to okta.logs.read and okta.users.read.
	Scopes []string `yaml:"scopes"`
	// TokenURL defaults to BaseURL + /oauth2/v1/token.
	TokenURL string `yaml:"token_url"`
}

// Defaults of Config.
const (
	// DefaultPageSize is the System Log page size: Okta's maximum limit.
	DefaultPageSize = 1000
	// DefaultLag is how late Okta is taken to persist an event.
	DefaultLag = 15 * time.Minute
)

// Validate reports every problem with c together.
func (c Config) Validate() error {
	var errs []error
	if _, err := collect.ParseBaseURL("base_url", c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.OAuth == nil && c.Token.IsZero():
		errs = append(errs, errors.New("set token (an API token) or oauth (a service app)"))
	case c.OAuth != nil && !c.Token.IsZero():
		errs = append(errs, errors.New("set token or oauth, not both"))
	case c.OAuth == nil:
		if err := c.Token.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("token: %w", err))
		}
	default:
		if c.OAuth.ClientID == "" {
			errs = append(errs, errors.New("oauth.client_id: required"))
		}
		if err := c.OAuth.PrivateKey.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("oauth.private_key: %w", err))
		}
		if c.OAuth.TokenURL != "" {
			if _, err := collect.ParseBaseURL("oauth.token_url", c.OAuth.TokenURL); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// errors.Join drops the nil ones.
	errs = append(errs, collect.CheckLag(c.Lag), collect.CheckPageSize(c.PageSize, 1000), c.StartConfig.Validate(), c.Inventory.Validate(), c.Poll.Validate())
	return errors.Join(errs...)
}

// New returns the collector of c: the System Log ("logs") and, unless
// disabled, factor snapshots ("factors"). It reads its secrets now.
func New(c Config, opts collect.Options) (*collect.Collector, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("okta: %w", err)
	}
	opts = opts.WithDefaults()
	base, _ := collect.ParseBaseURL("base_url", c.BaseURL)
	instance := c.Instance
	if instance == "" {
		instance = base.Host
	}
	poll := c.Poll.WithDefaults()
	client := collect.NewClient(opts, nil, poll.Timeout)
	if c.OAuth != nil {
		pemKey, err := c.OAuth.PrivateKey.Value()
		if err != nil {
			return nil, fmt.Errorf("okta: oauth.private_key: %w", err)
		}
		key, err := oauth.ParseRSAKey([]byte(pemKey))
		if err != nil {
			return nil, fmt.Errorf("okta: oauth.private_key (%s): %w", c.OAuth.PrivateKey, err)
		}
		tokenURL := c.OAuth.TokenURL
		if tokenURL == "" {
			tokenURL = base.String() + "/oauth2/v1/token"
		}
		scopes := c.OAuth.Scopes
		if len(scopes) == 0 {
			scopes = []string{"okta.logs.read", "okta.users.read"}
		}
		tokenClient := collect.NewClient(opts, nil, poll.Timeout)
		client.Auth = &oauth.Bearer{Clock: opts.Clock, Source: &oauth.ClientCredentials{TokenURL: tokenURL, ClientID: c.OAuth.ClientID,
			Assertion: &oauth.Signer{KeyID: c.OAuth.KeyID, Key: key}, Scopes: scopes, Client: tokenClient, Clock: opts.Clock}}
	} else {
		tok, err := c.Token.Value()
		if err != nil {
			return nil, fmt.Errorf("okta: token: %w", err)
		}
		client.Auth = oauth.Static{Header: "Authorization", Value: "SSWS " + tok}
	}
	pageSize := c.PageSize
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	col := &collect.Collector{Source: model.SourceOkta, Instance: instance, Poll: c.Poll.ForPages(pageSize)}
	lag := c.Lag
	if lag == 0 {
		lag = DefaultLag
	}
	col.Streams = append(col.Streams, &logs{base: base, client: client, limit: pageSize, lag: lag, start: c.StartConfig, clock: opts.Clock,
		split: collect.Splitter{Source: model.SourceOkta, Instance: instance, Envelopes: ingestokta.New().Envelopes(), Key: actorID}})
	if !c.Inventory.Disabled {
		col.Streams = append(col.Streams, collect.NewInventoryStream(model.SourceOkta, instance, ingestokta.InventoryKind,
			&factors{base: base, client: client}, c.Inventory, opts.Clock))
	}
	return col, nil
}

// logs reads the System Log in polling mode.
type logs struct {
	base   *url.URL
	client *collect.Client
	limit  int
	lag    time.Duration // how late an event may be persisted
	start  collect.StartConfig
	split  collect.Splitter
	clock  clockwork.Clock
}

func (l *logs) Name() string { return "logs" }

// Next implements collect.Stream: the cursor is the next link.
func (l *logs) Next(ctx context.Context, cursor string) (collect.Page, error) {
	now := l.clock.Now()
	link := cursor
	if link == "" {
		q := url.Values{"since": {l.start.From(now, collect.DefaultBackfill).Format("2006-01-02T15:04:05.000Z")},
			"sortOrder": {"ASCENDING"}, "limit": {strconv.Itoa(l.limit)}}
		link = l.base.String() + "/api/v1/logs?" + q.Encode()
	} else if err := collect.SameOrigin(l.base, link); err != nil {
		return collect.Page{}, err
	}
	resp, err := l.client.Get(ctx, link, nil)
	if err != nil {
		return collect.Page{}, err
	}
	recs := l.split.Split(resp.Body, link, now)
	next := collect.NextLink(resp.Header)
	page := collect.Page{Records: recs, Cursor: link, Position: now}
	if next != "" {
		if err := collect.SameOrigin(l.base, next); err != nil {
			return collect.Page{}, err
		}
		page.Cursor = next
		page.More = len(recs) > 0
	}
	if !page.More {
		// Caught up: every event persisted by the time of the request is
		// read; one published before it may still be persisted up to lag
		// later.
		page.Complete = now.Add(-l.lag)
	}
	if len(recs) > 0 {
		page.Position = time.Time{}
		if t, ok := published(recs[len(recs)-1].Raw); ok {
			page.Position = t
		}
	}
	return page, nil
}

// actorID is the partition key of a LogEvent: actor.id.
func actorID(raw []byte) string {
	var ev struct {
		Actor struct {
			ID string `json:"id"`
		} `json:"actor"`
	}
	_ = json.Unmarshal(raw, &ev)
	return ev.Actor.ID
}

func published(raw []byte) (time.Time, bool) {
	var ev struct {
		Published time.Time `json:"published"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Published.IsZero() {
		return time.Time{}, false
	}
	return ev.Published, true
}

// factors lists users and reads their factors.
type factors struct {
	base   *url.URL
	client *collect.Client
}

// Users implements collect.InventoryLister: GET /api/v1/users, paged by
// Link rel="next" (the page token is the next link).
func (f *factors) Users(ctx context.Context, page string) ([]string, string, error) {
	link := page
	if link == "" {
		link = f.base.String() + "/api/v1/users?limit=200"
	} else if err := collect.SameOrigin(f.base, link); err != nil {
		return nil, "", err
	}
	resp, err := f.client.Get(ctx, link, nil)
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
	next := collect.NextLink(resp.Header)
	if next != "" {
		if err := collect.SameOrigin(f.base, next); err != nil {
			return nil, "", err
		}
	}
	return ids, next, nil
}

// Inventory implements collect.InventoryLister: GET
// /api/v1/users/{id}/factors.
func (f *factors) Inventory(ctx context.Context, subject string) ([]byte, string, error) {
	link := f.base.String() + "/api/v1/users/" + url.PathEscape(subject) + "/factors"
	resp, err := f.client.Get(ctx, link, nil)
	if err != nil {
		return nil, "", err
	}
	return resp.Body, link, nil
}
