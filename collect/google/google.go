// Package google collects a Google Workspace's login audit through the
// Admin SDK Reports API: activities.list (GET
// /admin/reports/v1/activity/users/all/applications/login) with startTime,
// endTime, maxResults and pageToken.
//
// The Reports API lists activities newest first and lists them late:
// Google documents lag times per log (minutes for some, hours for others,
// and warns that some events come later still). So the stream walks time
// windows, following nextPageToken to a window's end before its cursor
// moves past it, and reads every window again once it is Lag old
// (collect.NewWindowStream); the runner skips what it already published.
// Quota errors (429, or 403 rateLimitExceeded / userRateLimitExceeded /
// quotaExceeded) and 503 backendError are retried with backoff, as Google
// asks; its answers name no reset time.
//
// Credentials: a service account key with domain-wide delegation of the
// scope https://www.googleapis.com/auth/admin.reports.audit.readonly,
// acting as an administrator (Subject): the JWT bearer grant of RFC 7523,
// signed with the account's key.
package google

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
	ingestgoogle "github.com/keytrail/keytrail/ingest/google"
	"github.com/keytrail/keytrail/model"
)

// Scope is the OAuth scope activities.list needs.
const Scope = "https://www.googleapis.com/auth/admin.reports.audit.readonly"

// Config is one Workspace's collector. Zero fields take the defaults
// stated.
type Config struct {
	// Instance names the Workspace in keytrail (default CustomerID, else
	// "workspace").
	Instance string `yaml:"instance"`
	// ServiceAccountKey is the service account's JSON key file (its
	// client_email, private_key, private_key_id and token_uri) (required).
	ServiceAccountKey collect.Secret `yaml:"service_account_key"`
	// Subject is the administrator the service account acts as
	// (required).
	Subject string `yaml:"subject"`
	// BaseURL is the Admin SDK (default https://admin.googleapis.com).
	BaseURL string `yaml:"base_url"`
	// TokenURL overrides the key's token_uri (default
	// https://oauth2.googleapis.com/token).
	TokenURL string `yaml:"token_url"`
	// CustomerID restricts the report to one customer (default: the
	// administrator's).
	CustomerID string `yaml:"customer_id"`
	// Lag is how late the Reports API may list an activity; each window is
	// read again once it is Lag old (default 2h).
	Lag time.Duration `yaml:"lag"`
	// PageSize is maxResults (default 1000, the maximum).
	PageSize int `yaml:"page_size"`
	// Start and Backfill say where a new cursor begins (default 30 days
	// back; the Reports API keeps 180).
	collect.StartConfig `yaml:",inline"`
	// Poll paces the stream and its retries.
	Poll collect.PollConfig `yaml:"poll"`
}

// Defaults of Config.
const (
	DefaultBaseURL  = "https://admin.googleapis.com"
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
	DefaultLag      = 2 * time.Hour
	DefaultPageSize = 1000
)

// Validate reports every problem with c together.
func (c Config) Validate() error {
	var errs []error
	if err := c.ServiceAccountKey.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("service_account_key: %w", err))
	}
	if c.Subject == "" {
		errs = append(errs, errors.New("subject: required (the administrator the service account acts as)"))
	}
	for name, u := range map[string]string{"base_url": c.BaseURL, "token_url": c.TokenURL} {
		if u != "" {
			if _, err := collect.ParseBaseURL(name, u); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// errors.Join drops the nil ones.
	errs = append(errs, collect.CheckLag(c.Lag), collect.CheckPageSize(c.PageSize, 1000), c.StartConfig.Validate(), c.Poll.Validate())
	return errors.Join(errs...)
}

// serviceAccountKey is the JSON key file Google issues for a service
// account.
type serviceAccountKey struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
}

