//go:build !nochdb

package chdb

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The part of libchdb's C API (chdb.h of chDB 26.5) this backend uses,
// bound with purego. chdb-go v1.11 binds only the NUL-terminated query
// calls: it has neither the binary-safe chdb_query_n (an insert's Native
// block holds NUL bytes) nor the query-parameter calls, and its connection
// handle is not exported, so this package binds the library itself.
var capi struct {
	once sync.Once
	err  error

	connect       func(argc int, argv []*byte) *unsafe.Pointer
	closeConn     func(conn *unsafe.Pointer)
	queryN        func(conn unsafe.Pointer, query *byte, queryLen uintptr, format *byte, formatLen uintptr) unsafe.Pointer
	queryParamsN  func(conn unsafe.Pointer, query *byte, queryLen uintptr, format *byte, formatLen uintptr, names **byte, nameLens *uintptr, values **byte, valueLens *uintptr, count uintptr) unsafe.Pointer
	streamParamsN func(conn unsafe.Pointer, query *byte, queryLen uintptr, format *byte, formatLen uintptr, names **byte, nameLens *uintptr, values **byte, valueLens *uintptr, count uintptr) unsafe.Pointer
	streamFetch   func(conn unsafe.Pointer, result unsafe.Pointer) unsafe.Pointer
	streamCancel  func(conn unsafe.Pointer, result unsafe.Pointer)
	destroy       func(result unsafe.Pointer)
	buffer        func(result unsafe.Pointer) unsafe.Pointer
	length        func(result unsafe.Pointer) uintptr
	resultError   func(result unsafe.Pointer) string
}

// ErrNoLibrary is returned when libchdb.so cannot be loaded.
var ErrNoLibrary = errors.New("chdb: cannot load libchdb.so (run `make setup`, or set CHDB_LIB_PATH to its path)")

// libraryPath is where libchdb.so is looked for: $CHDB_LIB_PATH, else the
// dynamic linker's search path, else /usr/local/lib.
func libraryPaths() []string {
	if p := os.Getenv("CHDB_LIB_PATH"); p != "" {
		return []string{p}
	}
	return []string{"libchdb.so", "/usr/local/lib/libchdb.so"}
}

// loadLibrary loads libchdb.so once; later calls return the first result.
func loadLibrary() error {
	capi.once.Do(func() {
		var lib uintptr
		var errs []error
		for _, p := range libraryPaths() {
			h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err == nil {
				lib = h
				break
			}
			errs = append(errs, err)
		}
		if lib == 0 {
			capi.err = fmt.Errorf("%w: %w", ErrNoLibrary, errors.Join(errs...))
			return
		}
		defer func() {
			if r := recover(); r != nil { // a symbol missing: not the chDB this package was written for
				capi.err = fmt.Errorf("chdb: libchdb.so lacks the chDB 26.5 C API: %v", r)
			}
		}()
		purego.RegisterLibFunc(&capi.connect, lib, "chdb_connect")
		purego.RegisterLibFunc(&capi.closeConn, lib, "chdb_close_conn")
		purego.RegisterLibFunc(&capi.queryN, lib, "chdb_query_n")
		purego.RegisterLibFunc(&capi.queryParamsN, lib, "chdb_query_with_params_n")
		purego.RegisterLibFunc(&capi.streamParamsN, lib, "chdb_stream_query_with_params_n")
		purego.RegisterLibFunc(&capi.streamFetch, lib, "chdb_stream_fetch_result")
		purego.RegisterLibFunc(&capi.streamCancel, lib, "chdb_stream_cancel_query")
		purego.RegisterLibFunc(&capi.destroy, lib, "chdb_destroy_query_result")
		purego.RegisterLibFunc(&capi.buffer, lib, "chdb_result_buffer")
		purego.RegisterLibFunc(&capi.length, lib, "chdb_result_length")
		purego.RegisterLibFunc(&capi.resultError, lib, "chdb_result_error")
	})
	return capi.err
}

// cconn is one connection to the process's engine (a chdb_connection).
type cconn struct {
	h *unsafe.Pointer
}

