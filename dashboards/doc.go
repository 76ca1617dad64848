// Package dashboards holds keytrail's Grafana dashboards and the Grafana
// provisioning that loads them, embedded so that tests, the binary and the
// compose file all use the same bytes.
//
// The dashboards and the alert rule are built in Go with the Grafana
// foundation SDK (Build, Generate) from the SQL templates in sql/*.sql, and
// written by `go generate ./dashboards` (make dashboards); the files live
// beside this package:
//
//	provisioning/datasources/clickhouse.yaml  the ClickHouse data source (grafana-clickhouse-datasource)
//	provisioning/datasources/prometheus.yaml  the Prometheus that scrapes keytrail serve's /metrics
//	provisioning/dashboards/keytrail.yaml     the provider that loads json/ from /var/lib/grafana/dashboards
//	provisioning/alerting/keytrail.yaml       the alert rule (generated)
//	json/*.json                               the dashboards (generated Grafana dashboard JSON)
//
// docker-compose.yml mounts provisioning/ at /etc/grafana/provisioning and
// json/ at /var/lib/grafana/dashboards.
//
// Every ClickHouse panel queries keytrail's tables with raw SQL, Grafana's
// variables and the plugin's macros. Vars.Interpolate and TimeRange.Expand do
// what Grafana and the plugin do to that SQL at query time, so the package's
// tests run every panel, variable and the alert rule on chDB and on a
// ClickHouse 18.16 server filled with a demo organisation. The committed
// files are rendered for GrafanaDialect (DateTime64 timestamps); Render
// gives the same queries for the Int64-millisecond schema of servers before
// 20.1, which the tests use.
package dashboards
