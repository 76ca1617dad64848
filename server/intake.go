package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keytrail/keytrail/bus"
	"github.com/keytrail/keytrail/ingest/oidc"
	"github.com/keytrail/keytrail/model"
)

// DefaultHookDeadline is how long an Okta delivery may wait for the bus:
// Okta gives up after 3 s, so keytrail answers before that.
const DefaultHookDeadline = 2500 * time.Millisecond

// intake serves the push endpoints. Every sender has its own secret; a
// request is answered 200 only after the bus took its records (durable),
// so a sender's retry after any other answer is safe: the store keeps each
// provider id once.
type intake struct {
	cfg      Config
	pub      bus.Publisher
	now      func() time.Time
	metrics  *Metrics
	okta     map[string][]byte        // instance → Authorization value
	shippers map[string]shipperSecret // source/instance → key
	bySource map[model.Source][]string
	tokens   map[string]*tokenIntake // instance → issuer
}

type shipperSecret struct {
	source   model.Source
	instance string
	key      []byte
}

type tokenIntake struct {
	instance string
	key      []byte
	v        *verifier
}

func newIntake(cfg Config, d Deps, m *Metrics) (*intake, error) {
	in := &intake{cfg: cfg, pub: d.Publisher, now: d.Now, metrics: m, okta: map[string][]byte{},
		shippers: map[string]shipperSecret{}, bySource: map[model.Source][]string{}, tokens: map[string]*tokenIntake{}}
	n := len(cfg.Intake.Okta) + len(cfg.Intake.Shippers) + len(cfg.Intake.IDTokens)
	if n > 0 && d.Publisher == nil {
		return nil, fmt.Errorf("server: intake is configured but there is no bus to publish to")
	}
	for _, h := range cfg.Intake.Okta {
		v, err := h.Authorization.Value()
		if err != nil {
			return nil, fmt.Errorf("intake okta %s authorization (%s): %w", h.Instance, h.Authorization, err)
		}
		in.okta[h.Instance] = []byte(v)
	}
	for _, s := range cfg.Intake.Shippers {
		v, err := s.Secret.Value()
		if err != nil {
			return nil, fmt.Errorf("intake shipper %s/%s secret (%s): %w", s.Source, s.Instance, s.Secret, err)
		}
		in.shippers[string(s.Source)+"/"+s.Instance] = shipperSecret{s.Source, s.Instance, []byte(v)}
		in.bySource[s.Source] = append(in.bySource[s.Source], s.Instance)
	}
	for _, t := range cfg.Intake.IDTokens {
		v, err := t.Secret.Value()
		if err != nil {
			return nil, fmt.Errorf("intake id_tokens %s secret (%s): %w", t.Instance, t.Secret, err)
		}
		in.tokens[t.Instance] = &tokenIntake{instance: t.Instance, key: []byte(v),
			v: newVerifier(t.Issuer, t.Audience, t.Algorithms, d.HTTPClient, d.Now)}
	}
	return in, nil
}

// oktaAuth checks the Authorization header Okta sends against the hook's
// secret, in constant time.
func (in *intake) oktaAuth(c echo.Context) (string, error) {
	inst := c.Param("instance")
	want, ok := in.okta[inst]
	got := []byte(c.Request().Header.Get(echo.HeaderAuthorization))
	if !ok {
		return inst, fmt.Errorf("%w: no Okta event hook %q is configured", ErrNotFound, inst)
	}
	if len(got) == 0 || subtle.ConstantTimeCompare(got, want) != 1 {
		in.metrics.intakeRecords(model.SourceOkta, "unauthenticated", 1)
		return inst, fmt.Errorf("%w: the Authorization header does not match the event hook's secret", ErrUnauthenticated)
	}
	return inst, nil
}

