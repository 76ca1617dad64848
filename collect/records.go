package collect

import (
	"time"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// Splitter cuts a provider's page into one bus.Record per provider record.
type Splitter struct {
	Source   model.Source
	Instance string
	// Envelopes are the JSON paths of the arrays that hold a page's
	// records (the source normalizer's Envelopes).
	Envelopes [][]string
	// Key returns the partition key of one record (the person's subject;
	// "" falls back to source/instance). It must not keep raw.
	Key func(raw []byte) string
}

// Split returns the records of page as ingest.Split finds them, bytes
// exact, received at now, with origin (the URL they were read from). A
// fragment that is not a JSON record is returned too, unkeyed: the sink
// dead-letters it, the cursor moves on.
func (s Splitter) Split(page []byte, origin string, now time.Time) []bus.Record {
	pieces := ingest.Split(page, s.Envelopes)
	out := make([]bus.Record, 0, len(pieces))
	received := model.Millis(now)
	for _, p := range pieces {
		rec := bus.Record{Source: s.Source, Instance: s.Instance, Raw: p.Raw, ReceivedAt: received, Origin: origin}
		if p.Err == nil && s.Key != nil {
			rec.Key = s.Key(p.Raw)
		}
		out = append(out, rec)
	}
	return out
}
