package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/correlate"
	"github.com/keytrail/keytrail/demo"
	"github.com/keytrail/keytrail/identity"
	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/ingest/enrich"
	"github.com/keytrail/keytrail/internal/oidctest"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/pipeline/correlation"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/server"
	"github.com/keytrail/keytrail/warehouse"
)

const consoleClientID = "keytrail-console"

// seedDemo writes a small demo organisation into w (identity mapping, the
// IdPs' records, then Airflow's) and correlates it; it returns the demo's
// manifest.
func seedDemo(t testing.TB, w *warehouse.Warehouse) demo.Manifest {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	org, err := demo.Generate(demo.Config{People: 8, Days: 3, Seed: 11})
	require.NoError(t, err)
	m, err := org.WriteFiles(dir, nil)
	require.NoError(t, err)
	f, err := os.Open(filepath.Join(dir, m.Mapping))
	require.NoError(t, err)
	rows, err := identity.ParseMapping(f)
	f.Close()
	require.NoError(t, err)
	require.NoError(t, w.ImportIdentities(ctx, rows, time.Now()))
	enr, err := enrich.New(ctx, w, nil)
	require.NoError(t, err)
	for _, fi := range idpFirst(m.Files) {
		b, err := os.ReadFile(filepath.Join(dir, fi.Path))
		require.NoError(t, err)
		in := &ingest.Ingester{Normalizer: normalizer(fi.Source), Instance: fi.Instance, Sink: w, Enricher: enr}
		_, err = in.Ingest(ctx, fi.Path, b)
		require.NoError(t, err, fi.Path)
	}
	_, err = correlation.Correlate(ctx, w, correlate.DefaultPolicy(), correlation.CorrelateOptions{})
	require.NoError(t, err)
	return m
}

// idpFirst orders a demo's files as they are ingested: the identity
// providers' first, then Airflow's (an action correlates against the
// authentications stored before it).
func idpFirst(files []demo.FileInfo) []demo.FileInfo {
	var idp, af []demo.FileInfo
	for _, fi := range files {
		if fi.Source == model.SourceAirflow {
			af = append(af, fi)
		} else {
			idp = append(idp, fi)
		}
	}
	return append(idp, af...)
}

// startConsole runs a server with the console on w, signing in at the
// harness's issuer as a public client.
func startConsole(t testing.TB, w *warehouse.Warehouse) *harness {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := "KT_TEST_CONSOLE_COOKIE_" + strconv.FormatInt(time.Now().UnixNano(), 10)
	t.Setenv(env, secret(hex.EncodeToString(key)))
	h := start(t, w, func(c *server.Config, d *server.Deps) {
		c.Console = server.Console{ClientID: consoleClientID, RedirectURL: "http://" + c.Listen + "/auth/callback",
			CookieKey: server.Secret{Env: env}}
		d.Console, d.Verifier = w.API(), w
	})
	h.Issuer.RegisterClient(consoleClientID, h.URL+"/auth/callback")
	return h
}

// signIn signs a person holding groups in through the issuer and returns a
// client carrying the session, and the session's CSRF token.
func signIn(t testing.TB, h *harness, name string, groups ...string) (*http.Client, string) {
	t.Helper()
	h.Issuer.SetLogin(oidctest.Claims{"sub": "sub-" + name, "name": name, "groups": groups})
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	cl := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := cl.Get(h.URL + "/packs")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, "/packs", resp.Request.URL.Path, "back on the page asked for")
	u, _ := url.Parse(h.URL)
	for _, c := range jar.Cookies(u) {
		secret(c.Value)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(body))
	require.NotNil(t, m, "the page carries the CSRF token")
	return cl, m[1]
}

