package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/alerting"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/expr"
	"go.yaml.in/yaml/v3"

	"github.com/keytrail/keytrail/store"
)

// Alert rule identity and evaluation, as provisioned.
const (
	AlertRuleUID      = "keytrail-privileged-unverified"
	AlertRuleGroup    = "keytrail"
	AlertFolder       = "keytrail" // the dashboards' folder (provisioning/dashboards/keytrail.yaml)
	AlertInterval     = "1m"
	AlertWindowSecond = 300 // the query's range: the last 5 minutes
	AlertQuery        = "alerts/privileged_unverified"
	// AlertFile is the alert rule provisioning file within Files().
	AlertFile = "provisioning/alerting/keytrail.yaml"
)

// alertRule builds the Grafana-managed alert rule: it fires when any
// privileged action of the last five minutes was not verified. Query A counts
// them (one row, table format), B reduces it to its last value, C fires above
// zero.
func alertRule(d store.Dialect) (alerting.Rule, error) {
	sql, err := Render(d, AlertQuery)
	if err != nil {
		return alerting.Rule{}, err
	}
	exprRef := ref("__expr__", "__expr__")
	return alerting.NewRuleBuilder("Privileged Airflow action not verified by a security key").
		Uid(AlertRuleUID).
		Condition("C").
		WithQuery(alerting.NewQueryBuilder("A").
			DatasourceUid(DatasourceUID).
			RelativeTimeRange(AlertWindowSecond, 0).
			Model(newSQLQuery("A", sql, FormatTable))).
		WithQuery(alerting.NewQueryBuilder("B").
			DatasourceUid("__expr__").
			Model(expr.NewExprBuilder().TypeReduce(expr.NewTypeReduceBuilder().
				RefId("B").Datasource(exprRef).Expression("A").Reducer(expr.TypeReduceReducerLast)))).
		WithQuery(alerting.NewQueryBuilder("C").
			DatasourceUid("__expr__").
			Model(expr.NewExprBuilder().TypeThreshold(expr.NewTypeThresholdBuilder().
				RefId("C").Datasource(exprRef).Expression("B").
				Conditions([]cog.Builder[expr.ExprTypeThresholdConditions]{expr.NewExprTypeThresholdConditionsBuilder().
					Evaluator(expr.NewExprTypeThresholdConditionsEvaluatorBuilder().
						Type(expr.ExprTypeThresholdConditionsEvaluatorTypeGt).Params([]float64{0}))})))).
		NoDataState(alerting.RuleNoDataStateOK).
		ExecErrState(alerting.RuleExecErrStateError).
		For("0s").
		Annotations(map[string]string{
			"summary": "Privileged Airflow actions of the last 5 minutes were not verified by a hardware security key",
			"description": "keytrail found privileged Airflow actions (trigger, clear, mark state, delete, pause, connection, variable, pool, " +
				"user or role changes, backfill) without a hardware-backed WebAuthn assertion within the policy's max age. " +
				"Open the keytrail exceptions dashboard for who, what and why, and each action's evidence chain.",
		}).
		Labels(map[string]string{"severity": "critical", "source": "keytrail"}).
		IsPaused(false).
		OrgID(1).
		RuleGroup(AlertRuleGroup).
		Title("Privileged Airflow action not verified by a security key").
		Build()
}

// alertFile is Grafana's alert rule file provisioning format (apiVersion 1,
// groups of rules; each rule's data as the HTTP API has it).
type alertFile struct {
	APIVersion int          `yaml:"apiVersion"`
	Groups     []alertGroup `yaml:"groups"`
}

type alertGroup struct {
	OrgID    int64       `yaml:"orgId"`
	Name     string      `yaml:"name"`
	Folder   string      `yaml:"folder"`
	Interval string      `yaml:"interval"`
	Rules    []alertItem `yaml:"rules"`
}

type alertItem struct {
	UID          string            `yaml:"uid"`
	Title        string            `yaml:"title"`
	Condition    string            `yaml:"condition"`
	Data         []any             `yaml:"data"`
	DashboardUID string            `yaml:"dashboardUid"`
	PanelID      int               `yaml:"panelId"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	For          string            `yaml:"for"`
	Annotations  map[string]string `yaml:"annotations"`
	Labels       map[string]string `yaml:"labels"`
	IsPaused     bool              `yaml:"isPaused"`
}

// alertYAML renders the alert rule as a provisioning file, attached to the
// Exceptions dashboard's list of exceptions (panelID).
func alertYAML(d store.Dialect, panelID int) ([]byte, error) {
	r, err := alertRule(d)
	if err != nil {
		return nil, fmt.Errorf("alert rule: %w", err)
	}
	item := alertItem{UID: *r.Uid, Title: r.Title, Condition: r.Condition, DashboardUID: ExceptionsUID, PanelID: panelID,
		NoDataState: string(r.NoDataState), ExecErrState: string(r.ExecErrState), For: r.For,
		Annotations: r.Annotations, Labels: r.Labels, IsPaused: r.IsPaused != nil && *r.IsPaused}
	for _, q := range r.Data {
		// The SDK's JSON of a query is the file's shape; go through JSON
		// to keep its field names.
		b, err := json.Marshal(q)
		if err != nil {
			return nil, fmt.Errorf("alert query %s: %w", *q.RefId, err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		item.Data = append(item.Data, v)
	}
	f := alertFile{APIVersion: 1, Groups: []alertGroup{{OrgID: r.OrgID, Name: r.RuleGroup, Folder: AlertFolder, Interval: AlertInterval, Rules: []alertItem{item}}}}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	head := "# Generated by `go generate ./dashboards` (dashboards/alerting.go); do not edit.\n" +
		"# Grafana alert rule file provisioning: fires when a privileged Airflow action\n" +
		"# of the last 5 minutes was not verified by a hardware security key.\n"
	return append([]byte(head), out.Bytes()...), nil
}
