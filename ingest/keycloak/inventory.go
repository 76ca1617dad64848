package keycloak

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// InventoryKind names Keycloak's inventory: GET
// /admin/realms/{realm}/users/{id}/credentials.
const InventoryKind = "credentials"

// credential is Keycloak's CredentialRepresentation; credentialData is a
// JSON document in a string (WebAuthnCredentialData for WebAuthn
// credentials).
type credential struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	UserLabel      string          `json:"userLabel"`
	CreatedDate    json.RawMessage `json:"createdDate"`
	CredentialData string          `json:"credentialData"`
}

type webAuthnData struct {
	AAGUID       string `json:"aaguid"`
	CredentialID string `json:"credentialId"`
}

// webAuthnTypes are the credential types of Keycloak's WebAuthn
// authenticators (two-factor and passwordless).
var webAuthnTypes = map[string]bool{"webauthn": true, "webauthn-passwordless": true}

// inventory normalizes a credentials snapshot: the snapshot is the raw
// record, and every WebAuthn credential a key registration with the AAGUID
// and WebAuthn credential id of its credentialData, the id LOGIN events
// name as public_key_credential_id.
func inventory(raw []byte, instance string) (ingest.Output, error) {
	s, err := ingest.ParseSnapshot(raw)
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	if s.Source != model.SourceKeycloak || s.Kind != InventoryKind {
		return ingest.Output{}, fmt.Errorf("%w: inventory %s/%s: want keycloak/%s", ErrRecord, s.Source, s.Kind, InventoryKind)
	}
	var creds []credential
	if err := json.Unmarshal(s.Response, &creds); err != nil {
		return ingest.Output{}, fmt.Errorf("%w: credentials of %s: %w", ErrRecord, s.Subject, decode.JSON(err))
	}
	out := ingest.Output{Raw: s.RawRecord(instance, raw, time.Time{})}
	for _, c := range creds {
		if !webAuthnTypes[c.Type] || c.ID == "" {
			continue
		}
		var d webAuthnData
		if c.CredentialData != "" {
			if err := json.Unmarshal([]byte(c.CredentialData), &d); err != nil {
				return ingest.Output{}, fmt.Errorf("%w: credential %s of %s: credentialData: %w", ErrRecord, c.ID, s.Subject, decode.JSON(err))
			}
		}
		if d.CredentialID == "" {
			continue // nothing a sign-in could name
		}
		var created time.Time
		if len(c.CreatedDate) > 0 && string(c.CreatedDate) != "null" {
			if created, err = parseEventTime(c.CreatedDate); err != nil {
				return ingest.Output{}, fmt.Errorf("%w: credential %s of %s: createdDate: %w", ErrRecord, c.ID, s.Subject, err)
			}
		}
		out.Authenticators = append(out.Authenticators, s.Registration(instance, c.ID, d.CredentialID, d.AAGUID, c.UserLabel, created, out.Raw.SHA256))
	}
	return out, nil
}
