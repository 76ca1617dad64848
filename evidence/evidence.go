// Package evidence is the read model keytrail serves to people and tools:
// pages of correlations under a keyset cursor, the evidence chain behind one
// action's verdict, and coverage (verified shares) grouped by day, person,
// DAG or instance. It holds types only; the warehouse reads them from the
// store and the HTTP server (package server) serves them.
package evidence

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
)

// Filter selects correlations of one policy version.
type Filter struct {
	// PolicyVersion is the version read; "" means the current one.
	PolicyVersion string
	// From and To bound the action time, [From, To); zero ends are open.
	From, To time.Time
	// Verdicts keeps these verdicts only (any when empty).
	Verdicts []model.Verdict
	// Person, Instance and DagID keep exact matches (any when empty).
	Person, Instance, DagID string
	// Privileged keeps privileged (true) or other (false) actions; nil any.
	Privileged *bool
	// Actions keeps these action classes only (any when empty).
	Actions []model.ActionClass
	// Exceptions keeps exceptions only (report.IsException): actions
	// neither verified nor inherited from a verified action.
	Exceptions bool
	// Tiers keeps exceptions of these severity tiers only (any when empty);
	// it implies Exceptions.
	Tiers []report.Tier
	// After continues a listing after this position (exclusive).
	After *Cursor
	// Limit is the page size; at most MaxLimit, DefaultLimit when zero.
	Limit int
}

// Page sizes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Cursor is a position in the listing order, (action time, action id).
type Cursor struct {
	TS       time.Time
	ActionID string
}

// ErrNotFound is wrapped by a reader's error for an action, record or report
// the store does not hold.
var ErrNotFound = errors.New("not found")

// ErrBadCursor is returned by ParseCursor for a cursor it did not make.
var ErrBadCursor = errors.New("bad cursor")

// String encodes c opaquely (URL-safe).
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.TS.UnixMilli(), 10) + "\x00" + c.ActionID))
}

// ParseCursor decodes a cursor String made.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	ms, id, ok := strings.Cut(string(b), "\x00")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{TS: time.UnixMilli(n).UTC(), ActionID: id}, nil
}

// ExceptionCursor is a position in the severity order of exceptions:
// (tier, action time, action id).
type ExceptionCursor struct {
	Tier report.Tier
	Cursor
}

// String encodes c opaquely (URL-safe).
func (c ExceptionCursor) String() string {
	return strconv.Itoa(int(c.Tier)) + "." + c.Cursor.String()
}

// ParseExceptionCursor decodes a cursor ExceptionCursor.String made.
func ParseExceptionCursor(s string) (ExceptionCursor, error) {
	t, rest, ok := strings.Cut(s, ".")
	n, err := strconv.Atoi(t)
	if !ok || err != nil || n < 0 || n > int(report.TierUnattributed) {
		return ExceptionCursor{}, ErrBadCursor
	}
	c, err := ParseCursor(rest)
	if err != nil {
		return ExceptionCursor{}, err
	}
	return ExceptionCursor{Tier: report.Tier(n), Cursor: c}, nil
}

// ExceptionPage is one page of a period's exceptions, most severe first:
// privileged human actions, other human actions, then runs attributed to a
// person, each tier by (action time, action id). Runs nobody is known to
// have enabled are not listed one by one: Unattributed groups them per DAG.
type ExceptionPage struct {
	PolicyVersion string
	Items         []model.Correlation
	// Next is where the following page starts; nil on the last page.
	Next *ExceptionCursor
	// Counts are the filter's exceptions per tier, over every page.
	Counts report.ExceptionCounts
	// Unattributed has one entry per DAG with unattributed runs the filter
	// keeps, most runs first.
	Unattributed []report.UnattributedDAG
}

// Overview is the summary of a period, the numbers its evidence pack
// prints, with the sources' coverage.
type Overview struct {
	PolicyVersion string
	Summary       report.Summary
	Coverage      []model.SourceCoverage
}

// Page is one page of correlations in (action time, action id) order.
type Page struct {
	PolicyVersion string
	Items         []model.Correlation
	// Next is where the following page starts; nil on the last page.
	Next *Cursor
}

// Record is a provider record exactly as stored.
type Record struct {
	Source     model.Source
	Instance   string
	EventID    string
	TS         time.Time
	ReceivedAt time.Time
	Raw        []byte
	SHA256     string
}

// Resolution says how an actor or subject was resolved to a person.
type Resolution struct {
	// Person is the person the resolution gives now.
	Person string
	// Source and Subject name the identity row that decided it, when one did.
	Source  model.Source
	Subject string
	// Origin is model.OriginMapping (an operator mapping row) or
	// model.OriginInferred; "" when nothing resolves.
	Origin string
	// Rule names the inference rule, or the mapping row's form.
	Rule string
}

// Chain is the evidence behind one action's verdict.
type Chain struct {
	Correlation model.Correlation
	// Audit is the Airflow audit row (an audit action) and Run the DAG run
	// (a run); AuditRecord the provider record either came from.
	Audit       *model.AirflowEvent
	Run         *model.DagRun
	AuditRecord *Record
	// Identity is how the actor resolves to the person.
	Identity Resolution
	// Assertion is the authentication the verdict relied on, with its record
	// and how its subject resolves to the person.
	Assertion         *model.AuthEvent
	AssertionRecord   *Record
	AssertionIdentity *Resolution
	// Registration is the latest registration (or removal) of the
	// assertion's credential at or before the assertion, with its record.
	Registration       *model.Authenticator
	RegistrationRecord *Record
	// Inherited is the correlation of the action a run inherits its verdict
	// from.
	Inherited *model.Correlation
}

// GroupBy is a coverage grouping.
type GroupBy string

// Coverage groupings.
const (
	ByDay      GroupBy = "day"
	ByPerson   GroupBy = "person"
	ByDAG      GroupBy = "dag"
	ByInstance GroupBy = "instance"
)

// GroupBys lists the groupings.
var GroupBys = []GroupBy{ByDay, ByPerson, ByDAG, ByInstance}

// CoverageRow is the verdicts of one group.
type CoverageRow struct {
	Key string
	// Actions counts the group's correlations; Verified those verified;
	// InheritedVerified runs inheriting a verified verdict; Unattributed runs
	// nobody enabled; Exceptions the rest (not verified, not inherited from a
	// verified action, not unattributed).
	Actions, Verified, InheritedVerified, Unattributed, Exceptions int64
}

// VerifiedShare is (Verified + InheritedVerified) / Actions, 0 for none.
func (r CoverageRow) VerifiedShare() float64 {
	if r.Actions == 0 {
		return 0
	}
	return float64(r.Verified+r.InheritedVerified) / float64(r.Actions)
}

// Coverage is verified shares of a period.
type Coverage struct {
	PolicyVersion string
	GroupBy       GroupBy
	Rows          []CoverageRow
}

// Stats are store-wide counts for metrics.
type Stats struct {
	// PolicyVersion is the current policy.
	PolicyVersion string
	// Verdicts counts the current policy's correlations by verdict.
	Verdicts map[model.Verdict]int64
	// DeadLetters counts dead letters by source.
	DeadLetters map[model.Source]int64
	// Alerts counts alert deliveries by status (firing, resolved) and
	// whether they were sent.
	Alerts []AlertCount
	// Cursors are the collectors' positions and when each last moved.
	Cursors []model.Cursor
}

// AlertCount counts alert rows of one status and outcome.
type AlertCount struct {
	Status string
	Sent   bool
	N      int64
}
