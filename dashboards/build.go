// The dashboards use the SDK's v1 dashboard schema (package dashboard), which
// the SDK marks deprecated in favour of dashboardv2: v1 JSON is what Grafana's
// file provisioning loads (the compose file runs Grafana 12.2).
//lint:file-ignore SA1019 v1 dashboard JSON is what file provisioning loads

package dashboards

import (
	"errors"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/piechart"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/keytrail/keytrail/store"
)

// Dashboard uids: each dashboard's file is json/<uid>.json.
const (
	OverviewUID   = "keytrail-overview"
	ExceptionsUID = "keytrail-exceptions"
	KeysUID       = "keytrail-keys"
	PipelineUID   = "keytrail-pipeline"
)

// Tag is on every keytrail dashboard; the dashboards link to each other by it.
const Tag = "keytrail"

// KeytrailURLVariable is the Exceptions dashboard's variable holding the base
// URL of keytrail serve, for the data links to the console and the API.
const KeytrailURLVariable = "keytrail_url"

// DefaultKeytrailURL is KeytrailURLVariable's default: keytrail serve as
// docker-compose.yml publishes it.
const DefaultKeytrailURL = "http://localhost:8080"

// Metrics are the Prometheus metrics of keytrail serve that the Pipeline
// dashboard charts, with their labels (a test holds them equal to what
// server.NewMetrics registers).
var Metrics = map[string][]string{
	"keytrail_ingest_records_total": {"source", "result"},
	"keytrail_dead_letters":         {"source"},
	"keytrail_cursor_lag_seconds":   {"collector"},
	"keytrail_http_requests_total":  {"method", "route", "code"},
	"keytrail_correlations":         {"verdict"},
	"keytrail_alerts":               {"status", "result"},
}

// Build builds keytrail's dashboards with their SQL rendered for dialect d
// (GrafanaDialect for the committed JSON; tests render the same dashboards
// for the engines they run the panels on).
func Build(d store.Dialect) ([]dashboard.Dashboard, error) {
	var out []dashboard.Dashboard
	for _, build := range []func(*gen) *dashboard.DashboardBuilder{overview, exceptions, keys, pipeline} {
		g := &gen{d: d}
		db, err := build(g).Build()
		if err := errors.Join(append(g.errs, err)...); err != nil {
			return nil, err
		}
		out = append(out, db)
	}
	return out, nil
}

// gen builds one dashboard: it numbers panels and renders their SQL.
type gen struct {
	d    store.Dialect
	id   uint32
	errs []error
}

func (g *gen) nextID() uint32 { g.id++; return g.id }

// sql renders the named query of sql/*.sql.
func (g *gen) sql(name string) string {
	s, err := Render(g.d, name)
	if err != nil {
		g.errs = append(g.errs, err)
	}
	return s
}

// target is a ClickHouse SQL target running the named query.
func (g *gen) target(name string, format int) sqlQueryBuilder {
	return newSQLQuery("A", g.sql(name), format)
}

// newDashboard has what every keytrail dashboard shares: read-only (the JSON
// in the repository is the source of truth), UTC, shared crosshair, and a
// menu of the other keytrail dashboards.
func newDashboard(uid, title, description, from string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{Tag, "security", "airflow"}).
		Readonly().
		Timezone("utc").
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Time(from, "now").
		Refresh("5m").
		Link(dashboard.NewDashboardLinkBuilder("keytrail dashboards").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).
			AsDropdown(true).
			IncludeVars(false).
			KeepTime(true).
			TargetBlank(false).
			Icon("external link").
			Tooltip("").
			Url(""))
}

func steps(colors ...any) []dashboard.Threshold {
	var out []dashboard.Threshold
	for i := 0; i+1 < len(colors); i += 2 {
		var v *float64
		if f, ok := colors[i].(float64); ok {
			v = &f
		}
		out = append(out, dashboard.Threshold{Value: v, Color: colors[i+1].(string)})
	}
	return out
}

func thresholds(colors ...any) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps(colors...))
}

// statPanel is a single-value panel over one row of fields.
func (g *gen) statPanel(title, desc, query, fields, unit string, w uint32, th *dashboard.ThresholdsConfigBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Id(g.nextID()).
		Title(title).
		Description(desc).
		Datasource(clickhouseRef()).
		WithTarget(g.target(query, FormatTable)).
		Span(w).Height(4).
		Unit(unit).
		Thresholds(th).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeValue).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields(fields).Values(false))
}

// seriesPanel is a time series over a ClickHouse query in time series format.
func (g *gen) seriesPanel(title, desc, query, unit string, w, h uint32) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(g.nextID()).
		Title(title).
		Description(desc).
		Datasource(clickhouseRef()).
		WithTarget(g.target(query, FormatTimeSeries)).
		Span(w).Height(h).
		Unit(unit).
		Min(0).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom))
}

// bars makes p a stacked bar chart.
func bars(p *timeseries.PanelBuilder, mode common.StackingMode) *timeseries.PanelBuilder {
	return p.DrawStyle(common.GraphDrawStyleBars).FillOpacity(80).LineWidth(1).
		Stacking(common.NewStackingConfigBuilder().Mode(mode).Group("A"))
}

// tablePanel is a table over a ClickHouse query in table format.
func (g *gen) tablePanel(title, desc, query string, w, h uint32) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Id(g.nextID()).
		Title(title).
		Description(desc).
		Datasource(clickhouseRef()).
		WithTarget(g.target(query, FormatTable)).
		Span(w).Height(h).
		Filterable(true)
}

// piePanel is a pie chart of one numeric column by one label column.
func (g *gen) piePanel(title, desc, query string, w, h uint32) *piechart.PanelBuilder {
	return piechart.NewPanelBuilder().
		Id(g.nextID()).
		Title(title).
		Description(desc).
		Datasource(clickhouseRef()).
		WithTarget(g.target(query, FormatTable)).
		Span(w).Height(h).
		PieType(piechart.PieChartTypeDonut).
		DisplayLabels([]piechart.PieChartLabels{piechart.PieChartLabelsPercent}).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(true)).
		Legend(piechart.NewPieChartLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementRight).Values([]piechart.PieChartLegendValues{piechart.PieChartLegendValuesValue, piechart.PieChartLegendValuesPercent}))
}

// promPanel is a time series over keytrail's Prometheus metrics.
func (g *gen) promPanel(title, desc, unit string, w uint32, exprs ...[2]string) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Id(g.nextID()).
		Title(title).
		Description(desc).
		Datasource(prometheusRef()).
		Span(w).Height(8).
		Unit(unit).
		Min(0).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom))
	for i, e := range exprs {
		p.WithTarget(prometheus.NewDataqueryBuilder().
			RefId(string(rune('A' + i))).
			Datasource(prometheusRef()).
			Expr(e[0]).
			LegendFormat(e[1]).
			Range())
	}
	return p
}

// displayName overrides a field's display name.
func displayName(name string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "displayName", Value: name}}
}

func unitOf(unit string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{{Id: "unit", Value: unit}}
}

// row is a row panel heading a section of a dashboard.
func (g *gen) row(title string) *dashboard.RowBuilder {
	return dashboard.NewRowBuilder(title).Id(g.nextID())
}
