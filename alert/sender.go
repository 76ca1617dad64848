package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/keytrail/keytrail/model"
)

// sender delivers one batch of alerts to one target in one request.
type sender interface {
	send(ctx context.Context, batch []*item) error
	close() error
}

// deliveryError classifies a failed attempt.
type deliveryError struct {
	err        error
	permanent  bool
	retryAfter time.Duration
}

func (e *deliveryError) Error() string { return e.err.Error() }
func (e *deliveryError) Unwrap() error { return e.err }

// httpSender posts alerts as a generic webhook, a Slack message or Alertmanager
// postableAlerts.
type httpSender struct {
	kind     string
	url      string
	redacted string // what errors and logs show instead of url
	headers  http.Header
	client   *http.Client
	severity string
	link     string
	ttl      time.Duration // Alertmanager alert_ttl
	now      func() time.Time
}

func newHTTPSender(kind string, h HTTPTarget, ttl time.Duration, cfg Config, client *http.Client, getenv func(string) string, now func() time.Time) (*httpSender, error) {
	u, shown := h.URL, redactURL(h.URL)
	if h.URLEnv != "" {
		u = getenv(h.URLEnv)
		if u == "" {
			return nil, fmt.Errorf("environment variable %s (url_env) is empty", h.URLEnv)
		}
		if err := checkHTTPURL(u); err != nil {
			return nil, fmt.Errorf("environment variable %s (url_env): %w", h.URLEnv, err)
		}
		shown = redactURL(u)
	}
	if kind == KindAlertmanager {
		u = strings.TrimRight(u, "/") + "/api/v2/alerts"
		shown = strings.TrimRight(shown, "/") + "/api/v2/alerts"
	}
	hdr := http.Header{}
	for k, v := range h.Headers {
		hdr.Set(k, v)
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("User-Agent", "keytrail-alert")
	if h.SecretEnv != "" {
		v := getenv(h.SecretEnv)
		if v == "" {
			return nil, fmt.Errorf("environment variable %s (secret_env) is empty", h.SecretEnv)
		}
		hdr.Set(h.SecretHeader, v)
	}
	return &httpSender{kind: kind, url: u, redacted: shown, headers: hdr, client: client,
		severity: cfg.Severity, link: cfg.LinkURL, ttl: ttl, now: now}, nil
}

// redactURL keeps scheme and host: enough to tell targets apart, no token
// (webhook URLs often carry one in the path or the query, Alertmanager URLs
// credentials in the user info).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<redacted>"
	}
	if u.User == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/<redacted>"
}

func (s *httpSender) close() error { return nil }

