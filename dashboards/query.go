package dashboards

import (
	"errors"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// Data source uids and plugin types: the provisioning files
// (provisioning/datasources/*.yaml) define data sources with these uids, and
// every panel names its data source by them.
const (
	DatasourceUID            = "keytrail-clickhouse"
	DatasourceType           = "grafana-clickhouse-datasource"
	PrometheusDatasourceUID  = "keytrail-prometheus"
	PrometheusDatasourceType = "prometheus"
)

// Query formats of the ClickHouse plugin (the "format" field of a target,
// sqlds' FormatQueryOption) and the matching "queryType" of its SQL editor.
const (
	FormatTimeSeries = 0
	FormatTable      = 1

	QueryTypeTimeSeries = "timeseries"
	QueryTypeTable      = "table"
)

func ref(typ, uid string) common.DataSourceRef { return common.DataSourceRef{Type: &typ, Uid: &uid} }

// clickhouseRef is the provisioned ClickHouse data source.
func clickhouseRef() common.DataSourceRef { return ref(DatasourceType, DatasourceUID) }

// prometheusRef is the provisioned Prometheus data source.
func prometheusRef() common.DataSourceRef {
	return ref(PrometheusDatasourceType, PrometheusDatasourceUID)
}

// sqlQuery is a target of the ClickHouse plugin written in its SQL editor
// (CHSqlQuery in the plugin's src/types/sql.ts): the foundation SDK has no
// type for this plugin, so it is one here.
type sqlQuery struct {
	RefID      string               `json:"refId"`
	Datasource common.DataSourceRef `json:"datasource"`
	EditorType string               `json:"editorType"`
	QueryType  string               `json:"queryType"`
	Format     int                  `json:"format"`
	RawSQL     string               `json:"rawSql"`
}

func (sqlQuery) ImplementsDataqueryVariant() {}
func (sqlQuery) DataqueryType() string       { return DatasourceType }

func (q sqlQuery) Equals(other variants.Dataquery) bool {
	o, ok := other.(sqlQuery)
	return ok && o == q
}

func (q sqlQuery) Validate() error {
	if q.RefID == "" || q.RawSQL == "" {
		return errors.New("a ClickHouse query needs a refId and SQL")
	}
	return nil
}

// sqlQueryBuilder is a cog.Builder of a sqlQuery, so panels take it with
// WithTarget like the SDK's own data queries.
type sqlQueryBuilder struct{ q sqlQuery }

func (b sqlQueryBuilder) Build() (variants.Dataquery, error) {
	if err := b.q.Validate(); err != nil {
		return nil, cog.MakeBuildErrors("sqlQuery", err)
	}
	return b.q, nil
}

// newSQLQuery returns a SQL-editor target over the ClickHouse data source.
func newSQLQuery(refID, sql string, format int) sqlQueryBuilder {
	qt := QueryTypeTable
	if format == FormatTimeSeries {
		qt = QueryTypeTimeSeries
	}
	return sqlQueryBuilder{sqlQuery{RefID: refID, Datasource: clickhouseRef(), EditorType: "sql", QueryType: qt, Format: format, RawSQL: sql}}
}
