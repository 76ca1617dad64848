package correlate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/keytrail/keytrail/model"
)

// ErrNoTime marks an event without a time; the correlator cannot place it.
var ErrNoTime = errors.New("event has no time")

// Input is what Batch correlates: four event streams in any order. A nil
// stream is empty. Batch reads each stream once and keeps what it needs in
// memory (compact: a few dozen bytes per authentication and action).
// A store adapter should hand it every event in [from−lookback, to], plus
// the DAGs' latest unpause and backfill request before that (a scheduled run
// inherits from an unpause of any age) and every registration and removal
// of the credentials involved (the engine keeps those regardless of age),
// and keep the correlations whose
// ActionTS lies in [from, to]. An adapter whose iteration can fail records
// the error itself and reports it after Batch returns.
type Input struct {
	// Auth are identity-provider authentication events.
	Auth iter.Seq[model.AuthEvent]
	// Authenticators are authenticator registrations and removals.
	Authenticators iter.Seq[model.Authenticator]
	// Airflow are Airflow audit events; those with Human unset are ignored.
	Airflow iter.Seq[model.AirflowEvent]
	// Runs are DAG runs.
	Runs iter.Seq[model.DagRun]
}

// SliceInput returns an Input over slices, which Batch does not modify.
func SliceInput(auth []model.AuthEvent, authenticators []model.Authenticator, airflow []model.AirflowEvent, runs []model.DagRun) Input {
	return Input{
		Auth:           seqOf(auth),
		Authenticators: seqOf(authenticators),
		Airflow:        seqOf(airflow),
		Runs:           seqOf(runs),
	}
}

func seqOf[T any](s []T) iter.Seq[T] {
	return func(yield func(T) bool) {
		for i := range s {
			if !yield(s[i]) {
				return
			}
		}
	}
}

// Batch correlates every action in in under p and returns one correlation
// per action (audit events by action id, runs by action id; duplicates of an
// id are assumed to be redeliveries of one event), sorted by ActionTS then
// ActionID. The result depends only on p and the events, not on their order
// or the wall clock. It fails on an invalid policy, an event without a time,
// or ctx being done.
func Batch(ctx context.Context, p Policy, in Input) ([]model.Correlation, error) {
	r, err := compile(p)
	if err != nil {
		return nil, fmt.Errorf("batch correlate: %w", err)
	}
	s := newState(r)
	n := 0
	check := func() error {
		n++
		if n&0xfff == 0 {
			return ctx.Err()
		}
		return nil
	}

	var errs []error
	if in.Auth != nil {
		for e := range in.Auth {
			if err := check(); err != nil {
				return nil, fmt.Errorf("batch correlate: %w", err)
			}
			if !isAuthentication(&e) || e.Person == "" {
				continue
			}
			if e.TS.IsZero() {
				errs = append(errs, fmt.Errorf("auth event %s/%s/%s: %w", e.Source, e.Instance, e.EventID, ErrNoTime))
				continue
			}
			p := s.personOf(e.Person)
			p.auths = append(p.auths, toAssertion(&e))
		}
	}
	if in.Authenticators != nil {
		for e := range in.Authenticators {
			if err := check(); err != nil {
				return nil, fmt.Errorf("batch correlate: %w", err)
			}
			k, ce, ok := toCredEvent(&e)
			if !ok {
				continue
			}
			if e.TS.IsZero() {
				errs = append(errs, fmt.Errorf("authenticator event %s/%s/%s: %w", e.Source, e.Instance, e.EventID, ErrNoTime))
				continue
			}
			s.creds[k] = append(s.creds[k], ce)
		}
	}
	var audits, runs []*item
	if in.Airflow != nil {
		for e := range in.Airflow {
			if err := check(); err != nil {
				return nil, fmt.Errorf("batch correlate: %w", err)
			}
			if !isAction(&e) {
				continue
			}
			if e.TS.IsZero() {
				errs = append(errs, fmt.Errorf("airflow event %s: %w", auditID(&e), ErrNoTime))
				continue
			}
			audits = append(audits, s.newAuditItem(&e))
		}
	}
	if in.Runs != nil {
		for e := range in.Runs {
			if err := check(); err != nil {
				return nil, fmt.Errorf("batch correlate: %w", err)
			}
			if e.TS.IsZero() {
				errs = append(errs, fmt.Errorf("dag run %s: %w", runID(&e), ErrNoTime))
				continue
			}
			runs = append(runs, s.newRunItem(&e))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("batch correlate: %w", errors.Join(errs...))
	}

	for _, p := range s.persons {
		slices.SortFunc(p.auths, func(x, y assertion) int {
			if c := cmp.Compare(x.ts, y.ts); c != 0 {
				return c
			}
			return strings.Compare(x.id, y.id)
		})
		p.auths = slices.CompactFunc(p.auths, func(x, y assertion) bool { return x.id == y.id && x.ts == y.ts })
	}
	for k, evs := range s.creds {
		slices.SortFunc(evs, cmpCred)
		s.creds[k] = slices.CompactFunc(evs, func(x, y credEvent) bool { return x.id == y.id && x.ts == y.ts })
	}
	audits = dedupe(audits)
	runs = dedupe(runs)
	appendItem := func(l []*item, it *item) []*item { return append(l, it) } // audits are sorted
	for _, it := range audits {
		if it.linked {
			s.link(it, appendItem)
		}
	}

	for i, it := range audits {
		if i&0xfff == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("batch correlate: %w", ctx.Err())
		}
		s.judge(it)
	}
	for i, it := range runs {
		if i&0xfff == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("batch correlate: %w", ctx.Err())
		}
		s.judge(it)
	}
	// merge the two (ts, id)-sorted lists; ActionTS is ts.
	out := make([]model.Correlation, 0, len(audits)+len(runs))
	i, j := 0, 0
	for i < len(audits) || j < len(runs) {
		if j == len(runs) || i < len(audits) && cmpItem(audits[i], runs[j]) <= 0 {
			out = append(out, audits[i].c)
			i++
		} else {
			out = append(out, runs[j].c)
			j++
		}
	}
	return out, nil
}

// dedupe sorts items by (ts, id) and keeps the first of each id.
func dedupe(l []*item) []*item {
	slices.SortStableFunc(l, cmpItem)
	seen := make(map[string]struct{}, len(l))
	out := l[:0]
	for _, it := range l {
		if _, ok := seen[it.base.ActionID]; ok {
			continue
		}
		seen[it.base.ActionID] = struct{}{}
		out = append(out, it)
	}
	return out
}
