package report

import (
	"context"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/model"
)

// Tally is Count correlations counted as one: a store can group the period's
// rows in the engine and hand Summarize the groups, so a summary costs one
// aggregate query instead of streaming the population. The summary of the
// tallies equals the summary of the rows (the pack's) when each group's rows
// agree on every field the summary reads of Row:
//   - of every row: Kind, Verdict, InheritedVerdict, Privileged,
//     PolicyVersion, and the UTC day of ActionTS;
//   - of an exception (IsException) also Instance, DagID, Person, and Actor
//     when Person is "".
//
// Other fields of Row are not read.
type Tally struct {
	Row   model.Correlation
	Count int64
	// First and Last are the earliest and latest ActionTS of the group's rows;
	// both fall on the group's UTC day.
	First, Last time.Time
	// AssertionsAfter counts the group's rows backed by an assertion
	// timestamped after the action (a negative AssertionAgeMS), and
	// MaxAssertionAfterMS is the largest such lag in milliseconds.
	AssertionsAfter     int64
	MaxAssertionAfterMS int64
}

// TallyOf is the tally of the single correlation c.
func TallyOf(c model.Correlation) Tally {
	t := Tally{Row: c, Count: 1, First: c.ActionTS, Last: c.ActionTS}
	if hasAssertion(c) && c.AssertionAgeMS < 0 {
		t.AssertionsAfter, t.MaxAssertionAfterMS = 1, -c.AssertionAgeMS
	}
	return t
}

// TallySource is what Summarize reads: the correlations of a period as
// tallies (in any order), and the authenticator inventory and source
// coverage exactly as a Source gives them.
type TallySource interface {
	// Tallies calls fn for each group of the correlations Source.Correlations
	// would stream for q; together the groups count every row once.
	Tallies(ctx context.Context, q Query, fn func(Tally) error) error
	Authenticators(ctx context.Context, q Query, fn func(AuthenticatorRow) error) error
	Coverage(ctx context.Context, q Query) ([]model.SourceCoverage, error)
}

// RowTallies is the TallySource of src that makes one tally per correlation:
// the evidence pack's own path, for sources that cannot group.
func RowTallies(src Source) TallySource { return rowTallies{src} }

type rowTallies struct{ Source }

func (r rowTallies) Tallies(ctx context.Context, q Query, fn func(Tally) error) error {
	return r.Correlations(ctx, q, func(c model.Correlation) error { return fn(TallyOf(c)) })
}

// Summarize computes the Summary of q — every number the evidence pack of
// the same period and scope prints — from src, without writing a pack. The
// pack-only fields (ReportID, Organisation, Sample) are left empty, so the
// controls that mention the sample say none was drawn. clockSkew is the
// policy's (0 means DefaultClockSkew). It also returns the coverage it read.
func Summarize(ctx context.Context, src TallySource, q Query, clockSkew time.Duration) (Summary, []model.SourceCoverage, error) {
	if q.From.IsZero() || q.To.IsZero() || !q.To.After(q.From) {
		return Summary{}, nil, fmt.Errorf("summary: period [%s, %s) is empty", FormatTime(q.From), FormatTime(q.To))
	}
	if clockSkew == 0 {
		clockSkew = DefaultClockSkew
	}
	q.From, q.To = model.Millis(q.From), model.Millis(q.To)
	cov, err := src.Coverage(ctx, q)
	if err != nil {
		return Summary{}, nil, fmt.Errorf("summary coverage: %w", err)
	}
	agg := newAggregator(q.From, q.To, clockSkew)
	agg.addCoverage(cov)
	if err := src.Tallies(ctx, q, func(t Tally) error { agg.addTally(t); return nil }); err != nil {
		return Summary{}, nil, fmt.Errorf("summary correlations: %w", err)
	}
	if err := src.Authenticators(ctx, q, func(a AuthenticatorRow) error { agg.addAuthenticator(a); return nil }); err != nil {
		return Summary{}, nil, fmt.Errorf("summary authenticators: %w", err)
	}
	agg.s.Scope, agg.s.PeriodFrom, agg.s.PeriodTo = q.Scope(), q.From, q.To
	return agg.finish(), cov, nil
}
