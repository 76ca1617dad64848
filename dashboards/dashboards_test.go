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
)

// datasourceFile is the provisioning file of the ClickHouse data source.
type datasourceFile struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string `yaml:"name"`
		UID       string `yaml:"uid"`
		Type      string `yaml:"type"`
		Access    string `yaml:"access"`
		IsDefault bool   `yaml:"isDefault"`
		Editable  bool   `yaml:"editable"`
		JSONData  struct {
			Host            string `yaml:"host"`
			Port            int    `yaml:"port"`
			Protocol        string `yaml:"protocol"`
			Secure          bool   `yaml:"secure"`
			Username        string `yaml:"username"`
			DefaultDatabase string `yaml:"defaultDatabase"`
			DialTimeout     int    `yaml:"dialTimeout"`
			QueryTimeout    int    `yaml:"queryTimeout"`
		} `yaml:"jsonData"`
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

// decodeStrict decodes YAML rejecting unknown keys, so a misspelt key fails.
func decodeStrict(tb testing.TB, name string, v any) {
	tb.Helper()
	b, err := fs.ReadFile(dashboards.Files(), name)
	require.NoError(tb, err)
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	require.NoError(tb, dec.Decode(v), name)
}

func TestDatasourceProvisioning(t *testing.T) {
	var f datasourceFile
	decodeStrict(t, "provisioning/datasources/clickhouse.yaml", &f)
	require.Equal(t, 1, f.APIVersion)
	require.Len(t, f.Datasources, 1)
	ds := f.Datasources[0]
	require.Equal(t, dashboards.DatasourceUID, ds.UID)
	require.Equal(t, dashboards.DatasourceType, ds.Type)
	require.Equal(t, "proxy", ds.Access)
	require.Equal(t, "clickhouse", ds.JSONData.Host)
	require.Equal(t, 9000, ds.JSONData.Port)
	require.Equal(t, "native", ds.JSONData.Protocol)
	require.False(t, ds.JSONData.Secure)
	require.Equal(t, "keytrail", ds.JSONData.Username)
	require.Equal(t, "keytrail", ds.JSONData.DefaultDatabase)
	require.Equal(t, map[string]string{"password": "$CLICKHOUSE_PASSWORD"}, ds.SecureJSONData,
		"the password comes from the Grafana container's environment, never from the file")
}

func TestDashboardProvisioning(t *testing.T) {
	var f providerFile
	decodeStrict(t, "provisioning/dashboards/keytrail.yaml", &f)
	require.Equal(t, 1, f.APIVersion)
	require.Len(t, f.Providers, 1)
	p := f.Providers[0]
	require.Equal(t, "file", p.Type)
	require.Equal(t, "/var/lib/grafana/dashboards", p.Options.Path)
	require.False(t, p.AllowUIUpdates, "the JSON in the repository is the source of truth")
}

// TestComposeMounts checks that docker-compose.yml mounts this directory where
// the provisioning expects it.
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
	require.Contains(t, g.Volumes, "./dashboards/provisioning:/etc/grafana/provisioning:ro")
	require.Contains(t, g.Volumes, "./dashboards/json:/var/lib/grafana/dashboards:ro")
	require.Contains(t, g.Environment, "CLICKHOUSE_PASSWORD", "the data source reads $CLICKHOUSE_PASSWORD")
	require.Contains(t, g.Environment["GF_INSTALL_PLUGINS"], dashboards.DatasourceType)
}

