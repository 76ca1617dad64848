package store

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Error is an error reported by the ClickHouse engine. It keeps the engine's
// numeric code and name (e.g. 62 SYNTAX_ERROR) so callers can branch on them.
type Error struct {
	Code    int32
	Name    string
	Message string
}

func (e *Error) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("clickhouse error %d (%s): %s", e.Code, e.Name, e.Message)
	}
	return fmt.Sprintf("clickhouse error %d: %s", e.Code, e.Message)
}

// Engine error codes callers branch on.
const (
	CodeSyntaxError   int32 = 62
	CodeUnknownTable  int32 = 60
	CodeUnknownColumn int32 = 47 // UNKNOWN_IDENTIFIER
	CodeTableExists   int32 = 57
)

// Code returns the engine error code carried by err, if any.
func Code(err error) (int32, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
}

var exceptionRE = regexp.MustCompile(`(?s)Code:\s*(\d+)[.,]?\s*(?:e\.displayText\(\) = )?(?:DB::Exception:\s*)?(.*?)(?:\s*\(([A-Z_]+)\))?(?:\s*\(version [^)]*\))?\s*$`)

// ParseError turns an engine's textual exception ("Code: 62. DB::Exception:
// … (SYNTAX_ERROR)") into an *Error. Text that is not an exception is
// returned as a plain error.
func ParseError(text string) error {
	m := exceptionRE.FindStringSubmatch(text)
	if m == nil {
		return errors.New(text)
	}
	code, err := strconv.ParseInt(m[1], 10, 32)
	if err != nil {
		return errors.New(text)
	}
	return &Error{Code: int32(code), Name: m[3], Message: m[2]}
}
