package ingest

import (
	"github.com/keytrail/keytrail/model"
)

// Output is what one raw record normalizes to. A record may yield several rows
// (an Entra sign-in can be both a login and a key registration) or none (a
// record that is valid but not of interest still has its raw record kept).
type Output struct {
	Raw            model.RawRecord
	Auth           []model.AuthEvent
	Authenticators []model.Authenticator
	Airflow        []model.AirflowEvent
	Runs           []model.DagRun
}

// Normalizer turns one provider record into keytrail's model.
//
// Normalize receives the bytes of exactly one record (as split by Split) and
// must not retain or modify them. It returns an error for a record it cannot
// accept (missing id or time, wrong shape); the caller dead-letters the raw
// bytes with that error. On success every returned row has a non-empty event id
// and a non-zero time, and Output.Raw carries the record's id, time and bytes.
// Normalize is safe for concurrent use.
type Normalizer interface {
	Source() model.Source
	// Envelopes lists the JSON paths of arrays that hold records in this
	// source's API pages and push envelopes, e.g. {"data","events"} or {"value"}.
	Envelopes() [][]string
	Normalize(raw []byte, instance string) (Output, error)
}
