package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
)

// InventoryKey is the member that marks an authenticator inventory
// snapshot: the document a collector publishes for one person's
// authenticator list, read from the provider at one time.
const InventoryKey = "keytrail_inventory"

// Snapshot is one authenticator inventory snapshot: the provider's answer
// to one inventory request (Okta GET /api/v1/users/{id}/factors, Graph GET
// /users/{id}/authentication/fido2Methods, Keycloak GET
// /admin/realms/{realm}/users/{id}/credentials), byte for byte in
// Response, and what keytrail knows about the request.
//
// Encoded, it is {"keytrail_inventory": {"source", "kind", "subject",
// "url", "fetched_at"}, "response": <the provider's body>}: the raw record
// keytrail stores as evidence, so an auditor sees exactly what the
// provider said and when.
type Snapshot struct {
	Source model.Source
	// Kind names the inventory: "factors", "fido2Methods", "credentials".
	Kind string
	// Subject is the provider's user id the inventory belongs to.
	Subject   string
	URL       string
	FetchedAt time.Time
	// Response is the provider's answer, verbatim.
	Response json.RawMessage
}

type snapshotHeader struct {
	Source    model.Source `json:"source"`
	Kind      string       `json:"kind"`
	Subject   string       `json:"subject"`
	URL       string       `json:"url"`
	FetchedAt string       `json:"fetched_at"`
}

// ErrSnapshot is wrapped by every error about a snapshot document.
var ErrSnapshot = errors.New("inventory snapshot")

// AppendSnapshot appends the snapshot document of s to b. s.Response must
// be a JSON value; it is copied byte for byte.
func AppendSnapshot(b []byte, s Snapshot) ([]byte, error) {
	if !json.Valid(s.Response) {
		return b, fmt.Errorf("%w: response of %s %s is not JSON", ErrSnapshot, s.Kind, s.Subject)
	}
	h, err := json.Marshal(snapshotHeader{Source: s.Source, Kind: s.Kind, Subject: s.Subject, URL: s.URL,
		FetchedAt: model.Millis(s.FetchedAt).Format("2006-01-02T15:04:05.000Z")})
	if err != nil {
		return b, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	b = append(b, `{"`+InventoryKey+`": `...)
	b = append(b, h...)
	b = append(b, `, "response": `...)
	b = append(b, bytes.TrimSpace(s.Response)...)
	return append(b, '}'), nil
}

// IsSnapshot reports whether raw is a snapshot document (it starts with
// the InventoryKey member, as AppendSnapshot writes it).
func IsSnapshot(raw []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte(`{"`+InventoryKey+`"`))
}

// ParseSnapshot reads a snapshot document.
func ParseSnapshot(raw []byte) (Snapshot, error) {
	var doc struct {
		Header   *snapshotHeader `json:"keytrail_inventory"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Snapshot{}, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	h := doc.Header
	switch {
	case h == nil:
		return Snapshot{}, fmt.Errorf("%w: no %s member", ErrSnapshot, InventoryKey)
	case h.Subject == "":
		return Snapshot{}, fmt.Errorf("%w: missing subject", ErrSnapshot)
	case h.Kind == "":
		return Snapshot{}, fmt.Errorf("%w: missing kind", ErrSnapshot)
	case len(doc.Response) == 0:
		return Snapshot{}, fmt.Errorf("%w: missing response", ErrSnapshot)
	}
	t, err := time.Parse(time.RFC3339Nano, h.FetchedAt)
	if err != nil {
		return Snapshot{}, fmt.Errorf("%w: fetched_at %q: %w", ErrSnapshot, h.FetchedAt, err)
	}
	return Snapshot{Source: h.Source, Kind: h.Kind, Subject: h.Subject, URL: h.URL, FetchedAt: t.UTC(), Response: doc.Response}, nil
}

// EventID is the id a snapshot is stored under:
// "inventory/<kind>/<subject>@<fetched_at>". Each snapshot is evidence of
// its own.
func (s Snapshot) EventID() string {
	return "inventory/" + s.Kind + "/" + s.Subject + "@" + model.Millis(s.FetchedAt).Format("2006-01-02T15:04:05.000Z")
}

// RawRecord returns the raw record of the snapshot document raw.
func (s Snapshot) RawRecord(instance string, raw []byte, received time.Time) model.RawRecord {
	b := bytes.Clone(raw)
	return model.RawRecord{Source: s.Source, Instance: instance, EventID: s.EventID(), TS: model.Millis(s.FetchedAt),
		ReceivedAt: received, Raw: b, SHA256: model.SHA256Hex(b)}
}

// Registration returns the model.Authenticator registration an inventory
// entry stands for: credential id and model as the provider lists them,
// the AAGUID lower-case, at the time the provider says the credential was
// created (the snapshot's time when it does not say). Its event id,
// "inventory/<entry id>", is the same in every snapshot, so the row a later
// snapshot writes replaces the earlier one.
func (s Snapshot) Registration(instance, entryID, credentialID, aaguid, modelName string, created time.Time, rawSHA256 string) model.Authenticator {
	ts := created
	if ts.IsZero() {
		ts = s.FetchedAt
	}
	return model.Authenticator{
		Source: s.Source, Instance: instance, EventID: "inventory/" + entryID, TS: model.Millis(ts),
		Subject: s.Subject, Action: model.AuthenticatorRegister, CredentialID: credentialID,
		AAGUID: strings.ToLower(strings.TrimSpace(aaguid)), Model: modelName, RawSHA256: rawSHA256,
	}
}
