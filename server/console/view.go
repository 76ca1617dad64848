package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html with the shared parts of parts.html.
var pageNames = []string{"overview", "exceptions", "action", "packs", "pack", "error", "signedout"}

// pages holds one template set per page.
type pages struct{ t map[string]*template.Template }

func parsePages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

// render writes page name with v; nothing is written when it fails.
func (p *pages) render(w http.ResponseWriter, status int, name string, v view) error {
	var buf bytes.Buffer
	if err := p.t[name].Execute(&buf, v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	w.WriteHeader(status)
	_, err := io.Copy(w, &buf)
	return err
}

// view is what layout.html renders around a page.
type view struct {
	Title   string
	Nav     string // the navigation entry of the page: overview, exceptions or packs
	User    *session
	CSRF    string
	Version string
	// Refresh reloads the page after this many seconds (a pack in progress).
	Refresh int
	Page    any
}

func (c *Console) view(ec echo.Context, s session, title, nav string) view {
	v := view{Title: title, Nav: nav, Version: c.d.Version}
	if s.Subject != "" {
		v.User, v.CSRF = &s, s.CSRF
	}
	return v
}

// page renders a signed-in page.
func (c *Console) page(ec echo.Context, name, title, nav string, data any, refresh int) error {
	s, _ := c.session(ec)
	v := c.view(ec, s, title, nav)
	v.Page, v.Refresh = data, refresh
	return c.pages.render(ec.Response(), http.StatusOK, name, v)
}

// static serves the embedded stylesheet (cacheable: its name changes with
// the binary's version in the page's link).
func (c *Console) static(ec echo.Context) error {
	name := path.Clean(strings.TrimPrefix(ec.Param("*"), "/"))
	b, err := fs.ReadFile(staticFS, "static/"+name)
	if err != nil || strings.Contains(name, "..") {
		return echo.NewHTTPError(http.StatusNotFound, "no such file")
	}
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	ec.Response().Header().Set("Cache-Control", "public, max-age=3600")
	ec.Response().Header().Set("X-Content-Type-Options", "nosniff")
	return ec.Blob(http.StatusOK, ct, b)
}

var funcs = template.FuncMap{
	"num":     formatNumber,
	"pct":     func(s report.Share) string { return s.Percent() },
	"day":     func(t time.Time) string { return formatDay(t) },
	"minute":  formatMinute,
	"ts":      report.FormatTime,
	"bytes":   formatBytes,
	"tier":    func(t report.Tier) string { return t.Title() },
	"tierOf":  func(c model.Correlation) report.Tier { return report.TierOf(c) },
	"verdict": verdictText,
	"actionURL": func(id string) template.URL {
		return template.URL("/actions/" + url.PathEscape(id))
	},
	"orDash": func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	},
	"add":           func(a, b int) int { return a + b },
	"exceptionsURL": exceptionsURL,
	"join":          strings.Join,
	"deref":         func(b *bool) bool { return b != nil && *b },
	// lastDay is the last day of a half-open period ending at t.
	"lastDay": func(t time.Time) string { return formatDay(t.Add(-time.Nanosecond)) },
}

// formatNumber formats an integer of any type with formatCount.
func formatNumber(n any) string {
	switch v := n.(type) {
	case int:
		return formatCount(int64(v))
	case int64:
		return formatCount(v)
	case uint64:
		return formatCount(int64(v))
	}
	return fmt.Sprint(n)
}

// formatCount writes n with groups of three digits (72,921).
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func formatDay(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.DateOnly)
}

func formatMinute(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// verdictText is a correlation's verdict as the pack labels it: an
// inherited run with the verdict it carries.
func verdictText(c model.Correlation) string {
	if c.Verdict == model.VerdictInherited && c.InheritedVerdict != "" {
		return string(c.Verdict) + " (" + string(c.InheritedVerdict) + ")"
	}
	return string(c.Verdict)
}

// exceptionsURL links the exceptions page of p filtered by the key, value
// pairs kv.
func exceptionsURL(p period, kv ...string) template.URL {
	v := p.values()
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return template.URL("/exceptions?" + v.Encode())
}
