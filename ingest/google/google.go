package google

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	Name       decode.FlexString   `json:"name"`
	Value      decode.FlexString   `json:"value"`
	MultiValue []decode.FlexString `json:"multiValue"`
	BoolValue  *bool               `json:"boolValue"`
	IntValue   decode.FlexString   `json:"intValue"`
}

type activity struct {
	ID *struct {
		Time            decode.FlexString `json:"time"`
		UniqueQualifier decode.FlexString `json:"uniqueQualifier"`
		ApplicationName decode.FlexString `json:"applicationName"`
	} `json:"id"`
	Actor struct {
		Email     decode.FlexString `json:"email"`
		ProfileID decode.FlexString `json:"profileId"`
	} `json:"actor"`
	IPAddress decode.FlexString `json:"ipAddress"`
	Events    []struct {
		Type       decode.FlexString `json:"type"`
		Name       decode.FlexString `json:"name"`
		Parameters []parameter       `json:"parameters"`
	} `json:"events"`
}

// Normalize turns one login activity into one AuthEvent per event, plus an
// Authenticator for 2-step verification enrollment and removal.
func (Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	var act activity
	if err := json.Unmarshal(raw, &act); err != nil {
		return ingest.Output{}, fmt.Errorf("%w: decode activity: %w", ErrRecord, err)
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
	sum := model.SHA256Hex(raw)
	out := ingest.Output{Raw: model.RawRecord{
		Source: model.SourceGoogle, Instance: instance, EventID: uq, TS: ts,
		Raw: append([]byte(nil), raw...), SHA256: sum,
	}}
	for i, e := range act.Events {
		name := string(e.Name)
		var methods []string
		var secondFactor *bool
		var loginType, status string
		for _, p := range e.Parameters {
			switch string(p.Name) {
			case "login_challenge_method":
				for _, v := range p.MultiValue {
					methods = append(methods, string(v))
				}
				if len(p.MultiValue) == 0 && p.Value != "" {
					methods = append(methods, string(p.Value))
				}
			case "is_second_factor":
				secondFactor = p.BoolValue
			case "login_type":
				loginType = string(p.Value)
			case "login_challenge_status":
				status = string(p.Value)
			}
		}
		category := categoryOf(name)
		if secondFactor != nil && *secondFactor && category == model.CategoryLogin {
			category = model.CategoryMFA
		}
		outcome := model.OutcomeSuccess
		if name == "login_failure" || strings.Contains(strings.ToLower(status), "fail") {
			outcome = model.OutcomeFailure
		}
		factor, hardware := model.FactorNone, (*bool)(nil)
		if len(methods) > 0 {
			factor, hardware = strongest(methods)
		} else if category == model.CategoryLogin || category == model.CategoryMFA {
			factor = model.FactorOther
			if loginType == "google_password" {
				factor, hardware = model.FactorPassword, model.Bool(false)
			}
		}
		if category == model.CategoryRegistration || category == model.CategoryRemoval {
			factor, hardware = model.FactorOther, nil
		}
		var detail []string
		if loginType != "" {
			detail = append(detail, "login_type="+loginType)
		}
		if secondFactor != nil {
			detail = append(detail, "is_second_factor="+strconv.FormatBool(*secondFactor))
		}
		if status != "" {
			detail = append(detail, "login_challenge_status="+status)
		}
		id := uq + "/" + strconv.Itoa(i) + "/" + name
		out.Auth = append(out.Auth, model.AuthEvent{
			Source: model.SourceGoogle, Instance: instance, EventID: id, TS: ts,
			Subject: string(act.Actor.ProfileID), Email: string(act.Actor.Email), EventType: name,
			Category: category, Outcome: outcome, Factor: factor, Hardware: hardware,
			IP: string(act.IPAddress), Detail: strings.Join(detail, "; "), Methods: methods, RawSHA256: sum,
		})
		if category == model.CategoryRegistration || category == model.CategoryRemoval {
			action := model.AuthenticatorRegister
			if category == model.CategoryRemoval {
				action = model.AuthenticatorRemove
			}
			out.Authenticators = append(out.Authenticators, model.Authenticator{
				Source: model.SourceGoogle, Instance: instance, EventID: id, TS: ts,
				Subject: string(act.Actor.ProfileID), Email: string(act.Actor.Email),
				Action: action, Model: "2-step verification", RawSHA256: sum,
			})
		}
	}
	return out, nil
}

func categoryOf(name string) model.Category {
	switch name {
	case "login_success", "login_failure":
		return model.CategoryLogin
	case "login_verification", "login_challenge":
		return model.CategoryMFA
	case "2sv_enroll":
		return model.CategoryRegistration
	case "2sv_disable":
		return model.CategoryRemoval
	case "logout":
		return model.CategorySession
	}
	return model.CategoryOther
}

// strongest returns the strongest factor among login_challenge_method values.
func strongest(methods []string) (model.Factor, *bool) {
	best, hw := model.FactorNone, (*bool)(nil)
	rank := func(f model.Factor) int {
		for i, g := range model.Factors {
			if g == f {
				return i
			}
		}
		return len(model.Factors)
	}
	for _, m := range methods {
		f, h := methodFactor(m)
		if rank(f) < rank(best) || (f == best && f == model.FactorWebAuthn && h != nil && *h) {
			best, hw = f, h
		}
	}
	return best, hw
}

// methodFactor maps one login_challenge_method value to a factor and the
// explicit hardware signal it carries.
func methodFactor(m string) (model.Factor, *bool) {
	switch m = strings.ToLower(strings.TrimSpace(m)); {
	case m == "security_key":
		return model.FactorWebAuthn, model.Bool(true)
	case strings.Contains(m, "passkey"):
		return model.FactorWebAuthn, nil
	case m == "none" || m == "":
		return model.FactorNone, nil
	case strings.Contains(m, "authenticator"), strings.Contains(m, "totp"), strings.Contains(m, "otp"), strings.Contains(m, "backup_code"):
		return model.FactorTOTP, model.Bool(false)
	case strings.Contains(m, "internal_two_factor"), strings.Contains(m, "prompt"), m == "idv_any_phone":
		return model.FactorPush, model.Bool(false)
	case strings.Contains(m, "phone"), strings.Contains(m, "sms"):
		return model.FactorSMS, model.Bool(false)
	case strings.Contains(m, "email"):
		return model.FactorEmail, model.Bool(false)
	case strings.Contains(m, "password"):
		return model.FactorPassword, model.Bool(false)
	}
	return model.FactorOther, model.Bool(false)
}
