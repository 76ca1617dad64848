package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/internal/oidctest"
	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/schema"
	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/storetest"
	"github.com/keytrail/keytrail/warehouse"
)

// browserPath finds Chromium. Without one the test fails when engines are
// required (CI, make test) and is skipped otherwise.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("KEYTRAIL_REQUIRE_ENGINES") != "" || os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH (scripts/setup.sh installs Debian's chromium)")
	}
	t.Skip("no Chromium on PATH; set KEYTRAIL_REQUIRE_ENGINES=1 to fail instead")
	return ""
}

// TestConsoleBrowser drives the console in headless Chromium on a demo
// organisation in chDB: sign-in through the local issuer (code flow with
// PKCE), every page rendered with the store's numbers, a filter applied
// through the form, the filtered CSV downloaded and compared, an action's
// chain opened from the list, a pack started, followed to the end,
// downloaded and verified, an auditor refused the admin-only start, and no
// console error on any page. Screenshots of every page go to the test's
// artifact directory (go test -artifacts keeps them).
func TestConsoleBrowser(t *testing.T) {
	chrome := browserPath(t)
	ctx := context.Background()
	s, err := store.Open(ctx, storetest.EmbeddedURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	_, err = schema.Migrate(ctx, s)
	require.NoError(t, err)
	w := warehouse.New(s)
	m := seedDemo(t, w)
	h := startConsole(t, w)
	q, period := demoPeriod(m)
	src, err := w.ReportSource(ctx, "")
	require.NoError(t, err)
	want, _, err := report.Summarize(ctx, report.RowTallies(src), q, 0)
	require.NoError(t, err)
	shots := t.ArtifactDir()
	downloads := t.TempDir()

	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(1366, 900),
		chromedp.Flag("disable-dev-shm-usage", true))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate("about:blank")))

	// Every console message of every page, kept for the end.
	var mu sync.Mutex
	var messages []chromedp.ConsoleMessage
	cctx, stopConsole := context.WithCancel(bctx)
	defer stopConsole()
	msgs := chromedp.Console(cctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			mu.Lock()
			messages = append(messages, m)
			mu.Unlock()
		}
	}()
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(bctx, 90*time.Second)
		defer cancel()
		require.NoError(t, chromedp.Do(tctx, steps...))
	}
	attrOf := func(sel, name string) int64 {
		t.Helper()
		r, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		require.NoError(t, err)
		require.True(t, r.Exists, "%s %s", sel, name)
		n, err := strconv.ParseInt(r.Value, 10, 64)
		require.NoError(t, err)
		return n
	}
	shot := func(name string) {
		t.Helper()
		b, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644))
	}
	// download clicks sel and returns the downloaded file's bytes.
	download := func(sel string) []byte {
		t.Helper()
		progress := chromedp.Events(bctx, browser.DownloadProgress) // subscribed before the click; one use
		run(func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: new(true)})
			return chromedp.Void{}, err
		}, chromedp.Click(chromedp.CSS(sel)))
		for ev, err := range progress {
			require.NoError(t, err)
			if ev.State == browser.DownloadProgressStateCanceled {
				t.Fatalf("download of %s cancelled", sel)
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				b, err := os.ReadFile(filepath.Join(downloads, ev.GUID))
				require.NoError(t, err)
				return b
			}
		}
		t.Fatal("no download")
		return nil
	}

	// Sign in as an admin: the console sends the browser to the issuer and back.
	h.Issuer.SetLogin(oidctest.Claims{"sub": "sub-bo", "name": "Bo Admin", "groups": []string{"kt-admins"}})
	run(chromedp.Navigate(h.URL+"/?"+period.Encode()), chromedp.WaitVisible(chromedp.CSS(`[data-figure="exceptions"]`)))
	loc, err := chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc, h.URL+"/?"), loc)
	role, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".role")))
	require.NoError(t, err)
	require.Equal(t, "admin", role)

	// Overview: the numbers on the page are the store's.
	require.Equal(t, want.HumanVerified.Count, attrOf(`[data-figure="human_verified"]`, "data-count"))
	require.Equal(t, want.PrivilegedVerified.Count, attrOf(`[data-figure="privileged_verified"]`, "data-count"))
	require.Equal(t, want.Exceptions, attrOf(`[data-figure="exceptions"]`, "data-count"))
	require.Equal(t, want.Actions, attrOf(`[data-figure="exceptions"]`, "data-of"))
	bars, err := chromedp.Run(bctx, chromedp.Nodes(chromedp.CSSAll(`svg g.day`), chromedp.AtLeast(0)))
	require.NoError(t, err)
	require.Len(t, bars, len(want.Daily), "one bar per day")
	shot("overview")

	// Exceptions: a filter applied through the form.
	v := want.ExceptionsBy.ByVerdict[0]
	run(chromedp.Navigate(h.URL+"/exceptions?"+period.Encode()), chromedp.WaitVisible(chromedp.CSS(`#exceptions`)))
	require.Equal(t, want.ExceptionsBy.Total(), attrOf(`[data-figure="exception-counts"]`, "data-total"))
	shot("exceptions")
	run(chromedp.SetValue(chromedp.CSS(`#verdict`), string(v.Verdict)),
		chromedp.Click(chromedp.CSS(`form.filters button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href*="verdict=`+string(v.Verdict)+`"]#csv-link`)))
	require.Equal(t, v.Total(), attrOf(`[data-figure="exception-counts"]`, "data-total"))
	shot("exceptions-filtered")

	// The filtered CSV, downloaded: the pack's header, one row per exception
	// of the verdict, in the pack's columns.
	csvBytes := download(`#csv-link`)
	lines := strings.Split(strings.TrimSuffix(string(csvBytes), "\n"), "\n")
	require.Equal(t, strings.Join(report.PopulationHeader, ","), lines[0])
	require.Len(t, lines, int(v.Total())+1)
	col := -1
	for i, c := range report.PopulationHeader {
		if c == "verdict" {
			col = i
		}
	}
	require.GreaterOrEqual(t, col, 0)
	for _, l := range lines[1:] {
		require.Equal(t, string(v.Verdict), strings.Split(l, ",")[col], l)
	}

	// An action's chain, opened from the list.
	first, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(`#exceptions tbody tr`), "data-action-id"))
	require.NoError(t, err)
	run(chromedp.Click(chromedp.CSS(`#exceptions tbody tr th a`)), chromedp.WaitVisible(chromedp.CSS(`#verdict`)))
	title, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`h1 code`)))
	require.NoError(t, err)
	require.Equal(t, first.Value, title)
	run(chromedp.Click(chromedp.CSS(`details.record summary`)))
	shot("action")

	// A pack: started from the form, followed to the end, downloaded, verified.
	run(chromedp.Navigate(h.URL+"/packs"), chromedp.WaitVisible(chromedp.CSS(`#start-pack`)),
		chromedp.SetValue(chromedp.CSS(`#from`), period.Get("from")), chromedp.SetValue(chromedp.CSS(`#to`), period.Get("to")))
	shot("packs")
	run(chromedp.Click(chromedp.CSS(`#start-pack button`)), chromedp.WaitVisible(chromedp.CSS(`#pack[data-state="done"]`)))
	shot("pack")
	var manifest model.Manifest
	require.NoError(t, json.Unmarshal(download(`tr[data-file="manifest.json"] a`), &manifest))
	loc, err = chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, "/packs/"+manifest.ReportID, mustURL(t, loc).Path)
	require.True(t, manifest.PeriodFrom.Equal(q.From) && manifest.PeriodTo.Equal(q.To), "the pack covers the period asked for")
	run(chromedp.Click(chromedp.CSS(`#verify`)), chromedp.WaitVisible(chromedp.CSS(`#verification[data-state="ok"]`)))
	shot("pack-verified")

	mu.Lock()
	require.Empty(t, messages, "no console message on any page")
	mu.Unlock()

	// Signed out, then in as an auditor: no start form, and a start forced
	// through a form of the page is refused.
	run(chromedp.Click(chromedp.CSS(`.user button`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/login"]`)))
	h.Issuer.SetLogin(oidctest.Claims{"sub": "sub-ana", "name": "Ana Auditor", "groups": []string{"kt-auditors"}})
	run(chromedp.Navigate(h.URL+"/packs"), chromedp.WaitVisible(chromedp.CSS(`#packs`)))
	role, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".role")))
	require.NoError(t, err)
	require.Equal(t, "auditor", role)
	forms, err := chromedp.Run(bctx, chromedp.Nodes(chromedp.CSSAll(`#start-pack`), chromedp.AtLeast(0)))
	require.NoError(t, err)
	require.Empty(t, forms)
	shot("packs-auditor")
	_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => {
		const f = document.createElement("form"); f.method = "post"; f.action = "/packs";
		for (const [k, v] of [["csrf", document.querySelector("input[name=csrf]").value], ["from", "`+period.Get("from")+`"], ["to", "`+period.Get("to")+`"]]) {
			const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
		}
		document.body.appendChild(f); f.submit(); return true; })()`))
	require.NoError(t, err)
	run(chromedp.WaitVisible(chromedp.CSS(`[data-code="Forbidden"]`)))
	heading, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`h1`)))
	require.NoError(t, err)
	require.Equal(t, "403 Forbidden", heading)
	shot("refused")
	stopConsole()
	mu.Lock()
	defer mu.Unlock()
	for _, m := range messages {
		require.Contains(t, m.Text, "403", "only the refused start is logged: %s", m)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}
