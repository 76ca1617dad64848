//go:build !nochdb

// Package chdb is the embedded ClickHouse backend of package store. It runs
// ClickHouse inside the process through chDB's C API (libchdb.so, loaded at
// the first Open from $CHDB_LIB_PATH; scripts/setup.sh installs it).
// Importing this package registers the "chdb" URL scheme:
//
//	chdb:///abs/path/to/dir[?database=keytrail]
//
// chDB runs one engine per process, at one path. Every Store opened here
// shares it through a pool of connections: a connection runs one statement
// at a time, and an open stream keeps its connection until it is closed, so
// the pool opens another connection whenever all are busy. Any number of
// reads may be open and pulled in any interleaving; none waits for another.
//
// Values are bound as the engine's query parameters (store.BindParams);
// inserts send one Native-format block (store/native) built from the
// batch's typed column slices; query results stream as Native blocks,
// decoded by a reader goroutine per query one block ahead of the consumer.
package chdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keytrail/keytrail/store"
	"github.com/keytrail/keytrail/store/native"
)

func init() {
	// Map the (large) library at start-up, as chdb-go did, so no Open pays for
	// it within its deadline; a missing library is an error at Open, not a
	// crash at start-up.
	_ = loadLibrary()
	store.Register("chdb", func(ctx context.Context, u *url.URL) (store.Store, error) {
		path := u.Path
		if u.Host != "" { // chdb://relative/path
			path = filepath.Join(u.Host, u.Path)
		}
		db := u.Query().Get("database")
		if db == "" {
			db = "keytrail"
		}
		return Open(ctx, path, db)
	})
}

// maxIdle is how many idle connections the pool keeps.
const maxIdle = 4

// engine is the process's chDB engine and its connection pool.
var engine struct {
	sync.Mutex
	path string
	refs int      // open stores
	open int      // connections open
	idle []*pconn // idle connections, most recent last
}

// pconn is a pooled connection and the session state it carries.
type pconn struct {
	c     *cconn
	db    string  // the connection's current database
	limit float64 // the connection's max_execution_time in seconds, 0 for none
}

// Store is the embedded engine.
type Store struct {
	path    string
	db      string
	dialect store.Dialect
	version string
	cols    sync.Map // table -> map[string]string (column -> type)
	mu      sync.Mutex
	closed  bool
}

// ErrOtherPath is returned when a second store is opened at a different path
// in the same process; chDB supports one engine per process.
var ErrOtherPath = errors.New("chdb: this process already has an embedded store open at another path")

// ErrClosed is returned by calls on a closed store.
var ErrClosed = errors.New("chdb: store is closed")

// Open opens (creating if needed) the embedded store in dir and database db.
func Open(ctx context.Context, dir, db string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("chdb: store URL needs a path, e.g. chdb:///var/lib/keytrail")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("chdb: resolve %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("chdb: create data directory: %w", err)
	}
	if err := loadLibrary(); err != nil {
		return nil, err
	}
	engine.Lock()
	if engine.open > 0 && engine.path != abs {
		engine.Unlock()
		return nil, fmt.Errorf("%w (%s, asked for %s)", ErrOtherPath, engine.path, abs)
	}
	if engine.open == 0 {
		// Boot the engine with the connection that stays in the pool.
		c, err := connectEngine(abs)
		if err != nil {
			engine.Unlock()
			return nil, err
		}
		engine.path, engine.open = abs, 1
		engine.idle = append(engine.idle, &pconn{c: c})
	}
	engine.refs++
	engine.Unlock()

	st := &Store{path: abs, db: db}
	if _, err := st.run(ctx, "CREATE DATABASE IF NOT EXISTS "+store.QuoteIdent(db), nil, false); err != nil {
		st.Close()
		return nil, err
	}
	rows, err := st.Query(ctx, "SELECT version()")
	if err != nil {
		st.Close()
		return nil, err
	}
	defer rows.Close()
	if rows.Next() {
		_ = rows.Scan(&st.version)
	}
	if err := rows.Err(); err != nil {
		st.Close()
		return nil, err
	}
	st.dialect = store.DialectFor(st.version)
	st.dialect.QueryParams = true
	return st, nil
}

// acquire takes an idle connection, or opens one when every connection is
// busy: a stream holds its connection, and readers never wait for each other.
func (s *Store) acquire() (*pconn, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	engine.Lock()
	defer engine.Unlock()
	if n := len(engine.idle); n > 0 {
		c := engine.idle[n-1]
		engine.idle = engine.idle[:n-1]
		return c, nil
	}
	if engine.refs == 0 {
		return nil, ErrClosed
	}
	c, err := connectEngine(engine.path)
	if err != nil {
		return nil, err
	}
	engine.open++
	return &pconn{c: c}, nil
}

