package entra

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// ErrRecord is wrapped by every error for a record Normalize rejects.
var ErrRecord = errors.New("entra: rejected record")

// Normalizer turns Entra ID sign-ins and directory audits into keytrail's
// model. The zero value is ready to use and safe for concurrent use.
type Normalizer struct{}

var _ ingest.Normalizer = Normalizer{}

// New returns an Entra ID normalizer.
func New() Normalizer { return Normalizer{} }

// Source returns model.SourceEntra.
func (Normalizer) Source() model.Source { return model.SourceEntra }

// Envelopes lists the Graph page (value) and the Azure Monitor / Event Hubs
// export (records).
func (Normalizer) Envelopes() [][]string { return [][]string{{"value"}, {"records"}} }

type authDetail struct {
	AuthenticationMethod           decode.FlexString `json:"authenticationMethod"`
	AuthenticationMethodDetail     decode.FlexString `json:"authenticationMethodDetail"`
	AuthenticationStepResultDetail decode.FlexString `json:"authenticationStepResultDetail"`
	AuthenticationStepRequirement  decode.FlexString `json:"authenticationStepRequirement"`
	Succeeded                      decode.FlexString `json:"succeeded"`
}

// failed reports whether the step says it did not succeed.
func (d authDetail) failed() bool { return strings.EqualFold(string(d.Succeeded), "false") }

type keyValue struct {
	Key   decode.FlexString `json:"key"`
	Value decode.FlexString `json:"value"`
}

type modifiedProperty struct {
	DisplayName decode.FlexString `json:"displayName"`
	OldValue    decode.FlexString `json:"oldValue"`
	NewValue    decode.FlexString `json:"newValue"`
}

type target struct {
	ID                 decode.FlexString  `json:"id"`
	UserPrincipalName  decode.FlexString  `json:"userPrincipalName"`
	DisplayName        decode.FlexString  `json:"displayName"`
	Type               decode.FlexString  `json:"type"`
	ModifiedProperties []modifiedProperty `json:"modifiedProperties"`
}

// record holds the fields of a signIn or directoryAudit, and of the Azure
// Monitor wrapper around either.
type record struct {
	ID              decode.FlexString `json:"id"`
	CreatedDateTime decode.FlexString `json:"createdDateTime"`
	// signIn
	UserID                    decode.FlexString  `json:"userId"`
	UserPrincipalName         decode.FlexString  `json:"userPrincipalName"`
	UserType                  decode.FlexString  `json:"userType"`
	AppID                     decode.FlexString  `json:"appId"`
	AppDisplayName            decode.FlexString  `json:"appDisplayName"`
	ResourceDisplayName       decode.FlexString  `json:"resourceDisplayName"`
	IPAddress                 decode.FlexString  `json:"ipAddress"`
	SessionID                 decode.FlexString  `json:"sessionId"`
	AuthenticationRequirement decode.FlexString  `json:"authenticationRequirement"`
	IsInteractive             decode.FlexString  `json:"isInteractive"`
	SignInEventTypes          decode.FlexStrings `json:"signInEventTypes"`
	IncomingTokenType         decode.FlexString  `json:"incomingTokenType"`
	ServicePrincipalID        decode.FlexString  `json:"servicePrincipalId"`
	ServicePrincipalName      decode.FlexString  `json:"servicePrincipalName"`
	ClientCredentialType      decode.FlexString  `json:"clientCredentialType"`
	ManagedServiceIdentity    *struct {
		MsiType decode.FlexString `json:"msiType"`
	} `json:"managedServiceIdentity"`
	Status *struct {
		ErrorCode         decode.FlexString `json:"errorCode"`
		FailureReason     decode.FlexString `json:"failureReason"`
		AdditionalDetails decode.FlexString `json:"additionalDetails"`
	} `json:"status"`
	AuthenticationDetails     []authDetail       `json:"authenticationDetails"`
	AuthenticationMethodsUsed decode.FlexStrings `json:"authenticationMethodsUsed"`
	// directoryAudit
	ActivityDateTime    decode.FlexString  `json:"activityDateTime"`
	ActivityDisplayName *decode.FlexString `json:"activityDisplayName"`
	LoggedByService     decode.FlexString  `json:"loggedByService"`
	Result              decode.FlexString  `json:"result"`
	ResultReason        decode.FlexString  `json:"resultReason"`
	InitiatedBy         struct {
		User *target `json:"user"`
	} `json:"initiatedBy"`
	TargetResources   []target   `json:"targetResources"`
	AdditionalDetails []keyValue `json:"additionalDetails"`
	// Azure Monitor wrapper
	Category   decode.FlexString `json:"category"`
	Time       decode.FlexString `json:"time"`
	Properties json.RawMessage   `json:"properties"`
}

