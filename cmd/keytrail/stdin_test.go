package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// asKeytrailEnv makes the test binary run as keytrail (TestMain).
const asKeytrailEnv = "KEYTRAIL_TEST_AS_MAIN"

// keytrailProcess returns a command that runs keytrail in its own process,
// with standard input wired as the caller sets it.
func keytrailProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), asKeytrailEnv+"=1")
	return cmd
}

// TestIngestWithStdinData: on the embedded store, data waiting on keytrail's
// standard input never reaches the engine. Ingesting a file succeeds whatever
// stdin holds, `-` reads stdin, and a shell `while read` loop over files
// ingests every file (the engine used to swallow the loop's input).
func TestIngestWithStdinData(t *testing.T) {
	url := "chdb://" + t.TempDir()
	okta := fixture("okta", "logs_page.json")

	t.Run("file with data on stdin", func(t *testing.T) {
		cmd := keytrailProcess(t, "--store", url, "ingest", "--source", "okta", "--instance", "piped", okta)
		cmd.Stdin = strings.NewReader("x\n")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		require.Contains(t, string(out), "14 records, 14 accepted")
	})

	t.Run("dash reads stdin", func(t *testing.T) {
		body, err := os.ReadFile(okta)
		require.NoError(t, err)
		cmd := keytrailProcess(t, "--store", url, "ingest", "--source", "okta", "--instance", "dash", "-")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		require.Contains(t, string(out), "14 records, 14 accepted")
	})

	t.Run("while read loop", func(t *testing.T) {
		dir := t.TempDir()
		var list []string
		for _, name := range []string{"a.json", "b.json", "c.json"} {
			b, err := os.ReadFile(okta)
			require.NoError(t, err)
			p := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(p, b, 0o600))
			list = append(list, p)
		}
		exe, err := os.Executable()
		require.NoError(t, err)
		script := `while read -r f; do
  "$KT" --store "$STORE" ingest --source okta --instance "loop-$(basename "$f" .json)" "$f" >/dev/null || exit 1
  echo "done $f"
done`
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), asKeytrailEnv+"=1", "KT="+exe, "STORE="+url)
		cmd.Stdin = strings.NewReader(strings.Join(list, "\n") + "\n")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		for _, f := range list {
			require.Contains(t, string(out), "done "+f)
		}
		q := keytrailProcess(t, "--store", url, "sql", "SELECT instance, count() FROM raw_records FINAL WHERE instance LIKE 'loop-%' GROUP BY instance ORDER BY instance")
		res, err := q.CombinedOutput()
		require.NoError(t, err, string(res))
		require.Equal(t, "loop-a\t14\nloop-b\t14\nloop-c\t14\n", string(res))
	})
}