// New returns the collector of c: one stream, "login". It reads the
// service account key now.
func New(c Config, opts collect.Options) (*collect.Collector, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("google: %w", err)
	}
	opts = opts.WithDefaults()
	raw, err := c.ServiceAccountKey.Value()
	if err != nil {
		return nil, fmt.Errorf("google: service_account_key: %w", err)
	}
	var key serviceAccountKey
	if err := json.Unmarshal([]byte(raw), &key); err != nil {
		return nil, fmt.Errorf("google: service_account_key (%s): not a service account key file: %w", c.ServiceAccountKey, err)
	}
	if key.ClientEmail == "" || key.PrivateKey == "" {
		return nil, fmt.Errorf("google: service_account_key (%s): no client_email or private_key", c.ServiceAccountKey)
	}
	rsaKey, err := oauth.ParseRSAKey([]byte(key.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("google: service_account_key (%s): %w", c.ServiceAccountKey, err)
	}
	tokenURL := c.TokenURL
	if tokenURL == "" {
		tokenURL = key.TokenURI
	}
	if tokenURL == "" {
		tokenURL = DefaultTokenURL
	}
	base, err := collect.ParseBaseURL("base_url", or(c.BaseURL, DefaultBaseURL))
	if err != nil {
		return nil, fmt.Errorf("google: %w", err)
	}
	instance := or(c.Instance, or(c.CustomerID, "workspace"))
	poll := c.Poll.WithDefaults()
	client := collect.NewClient(opts, nil, poll.Timeout)
	client.Auth = &oauth.Bearer{Clock: opts.Clock, Source: &oauth.JWTBearer{TokenURL: tokenURL, Issuer: key.ClientEmail,
		Subject: c.Subject, Scopes: []string{Scope}, Key: &oauth.Signer{KeyID: key.PrivateKeyID, Key: rsaKey},
		Client: collect.NewClient(opts, nil, poll.Timeout), Clock: opts.Clock}}
	lag := c.Lag
	if lag == 0 {
		lag = DefaultLag
	}
	pageSize := c.PageSize
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	r := &activities{base: base, client: client, customer: c.CustomerID, max: pageSize, clock: opts.Clock,
		split: collect.Splitter{Source: model.SourceGoogle, Instance: instance, Envelopes: ingestgoogle.New().Envelopes(), Key: profileID}}
	win := collect.WindowConfig{Start: c.StartConfig.From(opts.Clock.Now(), collect.DefaultBackfill), Lag: lag}
	return &collect.Collector{Source: model.SourceGoogle, Instance: instance, Poll: c.Poll.ForPages(pageSize),
		Streams: []collect.Stream{collect.NewWindowStream("login", r, win, opts.Clock)}}, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// activities reads activities.list for the login application by window.
type activities struct {
	base     *url.URL
	client   *collect.Client
	customer string
	max      int
	split    collect.Splitter
	clock    clockwork.Clock
}

// reportsTime formats t as RFC 3339 with milliseconds.
func reportsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ReadWindow implements collect.WindowReader; the page token is
// nextPageToken. The Reports API documents activities "from startTime until
// endTime" without saying whether endTime is included, so [from, to) asks
// up to and including to: an activity at to itself is then read by this
// window and the next (the store keeps it once), and is never missed if
// endTime is exclusive.
func (a *activities) ReadWindow(ctx context.Context, from, to time.Time, page string) ([]bus.Record, string, error) {
	q := url.Values{"startTime": {reportsTime(from)}, "endTime": {reportsTime(to)}, "maxResults": {strconv.Itoa(a.max)}}
	if a.customer != "" {
		q.Set("customerId", a.customer)
	}
	if page != "" {
		q.Set("pageToken", page)
	}
	link := a.base.String() + "/admin/reports/v1/activity/users/all/applications/login?" + q.Encode()
	resp, err := a.client.Get(ctx, link, nil)
	if err != nil {
		return nil, "", err
	}
	var env struct {
		NextPageToken string `json:"nextPageToken"`
	}
	if err := json.Unmarshal(resp.Body, &env); err != nil {
		return nil, "", fmt.Errorf("decode activities page: %w", err)
	}
	return a.split.Split(resp.Body, link, a.clock.Now()), env.NextPageToken, nil
}

// profileID is the partition key of an activity: actor.profileId.
func profileID(raw []byte) string {
	var a struct {
		Actor struct {
			ProfileID json.RawMessage `json:"profileId"`
		} `json:"actor"`
	}
	_ = json.Unmarshal(raw, &a)
	s := string(a.Actor.ProfileID)
	if len(s) >= 2 && s[0] == '"' {
		var v string
		if json.Unmarshal(a.Actor.ProfileID, &v) == nil {
			return v
		}
	}
	return s
}
