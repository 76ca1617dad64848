package dashboards_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/keytrail/keytrail/dashboards"
	"github.com/keytrail/keytrail/store"
)

// datasourceFile is a data source provisioning file.
type datasourceFile struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string         `yaml:"name"`
		UID       string         `yaml:"uid"`
		Type      string         `yaml:"type"`
		Access    string         `yaml:"access"`
		URL       string         `yaml:"url"`
		IsDefault bool           `yaml:"isDefault"`
		Editable  bool           `yaml:"editable"`
		JSONData  map[string]any `yaml:"jsonData"`
		// SecureJSONData holds secrets, which must come from the environment.
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

// providerFile is the provisioning file of the dashboard provider.
type providerFile struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		OrgID                 int    `yaml:"orgId"`
		Folder                string `yaml:"folder"`
		FolderUID             string `yaml:"folderUid"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// alertRuleFile is Grafana's alert rule file provisioning format.
type alertRuleFile struct {
	APIVersion int `yaml:"apiVersion"`
	Groups     []struct {
		OrgID    int    `yaml:"orgId"`
		Name     string `yaml:"name"`
		Folder   string `yaml:"folder"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			UID          string            `yaml:"uid"`
			Title        string            `yaml:"title"`
			Condition    string            `yaml:"condition"`
			Data         []alertQuery      `yaml:"data"`
			DashboardUID string            `yaml:"dashboardUid"`
			PanelID      int               `yaml:"panelId"`
			NoDataState  string            `yaml:"noDataState"`
			ExecErrState string            `yaml:"execErrState"`
			For          string            `yaml:"for"`
			Annotations  map[string]string `yaml:"annotations"`
			Labels       map[string]string `yaml:"labels"`
			IsPaused     bool              `yaml:"isPaused"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type alertQuery struct {
	RefID             string `yaml:"refId"`
	DatasourceUID     string `yaml:"datasourceUid"`
	RelativeTimeRange struct {
		From int `yaml:"from"`
		To   int `yaml:"to"`
	} `yaml:"relativeTimeRange"`
	Model struct {
		RefID      string                   `yaml:"refId"`
		Datasource dashboards.DatasourceRef `yaml:"datasource"`
		EditorType string                   `yaml:"editorType"`
		QueryType  string                   `yaml:"queryType"`
		Format     int                      `yaml:"format"`
		RawSQL     string                   `yaml:"rawSql"`
		Type       string                   `yaml:"type"` // reduce, threshold
		Expression string                   `yaml:"expression"`
		Reducer    string                   `yaml:"reducer"`
		Conditions []map[string]any         `yaml:"conditions"`
	} `yaml:"model"`
}

// query is the rule's ClickHouse query (refId A).
func (f alertRuleFile) query() alertQuery {
	for _, q := range f.Groups[0].Rules[0].Data {
		if q.DatasourceUID == dashboards.DatasourceUID {
			return q
		}
	}
	return alertQuery{}
}

func decodeAlertRule(tb testing.TB, b []byte) alertRuleFile {
	tb.Helper()
	var f alertRuleFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	require.NoError(tb, dec.Decode(&f))
	return f
}

// decodeStrict decodes YAML rejecting unknown keys, so a misspelt key fails.
func decodeStrict(tb testing.TB, name string, v any) {
	tb.Helper()
	b, err := fs.ReadFile(dashboards.Files(), name)
	require.NoError(tb, err)
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	require.NoError(tb, dec.Decode(v), name)
}

// provisionedDatasources returns the provisioned data sources' types by uid.
func provisionedDatasources(tb testing.TB) map[string]string {
	tb.Helper()
	names, err := fs.Glob(dashboards.Files(), "provisioning/datasources/*.yaml")
	require.NoError(tb, err)
	out := map[string]string{}
	for _, n := range names {
		var f datasourceFile
		decodeStrict(tb, n, &f)
		for _, ds := range f.Datasources {
			require.NotContains(tb, out, ds.UID, "data source uid %s provisioned twice", ds.UID)
			out[ds.UID] = ds.Type
		}
	}
	return out
}

// TestGeneratedUpToDate fails when the committed dashboards or alert rule
// differ from what the code generates.
func TestGeneratedUpToDate(t *testing.T) {
	files, err := dashboards.Generate(dashboards.GrafanaDialect)
	require.NoError(t, err)
	committed, err := fs.Glob(dashboards.Files(), "json/*.json")
	require.NoError(t, err)
	committed = append(committed, dashboards.AlertFile)
	for _, name := range committed {
		_, ok := files[name]
		require.True(t, ok, "%s is committed but no longer generated: run `%s`", name, dashboards.GenerateCommand)
	}
	for name, want := range files {
		got, err := fs.ReadFile(dashboards.Files(), name)
		require.NoError(t, err, "%s is not committed: run `%s`", name, dashboards.GenerateCommand)
		require.True(t, string(want) == string(got), "dashboards/%s differs from the generated file: run `%s` and commit the result", name, dashboards.GenerateCommand)
	}
	again, err := dashboards.Generate(dashboards.GrafanaDialect)
	require.NoError(t, err)
	require.Equal(t, files, again, "generation is deterministic")
}

func TestDatasourceProvisioning(t *testing.T) {
	var ch datasourceFile
	decodeStrict(t, "provisioning/datasources/clickhouse.yaml", &ch)
	require.Equal(t, 1, ch.APIVersion)
	require.Len(t, ch.Datasources, 1)
	ds := ch.Datasources[0]
	require.Equal(t, dashboards.DatasourceUID, ds.UID)
	require.Equal(t, dashboards.DatasourceType, ds.Type)
	require.Equal(t, "proxy", ds.Access)
	require.Equal(t, map[string]any{"host": "clickhouse", "port": 9000, "protocol": "native", "secure": false, "username": "keytrail",
		"defaultDatabase": "keytrail", "dialTimeout": 10, "queryTimeout": 60}, ds.JSONData)
	require.Equal(t, map[string]string{"password": "$CLICKHOUSE_PASSWORD"}, ds.SecureJSONData,
		"the password comes from the Grafana container's environment, never from the file")

	var prom datasourceFile
	decodeStrict(t, "provisioning/datasources/prometheus.yaml", &prom)
	require.Len(t, prom.Datasources, 1)
	require.Equal(t, dashboards.PrometheusDatasourceUID, prom.Datasources[0].UID)
	require.Equal(t, dashboards.PrometheusDatasourceType, prom.Datasources[0].Type)
	require.Equal(t, "http://prometheus:9090", prom.Datasources[0].URL)
	require.False(t, prom.Datasources[0].IsDefault, "ClickHouse is the default data source")

	require.Equal(t, map[string]string{dashboards.DatasourceUID: dashboards.DatasourceType,
		dashboards.PrometheusDatasourceUID: dashboards.PrometheusDatasourceType}, provisionedDatasources(t))
}

func TestDashboardProvisioning(t *testing.T) {
	var f providerFile
	decodeStrict(t, "provisioning/dashboards/keytrail.yaml", &f)
	require.Equal(t, 1, f.APIVersion)
	require.Len(t, f.Providers, 1)
	p := f.Providers[0]
	require.Equal(t, "file", p.Type)
	require.Equal(t, "/var/lib/grafana/dashboards", p.Options.Path)
	require.Equal(t, dashboards.AlertFolder, p.Folder, "the alert rule lives in the dashboards' folder")
	require.False(t, p.AllowUIUpdates, "the JSON in the repository is the source of truth")
}

// TestAlertProvisioning checks the alert rule file: its queries name
// provisioned data sources, the expressions chain A → B → C, and it links to
// the Exceptions dashboard's list.
func TestAlertProvisioning(t *testing.T) {
	b, err := fs.ReadFile(dashboards.Files(), dashboards.AlertFile)
	require.NoError(t, err)
	f := decodeAlertRule(t, b)
	require.Equal(t, 1, f.APIVersion)
	require.Len(t, f.Groups, 1)
	g := f.Groups[0]
	require.Equal(t, dashboards.AlertFolder, g.Folder)
	require.Equal(t, "1m", g.Interval)
	require.Len(t, g.Rules, 1)
	r := g.Rules[0]
	require.Equal(t, dashboards.AlertRuleUID, r.UID)
	require.Equal(t, "C", r.Condition)
	require.Equal(t, "OK", r.NoDataState, "the count query always returns a row; no data is not an alert")
	require.Equal(t, "Error", r.ExecErrState, "a query that fails shows as an error, never as normal")
	require.False(t, r.IsPaused)
	require.NotContains(t, r.Annotations["summary"]+r.Annotations["description"], "$",
		"Grafana expands environment variables in provisioning text outside query models")

	sources := provisionedDatasources(t)
	refs := map[string]alertQuery{}
	for _, q := range r.Data {
		require.Equal(t, q.RefID, q.Model.RefID)
		if q.DatasourceUID != "__expr__" {
			require.Contains(t, sources, q.DatasourceUID)
		}
		refs[q.RefID] = q
	}
	a := refs["A"]
	require.Equal(t, dashboards.DatasourceUID, a.DatasourceUID)
	require.Equal(t, 300, a.RelativeTimeRange.From, "the last 5 minutes")
	require.Equal(t, 0, a.RelativeTimeRange.To)
	require.Equal(t, "sql", a.Model.EditorType)
	require.Equal(t, dashboards.FormatTable, a.Model.Format)
	require.Contains(t, a.Model.RawSQL, "$__timeFilter(action_ts)")
	require.Equal(t, "reduce", refs["B"].Model.Type)
	require.Equal(t, "A", refs["B"].Model.Expression)
	require.Equal(t, "threshold", refs["C"].Model.Type)
	require.Equal(t, "B", refs["C"].Model.Expression)

	ds, err := dashboards.Dashboards()
	require.NoError(t, err)
	found := false
	for _, d := range ds {
		for _, p := range d.Panels {
			if d.UID == r.DashboardUID && p.ID == r.PanelID {
				require.Equal(t, dashboards.ExceptionsListTitle, p.Title)
				found = true
			}
		}
	}
	require.True(t, found, "the rule links to an existing panel")
}

// TestComposeMounts checks that docker-compose.yml mounts this directory where
// the provisioning expects it, and runs the Prometheus the data source names.
func TestComposeMounts(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(b, &compose))
	g, ok := compose.Services["grafana"]
	require.True(t, ok, "docker-compose.yml has a grafana service")
	require.Contains(t, g.Volumes, "./dashboards/provisioning:/etc/grafana/provisioning:ro",
		"provisioning/ holds datasources/, dashboards/ and alerting/, where Grafana reads them")
	require.Contains(t, g.Volumes, "./dashboards/json:/var/lib/grafana/dashboards:ro")
	require.Contains(t, g.Environment, "CLICKHOUSE_PASSWORD", "the data source reads $CLICKHOUSE_PASSWORD")
	require.Contains(t, g.Environment["GF_INSTALL_PLUGINS"], dashboards.DatasourceType)
	p, ok := compose.Services["prometheus"]
	require.True(t, ok, "docker-compose.yml runs the Prometheus the data source names")
	require.Contains(t, p.Volumes, "./dashboards/prometheus.yml:/etc/prometheus/prometheus.yml:ro")
	for _, dir := range []string{"datasources", "dashboards", "alerting"} {
		names, err := fs.Glob(dashboards.Files(), "provisioning/"+dir+"/*.yaml")
		require.NoError(t, err)
		require.NotEmpty(t, names, dir)
	}
}

// TestDashboardsWellFormed checks what Grafana needs and what keytrail's
// conventions ask of every committed dashboard.
func TestDashboardsWellFormed(t *testing.T) {
	ds, err := dashboards.Dashboards()
	require.NoError(t, err)
	sources := provisionedDatasources(t)
	uids := map[string]string{}
	var have []string
	for _, d := range ds {
		have = append(have, d.UID)
		b, err := fs.ReadFile(dashboards.Files(), d.File)
		require.NoError(t, err)
		require.True(t, json.Valid(b), d.File)
		require.NotContains(t, string(b), `"datasource": "`, "%s: data sources are referenced by {type, uid}, not by name", d.File)
		require.NotContains(t, uids, d.UID, "%s and %s share uid %s", uids[d.UID], d.File, d.UID)
		uids[d.UID] = d.File
		require.LessOrEqual(t, len(d.UID), 40, "Grafana uids are at most 40 characters")
		require.Equal(t, 42, d.SchemaVersion, "%s: the Grafana 12 dashboard schema", d.File)
		require.Equal(t, d.UID, strings.TrimSuffix(filepath.Base(d.File), ".json"), "file named after its uid")
		require.Contains(t, d.Tags, dashboards.Tag)

		vars := map[string]dashboards.Variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
			if v.Datasource != nil {
				require.Equal(t, sources[v.Datasource.UID], v.Datasource.Type, "%s: variable %s's data source is provisioned", d.UID, v.Name)
			}
		}
		checkGrid(t, d)

		ids := map[int]bool{}
		titles := map[string]bool{}
		for _, p := range d.Panels {
			where := d.UID + ": panel " + p.Title
			require.Positive(t, p.ID, "%s needs an id", where)
			require.False(t, ids[p.ID], "%s: duplicate panel id %d", d.UID, p.ID)
			ids[p.ID] = true
			require.NotEmpty(t, p.Title, "%s: panel %d needs a title", d.UID, p.ID)
			require.False(t, titles[p.Title], "%s: duplicate panel title %q", d.UID, p.Title)
			titles[p.Title] = true
			if p.IsRow() {
				require.Empty(t, p.Targets, "%s: a row queries nothing", where)
				continue
			}
			require.NotEmpty(t, p.Description, "%s needs a description", where)
			require.NotNil(t, p.Datasource, where)
			require.Equal(t, sources[p.Datasource.UID], p.Datasource.Type, "%s: its data source is provisioned", where)
			require.NotEmpty(t, p.Targets, "%s has no query", where)
			for _, l := range allLinks(p) {
				for _, m := range varRefRE.FindAllStringSubmatch(l.URL, -1) {
					name := m[1] + m[2]
					if !strings.HasPrefix(name, "__") {
						require.Contains(t, vars, name, "%s: link %q uses variable %s", where, l.Title, name)
					}
				}
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				where := where + " target " + tg.RefID
				require.NotEmpty(t, tg.RefID, where)
				require.False(t, refs[tg.RefID], "%s: duplicate refId", where)
				refs[tg.RefID] = true
				require.NotNil(t, tg.Datasource, where)
				require.Equal(t, *p.Datasource, *tg.Datasource, where)
				if tg.Datasource.UID == dashboards.PrometheusDatasourceUID {
					checkPromQL(t, where, tg.Expr)
					continue
				}
				checkSQLTarget(t, where, p, tg, vars)
			}
		}
	}
	require.ElementsMatch(t, []string{dashboards.OverviewUID, dashboards.ExceptionsUID, dashboards.KeysUID, dashboards.PipelineUID}, have)
}

