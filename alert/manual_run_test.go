package alert_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/alert"
	"github.com/keytrail/keytrail/model"
)

// TestManualRunAlertsLikeItsTrigger: a manual run is its triggering person's
// own act and carries the trigger's verdict; it alerts exactly when the
// trigger does, and the alert names the trigger.
func TestManualRunAlertsLikeItsTrigger(t *testing.T) {
	for _, v := range []model.Verdict{model.VerdictVerified, model.VerdictWeakFactor, model.VerdictStale, model.VerdictNoAssertion, model.VerdictUnknownIdentity} {
		t.Run(string(v), func(t *testing.T) {
			trig := corr("prod/7", v)
			run := corr("prod:etl:manual__1", v)
			run.Kind, run.Action, run.DagID, run.RunID, run.TriggerActionID = model.KindRun, model.ActionRun, "etl", "manual__1", "prod/7"
			require.Equal(t, alert.Unverified(trig), alert.Unverified(run))
			require.Equal(t, v != model.VerdictVerified, alert.Unverified(run))

			h := newHookServer(t)
			n := newNotifier(t, quick(webhookTarget("w", h.URL)), alert.Options{})
			require.NoError(t, n.Handle(context.Background(), run))
			flush(t, n)
			if v == model.VerdictVerified {
				require.Empty(t, h.requests())
				return
			}
			reqs := h.requests()
			require.Len(t, reqs, 1)
			m := decodeWebhook(t, reqs[0].body).Alerts[0]
			require.Equal(t, string(v), m.Verdict)
			require.Equal(t, "prod/7", m.TriggerActionID)
			require.Contains(t, m.Summary, "run manual__1 of DAG etl")
			require.Contains(t, m.Summary, "("+string(v)+", as its trigger prod/7)")
		})
	}
}