// release returns a connection to the pool, closing it when the pool has
// enough idle ones (never the engine's last connection while stores are
// open: closing that one shuts the engine down).
func release(c *pconn) {
	engine.Lock()
	defer engine.Unlock()
	if len(engine.idle) < maxIdle && engine.refs > 0 {
		engine.idle = append(engine.idle, c)
		return
	}
	c.c.close()
	engine.open--
	if engine.open == 0 {
		engine.path = ""
	}
}

// prepare sets up c for a statement of s: its database, and the engine's own
// time limit for ctx's deadline, so an abandoned statement does not keep the
// connection busy. The limit stays set on the connection and is changed only
// when the next deadline is later, or much earlier (more than a quarter and a
// second): the engine may stop a statement a little after Go gave up on it.
func (s *Store) prepare(ctx context.Context, c *pconn, useDB bool) error {
	if useDB && c.db != s.db {
		if err := simple(c, "USE "+store.QuoteIdent(s.db)); err != nil {
			return err
		}
		c.db = s.db
	}
	want := 0.0
	if dl, ok := ctx.Deadline(); ok {
		want = max(time.Until(dl).Seconds(), 0.001)
	}
	switch {
	case want == 0 && c.limit == 0:
		return nil
	case want > 0 && c.limit >= want && c.limit <= want*1.25+1:
		return nil
	}
	if err := simple(c, fmt.Sprintf("SET max_execution_time = %.3f", want)); err != nil {
		return nil // best effort: the statement still runs, Go still gives up at the deadline
	}
	c.limit = want
	return nil
}

// simple runs a statement without values or result on c.
func simple(c *pconn, query string) error {
	cl := newCall([]byte(query), "TSV", nil, nil)
	defer cl.done()
	res := cl.run(c.c)
	defer res.free()
	if err := res.err(); err != nil {
		return store.ParseError(err.Error())
	}
	return nil
}

// run executes one statement to completion (query holds the SQL, possibly
// followed by an insert's data; params its parameters) and returns its
// output, honouring ctx: past the deadline it returns at once and the
// engine stops the statement at its own time limit.
func (s *Store) run(ctx context.Context, query string, params *store.Params, useDB bool) ([]byte, error) {
	var names, values []string
	if params != nil {
		query, names, values = params.Query, params.Names, params.Values
	}
	return s.runBytes(ctx, []byte(query), "TSV", names, values, useDB, nil)
}

// runBytes is run with the query as bytes, the output format, and the feed
// of a pipe the statement reads (nil for none).
func (s *Store) runBytes(ctx context.Context, query []byte, format string, names, values []string, useDB bool, feed *pipeFeed) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		if feed != nil {
			feed.abandon()
		}
		return nil, err
	}
	// Inline INSERT data goes through a pipe, never the SQL text: see stdin.go.
	if ins, ok, err := splitInlineInsert(string(query)); err != nil {
		if feed != nil {
			feed.abandon()
		}
		return nil, err
	} else if ok && feed == nil {
		var stmt string
		if stmt, feed, err = startFeed(ins); err != nil {
			return nil, err
		}
		query = []byte(stmt)
	}
	c, err := s.acquire()
	if err != nil {
		if feed != nil {
			feed.abandon()
		}
		return nil, err
	}
	type answer struct {
		buf []byte
		err error
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		if a.err = s.prepare(ctx, c, useDB); a.err == nil {
			cl := newCall(query, format, names, values)
			res := cl.run(c.c)
			cl.done()
			err := res.err()
			if feed != nil {
				err = feed.finish(err)
			}
			if err != nil {
				a.err = store.ParseError(err.Error())
			} else {
				a.buf = res.bytes()
			}
			res.free()
		}
		if feed != nil {
			feed.abandon() // when the statement did not run
		}
		release(c) // before answering: the caller's next statement finds it idle
		done <- a
	}()
	select {
	case a := <-done:
		return a.buf, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("chdb query abandoned: %w", ctx.Err())
	}
}

// Exec implements store.Store.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	p, err := store.BindParams(s.dialect, query, args)
	if err != nil {
		return err
	}
	_, err = s.run(ctx, query, &p, true)
	return err
}