// connectEngine opens a connection to the engine at path, booting it if
// this is the process's first connection.
func connectEngine(path string) (*cconn, error) {
	args := [][]byte{[]byte("clickhouse\x00"), []byte("--path=" + path + "\x00")}
	argv := []*byte{&args[0][0], &args[1][0]}
	var p runtime.Pinner
	defer p.Unpin()
	for _, a := range args {
		p.Pin(&a[0])
	}
	h := capi.connect(len(argv), argv)
	runtime.KeepAlive(args)
	if h == nil || *h == nil {
		return nil, fmt.Errorf("chdb: cannot open the engine at %s", path)
	}
	return &cconn{h: h}, nil
}

func (c *cconn) close() { capi.closeConn(c.h) }

// cresult is a chdb_result*, owned until free.
type cresult struct{ p unsafe.Pointer }

func (r cresult) err() error {
	if r.p == nil {
		return nil
	}
	if s := capi.resultError(r.p); s != "" {
		return errors.New(s)
	}
	return nil
}

// bytes is a copy of the result's buffer.
func (r cresult) bytes() []byte {
	if r.p == nil {
		return nil
	}
	n := capi.length(r.p)
	if n == 0 {
		return nil
	}
	return append([]byte(nil), unsafe.Slice((*byte)(capi.buffer(r.p)), n)...)
}

// view is the result's buffer in C memory, valid until free.
func (r cresult) view() []byte {
	if r.p == nil {
		return nil
	}
	n := capi.length(r.p)
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(capi.buffer(r.p)), n)
}

func (r cresult) free() {
	if r.p != nil {
		capi.destroy(r.p)
	}
}

// call holds a query and its parameters pinned for one C call.
type call struct {
	query, format     []byte
	names, values     []*byte
	nameLen, valueLen []uintptr
	pin               runtime.Pinner
}

func newCall(query []byte, format string, names, values []string) *call {
	c := &call{query: query, format: []byte(format)}
	if len(c.query) == 0 {
		c.query = []byte{' '}
	}
	c.pin.Pin(&c.query[0])
	c.pin.Pin(&c.format[0])
	for i := range names {
		nb := append([]byte(names[i]), 0)
		vb := append([]byte(values[i]), 0) // a byte to point at when empty
		c.pin.Pin(&nb[0])
		c.pin.Pin(&vb[0])
		c.names = append(c.names, &nb[0])
		c.values = append(c.values, &vb[0])
		c.nameLen = append(c.nameLen, uintptr(len(names[i])))
		c.valueLen = append(c.valueLen, uintptr(len(values[i])))
	}
	if len(c.names) > 0 {
		c.pin.Pin(&c.names[0])
		c.pin.Pin(&c.values[0])
		c.pin.Pin(&c.nameLen[0])
		c.pin.Pin(&c.valueLen[0])
	}
	return c
}

func (c *call) done() { c.pin.Unpin() }

func (c *call) args() (**byte, *uintptr, **byte, *uintptr, uintptr) {
	if len(c.names) == 0 {
		return nil, nil, nil, nil, 0
	}
	return &c.names[0], &c.nameLen[0], &c.values[0], &c.valueLen[0], uintptr(len(c.names))
}

// query runs c to completion on conn.
func (c *call) run(conn *cconn) cresult {
	if len(c.names) == 0 {
		return cresult{capi.queryN(*conn.h, &c.query[0], uintptr(len(c.query)), &c.format[0], uintptr(len(c.format)))}
	}
	n, nl, v, vl, k := c.args()
	return cresult{capi.queryParamsN(*conn.h, &c.query[0], uintptr(len(c.query)), &c.format[0], uintptr(len(c.format)), n, nl, v, vl, k)}
}

// stream starts c as a streaming query on conn.
func (c *call) stream(conn *cconn) cresult {
	n, nl, v, vl, k := c.args()
	return cresult{capi.streamParamsN(*conn.h, &c.query[0], uintptr(len(c.query)), &c.format[0], uintptr(len(c.format)), n, nl, v, vl, k)}
}

func (conn *cconn) fetch(stream cresult) cresult {
	return cresult{capi.streamFetch(*conn.h, stream.p)}
}

func (conn *cconn) cancel(stream cresult) {
	capi.streamCancel(*conn.h, stream.p)
}