var varRefRE = regexp.MustCompile(`\$\{(\w+)[^}]*\}|\$(\w+)`)

func allLinks(p dashboards.Panel) []dashboards.Link {
	out := append(append([]dashboards.Link(nil), p.Links...), p.FieldConfig.Defaults.Links...)
	for _, o := range p.FieldConfig.Overrides {
		for _, prop := range o.Properties {
			if prop.ID == "links" {
				var ls []dashboards.Link
				if json.Unmarshal(prop.Value, &ls) == nil {
					out = append(out, ls...)
				}
			}
		}
	}
	return out
}

// checkGrid: every panel lies within the 24 columns, has a size, and no two
// overlap.
func checkGrid(t *testing.T, d dashboards.Dashboard) {
	t.Helper()
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range d.Panels {
		g := p.GridPos
		require.True(t, g.X >= 0 && g.Y >= 0 && g.W > 0 && g.H > 0 && g.X+g.W <= 24, "%s: panel %q gridPos %+v", d.UID, p.Title, g)
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				require.NotContains(t, taken, cell{x, y}, "%s: panels %q and %q overlap", d.UID, taken[cell{x, y}], p.Title)
				taken[cell{x, y}] = p.Title
			}
		}
	}
}

// checkPromQL: Prometheus targets chart keytrail's metrics, with the labels
// those metrics have.
func checkPromQL(t *testing.T, where, expr string) {
	t.Helper()
	require.NotEmpty(t, expr, where)
	used := metricRE.FindAllString(expr, -1)
	require.NotEmpty(t, used, "%s charts a keytrail metric", where)
	for _, m := range used {
		labels, ok := dashboards.Metrics[m]
		require.True(t, ok, "%s: %s is not one of keytrail's metrics (dashboards.Metrics)", where, m)
		for _, by := range byRE.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(by[1], ",") {
				require.Contains(t, labels, strings.TrimSpace(l), "%s: %s has no label %s", where, m, l)
			}
		}
	}
	if strings.Contains(expr, "rate(") {
		require.Contains(t, expr, "[$__rate_interval]", where)
	}
}