func (s *httpSender) send(ctx context.Context, batch []*item) error {
	var body any
	switch s.kind {
	case KindSlack:
		body = slackPayload(batch, s.severity, s.link)
	case KindAlertmanager:
		body = alertmanagerPayload(batch, s.severity, s.link, s.ttl, s.now())
	default:
		body = webhookPayload(batch, s.severity, s.link)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return &deliveryError{err: fmt.Errorf("encode %s payload: %w", s.kind, err), permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(b))
	if err != nil {
		return &deliveryError{err: fmt.Errorf("build request to %s: %w", s.redacted, redactErr(err, s.url, s.redacted)), permanent: true}
	}
	req.Header = s.headers.Clone()
	resp, err := s.client.Do(req)
	if err != nil {
		return &deliveryError{err: fmt.Errorf("post to %s: %w", s.redacted, redactErr(err, s.url, s.redacted))}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &deliveryError{err: fmt.Errorf("post to %s: HTTP %d: %s", s.redacted, resp.StatusCode, oneLine(snippet))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		e.retryAfter = retryAfter(resp.Header.Get("Retry-After"), s.now())
	case resp.StatusCode >= 500:
		e.retryAfter = retryAfter(resp.Header.Get("Retry-After"), s.now())
	default:
		e.permanent = true
	}
	return e
}

// redactErr rewrites net/http's *url.Error, which quotes the full URL.
func redactErr(err error, full, shown string) error {
	if full == shown {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: shown, Err: ue.Err}
	}
	return errors.New(strings.ReplaceAll(err.Error(), full, shown))
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// WebhookPayload is the body of a generic webhook request.
type WebhookPayload struct {
	Version string    `json:"version"` // "1"
	Sender  string    `json:"sender"`  // "keytrail"
	Alerts  []Message `json:"alerts"`
}

func webhookPayload(batch []*item, severity, link string) WebhookPayload {
	p := WebhookPayload{Version: "1", Sender: "keytrail", Alerts: make([]Message, 0, len(batch))}
	for _, it := range batch {
		p.Alerts = append(p.Alerts, it.message(severity, link))
	}
	return p
}

// postableAlert is Alertmanager API v2's postableAlert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// alertmanagerLabels are the alert's identity in Alertmanager, taken from the
// correlation that fired it so a resolve carries the same labels.
func alertmanagerLabels(it *item, severity string) map[string]string {
	c := it.fired
	l := map[string]string{
		"alertname": AlertName,
		"severity":  severity,
		"alert_id":  it.rec.AlertID,
		"verdict":   string(c.Verdict),
		"action":    string(c.Action),
		"action_id": c.ActionID,
		"instance":  c.Instance,
		"dag_id":    c.DagID,
		"person":    c.Person,
		"actor":     c.Actor,
		"channel":   string(c.Channel),
	}
	for k, v := range l {
		if v == "" { // an empty label value is an absent label
			delete(l, k)
		}
	}
	return l
}

func alertmanagerPayload(batch []*item, severity, link string, ttl time.Duration, now time.Time) []postableAlert {
	out := make([]postableAlert, 0, len(batch))
	for _, it := range batch {
		m := it.message(severity, link)
		a := postableAlert{
			Labels:       alertmanagerLabels(it, severity),
			Annotations:  map[string]string{"summary": m.Summary, "description": m.Description},
			StartsAt:     m.StartsAt,
			GeneratorURL: m.URL,
		}
		if it.rec.Status == model.AlertResolved {
			a.EndsAt = m.EndsAt
			if a.EndsAt.IsZero() || a.EndsAt.After(now) {
				a.EndsAt = now
			}
			if a.EndsAt.Before(a.StartsAt) { // clock skew: an alert cannot end before it starts
				a.StartsAt = a.EndsAt
			}
		} else {
			a.EndsAt = now.Add(ttl)
		}
		out = append(out, a)
	}
	return out
}

// slackMessage is a Slack incoming-webhook body: text is the notification
// fallback, blocks the rendered message.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackMaxAlerts keeps a message under Slack's 50-block limit.
const slackMaxAlerts = 40

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackPayload(batch []*item, severity, link string) slackMessage {
	var msg slackMessage
	firing := 0
	for _, it := range batch {
		if it.rec.Status == model.AlertFiring {
			firing++
		}
	}
	switch {
	case len(batch) == 1:
		msg.Text = slackEscaper.Replace(summary(batch[0]))
	default:
		msg.Text = fmt.Sprintf("keytrail: %d unverified privileged actions, %d resolved", firing, len(batch)-firing)
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text",
		Text: fmt.Sprintf("keytrail [%s]: %d firing, %d resolved", severity, firing, len(batch)-firing)}})
	for i, it := range batch {
		if i == slackMaxAlerts {
			msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn",
				Text: fmt.Sprintf("…and %d more alerts", len(batch)-slackMaxAlerts)}}})
			break
		}
		m := it.message(severity, link)
		icon := ":rotating_light:"
		if m.Status == model.AlertResolved {
			icon = ":white_check_mark:"
		}
		text := fmt.Sprintf("%s *%s*\n%s", icon, slackEscaper.Replace(m.Summary), slackEscaper.Replace(m.Description))
		if m.URL != "" {
			text += fmt.Sprintf("\n<%s|open in keytrail>", slackEscaper.Replace(m.URL))
		}
		if len(text) > 2900 { // Slack's section text limit is 3000
			text = text[:2900] + "…"
		}
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: text}})
	}
	return msg
}

// kafkaSender writes one message per alert.
type kafkaSender struct {
	w        *kafka.Writer
	key      string
	severity string
	link     string
	topic    string
}

func newKafkaSender(k KafkaTarget, rl RateLimit, rt Retry, cfg Config) *kafkaSender {
	w := &kafka.Writer{
		Addr:                   kafka.TCP(k.Brokers...),
		Topic:                  k.Topic,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		MaxAttempts:            1, // the notifier retries
		BatchSize:              rl.MaxBatch,
		BatchTimeout:           5 * time.Millisecond,
		WriteTimeout:           rt.Timeout,
		ReadTimeout:            rt.Timeout,
		AllowAutoTopicCreation: false,
	}
	return &kafkaSender{w: w, key: k.Key, severity: cfg.Severity, link: cfg.LinkURL, topic: k.Topic}
}

func (s *kafkaSender) close() error { return s.w.Close() }

func (s *kafkaSender) send(ctx context.Context, batch []*item) error {
	msgs := make([]kafka.Message, 0, len(batch))
	for _, it := range batch {
		v, err := json.Marshal(it.message(s.severity, s.link))
		if err != nil {
			return &deliveryError{err: fmt.Errorf("encode kafka alert: %w", err), permanent: true}
		}
		key := it.fired.ActionID
		if s.key == KeyPerson && it.fired.Person != "" {
			key = it.fired.Person
		}
		msgs = append(msgs, kafka.Message{
			Key:   []byte(key),
			Value: v,
			Headers: []kafka.Header{
				{Key: "keytrail-alert-id", Value: []byte(it.rec.AlertID)},
				{Key: "keytrail-status", Value: []byte(it.rec.Status)},
			},
		})
	}
	if err := s.w.WriteMessages(ctx, msgs...); err != nil {
		return &deliveryError{err: fmt.Errorf("write %d alerts to kafka topic %s: %w", len(msgs), s.topic, err)}
	}
	return nil
}
