package correlate_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/model"
)

// ExampleSweep correlates a stored history read in time order: a key tap,
// an unpause it backs, and a scheduled run the unpause enabled.
func ExampleSweep() {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	in := correlate.SliceInput(
		[]model.AuthEvent{{Source: model.SourceOkta, Instance: "acme", EventID: "tap1", TS: t0.Add(-2 * time.Minute), Person: "ana",
			Category: model.CategoryMFA, Outcome: model.OutcomeSuccess, Factor: model.FactorWebAuthn, Hardware: model.Bool(true)}},
		nil,
		[]model.AirflowEvent{{Instance: "prod", EventLogID: 7, TS: t0, Channel: model.ChannelUI, Action: model.ActionUnpause,
			Human: true, Actor: "okta_ana", Person: "ana", DagID: "etl"}},
		[]model.DagRun{{Instance: "prod", DagID: "etl", RunID: "scheduled__1", RunType: model.RunScheduled, TS: t0.Add(time.Hour)}},
	)
	err := correlate.Sweep(context.Background(), correlate.DefaultPolicy(), in, func(c model.Correlation) error {
		fmt.Println(c.ActionID, c.Verdict, c.InheritedFrom, c.AssertionID)
		return nil
	})
	fmt.Println(err)
	// Output:
	// prod:7 verified  okta/acme/tap1
	// prod:etl:scheduled__1 inherited prod:7 okta/acme/tap1
	// <nil>
}
