//go:build !nochdb

package chdb

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
)

// Why the engine must be kept away from standard input
//
// chDB runs clickhouse-local's client code (ClientBase) inside the process, on
// file descriptor 0. For an INSERT whose data is written into the statement
// (`INSERT … VALUES …`, `INSERT … FORMAT F <data>`), that code looks at the
// process's standard input when it is not a terminal: with async_insert (chDB's
// default) it reads from it and fails with NOT_IMPLEMENTED ("Processing async
// inserts with both inlined and external data"), and with async_insert=0 it
// appends whatever it reads to the inserted rows (chdb-io/chdb-core#239). Either
// way it consumes bytes that belong to keytrail's caller: `curl … | keytrail
// ingest -` failed, and in a shell `while read` loop the engine swallowed the
// loop's input. No setting or connection argument turns that off (is_interactive
// is fixed to false and stdin_is_a_tty comes from isatty(0)).
//
// So no statement keytrail gives the engine carries inline data. The session
// detaches an INSERT's inline data from its text and hands it to the engine
// through a pipe this process owns, as `INSERT … SELECT * FROM
// file('/dev/fd/N', 'F')`: an INSERT … SELECT, which the client code never
// pairs with standard input. The table function takes the insertion table's
// structure (use_structure_from_insertion_table_in_table_functions), so the
// rows mean what they meant inline, and the data no longer passes through the
// SQL parser (which also makes large inserts faster). Statements that would
// read standard input on purpose — INSERT … FROM INFILE, the input() table
// function, file(stdin) — are refused.

// ErrReadsStdin is returned for a statement that would make the engine read the
// process's standard input.
var ErrReadsStdin = errors.New("chdb: statement would read the process's standard input")

// inlineInsert is an INSERT whose data was written into the statement.
type inlineInsert struct {
	head   string // the statement up to VALUES or FORMAT, e.g. "INSERT INTO t (a, b) "
	format string // the data's format: "Values" or the FORMAT name
	data   string // the inline data
}

var formatNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// splitInlineInsert finds an INSERT statement's inline data. ok is false for
// every other statement (INSERT … SELECT included). err is ErrReadsStdin for a
// statement that reads standard input on purpose.
func splitInlineInsert(q string) (ins inlineInsert, ok bool, err error) {
	toks := sqlWords(q, insertDataStarts)
	if len(toks) == 0 || !strings.EqualFold(toks[0].text, "INSERT") {
		for _, t := range toks {
			if t.depth > 0 && strings.EqualFold(t.text, "stdin") {
				return ins, false, fmt.Errorf("%w: file(stdin)", ErrReadsStdin)
			}
		}
		return ins, false, nil
	}
	for i := insertBody(toks); i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.depth > 0:
			if strings.EqualFold(t.text, "stdin") {
				return ins, false, fmt.Errorf("%w: file(stdin)", ErrReadsStdin)
			}
		case strings.EqualFold(t.text, "INFILE"):
			return ins, false, fmt.Errorf("%w: INSERT … FROM INFILE", ErrReadsStdin)
		case strings.EqualFold(t.text, "SELECT"), strings.EqualFold(t.text, "WITH"):
			for _, u := range toks[i:] {
				if strings.EqualFold(u.text, "input") && u.call {
					return ins, false, fmt.Errorf("%w: the input() table function", ErrReadsStdin)
				}
				if strings.EqualFold(u.text, "stdin") {
					return ins, false, fmt.Errorf("%w: file(stdin)", ErrReadsStdin)
				}
			}
			return ins, false, nil
		case strings.EqualFold(t.text, "VALUES"):
			return inlineInsert{head: q[:t.pos], format: "Values", data: q[t.end:]}, true, nil
		case strings.EqualFold(t.text, "FORMAT"):
			if i+1 >= len(toks) || !formatNameRE.MatchString(toks[i+1].text) {
				return ins, false, errors.New("chdb: INSERT … FORMAT needs a format name")
			}
			name := toks[i+1]
			return inlineInsert{head: q[:t.pos], format: name.text, data: q[dataStart(q, name.end):]}, true, nil
		}
	}
	return ins, false, nil
}

// insertBody is the index of the first word of an INSERT after
// "INSERT INTO [TABLE] name" (a table may be called "values" or "format").
func insertBody(ws []word) int {
	i := 1
	if i < len(ws) && strings.EqualFold(ws[i].text, "INTO") {
		i++
	}
	if i < len(ws) && strings.EqualFold(ws[i].text, "TABLE") {
		i++
	}
	if i < len(ws) && strings.EqualFold(ws[i].text, "FUNCTION") {
		i++ // the function's arguments are inside parentheses
	}
	return i + 1
}

