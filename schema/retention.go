package schema

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/keytrail/keytrail/store"
)

// RetainedTables are the month-partitioned tables retention may shrink.
// Reports, the retention log and the schema ledger are never dropped.
var RetainedTables = []string{
	"raw_records", "auth_events", "authenticators", "airflow_events", "dag_runs",
	"correlations", "alerts", "dead_letters", "conflicts",
}

// Partition is one month partition of a table.
type Partition struct {
	Table     string
	Partition string // YYYYMM
	Rows      uint64
	Bytes     uint64
}

// Expired lists the partitions whose whole month lies before cutoff: month
// YYYYMM is expired when it is earlier than cutoff's month. A partially
// expired month is kept entire (retention never deletes single rows).
func Expired(ctx context.Context, s store.Store, cutoff time.Time) ([]Partition, error) {
	limit := cutoff.UTC().Year()*100 + int(cutoff.UTC().Month())
	// On a cluster the parts are the local tables', one replica of each
	// shard (cluster() reads one per shard), added up over the shards.
	cluster := s.Dialect().Cluster
	parts, physical := "system.parts", func(t string) string { return t }
	if cluster != "" {
		parts, physical = "cluster("+store.QuoteString(cluster)+", system, parts)", LocalTable
	}
	tables := make([]any, len(RetainedTables))
	logical := map[string]string{}
	for i, t := range RetainedTables {
		tables[i] = physical(t)
		logical[physical(t)] = t
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.Query(ctx, `SELECT table, partition, sum(rows) AS rows, sum(bytes_on_disk) AS bytes
FROM `+parts+`
WHERE active AND database = ? AND has(?, table)
GROUP BY table, partition
ORDER BY table, partition`, info.Database, tables)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	defer rows.Close()
	var out []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Table, &p.Partition, &p.Rows, &p.Bytes); err != nil {
			return nil, err
		}
		p.Table = logical[p.Table]
		month, err := strconv.Atoi(p.Partition)
		if err != nil {
			continue // not a month partition
		}
		if month < limit {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Partition < out[j].Partition
	})
	return out, rows.Err()
}

// Retain drops every expired partition, recording each in retention_log
// before it is dropped (an auditor can see what was removed, when, by whom and
// under which cutoff). With dryRun it only lists them. On a cluster the
// partition is dropped from the local replicated table ON CLUSTER: one
// replica of each shard runs it and replication drops it on the others.
func Retain(ctx context.Context, s store.Store, cutoff time.Time, operator string, dryRun bool) ([]Partition, error) {
	parts, err := Expired(ctx, s, cutoff)
	if err != nil || dryRun {
		return parts, err
	}
	drop := func(table string) string { return "ALTER TABLE " + store.QuoteIdent(table) + " DROP PARTITION " }
	if c := s.Dialect().Cluster; c != "" {
		info, err := s.Info(ctx)
		if err != nil {
			return nil, err
		}
		drop = func(table string) string {
			return "ALTER TABLE " + store.QuoteIdent(info.Database) + "." + store.QuoteIdent(LocalTable(table)) + " ON CLUSTER " + store.QuoteIdent(c) + " DROP PARTITION "
		}
	}
	now := time.Now().UTC()
	for _, p := range parts {
		entry := store.RetentionEntry{ExecutedAt: now, Table: p.Table, Partition: p.Partition, Rows: p.Rows, Bytes: p.Bytes, Cutoff: cutoff, Operator: operator}
		if err := store.RetentionLog.Write(ctx, s, []store.RetentionEntry{entry}); err != nil {
			return nil, fmt.Errorf("record retention of %s %s: %w", p.Table, p.Partition, err)
		}
		n, _ := strconv.Atoi(p.Partition)
		if err := s.Exec(ctx, drop(p.Table)+strconv.Itoa(n)); err != nil {
			return nil, fmt.Errorf("drop %s partition %s: %w", p.Table, p.Partition, err)
		}
	}
	return parts, nil
}
