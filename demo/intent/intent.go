// Package intent checks the verdicts stored for a generated organisation
// against the verdicts its generator (package demo) intended: the last step
// of `keytrail demo` and `keytrail demo --live`.
package intent

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/warehouse"
)

// Verdicts are the intended verdicts by action id.
type Verdicts map[string]model.Verdict

// Of returns the verdicts of intents.
func Of(intents []demo.Intent) Verdicts {
	out := make(Verdicts, len(intents))
	for _, it := range intents {
		out[it.ActionID] = it.Verdict
	}
	return out
}

// ReadFile reads the intent file the generator wrote (demo.IntentFile: one
// JSON demo.Intent per line).
func ReadFile(path string) (Verdicts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := Verdicts{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var it demo.Intent
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			return nil, fmt.Errorf("intent %s: %w", path, err)
		}
		out[it.ActionID] = it.Verdict
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("intent %s: %w", path, err)
	}
	return out, nil
}

// maxMismatch is how many differing actions a Result names.
const maxMismatch = 5

// Result is how the stored verdicts compare with the intent.
type Result struct {
	// Verdicts counts the stored verdicts of the current policy.
	Verdicts map[model.Verdict]int
	// Actions is the number of stored correlations of the current policy.
	Actions int
	// Intended is the number of actions with an intended verdict; Matched
	// of them have it.
	Intended, Matched int
	// Stray counts correlated actions the generator never intended (e.g. a
	// system row read as a person's).
	Stray int
	// Mismatch names the first few actions whose verdict differs from the
	// intent, or that have none.
	Mismatch []string
	// Diff counts the differing actions by "intended → stored".
	Diff map[string]int
}

// Compare reads every verdict stored under w's current policy and compares
// it with want.
func Compare(ctx context.Context, w *warehouse.Warehouse, want Verdicts) (Result, error) {
	r := Result{Intended: len(want), Verdicts: map[model.Verdict]int{}, Diff: map[string]int{}}
	version, err := w.CurrentPolicy(ctx)
	if err != nil {
		return r, err
	}
	seen := make(map[string]bool, len(want))
	err = store.Correlations.Read(ctx, w.S, "WHERE policy_version = ? ORDER BY action_ts, action_id", []any{version}, func(c model.Correlation) error {
		r.Actions++
		r.Verdicts[c.Verdict]++
		seen[c.ActionID] = true
		v, ok := want[c.ActionID]
		if !ok {
			r.Stray++
		}
		if ok && v == c.Verdict {
			r.Matched++
			return nil
		}
		r.Diff[cmp.Or(string(v), "nothing")+" → "+string(c.Verdict)]++
		if len(r.Mismatch) < maxMismatch {
			r.Mismatch = append(r.Mismatch, fmt.Sprintf("%s %s (intended %s)", c.ActionID, c.Verdict, cmp.Or(string(v), "nothing")))
		}
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("compare with the intent: %w", err)
	}
	for id, v := range want {
		if !seen[id] {
			r.Diff[string(v)+" → nothing"]++
			if len(r.Mismatch) < maxMismatch {
				r.Mismatch = append(r.Mismatch, id+" has no correlation")
			}
		}
	}
	return r, nil
}

// Err says how the stored verdicts differ from the intent: an intended
// action without its verdict, or a correlated action the generator never
// intended (an Airflow row classified as a human action that is not one),
// is an error; nil when every verdict is the intended one.
func (r Result) Err() error {
	if r.Matched == r.Intended && r.Stray == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d verdicts differ from the generator's intent and %d correlated actions were never intended (first: %s)",
		r.Intended-r.Matched, r.Intended, r.Stray, strings.Join(r.Mismatch, ", "))
}

// verdictOrder is the order verdict tables are printed in.
var verdictOrder = []model.Verdict{model.VerdictVerified, model.VerdictInherited, model.VerdictWeakFactor, model.VerdictStale,
	model.VerdictNoAssertion, model.VerdictUnknownIdentity, model.VerdictUnattributed}

// WriteSummary writes r as the demo summary's verdict table and intent
// lines.
func (r Result) WriteSummary(w io.Writer) {
	for _, v := range verdictOrder {
		fmt.Fprintf(w, "            %-17s %7d\n", v, r.Verdicts[v])
	}
	if r.Verdicts[model.VerdictUnattributed] > 0 {
		fmt.Fprintln(w, "            (unattributed: scheduled and asset runs of DAGs switched on before the data begins)")
	}
	fmt.Fprintf(w, "  intent    %d of %d verdicts as the generator intended\n", r.Matched, r.Intended)
	if r.Stray > 0 {
		fmt.Fprintf(w, "            %d correlated actions the generator never intended\n", r.Stray)
	}
	if len(r.Diff) > 0 {
		keys := slices.Sorted(maps.Keys(r.Diff))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s %d", k, r.Diff[k])
		}
		fmt.Fprintf(w, "            differ (intended → stored): %s\n", strings.Join(parts, ", "))
	}
}

// Counts formats verdict counts on one line, in the summary's order,
// leaving out the verdicts none has.
func Counts(n map[model.Verdict]int) string {
	var parts []string
	for _, v := range verdictOrder {
		if n[v] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", v, n[v]))
		}
	}
	if len(parts) == 0 {
		return "none yet"
	}
	return strings.Join(parts, ", ")
}