// Query implements store.Store: the result streams in Native blocks, read and
// decoded by a goroutine one block ahead of the caller. Query returns once
// the first block (or the error) has arrived.
func (s *Store) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	p, err := store.BindParams(s.dialect, query, args)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := s.acquire()
	if err != nil {
		return nil, err
	}
	st := &stream{ctx: ctx, blocks: make(chan streamed, 1), stop: make(chan struct{})}
	go st.read(s, c, p)
	first, err := st.NextBlock()
	if err != nil && err != io.EOF { //nolint:errorlint // the end sentinel itself
		st.Close()
		if code, ok := store.Code(err); ok && code == codeBadArguments && strings.Contains(err.Error(), "Streaming query is not supported") {
			return s.queryWhole(ctx, p) // DDL and other statements the engine cannot stream
		}
		return nil, err
	}
	st.first, st.firstErr = first, err
	var cols, types []string
	if first != nil {
		cols, types = first.Columns, first.Types
	} else {
		st.describe = func() ([]string, []string) { return s.describe(ctx, p) }
	}
	return store.NewRows(st, cols, types), nil
}

// codeBadArguments is the engine's BAD_ARGUMENTS error code.
const codeBadArguments = 36

// queryWhole runs a statement the engine cannot stream and returns its
// (small) result in one piece.
func (s *Store) queryWhole(ctx context.Context, p store.Params) (store.Rows, error) {
	buf, err := s.runBytes(ctx, []byte(p.Query), "Native", p.Names, p.Values, true, nil)
	if err != nil {
		return nil, err
	}
	blocks, err := native.DecodeAll(buf)
	if err != nil {
		return nil, fmt.Errorf("chdb: decode result: %w", err)
	}
	var cols, types []string
	if len(blocks) > 0 {
		cols, types = blocks[0].Columns, blocks[0].Types
	}
	return store.NewRows(&blockList{blocks: blocks}, cols, types), nil
}

// describe returns the columns and types of a query's result, for a result
// without rows (an empty stream carries no header).
func (s *Store) describe(ctx context.Context, p store.Params) (cols, types []string) {
	buf, err := s.runBytes(ctx, []byte("DESCRIBE TABLE ("+p.Query+")"), "Native", p.Names, p.Values, true, nil)
	if err != nil {
		return nil, nil
	}
	blocks, err := native.DecodeAll(buf)
	if err != nil {
		return nil, nil
	}
	for _, b := range blocks {
		if len(b.Vectors) < 2 {
			return nil, nil
		}
		for i := 0; i < b.Rows; i++ {
			name, _ := b.Vectors[0].Value(i).(string)
			typ, _ := b.Vectors[1].Value(i).(string)
			cols, types = append(cols, name), append(types, typ)
		}
	}
	return cols, types
}

// blockList is a result already in memory.
type blockList struct {
	blocks []*store.Block
}

func (l *blockList) NextBlock() (*store.Block, error) {
	if len(l.blocks) == 0 {
		return nil, io.EOF
	}
	b := l.blocks[0]
	l.blocks = l.blocks[1:]
	return b, nil
}

func (l *blockList) Close() error { l.blocks = nil; return nil }

// streamed is one block of a stream, or the error (io.EOF at the end) that
// ends it.
type streamed struct {
	b   *store.Block
	err error
}

// stream is one query's result: a reader goroutine fetches chunks from the
// engine, decodes them and hands the blocks over one at a time.
type stream struct {
	ctx      context.Context
	blocks   chan streamed
	stop     chan struct{}
	once     sync.Once
	first    *store.Block
	firstErr error
	describe func() (columns, types []string) // the header of a result without blocks
}

// Header implements store.HeaderSource: an empty streamed result carries no
// header, so the engine is asked to describe the query (once, on demand).
func (st *stream) Header() ([]string, []string) {
	if st.describe == nil {
		return nil, nil
	}
	return st.describe()
}

// read runs in its own goroutine: it owns c until the stream ends or is
// closed, and returns c to the pool before it hands over the final message,
// so the caller's next statement finds the connection idle.
func (st *stream) read(s *Store, c *pconn, p store.Params) {
	final := st.pump(s, c, p)
	release(c)
	if final.err != nil {
		st.send(final)
	}
}

// send hands m over; false when the stream was closed.
func (st *stream) send(m streamed) bool {
	select {
	case st.blocks <- m:
		return true
	case <-st.stop:
		return false
	}
}