// page GETs path and returns the status and body.
func page(t testing.TB, cl *http.Client, h *harness, path string) (int, string) {
	t.Helper()
	resp, err := cl.Get(h.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// post sends a form and returns the status, body and final URL.
func post(t testing.TB, cl *http.Client, h *harness, path string, form url.Values, hdr map[string]string) (int, string, *url.URL) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.URL+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := cl.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Request.URL
}

// attr returns the attribute of the element whose attribute sel (e.g.
// data-figure="exceptions") is set.
func attr(t testing.TB, body, sel, name string) int64 {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(sel) + `[^>]*?\s` + regexp.QuoteMeta(name) + `="(-?\d+)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "%s %s", sel, name)
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return n
}

// demoPeriod is the demo's whole period as the console's query.
func demoPeriod(m demo.Manifest) (report.Query, url.Values) {
	from := m.Start.UTC().Truncate(24 * time.Hour)
	to := m.End.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	return report.Query{From: from, To: to}, url.Values{"from": {from.Format(time.DateOnly)}, "to": {to.AddDate(0, 0, -1).Format(time.DateOnly)}}
}

var rowActionRE = regexp.MustCompile(`<tr data-action-id="([^"]+)" data-verdict="([^"]+)"><td>([^<]+)</td>`)

// TestConsole walks the console over HTTP on each engine: sign-in through
// the OIDC code flow with PKCE, the overview's numbers against the pack's
// own path (report.Summarize over every row), every page of exceptions in
// severity order, a filter, the CSV against the pack's exceptions.csv, an
// action's chain, a pack started, downloaded and verified, and the
// refusals: no session, no role, auditor starting a pack, missing or
// foreign CSRF token, cross-site POST, oversized form, a forged callback.
func TestConsole(t *testing.T) {
	for name, s := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			w := warehouse.New(s)
			m := seedDemo(t, w)
			h := startConsole(t, w)
			q, period := demoPeriod(m)

			// No session: pages send people to sign in, the stylesheet is public.
			bare := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for _, p := range []string{"/", "/exceptions?" + period.Encode(), "/exceptions.csv", "/actions/x", "/packs", "/packs/KT-000000000000/files/manifest.json"} {
				resp, err := bare.Get(h.URL + p)
				require.NoError(t, err)
				resp.Body.Close()
				require.Equal(t, http.StatusSeeOther, resp.StatusCode, p)
				require.Equal(t, "/login?next="+url.QueryEscape(p), resp.Header.Get("Location"), p)
			}
			status, b, _ := do(t, http.MethodPost, h.URL+"/packs", nil, nil)
			require.Equal(t, http.StatusUnauthorized, status, string(b))
			resp, err := bare.Get(h.URL + "/static/console.css")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			// The login redirect carries PKCE (S256), state and nonce; the
			// login cookie is HttpOnly and SameSite=Lax.
			resp, err = bare.Get(h.URL + "/login")
			require.NoError(t, err)
			resp.Body.Close()
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			require.Equal(t, "S256", loc.Query().Get("code_challenge_method"))
			for _, k := range []string{"code_challenge", "state", "nonce"} {
				require.NotEmpty(t, loc.Query().Get(k), k)
			}
			ck := resp.Cookies()
			require.Len(t, ck, 1)
			require.True(t, ck[0].HttpOnly)
			require.Equal(t, http.SameSiteLaxMode, ck[0].SameSite)
			// A callback with another sign-in's state is refused.
			status, b, _ = do(t, http.MethodGet, h.URL+"/auth/callback?code=x&state=forged", nil, map[string]string{"Cookie": ck[0].Name + "=" + ck[0].Value})
			require.Equal(t, http.StatusBadRequest, status, string(b))
			require.Contains(t, string(b), "does not belong to this sign-in")

			// Nobody without a role is signed in.
			h.Issuer.SetLogin(oidctest.Claims{"sub": "sub-eve", "name": "Eve", "groups": []string{"staff"}})
			jar, _ := cookiejar.New(nil)
			resp, err = (&http.Client{Jar: jar}).Get(h.URL + "/")
			require.NoError(t, err)
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			require.Contains(t, string(b), "neither the auditor nor the admin role")

			aud, audCSRF := signIn(t, h, "Ana Auditor", "kt-auditors")
			adm, admCSRF := signIn(t, h, "Bo Admin", "kt-admins")

			// Overview: the pack's numbers, computed the pack's way.
			src, err := w.ReportSource(ctx, "")
			require.NoError(t, err)
			want, _, err := report.Summarize(ctx, report.RowTallies(src), q, 0)
			require.NoError(t, err)
			require.Positive(t, want.Exceptions)
			status, body := page(t, aud, h, "/?"+period.Encode())
			require.Equal(t, http.StatusOK, status, body)
			for sel, sh := range map[string]report.Share{"human_verified": want.HumanVerified, "privileged_verified": want.PrivilegedVerified, "runs_attributed": want.RunsAttributed} {
				require.Equal(t, sh.Count, attr(t, body, `data-figure="`+sel+`"`, "data-count"), sel)
				require.Equal(t, sh.Of, attr(t, body, `data-figure="`+sel+`"`, "data-of"), sel)
			}
			require.Equal(t, want.Exceptions, attr(t, body, `data-figure="exceptions"`, "data-count"))
			require.Equal(t, want.Actions, attr(t, body, `data-figure="exceptions"`, "data-of"))
			for _, v := range want.ExceptionsBy.ByVerdict {
				require.Equal(t, v.Total(), attr(t, body, `data-verdict="`+string(v.Verdict)+`"`, "data-total"), v.Verdict)
			}
			for _, d := range want.Daily {
				require.Contains(t, body, `<tr data-day="`+d.Day+`">`)
			}
			require.Contains(t, body, "Ana Auditor")

			// Exceptions: every page, most severe first; the listed rows are
			// the pack's exceptions less the unattributed runs (grouped).
			e := want.ExceptionsBy
			next := "/exceptions?" + period.Encode()
			var listed []string
			lastTier := -1
			for next != "" {
				status, body = page(t, aud, h, next)
				require.Equal(t, http.StatusOK, status, body)
				require.Equal(t, e.Total(), attr(t, body, `data-figure="exception-counts"`, "data-total"))
				require.Equal(t, e.PrivilegedHuman, attr(t, body, `data-figure="exception-counts"`, "data-privileged"))
				for _, r := range rowActionRE.FindAllStringSubmatch(body, -1) {
					listed = append(listed, r[1])
					tier := map[string]int{report.TierPrivileged.Title(): 0, report.TierHuman.Title(): 1, report.TierRun.Title(): 2}[r[3]]
					require.GreaterOrEqual(t, tier, lastTier, "most severe first")
					lastTier = tier
				}
				next = ""
				if m := regexp.MustCompile(`<a href="([^"]+)" rel="next"`).FindStringSubmatch(body); m != nil {
					next = strings.ReplaceAll(m[1], "&amp;", "&")
				}
			}
			require.Len(t, listed, int(e.PrivilegedHuman+e.OtherHuman+e.Runs))
			var unattributed int64
			for _, r := range regexp.MustCompile(`<tr data-dag="[^"]*" data-runs="(\d+)"`).FindAllStringSubmatch(body, -1) {
				n, _ := strconv.ParseInt(r[1], 10, 64)
				unattributed += n
			}
			require.Equal(t, e.Unattributed, unattributed, "unattributed runs grouped per DAG")

			// A filter: one verdict.
			verdict := e.ByVerdict[0]
			fq := url.Values{"verdict": {string(verdict.Verdict)}}
			for k, v := range period {
				fq[k] = v
			}
			status, body = page(t, aud, h, "/exceptions?"+fq.Encode())
			require.Equal(t, http.StatusOK, status, body)
			require.Equal(t, verdict.Total(), attr(t, body, `data-figure="exception-counts"`, "data-total"))
			for _, r := range rowActionRE.FindAllStringSubmatch(body, -1) {
				require.Equal(t, string(verdict.Verdict), r[2])
			}
			// Values are escaped, never markup.
			fq.Set("person", `<script>alert("x")</script>`)
			status, body = page(t, aud, h, "/exceptions?"+fq.Encode())
			require.Equal(t, http.StatusOK, status, body)
			require.NotContains(t, body, "<script>")
			require.Contains(t, body, "&lt;script&gt;")
			status, body = page(t, aud, h, "/exceptions?verdict=%3Cb%3E&"+period.Encode())
			require.Equal(t, http.StatusBadRequest, status)
			require.NotContains(t, body, "<b>")

			// An action's evidence chain, raw records with their digests.
			status, body = page(t, aud, h, "/actions/"+url.PathEscape(listed[0]))
			require.Equal(t, http.StatusOK, status, body)
			require.Contains(t, body, `data-exception="true"`)
			require.Contains(t, body, `href="/v1/actions/`)
			require.Contains(t, body, `data-sha="recomputed"`)
			require.NotContains(t, body, "DIFFER")
			status, _ = page(t, aud, h, "/actions/no-such-action")
			require.Equal(t, http.StatusNotFound, status)

			// Starting a pack is admin-only, and every POST needs the
			// session's CSRF token from the console's own origin.
			form := url.Values{"from": period["from"], "to": period["to"], "csrf": {audCSRF}}
			status, body, _ = post(t, aud, h, "/packs", form, nil)
			require.Equal(t, http.StatusForbidden, status, body)
			require.Contains(t, body, "admin role")
			form.Set("csrf", audCSRF) // another session's token
			status, _, _ = post(t, adm, h, "/packs", form, nil)
			require.Equal(t, http.StatusForbidden, status)
			form.Del("csrf")
			status, _, _ = post(t, adm, h, "/packs", form, nil)
			require.Equal(t, http.StatusForbidden, status)
			form.Set("csrf", admCSRF)
			status, _, _ = post(t, adm, h, "/packs", form, map[string]string{"Sec-Fetch-Site": "cross-site"})
			require.Equal(t, http.StatusForbidden, status)
			big := url.Values{"csrf": {admCSRF}, "pad": {strings.Repeat("x", 100<<10)}}
			status, _, _ = post(t, adm, h, "/packs", big, nil)
			require.Equal(t, http.StatusRequestEntityTooLarge, status)

			status, body, at := post(t, adm, h, "/packs", form, nil)
			require.Equal(t, http.StatusOK, status, body)
			require.True(t, strings.HasPrefix(at.Path, "/packs/KT-"), at.Path)
			packURL := at.Path
			waitState(t, adm, h, packURL, `id="pack" data-state="`, "done")
			status, body = page(t, aud, h, "/packs")
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, body, `data-pack="`+strings.TrimPrefix(packURL, "/packs/")+`" data-state="done"`)

			// The console's CSV without a filter is the pack's exceptions.csv.
			_, packCSV := page(t, aud, h, packURL+"/files/"+report.FileExceptions)
			_, consoleCSV := page(t, aud, h, "/exceptions.csv?"+period.Encode())
			require.Equal(t, packCSV, consoleCSV)
			require.Equal(t, int(want.Exceptions)+1, strings.Count(consoleCSV, "\n"), "a header and one line per exception")
			status, _ = page(t, aud, h, packURL+"/files/..%2Fmanifest.json")
			require.Equal(t, http.StatusNotFound, status)

			// Verification against the store (an auditor may verify).
			status, body, _ = post(t, aud, h, packURL+"/verify", url.Values{"csrf": {audCSRF}}, nil)
			require.Equal(t, http.StatusOK, status, body)
			waitState(t, aud, h, packURL, `id="verification" data-state="`, "ok")

			// Signing out ends the session.
			status, _, at = post(t, aud, h, "/logout", url.Values{"csrf": {audCSRF}}, nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "/signed-out", at.Path)
			resp, err = (&http.Client{Jar: aud.Jar, CheckRedirect: bare.CheckRedirect}).Get(h.URL + "/")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, "sent to sign in again")
		})
	}
}

// waitState reloads path until the attribute prefix pre is followed by
// want; it fails on "failed" or after a minute.
func waitState(t testing.TB, cl *http.Client, h *harness, path, pre, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		status, body := page(t, cl, h, path)
		require.Equal(t, http.StatusOK, status, body)
		i := strings.Index(body, pre)
		if i >= 0 {
			rest := body[i+len(pre):]
			state := rest[:strings.IndexByte(rest, '"')]
			if state == want {
				return
			}
			require.NotContains(t, []string{"failed", "mismatch"}, state, body)
		}
		require.True(t, time.Now().Before(deadline), "%s never reached %s", path, want)
		time.Sleep(200 * time.Millisecond)
	}
}
