package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// InventoryConfig schedules authenticator inventory snapshots: every user's
// enrolled authenticators, read from the provider and stored as evidence.
// A key enrolled before the provider's log retention has no registration
// event left; its inventory entry still names its model (and AAGUID where
// the provider lists one).
type InventoryConfig struct {
	// Disabled turns snapshots off.
	Disabled bool `yaml:"disabled"`
	// Interval is the time from the start of one round of snapshots to the
	// start of the next (default 24h).
	Interval time.Duration `yaml:"interval"`
	// Batch is how many users' inventories one page reads (default 20).
	Batch int `yaml:"batch"`
}

// Defaults of InventoryConfig.
const (
	DefaultInventoryInterval = 24 * time.Hour
	DefaultInventoryBatch    = 20
)

// Validate reports problems with c.
func (c InventoryConfig) Validate() error {
	if c.Interval < 0 {
		return fmt.Errorf("inventory interval %s: must not be negative", c.Interval)
	}
	if c.Batch < 0 {
		return fmt.Errorf("inventory batch %d: must not be negative", c.Batch)
	}
	return nil
}

// InventoryLister reads a provider's users and their authenticators.
type InventoryLister interface {
	// Users reads the page of user ids at page ("" for the first) and
	// returns them with the next page's token ("" after the last page).
	Users(ctx context.Context, page string) (subjects []string, next string, err error)
	// Inventory reads subject's authenticator list and returns the
	// provider's answer and the URL it was read from.
	Inventory(ctx context.Context, subject string) (body []byte, url string, err error)
}

type inventoryCursor struct {
	// Last is when the last complete round started.
	Last  time.Time `json:"last,omitzero"`
	Round *round    `json:"round,omitempty"`
}

type round struct {
	Started time.Time `json:"started"`
	Page    string    `json:"page,omitempty"`
	Index   int       `json:"index,omitempty"`
}

type inventoryStream struct {
	src      model.Source
	instance string
	kind     string
	l        InventoryLister
	cfg      InventoryConfig
	clock    clockwork.Clock
}

// NewInventoryStream returns a Stream named kind that takes a snapshot of
// every user's authenticators each cfg.Interval: a round walks the user
// list, cfg.Batch users a page, and publishes one record per user, the
// snapshot document of ingest.Snapshot (the provider's answer verbatim,
// with the subject, URL and time), keyed by the user. A user who vanished
// between the list and the read (404) is skipped. The cursor holds the
// round's place, so a restart continues it.
func NewInventoryStream(src model.Source, instance, kind string, l InventoryLister, cfg InventoryConfig, clock clockwork.Clock) Stream {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInventoryInterval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultInventoryBatch
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	return &inventoryStream{src: src, instance: instance, kind: kind, l: l, cfg: cfg, clock: clock}
}

func (s *inventoryStream) Name() string { return s.kind }

// Next implements Stream.
func (s *inventoryStream) Next(ctx context.Context, cursor string) (Page, error) {
	var c inventoryCursor
	if cursor != "" {
		if err := json.Unmarshal([]byte(cursor), &c); err != nil {
			return Page{}, fmt.Errorf("inventory cursor %q: %w", cursor, err)
		}
	}
	now := s.clock.Now().UTC()
	if c.Round == nil {
		if !c.Last.IsZero() && now.Sub(c.Last) < s.cfg.Interval {
			return Page{Cursor: cursor, Position: c.Last, Complete: c.complete(now)}, nil
		}
		c.Round = &round{Started: now}
	}
	subjects, next, err := s.l.Users(ctx, c.Round.Page)
	if err != nil {
		return Page{}, fmt.Errorf("list users: %w", err)
	}
	from := min(c.Round.Index, len(subjects))
	batch := subjects[from:min(from+s.cfg.Batch, len(subjects))]
	var recs []bus.Record
	var notBefore time.Time
	done := 0
	for _, subject := range batch {
		body, url, err := s.l.Inventory(ctx, subject)
		if err != nil && StatusOf(err) != http.StatusNotFound {
			if done == 0 {
				return Page{}, fmt.Errorf("inventory of %s: %w", subject, err)
			}
			notBefore, _ = RetryAt(err)
			break // publish what was read; the next page starts at this user
		}
		done++
		if err != nil {
			continue // the user is gone
		}
		at := s.clock.Now()
		doc, err := ingest.AppendSnapshot(nil, ingest.Snapshot{Source: s.src, Kind: s.kind, Subject: subject, URL: url, FetchedAt: at, Response: body})
		if err != nil {
			return Page{}, err
		}
		recs = append(recs, bus.Record{Source: s.src, Instance: s.instance, Key: subject, Raw: doc, ReceivedAt: model.Millis(at), Origin: url})
	}
	c.Round.Index = from + done
	if c.Round.Index >= len(subjects) {
		if next == "" {
			c.Last, c.Round = c.Round.Started, nil
		} else {
			c.Round.Page, c.Round.Index = next, 0
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return Page{}, fmt.Errorf("encode inventory cursor: %w", err)
	}
	return Page{Records: recs, Cursor: string(b), More: c.Round != nil, Position: c.Last, NotBefore: notBefore, Complete: c.complete(now)}, nil
}

// complete is how far the inventory holds back verdicts (Page.Complete):
// until its first round is done, every key enrolled before collection began
// may still turn out hardware-backed; after it, a later round lists only
// keys enrolled since, whose registration events the provider's log
// carries, so the inventory holds nothing back (now).
func (c *inventoryCursor) complete(now time.Time) time.Time {
	if c.Last.IsZero() {
		return time.Time{}
	}
	return now
}