func TestDashboardsWellFormed(t *testing.T) {
	ds, err := dashboards.Dashboards()
	require.NoError(t, err)
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
		require.GreaterOrEqual(t, d.SchemaVersion, 36, "%s: datasource refs as objects need schemaVersion >= 36", d.File)
		require.Equal(t, d.UID, strings.TrimSuffix(filepath.Base(d.File), ".json"), "file named after its uid")

		ids := map[int]bool{}
		titles := map[string]bool{}
		for _, p := range d.Panels {
			require.Positive(t, p.ID, "%s: panel %q needs an id", d.UID, p.Title)
			require.False(t, ids[p.ID], "%s: duplicate panel id %d", d.UID, p.ID)
			ids[p.ID] = true
			require.NotEmpty(t, p.Title, "%s: panel %d needs a title", d.UID, p.ID)
			require.False(t, titles[p.Title], "%s: duplicate panel title %q", d.UID, p.Title)
			titles[p.Title] = true
			if p.IsRow() {
				require.Empty(t, p.Targets, "%s: row %q queries nothing", d.UID, p.Title)
				continue
			}
			require.NotEmpty(t, p.Description, "%s: panel %q needs a description", d.UID, p.Title)
			require.NotNil(t, p.Datasource, "%s: panel %q", d.UID, p.Title)
			require.Equal(t, dashboards.DatasourceRef{Type: dashboards.DatasourceType, UID: dashboards.DatasourceUID}, *p.Datasource,
				"%s: panel %q", d.UID, p.Title)
			require.NotEmpty(t, p.Targets, "%s: panel %q has no query", d.UID, p.Title)
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				where := d.UID + ": panel " + p.Title + " target " + tg.RefID
				require.NotEmpty(t, tg.RefID, where)
				require.False(t, refs[tg.RefID], "%s: duplicate refId", where)
				refs[tg.RefID] = true
				require.NotNil(t, tg.Datasource, where)
				require.Equal(t, *p.Datasource, *tg.Datasource, where)
				require.Equal(t, "sql", tg.EditorType, where)
				require.NotEmpty(t, strings.TrimSpace(tg.RawSQL), "%s: no rawSql", where)
				switch p.Type {
				case "timeseries":
					require.Equal(t, dashboards.FormatTimeSeries, tg.Format, where)
					require.Equal(t, "timeSeries", tg.QueryType, where)
					require.Contains(t, tg.RawSQL, " AS time", "%s: a time series needs a time column", where)
				default:
					require.Equal(t, dashboards.FormatTable, tg.Format, where)
					require.Equal(t, "table", tg.QueryType, where)
				}
				if strings.Contains(tg.RawSQL, "FROM correlations") {
					require.Contains(t, tg.RawSQL, latestPolicy, "%s: correlations panels use the latest policy version", where)
					require.Contains(t, p.Description, "latest policy version", "%s: say so in the description", where)
				}
				// The latest-policy subquery needs no FINAL: argMax over
				// replayed copies gives the same answer.
				counted := strings.ReplaceAll(tg.RawSQL, latestPolicy, "")
				for _, m := range fromRE.FindAllStringSubmatchIndex(counted, -1) {
					table := counted[m[2]:m[3]]
					if replacingTables[table] {
						require.Regexp(t, `^\s+FINAL\b`, counted[m[1]:], "%s: %s is a ReplacingMergeTree: count it with FINAL", where, table)
					}
				}
				r, err := p.TimeRange(time.Now().Add(-24*time.Hour), time.Now())
				require.NoError(t, err, where)
				sql, err := r.Expand(tg.RawSQL)
				require.NoError(t, err, where)
				require.NotContains(t, sql, "$__", where)
				require.NotContains(t, sql, "${", "%s: no template variables are defined", where)
			}
		}
	}
	require.Subset(t, have, []string{"keytrail-overview", "keytrail-keys"})
}

// latestPolicy is how correlations panels pick the latest policy version.
const latestPolicy = "policy_version = (SELECT argMax(policy_version, computed_at) FROM correlations)"

// replacingTables are keytrail's ReplacingMergeTree tables: a replayed row is
// only collapsed by FINAL (or a merge), so panels read them with FINAL.
var replacingTables = map[string]bool{"raw_records": true, "auth_events": true, "authenticators": true,
	"airflow_events": true, "dag_runs": true, "identities": true, "correlations": true, "alerts": true,
	"dead_letters": true, "cursors": true, "reports": true}

var fromRE = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)`)

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
		// A zero-argument macro does not swallow a later parenthesis.
		{"x >= $__fromTime AND y IN (1, 2)", "x >= toDateTime(" + fromS + ") AND y IN (1, 2)"},
		// Strings and quoted identifiers are left alone; comments are blanked.
		{"SELECT '$__fromTime', \"$__toTime\" -- $__nope\n", "SELECT '$__fromTime', \"$__toTime\" " + strings.Repeat(" ", len("-- $__nope")) + "\n"},
		{"SELECT 'it''s $__x' /* $__y */, 1", "SELECT 'it''s $__x' " + strings.Repeat(" ", len("/* $__y */")) + ", 1"},
		{"$__timeFilter(if(a, ',', b))", "if(a, ',', b) >= toDateTime(" + fromS + ") AND if(a, ',', b) <= toDateTime(" + toS + ")"},
	} {
		got, err := r.Expand(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"$__nope(ts)", "$__timeFilter", "$__timeFilter()", "$__timeFilter(a, b)", "$__fromTime(ts)", "$__timeFilter(ts", "$__dt(a)"} {
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