// insertDataStarts tells sqlWords to stop at an INSERT's inline data: after a
// top-level VALUES, or after the name that follows FORMAT, unless a SELECT
// came first. The data is never scanned.
func insertDataStarts(ws []word) bool {
	if !strings.EqualFold(ws[0].text, "INSERT") {
		return false
	}
	n := len(ws)
	body := insertBody(ws)
	if n-1 < body || ws[n-1].depth != 0 {
		return false
	}
	for _, w := range ws[body : n-1] {
		if w.depth == 0 && (strings.EqualFold(w.text, "SELECT") || strings.EqualFold(w.text, "WITH")) {
			return false
		}
	}
	last := ws[n-1].text
	return strings.EqualFold(last, "VALUES") || n-2 >= body && strings.EqualFold(ws[n-2].text, "FORMAT")
}

// dataStart is where an INSERT's inline data begins after its format name, as
// ClickHouse's parser has it: after the first newline if the whitespace that
// follows holds one, else after all the whitespace.
func dataStart(q string, from int) int {
	i := from
	for i < len(q) {
		switch q[i] {
		case '\n':
			return i + 1
		case ' ', '\t', '\r', '\f', '\v':
			i++
			continue
		}
		break
	}
	return i
}

// word is a bare word of SQL text outside quotes and comments.
type word struct {
	text     string
	pos, end int
	depth    int  // parenthesis depth
	call     bool // followed by "("
}

// sqlWords returns q's bare words and quoted identifiers, stopping after the word for which stop
// (given the words so far) is true. Quoted strings and identifiers, comments
// and punctuation are skipped.
func sqlWords(q string, stop func([]word) bool) []word {
	var out []word
	depth := 0
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(q) {
				if q[j] == '\\' {
					j += 2
					continue
				}
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if c != '\'' { // a quoted identifier is a word that matches no keyword
				out = append(out, word{text: q[i:min(j+1, len(q))], pos: i, end: min(j+1, len(q)), depth: depth})
				if stop(out) {
					return out
				}
			}
			i = j + 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-', c == '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			j := i
			for j < len(q) && (q[j] == '_' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= '0' && q[j] <= '9') {
				j++
			}
			w := word{text: q[i:j], pos: i, end: j, depth: depth}
			k := j
			for k < len(q) && (q[k] == ' ' || q[k] == '\t' || q[k] == '\n' || q[k] == '\r') {
				k++
			}
			w.call = k < len(q) && q[k] == '('
			out = append(out, w)
			if stop(out) {
				return out
			}
			i = j
		default:
			i++
		}
	}
	return out
}

// pipeFeed hands inline INSERT data to the engine through a pipe.
type pipeFeed struct {
	r        *os.File
	size     int
	done     chan feedResult
	finished bool
}

type feedResult struct {
	n   int
	err error
}

// startFeed opens a pipe, starts writing data into it and returns the
// statement that reads it.
func startFeed(ins inlineInsert) (string, *pipeFeed, error) {
	path, f, err := startPipe(strings.NewReader(ins.data), len(ins.data))
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("%sSELECT * FROM file('%s', '%s')", ins.head, path, ins.format), f, nil
}

// startPipe opens a pipe, starts writing data (size bytes) into it and
// returns the path the engine reads it from (/dev/fd/N).
func startPipe(data io.WriterTo, size int) (string, *pipeFeed, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", nil, fmt.Errorf("chdb: pipe for insert data: %w", err)
	}
	if size > pipeDefault {
		growPipe(w, size)
	}
	f := &pipeFeed{r: r, size: size, done: make(chan feedResult, 1)}
	go func() {
		n, err := data.WriteTo(w)
		w.Close()
		f.done <- feedResult{int(n), err}
	}()
	return fmt.Sprintf("/dev/fd/%d", r.Fd()), f, nil
}

// pipeDefault is the capacity of a new pipe on Linux.
const pipeDefault = 64 << 10

// fSetPipeSize is fcntl F_SETPIPE_SZ (Linux; elsewhere the call fails and
// the pipe keeps its size).
const fSetPipeSize = 1031

// growPipe asks for a pipe buffer of up to 1 MiB (the unprivileged limit)
// for a large insert, so writer and engine switch far less often. Best
// effort: a pipe that keeps its default size still works.
func growPipe(w *os.File, size int) {
	sc, err := w.SyscallConn()
	if err != nil {
		return
	}
	_ = sc.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSize, uintptr(min(size, 1<<20)))
	})
}

// finish closes the engine's end of the pipe and waits for the writer. When the
// statement succeeded, every byte must have been read.
func (f *pipeFeed) finish(queryErr error) error {
	f.finished = true
	f.r.Close() // a writer still blocked gets EPIPE
	res := <-f.done
	if queryErr != nil {
		return queryErr
	}
	if res.err != nil && !errors.Is(res.err, syscall.EPIPE) {
		return fmt.Errorf("chdb: feed insert data: %w", res.err)
	}
	if res.n != f.size {
		return fmt.Errorf("chdb: the engine read %d of %d bytes of insert data", res.n, f.size)
	}
	return nil
}

// abandon releases the pipe of a statement that never ran.
func (f *pipeFeed) abandon() {
	if !f.finished {
		_ = f.finish(errors.New("not run"))
	}
}