// pump streams the result's blocks and returns the message that ends the
// stream (io.EOF, or the error); a zero message when the stream was closed.
// It fetches chunks from the engine while a second goroutine decodes the
// chunks before them (decoding does not hold up the engine), and cancels
// what is left of an abandoned result and frees it. A fetched chunk stays in
// the engine's memory until the decoder has copied it into its own buffer,
// so the Go heap holds one copy of the undecoded bytes, not one per chunk in
// flight.
func (st *stream) pump(s *Store, c *pconn, p store.Params) streamed {
	if err := s.prepare(st.ctx, c, true); err != nil {
		return streamed{err: err}
	}
	cl := newCall([]byte(p.Query), "Native", p.Names, p.Values)
	res := cl.stream(c.c)
	cl.done()
	defer res.free()
	if err := res.err(); err != nil {
		return streamed{err: store.ParseError(err.Error())}
	}
	d := &chunkDecoder{st: st, chunks: make(chan cresult, chunksAhead), done: make(chan streamed, 1)}
	go d.run()
	final := streamed{err: io.EOF}
fetching:
	for {
		select {
		case <-st.stop:
			final = streamed{}
		default:
		}
		if final.err == nil || d.failed.Load() {
			c.c.cancel(res)
			break
		}
		part := c.c.fetch(res)
		if err := part.err(); err != nil {
			part.free()
			final = streamed{err: store.ParseError(err.Error())}
			break
		}
		if len(part.view()) == 0 {
			part.free()
			break
		}
		select {
		case d.chunks <- part:
		case <-st.stop:
			part.free()
			final = streamed{}
			c.c.cancel(res)
			break fetching
		}
	}
	close(d.chunks)
	m := <-d.done
	switch {
	case final.err == nil: // closed
		return final
	case final.err != io.EOF: //nolint:errorlint // the end sentinel itself
		return final
	}
	return m
}

// chunksAhead is how many fetched chunks may wait for the decoder.
const chunksAhead = 2

// chunkDecoder decodes a stream's chunks into blocks on its own goroutine
// and hands them to the consumer in order.
type chunkDecoder struct {
	st     *stream
	chunks chan cresult  // fetched chunks, the decoder's to free; closed after the last
	done   chan streamed // the decoder's end: io.EOF, a decode error, or zero when closed
	failed atomic.Bool   // the decoder has stopped: the fetcher cancels the rest
}

// run decodes until the chunks end; after a failure or a close it drains
// and frees them, so the fetcher never blocks.
func (d *chunkDecoder) run() {
	var dec native.Decoder
	end := streamed{err: io.EOF}
	for part := range d.chunks {
		if d.failed.Load() {
			part.free()
			continue
		}
		dec.Feed(part.view())
		part.free()
		for {
			b, err := dec.Next()
			if errors.Is(err, native.ErrShort) || (err == nil && b == nil) {
				break
			}
			if err != nil {
				end = streamed{err: fmt.Errorf("chdb: decode result: %w", err)}
				d.failed.Store(true)
				break
			}
			if !d.st.send(streamed{b: b}) {
				end = streamed{}
				d.failed.Store(true)
				break
			}
		}
	}
	if end.err == io.EOF && dec.Buffered() > 0 { //nolint:errorlint // the end sentinel itself
		end = streamed{err: fmt.Errorf("chdb: result ends inside a block: %w", native.ErrShort)}
	}
	d.done <- end
}

// NextBlock implements store.BlockSource.
func (st *stream) NextBlock() (*store.Block, error) {
	if st.first != nil || st.firstErr != nil {
		b, err := st.first, st.firstErr
		st.first, st.firstErr = nil, nil
		if b != nil {
			return b, nil
		}
		return nil, err
	}
	select {
	case m := <-st.blocks:
		if m.err != nil {
			return nil, m.err
		}
		return m.b, nil
	case <-st.ctx.Done():
		return nil, fmt.Errorf("chdb query abandoned: %w", st.ctx.Err())
	}
}

// Close implements store.BlockSource: the reader goroutine stops, cancels
// the rest of the result and returns its connection.
func (st *stream) Close() error {
	st.once.Do(func() { close(st.stop) })
	return nil
}

