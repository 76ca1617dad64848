// Package dashboards holds keytrail's Grafana dashboards and the Grafana
// provisioning that loads them, embedded so that tests, the binary and the
// compose file all use the same bytes.
//
// The files live beside this package:
//
//	provisioning/datasources/clickhouse.yaml  the ClickHouse data source (grafana-clickhouse-datasource)
//	provisioning/dashboards/keytrail.yaml     the provider that loads json/ from /var/lib/grafana/dashboards
//	json/*.json                               the dashboards (Grafana dashboard JSON)
//
// docker-compose.yml mounts provisioning/ at /etc/grafana/provisioning and
// json/ at /var/lib/grafana/dashboards.
//
// Every panel queries keytrail's ClickHouse tables with raw SQL and the
// plugin's macros. ExpandMacros expands those macros the way the plugin does,
// so the package's tests run every panel's SQL against the embedded engine on
// a seeded database. The dashboards need the DateTime64 schema (ClickHouse
// 20.1 or newer; the plugin itself needs a far newer server).
package dashboards
