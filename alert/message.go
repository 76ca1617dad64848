package alert

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
)

// AlertName is the Alertmanager alertname of every keytrail alert.
const AlertName = "KeytrailUnverifiedAction"

// Unverified reports whether c is an alert: a privileged action whose verdict is
// not verified, nor inherited from a verified action.
func Unverified(c model.Correlation) bool {
	return c.Privileged && !verified(c)
}

func verified(c model.Correlation) bool {
	return c.Verdict == model.VerdictVerified ||
		(c.Verdict == model.VerdictInherited && c.InheritedVerdict == model.VerdictVerified)
}

// AlertID is the stable id of the alert for an action under a policy version: the
// first 16 bytes, hex, of SHA-256 over both, each length-prefixed.
func AlertID(actionID, policyVersion string) string {
	h := sha256.New()
	h.Write([]byte("keytrail-alert/v1"))
	for _, s := range []string{actionID, policyVersion} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Message is the JSON form of one alert: an element of the generic webhook's
// "alerts" array and the value of a Kafka message.
type Message struct {
	AlertID          string    `json:"alert_id"`
	Status           string    `json:"status"` // firing or resolved
	Severity         string    `json:"severity"`
	Summary          string    `json:"summary"`
	Description      string    `json:"description"`
	ActionID         string    `json:"action_id"`
	ActionTS         time.Time `json:"action_ts"`
	Instance         string    `json:"instance"`
	Kind             string    `json:"kind"`
	Channel          string    `json:"channel,omitempty"`
	Action           string    `json:"action"`
	DagID            string    `json:"dag_id,omitempty"`
	RunID            string    `json:"run_id,omitempty"`
	Actor            string    `json:"actor,omitempty"`
	Person           string    `json:"person,omitempty"`
	Verdict          string    `json:"verdict"`                     // the verdict that fired the alert
	TriggerActionID  string    `json:"trigger_action_id,omitempty"` // a manual run's trigger, whose verdict it carries
	InheritedFrom    string    `json:"inherited_from,omitempty"`
	InheritedVerdict string    `json:"inherited_verdict,omitempty"`
	Reason           string    `json:"reason,omitempty"`
	PolicyVersion    string    `json:"policy_version"`
	ResolvedVerdict  string    `json:"resolved_verdict,omitempty"` // the verdict that resolved it
	ResolvedBy       string    `json:"resolved_by,omitempty"`      // the assertion id that resolved it
	StartsAt         time.Time `json:"starts_at"`                  // the action's time
	EndsAt           time.Time `json:"ends_at,omitzero"`           // when it was resolved
	URL              string    `json:"url,omitempty"`              // link to the action, from link_url
}

// item is one alert waiting for, or in, delivery to one target.
type item struct {
	rec      model.Alert
	fired    model.Correlation // the correlation that fired the alert
	resolved model.Correlation // the correlation that resolved it (status resolved)
	queuedAt time.Time
}

// message renders it for JSON targets.
func (it *item) message(severity, link string) Message {
	c := it.fired
	m := Message{
		AlertID:          it.rec.AlertID,
		Status:           it.rec.Status,
		Severity:         severity,
		Summary:          summary(it),
		Description:      description(it),
		ActionID:         c.ActionID,
		ActionTS:         model.Millis(c.ActionTS),
		Instance:         c.Instance,
		Kind:             c.Kind,
		Channel:          string(c.Channel),
		Action:           string(c.Action),
		DagID:            c.DagID,
		RunID:            c.RunID,
		Actor:            c.Actor,
		Person:           c.Person,
		Verdict:          string(c.Verdict),
		TriggerActionID:  c.TriggerActionID,
		InheritedFrom:    c.InheritedFrom,
		InheritedVerdict: string(c.InheritedVerdict),
		Reason:           c.Reason,
		PolicyVersion:    c.PolicyVersion,
		StartsAt:         model.Millis(c.ActionTS),
		URL:              linkFor(link, c.ActionID),
	}
	if it.rec.Status == model.AlertResolved {
		m.ResolvedVerdict = string(it.resolved.Verdict)
		m.ResolvedBy = it.resolved.AssertionID
		m.EndsAt = model.Millis(it.rec.ResolvedAt)
	}
	return m
}

func linkFor(tmpl, actionID string) string {
	if tmpl == "" {
		return ""
	}
	return strings.ReplaceAll(tmpl, "{action_id}", url.PathEscape(actionID))
}

func who(c model.Correlation) string {
	switch {
	case c.Person != "":
		return c.Person
	case c.Actor != "":
		return c.Actor
	}
	return "an unknown actor"
}

func summary(it *item) string {
	c := it.fired
	s := fmt.Sprintf("privileged Airflow %s %s by %s was not key-verified (%s)", c.Action, subject(c), who(c), verdictText(c))
	if it.rec.Status == model.AlertResolved {
		return "Resolved: " + s + "; now " + verdictText(it.resolved)
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func subject(c model.Correlation) string {
	switch {
	case c.Kind == model.KindRun && c.DagID != "":
		return fmt.Sprintf("run %s of DAG %s", c.RunID, c.DagID)
	case c.DagID != "":
		return "on DAG " + c.DagID
	}
	return "action"
}

func verdictText(c model.Correlation) string {
	if c.Verdict == model.VerdictInherited && c.InheritedVerdict != "" {
		return fmt.Sprintf("inherited %s from %s", c.InheritedVerdict, c.InheritedFrom)
	}
	if c.TriggerActionID != "" {
		return fmt.Sprintf("%s, as its trigger %s", c.Verdict, c.TriggerActionID)
	}
	return string(c.Verdict)
}

func description(it *item) string {
	c := it.fired
	var b strings.Builder
	fmt.Fprintf(&b, "Action %s on Airflow instance %s at %s", c.ActionID, c.Instance, model.Millis(c.ActionTS).Format(time.RFC3339Nano))
	if c.Channel != "" {
		fmt.Fprintf(&b, " via %s", c.Channel)
	}
	fmt.Fprintf(&b, "; actor %q, person %q; verdict %s", c.Actor, c.Person, verdictText(c))
	if c.Reason != "" {
		fmt.Fprintf(&b, ": %s", c.Reason)
	}
	fmt.Fprintf(&b, "; policy %s.", c.PolicyVersion)
	if it.rec.Status == model.AlertResolved {
		r := it.resolved
		fmt.Fprintf(&b, " Resolved: verdict %s", verdictText(r))
		if r.AssertionID != "" {
			fmt.Fprintf(&b, " by assertion %s", r.AssertionID)
		}
		b.WriteString(".")
	}
	return b.String()
}
