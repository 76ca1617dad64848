package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keytrail/keytrail/evidence"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
)

// parseTimeParam reads an RFC 3339 time or a date (UTC midnight).
func parseTimeParam(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %s=%q: want RFC 3339 or YYYY-MM-DD", ErrBadRequest, name, v)
}

func (s *Server) reader() (Reader, error) {
	if s.d.Reader == nil {
		return nil, fmt.Errorf("%w: no store", ErrUnavailable)
	}
	return s.d.Reader, nil
}

// correlationRow is one correlation as population.jsonl writes it
// (report.PopulationHeader fields).
func correlationRow(c model.Correlation) json.RawMessage {
	return json.RawMessage(bytes.TrimRight(report.AppendJSONRow(nil, c), "\n"))
}

// listCorrelations: GET /v1/correlations — a keyset page.
func (s *Server) listCorrelations(c echo.Context) error {
	r, err := s.reader()
	if err != nil {
		return err
	}
	var f evidence.Filter
	if f.From, err = parseTimeParam(c, "from"); err != nil {
		return err
	}
	if f.To, err = parseTimeParam(c, "to"); err != nil {
		return err
	}
	q := c.QueryParams()
	for _, v := range q["verdict"] {
		for _, one := range strings.Split(v, ",") {
			vd := model.Verdict(strings.TrimSpace(one))
			if !slices.Contains(model.Verdicts, vd) {
				return fmt.Errorf("%w: verdict %q: want one of %v", ErrBadRequest, vd, model.Verdicts)
			}
			f.Verdicts = append(f.Verdicts, vd)
		}
	}
	f.Person, f.Instance, f.DagID, f.PolicyVersion = q.Get("person"), q.Get("instance"), q.Get("dag_id"), q.Get("policy_version")
	if v := q.Get("privileged"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%w: privileged=%q: want true or false", ErrBadRequest, v)
		}
		f.Privileged = &b
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > evidence.MaxLimit {
			return fmt.Errorf("%w: limit=%q: want 1 to %d", ErrBadRequest, v, evidence.MaxLimit)
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		cur, err := evidence.ParseCursor(v)
		if err != nil {
			return fmt.Errorf("%w: cursor: not one this API gave", ErrBadRequest)
		}
		f.After = &cur
	}
	page, err := r.Correlations(c.Request().Context(), f)
	if err != nil {
		return err
	}
	items := make([]json.RawMessage, len(page.Items))
	for i, it := range page.Items {
		items[i] = correlationRow(it)
	}
	out := map[string]any{"policy_version": page.PolicyVersion, "items": items, "next_cursor": nil}
	if page.Next != nil {
		next := page.Next.String()
		out["next_cursor"] = next
		q.Set("cursor", next)
		c.Response().Header().Set("Link", "<"+c.Request().URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	return c.JSON(http.StatusOK, out)
}

// recordView is a raw provider record: its bytes (as JSON text when they are
// JSON, else base64) and their SHA-256.
type recordView struct {
	Source     model.Source    `json:"source"`
	Instance   string          `json:"instance"`
	EventID    string          `json:"event_id"`
	ReceivedAt string          `json:"received_at"`
	SHA256     string          `json:"sha256"`
	Raw        string          `json:"raw"`
	JSON       json.RawMessage `json:"json,omitempty"`
}

func viewRecord(r *evidence.Record) *recordView {
	if r == nil {
		return nil
	}
	v := &recordView{Source: r.Source, Instance: r.Instance, EventID: r.EventID, ReceivedAt: report.FormatTime(r.ReceivedAt),
		SHA256: r.SHA256, Raw: string(r.Raw)}
	if json.Valid(r.Raw) {
		v.JSON = json.RawMessage(r.Raw)
	}
	return v
}

// actionChain: GET /v1/actions/{action_id} — the evidence chain.
func (s *Server) actionChain(c echo.Context) error {
	r, err := s.reader()
	if err != nil {
		return err
	}
	id, err := url.PathUnescape(c.Param("action_id"))
	if err != nil || id == "" {
		return fmt.Errorf("%w: bad action id", ErrBadRequest)
	}
	ch, err := r.Chain(c.Request().Context(), c.QueryParam("policy_version"), id)
	if err != nil {
		return err
	}
	out := map[string]any{
		"action_id":      ch.Correlation.ActionID,
		"correlation":    correlationRow(ch.Correlation),
		"policy_version": ch.Correlation.PolicyVersion,
		"verdict":        ch.Correlation.Verdict,
		"reason":         ch.Correlation.Reason,
		"audit_record":   viewRecord(ch.AuditRecord),
		"identity":       resolutionView(&ch.Identity),
	}
	if ch.Audit != nil {
		out["audit_event"] = map[string]any{"instance": ch.Audit.Instance, "event_log_id": ch.Audit.EventLogID, "ts": report.FormatTime(ch.Audit.TS),
			"event": ch.Audit.Event, "channel": ch.Audit.Channel, "action": ch.Audit.Action, "privileged": ch.Audit.Privileged,
			"owner": ch.Audit.Actor, "dag_id": ch.Audit.DagID, "run_id": ch.Audit.RunID, "person": ch.Audit.Person}
	}
	if ch.Run != nil {
		out["dag_run"] = map[string]any{"instance": ch.Run.Instance, "dag_id": ch.Run.DagID, "run_id": ch.Run.RunID, "run_type": ch.Run.RunType,
			"triggered_by": ch.Run.TriggeredBy, "triggering_user": ch.Run.TriggeringUser, "ts": report.FormatTime(ch.Run.TS), "person": ch.Run.Person}
	}
	if a := ch.Assertion; a != nil {
		out["assertion"] = map[string]any{"id": string(a.Source) + "/" + a.Instance + "/" + a.EventID, "source": a.Source, "instance": a.Instance,
			"event_id": a.EventID, "ts": report.FormatTime(a.TS), "event_type": a.EventType, "subject": a.Subject, "email": a.Email,
			"person": a.Person, "factor": a.Factor, "hardware": a.Hardware, "aaguid": a.AAGUID, "credential_id": a.CredentialID,
			"methods": a.Methods, "detail": a.Detail, "record": viewRecord(ch.AssertionRecord), "identity": resolutionView(ch.AssertionIdentity)}
	}
	if g := ch.Registration; g != nil {
		out["authenticator"] = map[string]any{"source": g.Source, "instance": g.Instance, "event_id": g.EventID, "action": g.Action,
			"ts": report.FormatTime(g.TS), "credential_id": g.CredentialID, "aaguid": g.AAGUID, "model": g.Model, "factor": g.Factor,
			"hardware": g.Hardware, "backup_eligible": g.BackupEligible, "record": viewRecord(ch.RegistrationRecord)}
	}
	if ch.Inherited != nil {
		out["inherited_from"] = correlationRow(*ch.Inherited)
	}
	return c.JSON(http.StatusOK, out)
}

func resolutionView(r *evidence.Resolution) any {
	if r == nil {
		return nil
	}
	return map[string]any{"person": r.Person, "source": r.Source, "subject": r.Subject, "origin": r.Origin, "rule": r.Rule}
}

// coverage: GET /v1/coverage — verified shares by group.
func (s *Server) coverage(c echo.Context) error {
	r, err := s.reader()
	if err != nil {
		return err
	}
	from, err := parseTimeParam(c, "from")
	if err != nil {
		return err
	}
	to, err := parseTimeParam(c, "to")
	if err != nil {
		return err
	}
	g := evidence.GroupBy(c.QueryParam("group_by"))
	if g == "" {
		g = evidence.ByDay
	}
	if !slices.Contains(evidence.GroupBys, g) {
		return fmt.Errorf("%w: group_by=%q: want one of %v", ErrBadRequest, g, evidence.GroupBys)
	}
	cov, err := r.Coverage(c.Request().Context(), c.QueryParam("policy_version"), from, to, g)
	if err != nil {
		return err
	}
	rows := make([]map[string]any, len(cov.Rows))
	for i, row := range cov.Rows {
		rows[i] = map[string]any{"key": row.Key, "actions": row.Actions, "verified": row.Verified,
			"inherited_verified": row.InheritedVerified, "unattributed": row.Unattributed, "exceptions": row.Exceptions,
			"verified_share": row.VerifiedShare()}
	}
	return c.JSON(http.StatusOK, map[string]any{"policy_version": cov.PolicyVersion, "group_by": cov.GroupBy, "rows": rows})
}