// recordID reads only the id of a record (or of its Azure Monitor
// properties), so that a record failing to decode can be named.
func recordID(raw []byte) string {
	var probe struct {
		ID         decode.FlexString `json:"id"`
		Properties struct {
			ID decode.FlexString `json:"id"`
		} `json:"properties"`
	}
	_ = json.Unmarshal(raw, &probe)
	if id := strings.TrimSpace(string(probe.ID)); id != "" {
		return id
	}
	return strings.TrimSpace(string(probe.Properties.ID))
}

// decodeError wraps a JSON decode error with the record's id when it has one.
func decodeError(raw []byte, what string, err error) error {
	if id := recordID(raw); id != "" {
		return fmt.Errorf("%w: record %s: %s: %w", ErrRecord, id, what, decode.JSON(err))
	}
	return fmt.Errorf("%w: %s: %w", ErrRecord, what, decode.JSON(err))
}

// Normalize turns one sign-in or directory audit into keytrail's model.
func (Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	if ingest.IsSnapshot(raw) {
		return inventory(raw, instance)
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return ingest.Output{}, decodeError(raw, "decode", err)
	}
	category := strings.TrimSpace(string(rec.Category))
	wrapperTime := string(rec.Time)
	if p := rec.Properties; len(p) > 0 && p[0] == '{' {
		// Azure Monitor / Event Hubs: the resource is in properties.
		var inner record
		if err := json.Unmarshal(p, &inner); err != nil {
			return ingest.Output{}, decodeError(raw, "decode properties", err)
		}
		rec = inner
	} else if len(rec.Properties) > 0 && string(rec.Properties) != "null" {
		return ingest.Output{}, decodeError(raw, "decode", fmt.Errorf("%w: field properties: got %s, want an object", decode.ErrType, jsonKind(rec.Properties)))
	}
	audit := rec.ActivityDisplayName != nil || strings.EqualFold(category, "AuditLogs")

	id := strings.TrimSpace(string(rec.ID))
	if id == "" {
		return ingest.Output{}, fmt.Errorf("%w: missing id", ErrRecord)
	}
	when := string(rec.CreatedDateTime)
	if audit {
		when = string(rec.ActivityDateTime)
	}
	if when == "" {
		when = wrapperTime
	}
	if when == "" {
		return ingest.Output{}, fmt.Errorf("%w: record %s: missing time", ErrRecord, id)
	}
	ts, err := decode.Time(when)
	if err == nil && ts.IsZero() {
		err = fmt.Errorf("%w: out of range: %q", decode.ErrTime, when)
	}
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: record %s: %w", ErrRecord, id, err)
	}
	sum := model.SHA256Hex(raw)
	out := ingest.Output{Raw: model.RawRecord{
		Source: model.SourceEntra, Instance: instance, EventID: id, TS: ts,
		Raw: append([]byte(nil), raw...), SHA256: sum,
	}}
	if audit {
		normalizeAudit(&out, &rec, instance, id, sum)
	} else {
		normalizeSignIn(&out, &rec, instance, id, sum, category)
	}
	return out, nil
}

// jsonKind names the JSON type of a value.
func jsonKind(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "a JSON string"
	case '[':
		return "a JSON array"
	case 't', 'f':
		return "a JSON boolean"
	}
	return "a JSON number"
}

// joinDetail joins the non-empty key=value pairs of kv with "; ".
func joinDetail(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, kv[i]+"="+kv[i+1])
		}
	}
	return strings.Join(parts, "; ")
}
