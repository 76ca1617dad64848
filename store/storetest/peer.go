package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/keytrail/keytrail/ingest"
	"github.com/keytrail/keytrail/store"
)

// InsertInline inserts data in a ClickHouse input format as text inline in
// the INSERT statement (INSERT INTO t FORMAT f, newline, data): how a peer
// benchmark feeds the embedded engine a text format.
func InsertInline(ctx context.Context, s store.Store, table, format string, data []byte) error {
	return s.Exec(ctx, "INSERT INTO "+store.QuoteIdent(table)+" FORMAT "+format+"\n"+string(data))
}

// InsertHTTP returns an InsertFormat for srv: it posts data to the server's
// HTTP interface, in the database of the store it is given.
func (srv *Server) InsertHTTP(ctx context.Context, s store.Store, table, format string, data []byte) error {
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	q := url.Values{"database": {info.Database}, "query": {"INSERT INTO " + store.QuoteIdent(table) + " FORMAT " + format}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/?%s", srv.HTTPPort, q.Encode()), bytes.NewReader(data))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("insert into %s: %s: %s", table, resp.Status, body)
	}
	return nil
}

// JSONEachRow renders vs as JSONEachRow rows of t's columns for dialect d,
// with version 1: the text a JSON loader would send for the same rows.
func JSONEachRow[T any](t store.Table[T], vs []T, d store.Dialect) []byte {
	var buf bytes.Buffer
	for i := range vs {
		buf.WriteByte('{')
		for j, p := range t.Addrs(&vs[i]) {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Quote(t.Columns[j]))
			buf.WriteByte(':')
			writeJSONValue(&buf, p, d)
		}
		if t.Versioned {
			buf.WriteString(`,"version":1`)
		}
		buf.WriteString("}\n")
	}
	return buf.Bytes()
}

func writeJSONValue(buf *bytes.Buffer, p any, d store.Dialect) {
	var v any
	switch x := p.(type) {
	case *string:
		v = *x
	case *[]byte:
		v = string(*x)
	case *int64:
		v = *x
	case *uint64:
		v = *x
	case *bool:
		v = 0
		if *x {
			v = 1
		}
	case **bool:
		if *x != nil {
			v = 0
			if **x {
				v = 1
			}
		}
	case *[]string:
		v = *x
		if *x == nil {
			v = []string{}
		}
	case *time.Time:
		switch {
		case x.IsZero():
		case d.DateTime64:
			v = x.UTC().Format("2006-01-02 15:04:05.000")
		default:
			v = x.UnixMilli()
		}
	default:
		panic(fmt.Sprintf("storetest: no JSON for %T", p))
	}
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	buf.Write(out)
}

// Insert is one table's rows as text in a ClickHouse input format.
type Insert struct {
	Table string
	Rows  []byte
}

// JSONInserts renders the rows of batches as JSONEachRow, table by table in
// the order the warehouse writes a batch: what a JSON loader would send for
// the same normalized rows (the peer of the ingest and end-to-end
// benchmarks).
func JSONInserts(batches []*ingest.Batch, d store.Dialect) []Insert {
	var out []Insert
	add := func(table string, rows []byte) {
		if len(rows) > 0 {
			out = append(out, Insert{table, rows})
		}
	}
	for _, bt := range batches {
		add(store.Authenticators.Name, JSONEachRow(store.Authenticators, bt.Authenticators, d))
		add(store.AuthEvents.Name, JSONEachRow(store.AuthEvents, bt.Auth, d))
		add(store.AirflowEvents.Name, JSONEachRow(store.AirflowEvents, bt.Airflow, d))
		add(store.DagRuns.Name, JSONEachRow(store.DagRuns, bt.Runs, d))
		add(store.DeadLetters.Name, JSONEachRow(store.DeadLetters, bt.DeadLetters, d))
		add(store.RawRecords.Name, JSONEachRow(store.RawRecords, bt.Raw, d))
	}
	return out
}
