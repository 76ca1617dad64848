package identity

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/keytrail/keytrail/model"
)

// ErrMapping is wrapped by every error about the operator's mapping.
var ErrMapping = errors.New("identity mapping")

// CLIPrefix marks a mapping subject for source airflow that applies only to
// CLI rows, whose owner is an OS user name: "cli:alice" maps the OS user
// alice without also mapping a web user called alice. A subject without the
// prefix applies to every channel.
const CLIPrefix = "cli:"

// ParseMapping reads the operator's mapping CSV: columns person, source,
// subject; an optional header row with exactly those names; lines starting
// with '#' are comments; a UTF-8 byte-order mark is ignored. source is one of
// keytrail's sources (okta, entra, google, keycloak, oidc, airflow). The parse
// is strict: a row with the wrong number of fields, an empty field, an
// unknown source, or a subject mapped to two different persons is an error
// naming its line; all problems are reported together and no rows are
// returned then. Repeating an identical row is allowed. Rows have Origin
// model.OriginMapping and a zero UpdatedAt.
func ParseMapping(r io.Reader) ([]model.Identity, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrMapping, err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true

	var (
		rows  []model.Identity
		errs  []error
		seen  = map[key]int{} // key → index in rows
		lines = map[key]int{} // key → line of first appearance
		first = true
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs = append(errs, fmt.Errorf("line %d: %w", pe.Line, pe.Err))
				if pe.Err == csv.ErrQuote || pe.Err == csv.ErrBareQuote {
					break // the reader cannot resynchronise after a quoting error
				}
				continue
			}
			errs = append(errs, err)
			break
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			if isHeader(rec) {
				continue
			}
		}
		if len(rec) != 3 {
			errs = append(errs, fmt.Errorf("line %d: want 3 fields (person,source,subject), got %d", line, len(rec)))
			continue
		}
		person := strings.TrimSpace(rec[0])
		source := model.Source(strings.ToLower(strings.TrimSpace(rec[1])))
		subject := strings.TrimSpace(rec[2])
		var bad []string
		if person == "" {
			bad = append(bad, "empty person")
		}
		if !source.Valid() {
			bad = append(bad, fmt.Sprintf("unknown source %q", rec[1]))
		}
		if subject == "" || (source == model.SourceAirflow && strings.EqualFold(subject, CLIPrefix)) {
			bad = append(bad, "empty subject")
		}
		if len(bad) > 0 {
			errs = append(errs, fmt.Errorf("line %d: %s", line, strings.Join(bad, ", ")))
			continue
		}
		k := keyOf(source, subject)
		if i, dup := seen[k]; dup {
			if rows[i].Person != person {
				errs = append(errs, fmt.Errorf("line %d: %s subject %q mapped to %q, but line %d maps it to %q", line, source, subject, person, lines[k], rows[i].Person))
			}
			continue
		}
		seen[k], lines[k] = len(rows), line
		rows = append(rows, model.Identity{Person: person, Source: source, Subject: subject, Origin: model.OriginMapping})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrMapping, errors.Join(errs...))
	}
	return rows, nil
}

func isHeader(rec []string) bool {
	if len(rec) != 3 {
		return false
	}
	want := [3]string{"person", "source", "subject"}
	for i, f := range rec {
		if strings.ToLower(strings.TrimSpace(f)) != want[i] {
			return false
		}
	}
	return true
}

// ReadMappingFile parses the mapping file at path (see ParseMapping); an
// error names the file.
func ReadMappingFile(path string) ([]model.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := ParseMapping(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}