var (
	metricRE = regexp.MustCompile(`\bkeytrail_\w+`)
	byRE     = regexp.MustCompile(`by \(([^)]*)\)`)
)

func checkSQLTarget(t *testing.T, where string, p dashboards.Panel, tg dashboards.Target, vars map[string]dashboards.Variable) {
	t.Helper()
	require.Equal(t, "sql", tg.EditorType, where)
	require.NotEmpty(t, strings.TrimSpace(tg.RawSQL), "%s: no rawSql", where)
	switch p.Type {
	case "timeseries":
		require.Equal(t, dashboards.FormatTimeSeries, tg.Format, where)
		require.Equal(t, dashboards.QueryTypeTimeSeries, tg.QueryType, where)
		require.Contains(t, tg.RawSQL, " AS time", "%s: a time series needs a time column", where)
		require.Contains(t, tg.RawSQL, "ORDER BY time", "%s: sqlds turns long frames wide only when sorted by time", where)
	default:
		require.Equal(t, dashboards.FormatTable, tg.Format, where)
		require.Equal(t, dashboards.QueryTypeTable, tg.QueryType, where)
	}
	if strings.Contains(tg.RawSQL, "FROM correlations") {
		require.Contains(t, tg.RawSQL, currentPolicy, "%s: correlations panels read the current policy version", where)
		require.Contains(t, p.Description, "current policy version", "%s: say so in the description", where)
	}
	for _, m := range fromRE.FindAllStringSubmatchIndex(tg.RawSQL, -1) {
		table := tg.RawSQL[m[2]:m[3]]
		if replacingTables[table] {
			require.Regexp(t, `^\s+FINAL\b`, tg.RawSQL[m[1]:], "%s: %s is a ReplacingMergeTree: read it with FINAL", where, table)
		}
	}
	require.NotContains(t, tg.RawSQL, "_ms(", "%s: the _ms macros expand to fromUnixTimestamp64Milli, which ClickHouse 18.16 lacks", where)
	vs := dashboards.Vars{}
	for name, v := range vars {
		vs[name] = dashboards.Var{All: v.IncludeAll, Multi: v.Multi}
	}
	sql, err := vs.Interpolate(tg.RawSQL)
	require.NoError(t, err, "%s: every variable it uses exists", where)
	r, err := p.TimeRange(time.Now().Add(-24*time.Hour), time.Now())
	require.NoError(t, err, where)
	sql, err = r.Expand(sql)
	require.NoError(t, err, where)
	require.NotContains(t, sql, "$", where)
}

