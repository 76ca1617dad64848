package intent

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResultErr(t *testing.T) {
	for _, c := range []struct {
		r    Result
		fail bool
	}{
		{Result{Intended: 10, Matched: 10}, false},
		{Result{Intended: 10, Matched: 9, Mismatch: []string{"a:1 verified (intended stale)"}}, true},
		// Every intended verdict right, but a row the generator meant as a
		// system action was correlated as a person's.
		{Result{Intended: 10, Matched: 10, Stray: 1, Mismatch: []string{"a:2 unknown_identity (intended nothing)"}}, true},
	} {
		err := c.r.Err()
		if !c.fail {
			require.NoError(t, err)
			continue
		}
		require.Error(t, err)
		require.Contains(t, err.Error(), c.r.Mismatch[0])
	}
}
