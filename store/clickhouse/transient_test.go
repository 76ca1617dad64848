package clickhouse

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/store"
)

// TestTransient classifies every error a cluster reports while a host is
// away as worth retrying, and the errors of a wrong statement as final.
func TestTransient(t *testing.T) {
	for code := range transientCodes {
		require.True(t, transient(fmt.Errorf("insert: %w", &store.Error{Code: code})), "code %d", code)
	}
	for name, err := range map[string]error{
		"eof":        io.EOF,
		"short read": io.ErrUnexpectedEOF,
		"reset":      &net.OpError{Op: "read", Err: syscall.ECONNRESET},
		"refused":    &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED},
		"pipe":       fmt.Errorf("send data: %w", syscall.EPIPE),
	} {
		require.True(t, transient(err), name)
	}
	for name, err := range map[string]error{
		"syntax":        &store.Error{Code: store.CodeSyntaxError},
		"unknown table": &store.Error{Code: store.CodeUnknownTable},
		"type mismatch": &store.Error{Code: 53},
		"plain":         errors.New("row 3 has 2 values for 3 columns"),
	} {
		require.False(t, transient(err), name)
	}
}
