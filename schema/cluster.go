package schema

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/keytrail/keytrail/store"
)

// Target is the store migrations are rendered for: the engine's dialect and,
// on a cluster, the database whose tables the statements name.
type Target struct {
	Dialect store.Dialect
	// Database qualifies the names in ON CLUSTER statements, the replicas'
	// ZooKeeper paths and the Distributed tables' local tables. Unused on one
	// node.
	Database string
}

// LocalSuffix ends the name of a table's replicated local table on a cluster;
// the Distributed table in front of it keeps the logical name, which every
// query reads and writes.
const LocalSuffix = "_local"

// LocalTable is the name of table's local replicated table on a cluster.
func LocalTable(table string) string { return table + LocalSuffix }

// ReplicaPath is the ZooKeeper path of a cluster's replicated table; the
// server expands the {shard} macro, so each shard has its own replica set.
func ReplicaPath(cluster, database, table string) string {
	return "/clickhouse/tables/" + cluster + "/{shard}/" + database + "/" + table
}

// layout is what the cluster rendering of a table needs from the migration
// that created it: the columns its rows are sharded by.
type layout struct {
	shardBy []string
}

var (
	createRE  = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)\s*\((.*)\)\s*ENGINE\s*=\s*(\w+)(?:\s*\((.*?)\))?(\s+(?:PARTITION|ORDER|PRIMARY|SAMPLE|TTL|SETTINGS)\b.*)$`)
	alterRE   = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+(\w+)\s+(.*)$`)
	orderByRE = regexp.MustCompile(`(?is)\bORDER\s+BY\s+(\((?:[^()]|\([^()]*\))*\)|\w+)`)
	tsTypeRE  = regexp.MustCompile(`\{\{\s*ts\s*\}\}`)
	identRE   = regexp.MustCompile(`^\w+$`)
)

// shardColumns returns the columns rows are sharded by: the ORDER BY key's
// columns up to its first timestamp ({{ts}}) column or expression — the part
// of the key that names the entity (auth_events: source, instance, subject)
// — or the whole key when it starts with a timestamp. Every version of a row
// has the same key, hence the same shard, so FINAL through the Distributed
// table is exact.
func shardColumns(table, columns, tail string) ([]string, error) {
	m := orderByRE.FindStringSubmatch(tail)
	if m == nil {
		return nil, fmt.Errorf("table %s: no ORDER BY to shard by", table)
	}
	key := strings.TrimSpace(m[1])
	if strings.HasPrefix(key, "(") {
		key = key[1 : len(key)-1]
	}
	times := map[string]bool{}
	for _, def := range splitTopLevel(columns) {
		f := strings.Fields(def)
		if len(f) >= 2 && tsTypeRE.MatchString(def) {
			times[f[0]] = true
		}
	}
	var all, prefix []string
	stopped := false
	for _, k := range splitTopLevel(key) {
		all = append(all, k)
		if stopped || times[k] || !identRE.MatchString(k) {
			stopped = true
			continue
		}
		prefix = append(prefix, k)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("table %s: empty ORDER BY key", table)
	}
	if len(prefix) == 0 {
		return all, nil
	}
	return prefix, nil
}

// splitTopLevel splits s on commas outside parentheses and quotes, trimming
// each part and dropping empty ones and comment lines.
func splitTopLevel(s string) []string {
	var out []string
	var cur strings.Builder
	depth, quote := 0, false
	flush := func() {
		var keep []string
		for _, line := range strings.Split(cur.String(), "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
				keep = append(keep, l)
			}
		}
		if p := strings.TrimSpace(strings.Join(keep, " ")); p != "" {
			out = append(out, p)
		}
		cur.Reset()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote && c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			i++
			c = s[i]
		case c == '\'':
			quote = !quote
		case !quote && c == '(':
			depth++
		case !quote && c == ')':
			depth--
		case !quote && depth == 0 && c == ',':
			flush()
			continue
		}
		cur.WriteByte(c)
	}
	flush()
	return out
}

// layouts reads the tables that the migration templates in texts create.
func layouts(texts ...string) (map[string]layout, error) {
	out := map[string]layout{}
	for _, text := range texts {
		for _, st := range SplitStatements(text) {
			m := createRE.FindStringSubmatch(strings.TrimSpace(stripComments(st)))
			if m == nil {
				continue
			}
			cols, err := shardColumns(m[1], m[2], m[5])
			if err != nil {
				return nil, err
			}
			out[m[1]] = layout{shardBy: cols}
		}
	}
	return out, nil
}

