package collect

import (
	"bytes"
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

// isEnvelopeOnly reports whether the pieces of page are the page itself:
// a JSON object none of whose members is an envelope array, which for a
// list endpoint is a page without records (Google omits "items" when there
// are none).
func isEnvelopeOnly(page []byte, pieces []ingest.Piece) bool {
	if len(pieces) != 1 || pieces[0].Err != nil {
		return false
	}
	t := bytes.TrimSpace(page)
	return len(t) > 0 && t[0] == '{' && bytes.Equal(bytes.TrimSpace(pieces[0].Raw), t)
}

// Split returns the records of a list page as ingest.Split finds them,
// bytes exact, received at now, with origin (the URL they were read from).
// A page object that holds no envelope array has no records. A fragment
// that is not a JSON record is returned too, unkeyed: the sink dead-letters
// it, the cursor moves on.
func (s Splitter) Split(page []byte, origin string, now time.Time) []bus.Record {
	pieces := ingest.Split(page, s.Envelopes)
	if len(s.Envelopes) > 0 && isEnvelopeOnly(page, pieces) {
		return nil
	}
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
