package google

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/internal/decode"
	"github.com/keytrail/keytrail/model"
)

// ErrRecord is wrapped by every error for a record Normalize rejects.
var ErrRecord = errors.New("google: rejected record")

// Normalizer turns Google Workspace login activities into keytrail's model.
// The zero value is ready to use and safe for concurrent use.
type Normalizer struct{}

var _ ingest.Normalizer = Normalizer{}

// New returns a Google Workspace normalizer.
func New() Normalizer { return Normalizer{} }

// Source returns model.SourceGoogle.
func (Normalizer) Source() model.Source { return model.SourceGoogle }

// Envelopes lists the Reports API page envelope, items.
func (Normalizer) Envelopes() [][]string { return [][]string{{"items"}} }

type parameter struct {
	Name          decode.FlexString   `json:"name"`
	Value         decode.FlexString   `json:"value"`
	MultiValue    []decode.FlexString `json:"multiValue"`
	MultiStrValue []decode.FlexString `json:"multiStrValue"` // the Cloud Logging form of multiValue
	BoolValue     decode.FlexString   `json:"boolValue"`
	IntValue      decode.FlexString   `json:"intValue"`
}

// values returns a parameter's values, whichever field holds them.
func (p parameter) values() []string {
	switch {
	case len(p.MultiValue) > 0:
		return decode.FlexStrings(p.MultiValue).Strings()
	case len(p.MultiStrValue) > 0:
		return decode.FlexStrings(p.MultiStrValue).Strings()
	case p.Value != "":
		return []string{string(p.Value)}
	}
	return nil
}

type event struct {
	Type       decode.FlexString `json:"type"`
	Name       decode.FlexString `json:"name"`
	Parameters []parameter       `json:"parameters"`
}

type activityID struct {
	Time            decode.FlexString `json:"time"`
	UniqueQualifier decode.FlexString `json:"uniqueQualifier"`
	ApplicationName decode.FlexString `json:"applicationName"`
	CustomerID      decode.FlexString `json:"customerId"`
}

type activity struct {
	ID    *activityID `json:"id"`
	Actor struct {
		CallerType decode.FlexString `json:"callerType"`
		Email      decode.FlexString `json:"email"`
		ProfileID  decode.FlexString `json:"profileId"`
		Key        decode.FlexString `json:"key"`
	} `json:"actor"`
	IPAddress decode.FlexString       `json:"ipAddress"`
	Events    decode.OneOrMany[event] `json:"events"`
}

// activityName reads only the identity of an activity, so that one failing
// to decode can be named.
func activityName(raw []byte) string {
	var probe struct {
		ID struct {
			Time            json.RawMessage `json:"time"`
			UniqueQualifier json.RawMessage `json:"uniqueQualifier"`
		} `json:"id"`
	}
	_ = json.Unmarshal(raw, &probe)
	uq := strings.Trim(string(probe.ID.UniqueQualifier), `"`)
	if uq == "" || uq == "null" {
		return ""
	}
	if t := strings.Trim(string(probe.ID.Time), `"`); t != "" && t != "null" {
		return uq + " at " + t
	}
	return uq
}

// activityKey returns the id of an activity as Google defines its uniqueness:
// id.uniqueQualifier is unique only together with id.time, the application
// and the customer. ts is id.time parsed.
func activityKey(application, customer string, ts time.Time, uniqueQualifier string) string {
	return application + "/" + customer + "/" + ts.UTC().Format("2006-01-02T15:04:05.000Z") + "/" + uniqueQualifier
}

// Normalize turns one login activity into one AuthEvent per event, plus an
// Authenticator for each enrollment and removal of a second factor or passkey.
func (Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	var act activity
	if err := json.Unmarshal(raw, &act); err != nil {
		if name := activityName(raw); name != "" {
			return ingest.Output{}, fmt.Errorf("%w: activity %s: decode: %w", ErrRecord, name, decode.JSON(err))
		}
		return ingest.Output{}, fmt.Errorf("%w: decode activity: %w", ErrRecord, decode.JSON(err))
	}
	if act.ID == nil || strings.TrimSpace(string(act.ID.UniqueQualifier)) == "" {
		return ingest.Output{}, fmt.Errorf("%w: missing id.uniqueQualifier", ErrRecord)
	}
	uq := strings.TrimSpace(string(act.ID.UniqueQualifier))
	if act.ID.Time == "" {
		return ingest.Output{}, fmt.Errorf("%w: activity %s: missing id.time", ErrRecord, uq)
	}
	ts, err := decode.Time(string(act.ID.Time))
	if err == nil && ts.IsZero() {
		err = fmt.Errorf("%w: out of range: %q", decode.ErrTime, act.ID.Time)
	}
	if err != nil {
		return ingest.Output{}, fmt.Errorf("%w: activity %s: id.time: %w", ErrRecord, uq, err)
	}
	id := activityKey(string(act.ID.ApplicationName), string(act.ID.CustomerID), ts, uq)
	sum := model.SHA256Hex(raw)
	out := ingest.Output{Raw: model.RawRecord{
		Source: model.SourceGoogle, Instance: instance, EventID: id, TS: ts,
		Raw: append([]byte(nil), raw...), SHA256: sum,
	}}
	principal := model.PrincipalUser
	if strings.EqualFold(string(act.Actor.CallerType), "KEY") {
		// An OAuth consumer key or robot account, not a person.
		principal = model.PrincipalService
	}
	for i, e := range act.Events {
		name := string(e.Name)
		var methods []string
		var secondFactor, loginType, status string
		for _, p := range e.Parameters {
			switch string(p.Name) {
			case "login_challenge_method":
				methods = append(methods, p.values()...)
			case "is_second_factor":
				secondFactor = strings.ToLower(string(p.BoolValue))
				if secondFactor == "" {
					secondFactor = strings.ToLower(string(p.Value))
				}
			case "login_type":
				loginType = string(p.Value)
			case "login_challenge_status":
				status = string(p.Value)
			}
		}
		r := readEvent(name, methods, loginType, status, secondFactor == "true")
		var detail []string
		if loginType != "" {
			detail = append(detail, "login_type="+loginType)
		}
		if secondFactor != "" {
			detail = append(detail, "is_second_factor="+secondFactor)
		}
		if status != "" {
			detail = append(detail, "login_challenge_status="+status)
		}
		if r.note != "" {
			detail = append(detail, r.note)
		}
		eventID := id + "/" + strconv.Itoa(i) + "/" + name
		out.Auth = append(out.Auth, model.AuthEvent{
			Source: model.SourceGoogle, Instance: instance, EventID: eventID, TS: ts,
			Subject: string(act.Actor.ProfileID), Email: string(act.Actor.Email), Principal: principal, EventType: name,
			Category: r.category, Outcome: r.outcome, Factor: r.factor, Hardware: r.hardware,
			IP: string(act.IPAddress), Detail: strings.Join(detail, "; "), Methods: methods, RawSHA256: sum,
		})
		if r.authenticator != "" {
			action := model.AuthenticatorRegister
			if r.category == model.CategoryRemoval {
				action = model.AuthenticatorRemove
			}
			out.Authenticators = append(out.Authenticators, model.Authenticator{
				Source: model.SourceGoogle, Instance: instance, EventID: eventID, TS: ts,
				Subject: string(act.Actor.ProfileID), Email: string(act.Actor.Email),
				Action: action, Model: r.authenticator, Hardware: r.hardware, RawSHA256: sum,
			})
		}
	}
	return out, nil
}