// oktaVerify answers Okta's one-time verification request: the value of
// x-okta-verification-challenge echoed as {"verification": value}.
func (in *intake) oktaVerify(c echo.Context) error {
	if _, err := in.oktaAuth(c); err != nil {
		return err
	}
	ch := c.Request().Header.Get("X-Okta-Verification-Challenge")
	if ch == "" {
		return fmt.Errorf("%w: no x-okta-verification-challenge header", ErrBadRequest)
	}
	return c.JSON(http.StatusOK, map[string]string{"verification": ch})
}

// oktaDeliver takes an Event Hook delivery ({"data":{"events":[…]}}): its
// body goes to the bus as one record (the sink splits it) and the answer is
// 200 once the bus took it, within Okta's 3 s.
func (in *intake) oktaDeliver(c echo.Context) error {
	inst, err := in.oktaAuth(c)
	if err != nil {
		return err
	}
	body, err := readBody(c, in.cfg.BodyLimits.Hook)
	if err != nil {
		in.metrics.intakeRecords(model.SourceOkta, "rejected", 1)
		return err
	}
	if !json.Valid(body) {
		in.metrics.intakeRecords(model.SourceOkta, "rejected", 1)
		return fmt.Errorf("%w: the delivery is not JSON", ErrBadRequest)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), DefaultHookDeadline)
	defer cancel()
	rec := bus.Record{Source: model.SourceOkta, Instance: inst, Raw: body, ReceivedAt: in.now().UTC(),
		Origin: "okta-event-hook/" + inst + "#request=" + requestID(c)}
	if err := in.publish(ctx, rec); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

func (in *intake) publish(ctx context.Context, rec bus.Record) error {
	start := time.Now()
	err := in.pub.Publish(ctx, rec)
	in.metrics.published(rec.Source, time.Since(start), err)
	if err != nil {
		in.metrics.intakeRecords(rec.Source, "bus_error", 1)
		return fmt.Errorf("%w: hand the records to the bus: %w", ErrUnavailable, err)
	}
	in.metrics.intakeRecords(rec.Source, "accepted", 1)
	return nil
}

