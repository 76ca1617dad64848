package oidc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/model"
)

// ErrRecord is wrapped by every error for a record Normalize rejects.
var ErrRecord = errors.New("oidc: rejected record")

// EventType is the event type of every authentication an ID token records.
const EventType = "oidc.id_token"

// Normalizer turns ID-token records into authentications. The zero value is
// ready to use and safe for concurrent use.
type Normalizer struct{}

var _ ingest.Normalizer = Normalizer{}

// New returns an OIDC normalizer.
func New() Normalizer { return Normalizer{} }

// Source returns model.SourceOIDC.
func (Normalizer) Source() model.Source { return model.SourceOIDC }

// Envelopes lists {"tokens": [...]}, a batch of records in one document.
func (Normalizer) Envelopes() [][]string { return [][]string{{"tokens"}} }

// Record returns the record of an ID token: the token verbatim in the
// {"id_token": …} envelope. token must be a compact JWS (base64url and dots
// only, so it needs no escaping).
func Record(token string) []byte {
	b := make([]byte, 0, len(token)+16)
	b = append(b, `{"id_token":"`...)
	b = append(b, token...)
	return append(b, `"}`...)
}

// Token returns the token a record holds.
func Token(raw []byte) (string, error) {
	var env struct {
		IDToken *string `json:"id_token"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return "", fmt.Errorf("%w: not a JSON object: %w", ErrRecord, err)
	}
	if env.IDToken == nil || *env.IDToken == "" {
		return "", fmt.Errorf("%w: no id_token", ErrRecord)
	}
	return *env.IDToken, nil
}

// Claims are the claims of an ID token keytrail reads.
type Claims struct {
	Issuer            string   `json:"iss"`
	Subject           string   `json:"sub"`
	Audience          audience `json:"aud"`
	AuthorizedParty   string   `json:"azp"`
	JTI               string   `json:"jti"`
	IssuedAt          *epoch   `json:"iat"`
	AuthTime          *epoch   `json:"auth_time"`
	AMR               []string `json:"amr"`
	ACR               string   `json:"acr"`
	Email             string   `json:"email"`
	PreferredUsername string   `json:"preferred_username"`
	UPN               string   `json:"upn"`
	SessionID         string   `json:"sid"`
	IP                string   `json:"ipaddr"`
}

// audience decodes aud, a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		return json.Unmarshal(b, (*[]string)(a))
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*a = audience{s}
	return nil
}

// epoch decodes a NumericDate (seconds since the epoch, maybe fractional).
type epoch time.Time

func (e *epoch) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("want seconds since the epoch: %w", err)
	}
	*e = epoch(time.UnixMilli(int64(f * 1000)).UTC())
	return nil
}

// ParseClaims decodes the payload of a compact JWS without verifying it.
func ParseClaims(token string) (Claims, error) {
	var c Claims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return c, fmt.Errorf("%w: id_token is not a compact JWS (want 3 dot-separated parts, got %d)", ErrRecord, len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, fmt.Errorf("%w: id_token payload is not base64url: %w", ErrRecord, err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("%w: id_token claims: %w", ErrRecord, err)
	}
	return c, nil
}

// Normalize implements ingest.Normalizer.
func (Normalizer) Normalize(raw []byte, instance string) (ingest.Output, error) {
	token, err := Token(raw)
	if err != nil {
		return ingest.Output{}, err
	}
	c, err := ParseClaims(token)
	if err != nil {
		return ingest.Output{}, err
	}
	var missing []string
	if c.Issuer == "" {
		missing = append(missing, "iss")
	}
	if c.Subject == "" {
		missing = append(missing, "sub")
	}
	ts := time.Time{}
	switch {
	case c.AuthTime != nil:
		ts = time.Time(*c.AuthTime)
	case c.IssuedAt != nil:
		ts = time.Time(*c.IssuedAt)
	default:
		missing = append(missing, "auth_time or iat")
	}
	if len(missing) > 0 {
		return ingest.Output{}, fmt.Errorf("%w: id_token lacks %s", ErrRecord, strings.Join(missing, ", "))
	}
	tokenSHA := model.SHA256Hex([]byte(token))
	id := c.Issuer + "#" + c.JTI
	if c.JTI == "" {
		id = c.Issuer + "#sha256:" + tokenSHA
	}
	ts = model.Millis(ts)
	f := FactorOf(c.AMR, c.ACR)
	email := c.Email
	if email == "" {
		email = c.PreferredUsername
	}
	if email == "" {
		email = c.UPN
	}
	app := c.AuthorizedParty
	if app == "" && len(c.Audience) > 0 {
		app = c.Audience[0]
	}
	detail := "id_token sha256 " + tokenSHA
	if c.ACR != "" {
		detail = "acr " + c.ACR + "; " + detail
	}
	rawSHA := model.SHA256Hex(raw)
	ev := model.AuthEvent{
		Source: model.SourceOIDC, Instance: instance, EventID: id, TS: ts,
		Subject: c.Subject, Email: email, Principal: model.PrincipalUser,
		EventType: EventType, Category: model.CategoryLogin, Outcome: model.OutcomeSuccess,
		Factor: f.Factor, Hardware: f.Hardware, App: app, SessionID: c.SessionID, IP: c.IP,
		Detail: detail, Methods: slices.Clone(c.AMR), RawSHA256: rawSHA,
	}
	return ingest.Output{
		Raw:  model.RawRecord{Source: model.SourceOIDC, Instance: instance, EventID: id, TS: ts, Raw: raw, SHA256: rawSHA},
		Auth: []model.AuthEvent{ev},
	}, nil
}