// currentPolicy is how correlations panels pick the current policy version:
// the cursor keytrail's correlator moves (warehouse.CurrentPolicyCursor).
const currentPolicy = "policy_version = (SELECT argMax(position, updated_at) FROM cursors FINAL WHERE collector = 'correlate/policy_version')"

// replacingTables are keytrail's ReplacingMergeTree tables: a replayed row is
// only collapsed by FINAL (or a merge), so panels read them with FINAL.
var replacingTables = map[string]bool{"raw_records": true, "auth_events": true, "authenticators": true,
	"airflow_events": true, "dag_runs": true, "identities": true, "correlations": true, "alerts": true,
	"dead_letters": true, "cursors": true, "reports": true, "conflicts": true, "policies": true, "aaguids": true}

var fromRE = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)`)

// TestRenderDialects: the two template functions are the only difference
// between the SQL for DateTime64 engines and for ClickHouse before 20.1.
func TestRenderDialects(t *testing.T) {
	old := store.DialectFor("18.16.1")
	newer, err := dashboards.Render(dashboards.GrafanaDialect, "overview/actions_by_channel")
	require.NoError(t, err)
	older, err := dashboards.Render(old, "overview/actions_by_channel")
	require.NoError(t, err)
	require.Contains(t, newer, "SELECT $__timeInterval(ts) AS time")
	require.Contains(t, newer, "WHERE $__timeFilter(ts)")
	require.Contains(t, older, "SELECT toDateTime(intDiv(intDiv(ts, 1000), $__interval_s) * $__interval_s, 'UTC') AS time")
	require.Contains(t, older, "WHERE $__timeFilter(toDateTime(intDiv(ts, 1000), 'UTC'))")
	_, err = dashboards.Render(old, "no/such")
	require.Error(t, err)
}

func TestExpandMacros(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 250e6, time.UTC)
	to := time.Date(2026, 3, 8, 12, 30, 15, 999e6, time.UTC)
	r := dashboards.TimeRange{From: from, To: to, Interval: 90 * time.Second}
	fromS, toS := "1772323200", "1772973015"
	for _, tc := range []struct{ in, want string }{
		{"$__fromTime", "toDateTime(" + fromS + ")"},
		{"$__toTime", "toDateTime(" + toS + ")"},
		{"$__fromTime()", "toDateTime(" + fromS + ")"},
		{"$__fromTime_ms", "fromUnixTimestamp64Milli(1772323200250)"},
		{"$__toTime_ms", "fromUnixTimestamp64Milli(1772973015999)"},
		{"WHERE $__timeFilter(ts)", "WHERE ts >= toDateTime(" + fromS + ") AND ts <= toDateTime(" + toS + ")"},
		{"$__timeFilter( t.ts )", "t.ts >= toDateTime(" + fromS + ") AND t.ts <= toDateTime(" + toS + ")"},
		{"$__timeFilter_ms(ts)", "ts >= fromUnixTimestamp64Milli(1772323200250) AND ts <= fromUnixTimestamp64Milli(1772973015999)"},
		{"$__dateFilter(d)", "d >= toDate('2026-03-01') AND d <= toDate('2026-03-08')"},
		{"$__dt(d, ts)", "(d >= toDate('2026-03-01') AND d <= toDate('2026-03-08')) AND (ts >= toDateTime(" + fromS + ") AND ts <= toDateTime(" + toS + "))"},
		{"$__dateTimeFilter(d, ts)", "(d >= toDate('2026-03-01') AND d <= toDate('2026-03-08')) AND (ts >= toDateTime(" + fromS + ") AND ts <= toDateTime(" + toS + "))"},
		{"$__timeInterval(ts) AS time", "toStartOfInterval(toDateTime(ts), INTERVAL 90 second) AS time"},
		{"$__timeInterval(toDateTime64(ts, 3))", "toStartOfInterval(toDateTime(toDateTime64(ts, 3)), INTERVAL 90 second)"},
		{"$__timeInterval_ms(ts)", "toStartOfInterval(toDateTime64(ts, 3), INTERVAL 90000 millisecond)"},
		{"$__interval_s", "90"},
		// Macros inside another macro's argument expand first (the plugin's
		// "#2038 repro" cases).
		{"$__timeInterval($__fromTime)", "toStartOfInterval(toDateTime(toDateTime(" + fromS + ")), INTERVAL 90 second)"},
		{"$__timeFilter(coalesce(c, $__toTime))", "coalesce(c, toDateTime(" + toS + ")) >= toDateTime(" + fromS + ") AND coalesce(c, toDateTime(" + toS + ")) <= toDateTime(" + toS + ")"},
		{"toDateTime(intDiv(intDiv(ts, 1000), $__interval_s) * $__interval_s, 'UTC')", "toDateTime(intDiv(intDiv(ts, 1000), 90) * 90, 'UTC')"},
		// A zero-argument macro does not swallow a later parenthesis.
		{"x >= $__fromTime AND y IN (1, 2)", "x >= toDateTime(" + fromS + ") AND y IN (1, 2)"},
		// Strings and quoted identifiers are left alone; comments are blanked.
		{"SELECT '$__fromTime', \"$__toTime\" -- $__nope\n", "SELECT '$__fromTime', \"$__toTime\" " + strings.Repeat(" ", len("-- $__nope")) + "\n"},
		{"SELECT 'it''s $__x' /* $__y */, 1", "SELECT 'it''s $__x' " + strings.Repeat(" ", len("/* $__y */")) + ", 1"},
		{`SELECT 'it\'s -- fine' AND $__fromTime`, `SELECT 'it\'s -- fine' AND toDateTime(` + fromS + `)`},
		{"$__timeFilter(if(a, ',', b))", "if(a, ',', b) >= toDateTime(" + fromS + ") AND if(a, ',', b) <= toDateTime(" + toS + ")"},
	} {
		got, err := r.Expand(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"$__nope(ts)", "$__timeFilter", "$__timeFilter()", "$__timeFilter(a, b)", "$__fromTime(ts)", "$__timeFilter(ts", "$__dt(a)", "$__timeFilter($__nope)"} {
		_, err := r.Expand(bad)
		require.Error(t, err, bad)
		require.True(t, errors.Is(err, dashboards.ErrMacro), bad)
	}

	// The interval never drops below one second.
	got, err := dashboards.TimeRange{From: from, To: to}.Expand("$__timeInterval(ts) $__interval_s")
	require.NoError(t, err)
	require.Equal(t, "toStartOfInterval(toDateTime(ts), INTERVAL 1 second) 1", got)

	got, err = dashboards.ExpandMacros("$__interval_s", from, from.Add(7*24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, "600", got, "7 days over 1000 points rounds to 10 minutes")
}

// TestInterpolate covers Grafana's frontend step: $__conditionalAll and
// variables as the ClickHouse plugin formats them.
func TestInterpolate(t *testing.T) {
	vs := dashboards.Vars{
		"verdict":  {Values: []string{"stale", "weak_factor"}, Multi: true},
		"one":      {Values: []string{"stale"}, Multi: true},
		"all":      {Values: []string{"a", "b"}, All: true, Multi: true},
		"none":     {Multi: true},
		"url":      {Values: []string{"http://k:8080"}},
		"__hidden": {Values: []string{"x"}},
	}
	for _, tc := range []struct{ in, want string }{
		{"v IN ($verdict)", "v IN ('stale','weak_factor')"},
		{"v IN (${one})", "v IN ('stale')"},
		{"$url/actions", "http://k:8080/actions"},
		{"$__conditionalAll(v IN ($verdict), $verdict)", "v IN ('stale','weak_factor')"},
		{"$__conditionalAll(v IN ($all), $all)", "1=1"},
		{"$__conditionalAll(v IN ($none), ${none})", "1=1"},
		{"a AND $__conditionalAll(v IN ($one), $one) AND $__conditionalAll(w IN ($all), $all)", "a AND v IN ('stale') AND 1=1"},
		{"$__conditionalAll(f(x, y) = 1, $one)", "f(x, y) = 1"},
		{"$__timeFilter(ts) AND $__interval_s", "$__timeFilter(ts) AND $__interval_s"},
	} {
		got, err := vs.Interpolate(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"$nope", "${verdict:singlequote}", "$__conditionalAll(v IN ($x), $x)", "$__conditionalAll(a)", "$__conditionalAll(a, $one"} {
		_, err := vs.Interpolate(bad)
		require.Error(t, err, bad)
		require.True(t, errors.Is(err, dashboards.ErrMacro), bad)
	}
}

func TestIntervals(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"30s", 30 * time.Second}, {"5m", 5 * time.Minute}, {"1h", time.Hour}, {">1h", time.Hour}, {"1d", 24 * time.Hour}, {"2w", 14 * 24 * time.Hour}, {"100ms", 100 * time.Millisecond}} {
		got, err := dashboards.ParseInterval(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"", "h", "0s", "-1m", "1y", "1.5h"} {
		_, err := dashboards.ParseInterval(bad)
		require.Error(t, err, bad)
	}
	for _, tc := range []struct{ in, want time.Duration }{
		{0, 10 * time.Millisecond}, {time.Second, time.Second}, {40 * time.Second, 30 * time.Second},
		{604800 * time.Millisecond, 10 * time.Minute}, {20 * time.Hour, 12 * time.Hour}, {400 * 24 * time.Hour, 365 * 24 * time.Hour},
	} {
		require.Equal(t, tc.want, dashboards.RoundInterval(tc.in), tc.in.String())
	}
	p := dashboards.Panel{Interval: "1h"}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	r, err := p.TimeRange(from, from.Add(24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, time.Hour, r.Interval, "the panel's minimum interval wins over a finer computed one")
	r, err = p.TimeRange(from, from.Add(400*24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 12*time.Hour, r.Interval, "a coarser computed interval wins over the minimum")
}
