package storetest

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
)

// BenchEvents is the number of stored events a store-backed benchmark runs
// at: KEYTRAIL_BENCH_EVENTS, default 1 000 000.
func BenchEvents(b testing.TB) int64 {
	n := int64(1_000_000)
	if v := os.Getenv("KEYTRAIL_BENCH_EVENTS"); v != "" {
		var err error
		n, err = strconv.ParseInt(v, 10, 64)
		require.NoError(b, err, "KEYTRAIL_BENCH_EVENTS")
	}
	return n
}

// SeedPolicy is the policy version of SeedQuarter's correlations.
const SeedPolicy = "bench"

// Settle waits (up to ten minutes) until the engine has finished merging
// what s's database holds, so benchmarks timed one after the other all read
// a settled store rather than the first paying for the seeding's merges.
func Settle(b testing.TB, s store.Store) {
	b.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		merging, err := store.CountRows(ctx, s, "SELECT count() FROM system.merges WHERE database = currentDatabase()")
		require.NoError(b, err)
		if merging == 0 {
			return
		}
	}
}

// SeedQuarter fills the period from–to with n stored events for benchmarks,
// using INSERT … SELECT FROM numbers (no rows through Go): n/2 Airflow audit
// actions of 200 people over 50 DAGs, each correlated under SeedPolicy (a
// third privileged; verdicts verified, weak_factor, stale, no_assertion in
// the ratio 3:1:1:1), n/2 Okta WebAuthn assertions, and the Airflow
// cursor. The caller makes SeedPolicy current.
func SeedQuarter(b testing.TB, s store.Store, n int64, from, to time.Time) {
	ctx := context.Background()
	half := n / 2
	step := to.Sub(from).Milliseconds() / half
	ts := "fromUnixTimestamp64Milli(toInt64(" + strconv.FormatInt(from.UnixMilli(), 10) + " + number * " + strconv.FormatInt(step, 10) + "), 'UTC')"
	h := strconv.FormatInt(half, 10)
	for _, q := range []string{
		`INSERT INTO correlations (action_id, action_ts, instance, kind, channel, action, privileged, dag_id, actor, person, verdict,
			assertion_id, assertion_ts, assertion_age_ms, factor, authenticator_aaguid, authenticator_model, policy_version, reason, computed_at, version)
		SELECT concat('prod/', toString(number + 1)), ` + ts + `, 'prod', 'audit', 'ui', 'trigger', number % 3 = 0,
			concat('dag_', toString(number % 50)), concat('user', toString(number % 200)), concat('user', toString(number % 200), '@example.com'),
			['verified', 'verified', 'verified', 'weak_factor', 'stale', 'no_assertion'][number % 6 + 1],
			concat('okta-', toString(number)), ` + ts + `, 60000, 'webauthn', 'cb69481e-8ff7-4039-93ec-0a2729a154a8', 'YubiKey 5 Series',
			'` + SeedPolicy + `', 'hardware assertion within max_age', ` + ts + `, 1
		FROM numbers(` + h + `)`,
		`INSERT INTO airflow_events (instance, event_log_id, ts, event, channel, action, human, privileged, actor, person, map_index, version)
		SELECT 'prod', number + 1, ` + ts + `, 'trigger', 'ui', 'trigger', 1, number % 3 = 0, concat('user', toString(number % 200)), '', -1, 1
		FROM numbers(` + h + `) WHERE number NOT IN (1000, 1001, 1002, 250000)`,
		`INSERT INTO auth_events (source, instance, event_id, ts, person, subject, email, category, outcome, factor, hardware, credential_id, version)
		SELECT 'okta', 'acme', concat('ev-', toString(number)), ` + ts + `, concat('user', toString(number % 200), '@example.com'),
			concat('00u', toString(number % 200)), concat('user', toString(number % 200), '@example.com'), 'mfa', 'success', 'webauthn', 1,
			concat('cred-', toString(number % 400)), 1
		FROM numbers(` + h + `)`,
	} {
		require.NoError(b, s.Exec(ctx, q))
	}
	require.NoError(b, store.Cursors.Write(ctx, s, []model.Cursor{{Collector: "airflow/prod", Position: "event_log_id=" + h, UpdatedAt: to}}))
}
