package report

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

// pdfPages extracts the text of each page with pdftotext -layout.
func pdfPages(tb testing.TB, path string) []string {
	tb.Helper()
	pdfText(tb, path) // skips (locally) or fails (CI) without poppler-utils
	out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", path, "-").CombinedOutput()
	require.NoError(tb, err, "pdftotext: %s", out)
	pages := strings.Split(string(out), "\f")
	if n := len(pages); n > 0 && strings.TrimSpace(pages[n-1]) == "" {
		pages = pages[:n-1]
	}
	return pages
}

var footerRE = regexp.MustCompile(`Page \d+ of \d+\s*$`)

// lastContentLine is the last line of a page above its footer.
func lastContentLine(page string) string {
	var lines []string
	for _, l := range strings.Split(page, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if n := len(lines); n > 0 && footerRE.MatchString(lines[n-1]) {
		lines = lines[:n-1]
	}
	if len(lines) == 0 {
		return ""
	}
	return flat(lines[len(lines)-1])
}

// TestNoHeadingEndsAPage renders packs of many sizes, so that every table
// and subheading lands at many heights on the page, and requires that no
// page of any of them ends with a subheading or a table header: a heading is
// always kept with the first line or row that follows it.
func TestNoHeadingEndsAPage(t *testing.T) {
	checked := 0
	for n := 12; n <= 400; n += 29 {
		src := fixtureSource()
		src.rows = fixtureRows(n, t0, 14)
		for i := range n % 7 {
			src.auths = append(src.auths, AuthenticatorRow{Person: fmt.Sprintf("p%d@acme.example", i), Source: model.SourceOkta, Instance: "acme.okta.com",
				CredentialID: fmt.Sprintf("c%d", i), Model: "YubiKey 5 NFC", Hardware: model.Bool(true), LastUsedAt: t0.Add(time.Hour), Uses: 1})
		}
		for i := range n % 5 {
			src.cov = append(src.cov, model.SourceCoverage{Source: model.SourceAirflow, Instance: fmt.Sprintf("af-%d", i), First: t0, Last: t0.Add(time.Hour), Events: 10,
				IDRanges: []model.IDRange{{From: 1, To: 4}, {From: 6, To: 9}}, IDGaps: []model.IDRange{{From: 5, To: 5}}})
		}
		opts := testOptions()
		opts.ExceptionsTableCap = 20 + n%60
		dir := t.TempDir()
		_, p, err := writePack(t.Context(), src, opts, dir)
		require.NoError(t, err)
		headings := map[string]bool{}
		for _, h := range p.headings {
			headings[flat(sanitize(h))] = true
		}
		require.NotEmpty(t, headings)
		for i, page := range pdfPages(t, filepath.Join(dir, FilePDF)) {
			last := lastContentLine(page)
			require.False(t, headings[last], "%d rows: page %d ends with the heading %q", n, i+1, last)
			checked++
		}
	}
	t.Logf("%d pages checked", checked)
}
