package entra

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// InventoryKind names Entra's inventory: Graph GET
// /users/{id}/authentication/fido2Methods.
const InventoryKind = "fido2Methods"

// fido2Method is Graph's fido2AuthenticationMethod.
type fido2Method struct {
	ID               string `json:"id"`
	DisplayName      string `json:"displayName"`
	CreatedDateTime  string `json:"createdDateTime"`
	AAGUID           string `json:"aaGuid"`
	Model            string `json:"model"`
	AttestationLevel string `json:"attestationLevel"`
}

// inventory normalizes a fido2Methods snapshot: the snapshot is the raw
// record, and every FIDO2 method a key registration with its AAGUID and
// model (the model Entra reports, else the name the user gave the key). A
// key registered before Entra's 30-day audit retention is still known.
func inventory(raw []byte, instance string) (ingest.Output, error) {
	s, err := ingest.ParseSnapshot(raw)
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	if s.Source != model.SourceEntra || s.Kind != InventoryKind {
		return ingest.Output{}, fmt.Errorf("%w: inventory %s/%s: want entra/%s", ErrRecord, s.Source, s.Kind, InventoryKind)
	}
	var page struct {
		Value []fido2Method `json:"value"`
	}
	if err := json.Unmarshal(s.Response, &page); err != nil {
		return ingest.Output{}, fmt.Errorf("%w: fido2Methods of %s: %w", ErrRecord, s.Subject, decode.JSON(err))
	}
	out := ingest.Output{Raw: s.RawRecord(instance, raw, time.Time{})}
	for _, m := range page.Value {
		if m.ID == "" {
			continue
		}
		var created time.Time
		if m.CreatedDateTime != "" {
			if created, err = decode.Time(m.CreatedDateTime); err != nil {
				return ingest.Output{}, fmt.Errorf("%w: fido2 method %s of %s: createdDateTime: %w", ErrRecord, m.ID, s.Subject, err)
			}
		}
		name := m.Model
		if name == "" {
			name = m.DisplayName
		}
		out.Authenticators = append(out.Authenticators, s.Registration(instance, m.ID, m.ID, m.AAGUID, name, created, out.Raw.SHA256))
	}
	return out, nil
}