var embedded struct {
	once sync.Once
	m    map[string]layout
	err  error
}

// embeddedLayouts are the tables the binary's migrations and ledger create,
// for statements that alter a table created by an earlier migration.
func embeddedLayouts() (map[string]layout, error) {
	embedded.once.Do(func() {
		ms, err := Migrations()
		if err != nil {
			embedded.err = err
			return
		}
		texts := []string{ledgerDDL}
		for _, m := range ms {
			texts = append(texts, m.SQL)
		}
		embedded.m, embedded.err = layouts(texts...)
	})
	return embedded.m, embedded.err
}

// onCluster rewrites one rendered single-node statement for a cluster:
//
//   - CREATE TABLE IF NOT EXISTS t (…) ENGINE = XMergeTree(args) … becomes
//     t_local ON CLUSTER with ENGINE = ReplicatedXMergeTree(path, '{replica}',
//     args), plus t ON CLUSTER AS t_local ENGINE = Distributed(cluster, db,
//     t_local, cityHash64(shard columns)).
//   - ALTER TABLE t … runs on t_local ON CLUSTER (the replicated ALTER), then
//     the Distributed table is dropped and created again from t_local: 18.16
//     refuses ON CLUSTER ALTERs of a non-replicated table when the cluster's
//     shards are replicated.
//
// Anything else is an error naming the statement, so a migration that the
// cluster cannot run fails the schema tests, not a user's cluster.
func onCluster(t Target, st string, lay map[string]layout) (table string, stmts []string, err error) {
	body := strings.TrimSpace(stripComments(st))
	c, db := t.Dialect.Cluster, t.Database
	on := " ON CLUSTER " + store.QuoteIdent(c)
	qualified := func(table string) string { return store.QuoteIdent(db) + "." + store.QuoteIdent(table) }
	distributed := func(table string) (string, error) {
		l, ok := lay[table]
		if !ok {
			return "", fmt.Errorf("table %s: no CREATE TABLE in the migrations to shard it by", table)
		}
		return "CREATE TABLE IF NOT EXISTS " + qualified(table) + on + " AS " + qualified(LocalTable(table)) +
			" ENGINE = Distributed(" + store.QuoteString(c) + ", " + store.QuoteString(db) + ", " + store.QuoteString(LocalTable(table)) +
			", cityHash64(" + strings.Join(l.shardBy, ", ") + "))", nil
	}
	if m := createRE.FindStringSubmatch(body); m != nil {
		table, cols, engine, args, tail := m[1], m[2], m[3], strings.TrimSpace(m[4]), m[5]
		if !strings.HasSuffix(engine, "MergeTree") || strings.HasPrefix(engine, "Replicated") {
			return "", nil, fmt.Errorf("table %s: engine %s cannot be sharded and replicated on a cluster (use a *MergeTree engine)", table, engine)
		}
		replicated := store.QuoteString(ReplicaPath(c, db, table)) + ", '{replica}'"
		if args != "" {
			replicated += ", " + args
		}
		local := "CREATE TABLE IF NOT EXISTS " + qualified(LocalTable(table)) + on + " (" + cols + ")\nENGINE = Replicated" + engine + "(" + replicated + ")" + tail
		dist, err := distributed(table)
		if err != nil {
			return "", nil, err
		}
		return table, []string{local, dist}, nil
	}
	if m := alterRE.FindStringSubmatch(body); m != nil {
		table := m[1]
		dist, err := distributed(table)
		if err != nil {
			return "", nil, err
		}
		return table, []string{
			"ALTER TABLE " + qualified(LocalTable(table)) + on + " " + m[2],
			"DROP TABLE IF EXISTS " + qualified(table) + on,
			dist,
		}, nil
	}
	return "", nil, fmt.Errorf("statement cannot run on a cluster (only CREATE TABLE IF NOT EXISTS … ENGINE = *MergeTree and ALTER TABLE are rewritten): %s", firstLineOf(body))
}

// stripComments drops whole-line -- comments.
func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func firstLineOf(s string) string { return strings.SplitN(strings.TrimSpace(s), "\n", 2)[0] }
