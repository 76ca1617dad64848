package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dialect is what differs between the ClickHouse versions and topologies
// keytrail runs on. It is the one place where types are adapted: everything
// else writes the same SQL for every engine.
type Dialect struct {
	// Major and Minor are the engine's version.
	Major, Minor int
	// DateTime64 is true when the engine has DateTime64 (ClickHouse ≥ 20.1).
	// Without it timestamps are stored as Int64 milliseconds since the epoch.
	DateTime64 bool
	// Cluster names the ClickHouse cluster (remote_servers) whose hosts hold
	// the tables, from the store URL's cluster parameter; empty for one node.
	// On a cluster every table is a replicated local table behind a
	// Distributed table of the logical name (see package schema), so queries
	// read and write the same names as on one node.
	Cluster string
	// QueryParams is true when the store sends values as the engine's query
	// parameters (store.BindParams) rather than as literals in the SQL text:
	// the text then stays the same size however many values are bound, and
	// no max_query_size limits them.
	QueryParams bool
}

// DialectFor returns the dialect of an engine version string such as "18.16.1".
func DialectFor(version string) Dialect {
	parts := strings.SplitN(version, ".", 3)
	d := Dialect{}
	if len(parts) > 0 {
		d.Major, _ = strconv.Atoi(parts[0])
	}
	if len(parts) > 1 {
		d.Minor, _ = strconv.Atoi(parts[1])
	}
	d.DateTime64 = d.Major > 20 || (d.Major == 20 && d.Minor >= 1)
	return d
}

// TimeType is the column type for a millisecond timestamp.
func (d Dialect) TimeType() string {
	if d.DateTime64 {
		return "DateTime64(3, 'UTC')"
	}
	return "Int64"
}

// Month is the partition expression for a month of the timestamp column col.
func (d Dialect) Month(col string) string {
	if d.DateTime64 {
		return "toYYYYMM(" + col + ")"
	}
	return "toYYYYMM(toDateTime(intDiv(" + col + ", 1000), 'UTC'))"
}

// Day is an expression for the UTC day (a Date) of the timestamp column col.
func (d Dialect) Day(col string) string {
	if d.DateTime64 {
		return "toDate(" + col + ", 'UTC')"
	}
	return "toDate(toDateTime(intDiv(" + col + ", 1000), 'UTC'), 'UTC')"
}

// UnlimitedPartitions is the SETTINGS clause that lets one INSERT … SELECT
// write rows of any number of months (engines since 19.x refuse more than 100
// partitions per insert by default; older servers have no such limit, nor the
// setting, and get an empty clause).
func (d Dialect) UnlimitedPartitions() string {
	if d.Major >= 20 {
		return "SETTINGS max_partitions_per_insert_block = 0"
	}
	return ""
}

// TimeLiteral renders t as a literal of TimeType. The zero time is NULL.
func (d Dialect) TimeLiteral(t time.Time) string {
	if t.IsZero() {
		return "NULL"
	}
	if d.DateTime64 {
		return "toDateTime64('" + t.UTC().Format("2006-01-02 15:04:05.000") + "', 3, 'UTC')"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// TimeRange returns the first and the last instant (millisecond precision,
// both included) the engine stores and partitions faithfully. Outside it
// engines do not fail, they silently clamp or wrap, so writers must reject
// such times before writing:
//   - DateTime64(3) holds 1900-01-01 00:00:00.000 to 2299-12-31 23:59:59.999
//     UTC; later values are stored as 2299-12-31, earlier ones as 1900-01-01.
//   - Without DateTime64 a timestamp is Int64 milliseconds, but the month
//     partition ({{month}}) and every date function convert it to DateTime,
//     whose calendar starts at 1970-01-01 and ends early in 2106 (on 18.16 a
//     time on 2106-02-07 falls in partition 197001, where retention would drop
//     it; a negative one wraps the same way). The range kept is 1970-01-01 to
//     2105-12-31 23:59:59.999 UTC.
func (d Dialect) TimeRange() (first, last time.Time) {
	if d.DateTime64 {
		return time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2299, 12, 31, 23, 59, 59, 999e6, time.UTC)
	}
	return time.Unix(0, 0).UTC(), time.Date(2105, 12, 31, 23, 59, 59, 999e6, time.UTC)
}

// String describes the dialect.
func (d Dialect) String() string {
	if d.Cluster != "" {
		return fmt.Sprintf("timestamps as %s, cluster %s", d.TimeType(), d.Cluster)
	}
	return fmt.Sprintf("timestamps as %s", d.TimeType())
}
