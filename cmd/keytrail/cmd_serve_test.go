package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store/storetest"
)

// TestServeCommand runs keytrail serve with a test config, checks health,
// readiness and metrics, then stops it with its context (as SIGTERM does)
// and expects a clean exit.
func TestServeCommand(t *testing.T) {
	port, err := storetest.FreePort()
	require.NoError(t, err)
	cfg := filepath.Join(t.TempDir(), "serve.yaml")
	t.Setenv("KT_SERVE_TEST_HOOK", "hook-secret-value-0123456789")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`server:
  listen: 127.0.0.1:%d
  intake:
    okta:
      - {instance: acme, authorization: {env: KT_SERVE_TEST_HOOK}}
`, port)), 0o600))
	url := storetest.EmbeddedURL(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb strings.Builder
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--store", url, "serve", "--config", cfg}, strings.NewReader(""), &out, &errb)
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 20*time.Millisecond)
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/hooks/okta/acme", nil)
	req.Header.Set("Authorization", "hook-secret-value-0123456789")
	req.Header.Set("X-Okta-Verification-Challenge", "abc")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	// A delivery is answered 200 once the in-process bus's sink stored it.
	req, _ = http.NewRequest(http.MethodPost, base+"/v1/hooks/okta/acme", strings.NewReader(`{"data":{"events":[{"uuid":"serve-bus-1","published":"2026-11-30T10:00:00.000Z","eventType":"user.session.start","actor":{"id":"00u1","type":"User","alternateId":"a@acme.example"},"outcome":{"result":"SUCCESS"}}]}}`))
	req.Header.Set("Authorization", "hook-secret-value-0123456789")
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = http.Get(base + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	require.Equal(t, 0, <-done, errb.String())
	require.Contains(t, errb.String(), `"msg":"stopped"`)
	require.NotContains(t, errb.String(), "hook-secret-value")
	code, o, e := cli(t, "", "--store", url, "sql", "SELECT (SELECT count() FROM raw_records FINAL WHERE source = 'okta' AND instance = 'acme') + (SELECT count() FROM dead_letters FINAL WHERE source = 'okta')")
	require.Equal(t, 0, code, e)
	require.Equal(t, "1\n", o, "the delivery went through the bus's sink into the store")
	// A config with an unknown key is refused, naming the line.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("server:\n  listen: :1\n  lisen: x\n"), 0o600))
	errb.Reset()
	require.Equal(t, 1, run(context.Background(), []string{"serve", "--config", bad}, strings.NewReader(""), &out, &errb))
	require.Contains(t, errb.String(), "line 3")
}