// columnTypes returns the types of table's columns.
func (s *Store) columnTypes(ctx context.Context, table string) (map[string]string, error) {
	if m, ok := s.cols.Load(table); ok {
		return m.(map[string]string), nil
	}
	rows, err := s.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", s.db, table)
	if err != nil {
		return nil, fmt.Errorf("chdb: columns of %s: %w", table, err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		m[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, &store.Error{Code: store.CodeUnknownTable, Name: "UNKNOWN_TABLE", Message: "table " + s.db + "." + table + " does not exist"}
	}
	s.cols.Store(table, m)
	return m, nil
}

// PrepareBatch implements store.Store. Each column is encoded in Native
// format as it is appended. Send writes the block into a pipe and inserts it
// with INSERT INTO t (columns) SELECT * FROM file('/dev/fd/N', Native,
// structure): the engine reads the binary block itself as it is written.
// (A block inline after FORMAT Native in the query text was cut short for
// some data, and inline data makes the engine look at standard input; see
// stdin.go.)
func (s *Store) PrepareBatch(ctx context.Context, table string, columns []string) (store.Batch, error) {
	types, err := s.columnTypes(ctx, table)
	if err != nil {
		return nil, err
	}
	for _, name := range columns {
		if _, ok := types[name]; !ok { // a migration may have added it since
			s.cols.Delete(table)
			if types, err = s.columnTypes(ctx, table); err != nil {
				return nil, err
			}
			break
		}
	}
	b := &batch{s: s, ctx: ctx, table: table, cols: make([]*native.Column, len(columns))}
	quoted := make([]string, len(columns))
	for i, name := range columns {
		typ, ok := types[name]
		if !ok {
			return nil, fmt.Errorf("chdb: insert into %s: no column %q", table, name)
		}
		if b.cols[i], err = native.NewColumn(name, typ); err != nil {
			return nil, fmt.Errorf("chdb: insert into %s: %w", table, err)
		}
		quoted[i] = store.QuoteIdent(name)
	}
	b.prefix = "INSERT INTO " + store.QuoteIdent(table) + " (" + strings.Join(quoted, ", ") + ") "
	return b, nil
}

type batch struct {
	s      *Store
	ctx    context.Context
	table  string
	prefix string
	cols   []*native.Column
	sent   bool
}

type batchColumn struct {
	b *batch
	c *native.Column
}

func (bc batchColumn) Append(values any) error {
	if bc.b.sent {
		return errors.New("chdb: batch already sent")
	}
	if err := bc.c.Append(values); err != nil {
		return fmt.Errorf("chdb: insert into %s: %w", bc.b.table, err)
	}
	return nil
}

func (b *batch) Column(i int) store.BatchColumn { return batchColumn{b: b, c: b.cols[i]} }

func (b *batch) Rows() int {
	if len(b.cols) == 0 {
		return 0
	}
	return b.cols[0].Rows()
}

func (b *batch) Send() error {
	if b.sent {
		return errors.New("chdb: batch already sent")
	}
	b.sent = true
	n := b.Rows()
	if n == 0 {
		return nil
	}
	blk, err := native.NewBlock(b.cols)
	if err != nil {
		return fmt.Errorf("chdb: insert into %s: %w", b.table, err)
	}
	path, feed, err := startPipe(blk, blk.Size())
	if err != nil {
		return fmt.Errorf("chdb: insert into %s: %w", b.table, err)
	}
	q := b.prefix + "SELECT * FROM file(" + store.QuoteString(path) + ", Native, " + store.QuoteString(native.Structure(b.cols)) + ")"
	cols := b.cols
	b.cols = nil
	if _, err := b.s.runBytes(b.ctx, []byte(q), "TSV", nil, nil, true, feed); err != nil {
		// The feed may still be writing (an abandoned statement): its
		// buffers are left to the garbage collector.
		return fmt.Errorf("chdb: insert %d rows into %s: %w", n, b.table, err)
	}
	// The engine read the whole block: its buffers serve the next batch.
	for _, c := range cols {
		c.Release()
	}
	return nil
}

func (b *batch) Abort() error {
	b.sent = true
	b.cols = nil
	return nil
}

// Dialect implements store.Store.
func (s *Store) Dialect() store.Dialect { return s.dialect }

// Info implements store.Store.
func (s *Store) Info(context.Context) (store.Info, error) {
	return store.Info{Backend: "chdb", Version: s.version, Database: s.db, Location: s.path}, nil
}

// Close implements store.Store. The engine shuts down with the last store
// of the process.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	engine.Lock()
	defer engine.Unlock()
	engine.refs--
	if engine.refs == 0 {
		for _, c := range engine.idle {
			c.c.close()
			engine.open--
		}
		engine.idle = nil
		if engine.open == 0 {
			engine.path = ""
		}
	}
	return nil
}
