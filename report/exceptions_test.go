package report

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// exceptionsSource is a period whose first exceptions by time are scheduled
// runs nobody enabled and non-privileged views; the privileged exceptions
// come last, and a manual run carries its trigger's weak verdict.
func exceptionsSource() *memSource {
	var rows []model.Correlation
	ts := t0
	next := func() time.Time { ts = ts.Add(time.Minute); return ts }
	for i := range 600 {
		dag := fmt.Sprintf("hourly_%d", i%3)
		rows = append(rows, model.Correlation{ActionID: fmt.Sprintf("af:%s:scheduled__%04d", dag, i), ActionTS: next(), Instance: "af", Kind: model.KindRun,
			Channel: model.ChannelSystem, Action: model.ActionRun, DagID: dag, RunID: fmt.Sprintf("scheduled__%04d", i), Verdict: model.VerdictUnattributed,
			Reason: "scheduled run with no unpause of the DAG before it", PolicyVersion: "p1"})
	}
	for i := range 300 {
		rows = append(rows, model.Correlation{ActionID: fmt.Sprintf("af:%d", 1000+i), ActionTS: next(), Instance: "af", Kind: model.KindAudit,
			Channel: model.ChannelUI, Action: model.ActionView, DagID: "etl", Actor: "okta_v", Person: fmt.Sprintf("viewer%d@acme.example", i%4),
			Verdict: model.VerdictWeakFactor, Reason: "authenticated with push", PolicyVersion: "p1"})
	}
	for i := range 20 {
		rows = append(rows, model.Correlation{ActionID: fmt.Sprintf("af:%d", 5000+i), ActionTS: next(), Instance: "af", Kind: model.KindAudit,
			Channel: model.ChannelAPI, Action: model.ActionTrigger, Privileged: true, DagID: "etl", Actor: "okta_p", Person: "priv@acme.example",
			Verdict: model.VerdictStale, Reason: "latest hardware-backed assertion is 2h old", PolicyVersion: "p1"})
	}
	rows = append(rows, model.Correlation{ActionID: "af:etl:manual__1", ActionTS: next(), Instance: "af", Kind: model.KindRun, Action: model.ActionRun,
		Privileged: true, DagID: "etl", RunID: "manual__1", Person: "priv@acme.example", Verdict: model.VerdictStale, TriggerActionID: "af:5019",
		Reason: "manual run triggered by af:5019 (stale)", PolicyVersion: "p1"})
	return &memSource{rows: rows}
}

// TestExceptionsBySeverity: the exceptions section starts with the
// privileged human actions, summarises by verdict, person and DAG, lists
// the unattributed runs once per DAG (never one by one), and exceptions.csv
// keeps every row.
func TestExceptionsBySeverity(t *testing.T) {
	opts := testOptions()
	opts.ExceptionsTableCap = 50
	dir, s := writeFixture(t, exceptionsSource(), opts)
	e := s.ExceptionsBy
	require.Equal(t, ExceptionCounts{PrivilegedHuman: 20, OtherHuman: 300, Runs: 1, Unattributed: 600}, e.ExceptionCounts)
	require.EqualValues(t, 921, s.Exceptions)
	require.Equal(t, []VerdictExceptions{
		{"stale", ExceptionCounts{PrivilegedHuman: 20, Runs: 1}},
		{"weak_factor", ExceptionCounts{OtherHuman: 300}},
		{"unattributed", ExceptionCounts{Unattributed: 600}},
	}, e.ByVerdict)
	require.Equal(t, "viewer0@acme.example", e.ByPerson[0].Person)
	require.Equal(t, PersonExceptions{Person: "priv@acme.example", Resolved: true, Verdicts: map[string]int64{"stale": 21},
		ExceptionCounts: ExceptionCounts{PrivilegedHuman: 20, Runs: 1}}, e.ByPerson[len(e.ByPerson)-1])
	var byDAG int64
	for _, d := range e.ByDAG {
		byDAG += d.Total()
	}
	require.Equal(t, s.Exceptions, byDAG)
	require.Len(t, e.UnattributedDAGs, 3)
	for _, u := range e.UnattributedDAGs {
		require.EqualValues(t, 200, u.Runs)
		require.True(t, u.First.Before(u.Last))
	}

	require.Len(t, readCSV(t, filepath.Join(dir, FileExceptions)), 1+921, "exceptions.csv keeps every row")

	text := flat(pdfText(t, filepath.Join(dir, FilePDF)))
	section := text[strings.LastIndex(text, "4. Exceptions"):strings.LastIndex(text, "5. Authenticator inventory")]
	for _, want := range []string{"By verdict", "By person", "By DAG", "Runs with no enabling action (unattributed), once per DAG",
		"hourly_0 200", "Privileged human actions: 20", "Other human actions: 300", "DAG runs attributed to a person: 1"} {
		require.Contains(t, section, want)
	}
	priv := strings.Index(section, "Privileged human actions: 20")
	require.Less(t, priv, strings.Index(section, "Other human actions: 300"), "privileged actions are listed first")
	require.NotContains(t, section, "scheduled__", "unattributed runs are listed per DAG, not one by one")
	require.Contains(t, section, "The first 30 by time; exceptions.csv has all 300.", "the cap is filled most severe first")
	require.Contains(t, section, "Not listed here", "the manual run is past the cap")
}
