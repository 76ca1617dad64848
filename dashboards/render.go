package dashboards

import (
	"embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/keytrail/keytrail/store"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// GrafanaDialect is the dialect the committed dashboards are rendered for:
// the ClickHouse data source plugin needs a server far newer than 20.1, so
// every timestamp column is a DateTime64(3, 'UTC').
var GrafanaDialect = store.DialectFor("23.8")

// queries holds the panels' SQL templates (sql/*.sql), parsed once.
var queries = template.Must(template.New("").Funcs(template.FuncMap{
	"t":      func(string) string { return "" },
	"bucket": func(string) string { return "" },
}).ParseFS(sqlFiles, "sql/*.sql"))

// Render renders the named SQL template (sql/*.sql) for dialect d. Two
// template functions carry what differs between engines:
//
//   - {{t "col"}} is the timestamp column col as a DateTime: the column
//     itself where timestamps are DateTime64, toDateTime(intDiv(col, 1000),
//     'UTC') where they are Int64 milliseconds (ClickHouse before 20.1).
//   - {{bucket "col"}} is col's time bucket for the panel's interval: the
//     plugin's $__timeInterval(col) where timestamps are DateTime64, else the
//     same epoch-aligned bucket from $__interval_s (toStartOfInterval, which
//     $__timeInterval expands to, does not exist before ClickHouse 19).
//
// Everything else is the same text on every engine.
func Render(d store.Dialect, name string) (string, error) {
	t, err := queries.Clone()
	if err != nil {
		return "", err
	}
	t.Funcs(template.FuncMap{
		"t":      func(col string) string { return timeExpr(d, col) },
		"bucket": func(col string) string { return bucketExpr(d, col) },
	})
	if t.Lookup(name) == nil {
		return "", fmt.Errorf("no SQL template %q in dashboards/sql", name)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, nil); err != nil {
		return "", fmt.Errorf("render SQL %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

func timeExpr(d store.Dialect, col string) string {
	if d.DateTime64 {
		return col
	}
	return "toDateTime(intDiv(" + col + ", 1000), 'UTC')"
}

func bucketExpr(d store.Dialect, col string) string {
	if d.DateTime64 {
		return "$__timeInterval(" + col + ")"
	}
	return "toDateTime(intDiv(intDiv(" + col + ", 1000), $__interval_s) * $__interval_s, 'UTC')"
}
