package okta

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// InventoryKind names Okta's inventory: GET /api/v1/users/{id}/factors.
const InventoryKind = "factors"

// factor is a UserFactor of the Factors API: WebAuthn factors name their
// credential id and the authenticator's model (profile.authenticatorName,
// which Okta derives from the AAGUID; the API does not list the AAGUID).
type factor struct {
	ID         string `json:"id"`
	FactorType string `json:"factorType"`
	Status     string `json:"status"`
	Created    string `json:"created"`
	Profile    struct {
		CredentialID      string `json:"credentialId"`
		AuthenticatorName string `json:"authenticatorName"`
	} `json:"profile"`
}

// securityKeyFactors are the factor types of FIDO authenticators.
var securityKeyFactors = map[string]bool{"webauthn": true, "u2f": true}

// inventory normalizes a factors snapshot: the snapshot is the raw record,
// and every active WebAuthn or U2F factor a key registration. The
// credential id is the factor id, which the System Log names as the
// AuthenticatorEnrollment target of the sign-ins made with it, so a key
// enrolled before collection began still gets its model.
func inventory(raw []byte, instance string) (ingest.Output, error) {
	s, err := ingest.ParseSnapshot(raw)
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: %w", ErrRecord, err)
	}
	if s.Source != model.SourceOkta || s.Kind != InventoryKind {
		return ingest.Output{}, fmt.Errorf("%w: inventory %s/%s: want okta/%s", ErrRecord, s.Source, s.Kind, InventoryKind)
	}
	var factors []factor
	if err := json.Unmarshal(s.Response, &factors); err != nil {
		return ingest.Output{}, fmt.Errorf("%w: factors of %s: %w", ErrRecord, s.Subject, decode.JSON(err))
	}
	out := ingest.Output{Raw: s.RawRecord(instance, raw, time.Time{})}
	for _, f := range factors {
		if !securityKeyFactors[f.FactorType] || !strings.EqualFold(f.Status, "ACTIVE") || f.ID == "" {
			continue
		}
		var created time.Time
		if f.Created != "" {
			if created, err = decode.Time(f.Created); err != nil {
				return ingest.Output{}, fmt.Errorf("%w: factor %s of %s: created: %w", ErrRecord, f.ID, s.Subject, err)
			}
		}
		a := s.Registration(instance, f.ID, f.ID, "", f.Profile.AuthenticatorName, created, out.Raw.SHA256)
		if f.FactorType == "u2f" {
			a.Factor = model.FactorWebAuthn // U2F is a security key; a webauthn factor may be a platform one
		}
		out.Authenticators = append(out.Authenticators, a)
	}
	return out, nil
}
