package dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed json/*.json provisioning/datasources/*.yaml provisioning/dashboards/*.yaml provisioning/alerting/*.yaml
var files embed.FS

// Files returns the embedded files: json/*.json and provisioning/… as they
// are laid out in this directory.
func Files() fs.FS { return files }

// DatasourceRef names a data source by plugin type and uid.
type DatasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Target is one query of a panel: ClickHouse SQL (RawSQL) or PromQL (Expr).
type Target struct {
	RefID      string         `json:"refId"`
	Datasource *DatasourceRef `json:"datasource"`
	EditorType string         `json:"editorType"` // "sql" for raw SQL
	QueryType  string         `json:"queryType"`  // QueryTypeTable or QueryTypeTimeSeries
	Format     int            `json:"format"`     // FormatTimeSeries or FormatTable
	RawSQL     string         `json:"rawSql"`
	Expr       string         `json:"expr"` // a Prometheus target's PromQL
}

// GridPos is a panel's place on the dashboard's 24-column grid.
type GridPos struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

// Link is a panel link or a field's data link.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Property is one property of a field override.
type Property struct {
	ID    string          `json:"id"`
	Value json.RawMessage `json:"value"`
}

// Override sets properties of the fields a matcher picks.
type Override struct {
	Matcher struct {
		ID      string `json:"id"`      // "byName" picks the field named Options
		Options string `json:"options"` // the field name
	} `json:"matcher"`
	Properties []Property `json:"properties"`
}

// FieldConfig is a panel's field configuration.
type FieldConfig struct {
	Defaults struct {
		Unit  string `json:"unit"`
		Links []Link `json:"links"`
	} `json:"defaults"`
	Overrides []Override `json:"overrides"`
}

// Options are the panel options keytrail checks: which fields a stat or pie
// chart reduces.
type Options struct {
	ReduceOptions struct {
		Fields string `json:"fields"` // a field name or /regexp/
	} `json:"reduceOptions"`
}

// Variable is a dashboard template variable.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"` // query, custom, textbox…
	Query      json.RawMessage `json:"query"`
	Datasource *DatasourceRef  `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// Panel is one panel of a dashboard. Row panels carry no targets; a collapsed
// row's panels are listed after it in Dashboard.Panels.
type Panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Datasource  *DatasourceRef `json:"datasource"`
	Interval    string         `json:"interval"` // minimum interval, e.g. "1h"; empty for none
	Targets     []Target       `json:"targets"`
	Panels      []Panel        `json:"panels"` // a collapsed row's panels
	GridPos     GridPos        `json:"gridPos"`
	Links       []Link         `json:"links"`
	FieldConfig FieldConfig    `json:"fieldConfig"`
	Options     Options        `json:"options"`
}

// IsRow reports whether p is a row, which groups panels and queries nothing.
func (p Panel) IsRow() bool { return p.Type == "row" }

// TimeRange returns the range p's queries are expanded for over [from, to]:
// Grafana's interval for the range, raised to the panel's minimum interval.
func (p Panel) TimeRange(from, to time.Time) (TimeRange, error) {
	r := TimeRange{From: from, To: to, Interval: DefaultInterval(from, to)}
	if p.Interval == "" {
		return r, nil
	}
	min, err := ParseInterval(p.Interval)
	if err != nil {
		return TimeRange{}, fmt.Errorf("panel %d %q: %w", p.ID, p.Title, err)
	}
	r.Interval = max(r.Interval, min)
	return r, nil
}

// ParseInterval parses a Grafana interval such as "30s", "5m", "1h", "1d" or
// "1w"; a leading ">" (a minimum, in older dashboards) is accepted.
func ParseInterval(s string) (time.Duration, error) {
	v := strings.TrimPrefix(strings.TrimSpace(s), ">")
	units := []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			k, err := strconv.Atoi(n)
			if err == nil && k > 0 {
				return time.Duration(k) * u.d, nil
			}
			break
		}
	}
	return 0, fmt.Errorf("bad interval %q (want e.g. 30s, 5m, 1h, 1d)", s)
}

// Dashboard is the part of a Grafana dashboard keytrail checks and uses.
type Dashboard struct {
	File          string   `json:"-"` // path within Files()
	UID           string   `json:"uid"`
	Title         string   `json:"title"`
	Tags          []string `json:"tags"`
	SchemaVersion int      `json:"schemaVersion"`
	Panels        []Panel  `json:"panels"` // flattened: a collapsed row's panels follow the row
	Templating    struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Dashboards parses every embedded dashboard, in file-name order.
func Dashboards() ([]Dashboard, error) {
	names, err := fs.Glob(files, "json/*.json")
	if err != nil {
		return nil, fmt.Errorf("list dashboards: %w", err)
	}
	sort.Strings(names)
	out := make([]Dashboard, 0, len(names))
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read dashboard %s: %w", name, err)
		}
		d, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", path.Base(name), err)
		}
		d.File = name
		out = append(out, d)
	}
	return out, nil
}

// Parse decodes a dashboard's JSON and flattens collapsed rows.
func Parse(b []byte) (Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return Dashboard{}, fmt.Errorf("decode dashboard JSON: %w", err)
	}
	if d.UID == "" || d.Title == "" {
		return Dashboard{}, fmt.Errorf("dashboard needs a uid and a title (uid %q, title %q)", d.UID, d.Title)
	}
	var flat []Panel
	for _, p := range d.Panels {
		nested := p.Panels
		p.Panels = nil
		flat = append(flat, p)
		flat = append(flat, nested...)
	}
	d.Panels = flat
	return d, nil
}