// checkSignature verifies a signed push: the timestamp header within
// [now − max_age, now + max_future] and the signature header "v1=<hex of
// HMAC-SHA256(key, timestamp + "." + body)>" (several comma-separated
// entries are allowed, for key rotation on the sender's side).
func (in *intake) checkSignature(c echo.Context, key, body []byte) error {
	sig := in.cfg.Intake.Signature
	tsText := c.Request().Header.Get(sig.TimestampHeader)
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s must be Unix seconds", ErrUnauthenticated, sig.TimestampHeader)
	}
	now := in.now()
	at := time.Unix(ts, 0)
	switch {
	case at.Before(now.Add(-sig.MaxAge)):
		return fmt.Errorf("%w: %s is more than %s old (a replay)", ErrUnauthenticated, sig.TimestampHeader, sig.MaxAge)
	case at.After(now.Add(sig.MaxFuture)):
		return fmt.Errorf("%w: %s is in the future", ErrUnauthenticated, sig.TimestampHeader)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(tsText))
	mac.Write([]byte("."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, part := range strings.Split(c.Request().Header.Get(sig.Header), ",") {
		v, hexSig, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v != "v1" {
			continue
		}
		got, err := hex.DecodeString(hexSig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s does not match the body (want v1=<hex HMAC-SHA256 of timestamp \".\" body>)", ErrUnauthenticated, sig.Header)
}

// Sign returns the signature header value of body at ts under key, as
// checkSignature wants it (for senders and tests).
func Sign(key []byte, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// instanceOf picks the configured instance a push names (?instance=),
// or the only one configured when it names none.
func instanceOf(c echo.Context, configured []string) (string, error) {
	inst := c.QueryParam("instance")
	if inst == "" {
		if len(configured) != 1 {
			return "", fmt.Errorf("%w: name the sender's instance (?instance=NAME)", ErrBadRequest)
		}
		return configured[0], nil
	}
	return inst, nil
}

// ship takes records a log shipper or an Airflow listener pushes, in any
// shape `keytrail ingest` reads (a JSON document, an array, NDJSON, an API
// page or envelope): one bus record, split by the sink.
func (in *intake) ship(c echo.Context) error {
	src := model.Source(c.Param("source"))
	if !src.Valid() {
		return fmt.Errorf("%w: unknown source %q", ErrNotFound, src)
	}
	inst, err := instanceOf(c, in.bySource[src])
	if err != nil {
		return err
	}
	sh, ok := in.shippers[string(src)+"/"+inst]
	body, err := readBody(c, in.cfg.BodyLimits.Ingest)
	if err != nil {
		in.metrics.intakeRecords(src, "rejected", 1)
		return err
	}
	if !ok {
		in.metrics.intakeRecords(src, "unauthenticated", 1)
		return fmt.Errorf("%w: no %s sender %q is configured", ErrUnauthenticated, src, inst)
	}
	if err := in.checkSignature(c, sh.key, body); err != nil {
		in.metrics.intakeRecords(src, "unauthenticated", 1)
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		in.metrics.intakeRecords(src, "rejected", 1)
		return fmt.Errorf("%w: empty body", ErrBadRequest)
	}
	rec := bus.Record{Source: src, Instance: inst, Raw: body, ReceivedAt: in.now().UTC(),
		Origin: "push/" + string(src) + "/" + inst + "#request=" + requestID(c)}
	if err := in.publish(c.Request().Context(), rec); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"accepted": true, "request_id": requestID(c)})
}

// idToken takes an ID token a reverse proxy or Airflow's auth layer hands
// over (the body is the token, or {"id_token": token}), signed by the
// sender like a shipper's push; the token is verified against its issuer
// before it is published as an authentication of its subject.
func (in *intake) idToken(c echo.Context) error {
	names := make([]string, 0, len(in.tokens))
	for k := range in.tokens {
		names = append(names, k)
	}
	inst, err := instanceOf(c, names)
	if err != nil {
		return err
	}
	ti, ok := in.tokens[inst]
	body, err := readBody(c, in.cfg.BodyLimits.Token)
	if err != nil {
		in.metrics.intakeRecords(model.SourceOIDC, "rejected", 1)
		return err
	}
	if !ok {
		in.metrics.intakeRecords(model.SourceOIDC, "unauthenticated", 1)
		return fmt.Errorf("%w: no ID-token sender %q is configured", ErrUnauthenticated, inst)
	}
	if err := in.checkSignature(c, ti.key, body); err != nil {
		in.metrics.intakeRecords(model.SourceOIDC, "unauthenticated", 1)
		return err
	}
	token := strings.TrimSpace(string(body))
	if strings.HasPrefix(token, "{") {
		if token, err = oidc.Token(body); err != nil {
			in.metrics.intakeRecords(model.SourceOIDC, "rejected", 1)
			return fmt.Errorf("%w: %w", ErrBadRequest, err)
		}
	}
	if strings.Count(token, ".") != 2 || strings.ContainsAny(token, "\"\\ \n") {
		in.metrics.intakeRecords(model.SourceOIDC, "rejected", 1)
		return fmt.Errorf("%w: the body is not a compact JWS ID token", ErrBadRequest)
	}
	t, err := ti.v.verify(c.Request().Context(), token)
	if err != nil {
		in.metrics.intakeRecords(model.SourceOIDC, "invalid_token", 1)
		return fmt.Errorf("id token: %w", err)
	}
	rec := bus.Record{Source: model.SourceOIDC, Instance: inst, Key: t.Subject, Raw: oidc.Record(token),
		ReceivedAt: in.now().UTC(), Origin: "push/oidc/" + inst + "#request=" + requestID(c)}
	if err := in.publish(c.Request().Context(), rec); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"accepted": true, "subject": t.Subject, "request_id": requestID(c)})
}
