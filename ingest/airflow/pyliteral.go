package airflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrPythonLiteral is wrapped by every error PythonLiteralToJSON returns.
var ErrPythonLiteral = errors.New("not a python literal")

// maxLiteralDepth bounds nesting so hostile input cannot exhaust the stack.
const maxLiteralDepth = 256

// PythonLiteralToJSON converts the repr of a Python value made of literals —
// str and bytes (either quote style, r/b/u prefixes, escapes), int, float,
// True, False, None, and nested lists, tuples, sets and dicts — into compact
// JSON. Tuples and sets become arrays; dict keys that are not strings become
// their JSON text (an int key 1 becomes "1"); dict key order is kept. A list
// made only of (str, value) pairs — Airflow's ≤2.7 `extra` — stays a list of
// two-element arrays here; see decodeExtra for turning it into an object.
// Anything else (calls such as datetime.datetime(…), names, expressions)
// is an error wrapping ErrPythonLiteral.
func PythonLiteralToJSON(s string) (string, error) {
	v, err := parsePythonLiteral(s)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	writePyJSON(&buf, v)
	return buf.String(), nil
}

// pyKind tags the variants of pyValue.
type pyKind uint8

const (
	pyNone pyKind = iota
	pyBool
	pyInt   // text holds the decimal digits (with sign)
	pyFloat // text holds a JSON-valid number
	pyStr
	pyList // list, tuple or set
	pyDict
)

// pyValue is a parsed Python literal.
type pyValue struct {
	kind  pyKind
	b     bool
	text  string
	items []pyValue // pyList elements; pyDict keys and values interleaved
}

// isPairList reports whether v is a list whose elements are all two-element
// sequences with a string first element: Python's repr of list(dict.items()).
func (v pyValue) isPairList() bool {
	if v.kind != pyList {
		return false
	}
	for _, it := range v.items {
		if it.kind != pyList || len(it.items) != 2 || it.items[0].kind != pyStr {
			return false
		}
	}
	return true
}

func parsePythonLiteral(s string) (pyValue, error) {
	p := pyParser{s: s}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return pyValue{}, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return pyValue{}, p.errorf("trailing text")
	}
	return v, nil
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: offset %d: %s", ErrPythonLiteral, p.i, fmt.Sprintf(format, args...))
}

func (p *pyParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.i++
		case '\\': // explicit line continuation
			if p.i+1 < len(p.s) && p.s[p.i+1] == '\n' {
				p.i += 2
				continue
			}
			return
		default:
			return
		}
	}
}

func (p *pyParser) value(depth int) (pyValue, error) {
	if depth > maxLiteralDepth {
		return pyValue{}, p.errorf("nesting deeper than %d", maxLiteralDepth)
	}
	if p.i >= len(p.s) {
		return pyValue{}, p.errorf("unexpected end")
	}
	c := p.s[p.i]
	switch {
	case c == '[':
		p.i++
		items, err := p.seq(']', depth)
		return pyValue{kind: pyList, items: items}, err
	case c == '(':
		p.i++
		items, err := p.seq(')', depth)
		return pyValue{kind: pyList, items: items}, err
	case c == '{':
		p.i++
		return p.dict(depth)
	case c == '\'' || c == '"':
		return p.strings("")
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	case isIdentStart(c):
		j := p.i
		for j < len(p.s) && isIdentPart(p.s[j]) {
			j++
		}
		word := p.s[p.i:j]
		if j < len(p.s) && (p.s[j] == '\'' || p.s[j] == '"') && isStringPrefix(word) {
			p.i = j
			return p.strings(strings.ToLower(word))
		}
		switch word {
		case "True":
			p.i = j
			return pyValue{kind: pyBool, b: true}, nil
		case "False":
			p.i = j
			return pyValue{kind: pyBool}, nil
		case "None":
			p.i = j
			return pyValue{kind: pyNone}, nil
		}
		return pyValue{}, p.errorf("unsupported name %q", word)
	}
	return pyValue{}, p.errorf("unexpected %q", c)
}

// seq parses elements up to the closing byte; a one-element tuple's trailing
// comma and trailing commas in general are accepted.
func (p *pyParser) seq(closing byte, depth int) ([]pyValue, error) {
	var items []pyValue
	for {
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == closing {
			p.i++
			return items, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.errorf("unterminated sequence")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case closing:
		default:
			return nil, p.errorf("expected ',' or %q", closing)
		}
	}
}

// dict parses a dict or a set body after '{'.
func (p *pyParser) dict(depth int) (pyValue, error) {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return pyValue{kind: pyDict}, nil
	}
	first, err := p.value(depth + 1)
	if err != nil {
		return pyValue{}, err
	}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] != ':' { // a set
		rest := []pyValue{first}
		if p.s[p.i] == ',' {
			p.i++
			more, err := p.seq('}', depth)
			if err != nil {
				return pyValue{}, err
			}
			rest = append(rest, more...)
		} else if p.s[p.i] == '}' {
			p.i++
		} else {
			return pyValue{}, p.errorf("expected ',' or '}'")
		}
		return pyValue{kind: pyList, items: rest}, nil
	}
	items := []pyValue{}
	key := first
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return pyValue{}, p.errorf("expected ':'")
		}
		p.i++
		p.skipSpace()
		val, err := p.value(depth + 1)
		if err != nil {
			return pyValue{}, err
		}
		items = append(items, key, val)
		p.skipSpace()
		if p.i >= len(p.s) {
			return pyValue{}, p.errorf("unterminated dict")
		}
		if p.s[p.i] == '}' {
			p.i++
			return pyValue{kind: pyDict, items: items}, nil
		}
		if p.s[p.i] != ',' {
			return pyValue{}, p.errorf("expected ',' or '}'")
		}
		p.i++
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return pyValue{kind: pyDict, items: items}, nil
		}
		if key, err = p.value(depth + 1); err != nil {
			return pyValue{}, err
		}
	}
}

// strings parses one string literal and any literals adjacent to it (Python
// concatenates them).
func (p *pyParser) strings(prefix string) (pyValue, error) {
	var sb strings.Builder
	for {
		if err := p.str(prefix, &sb); err != nil {
			return pyValue{}, err
		}
		save := p.i
		p.skipSpace()
		prefix = ""
		if p.i < len(p.s) && (p.s[p.i] == '\'' || p.s[p.i] == '"') {
			continue
		}
		j := p.i
		for j < len(p.s) && isIdentPart(p.s[j]) {
			j++
		}
		if j > p.i && j < len(p.s) && (p.s[j] == '\'' || p.s[j] == '"') && isStringPrefix(p.s[p.i:j]) {
			prefix = strings.ToLower(p.s[p.i:j])
			p.i = j
			continue
		}
		p.i = save
		return pyValue{kind: pyStr, text: sb.String()}, nil
	}
}

func (p *pyParser) str(prefix string, sb *strings.Builder) error {
	raw := strings.Contains(prefix, "r")
	q := p.s[p.i]
	triple := strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3))
	if triple {
		p.i += 3
	} else {
		p.i++
	}
	for {
		if p.i >= len(p.s) {
			return p.errorf("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == q && (!triple || strings.HasPrefix(p.s[p.i:], strings.Repeat(string(q), 3))):
			if triple {
				p.i += 3
			} else {
				p.i++
			}
			return nil
		case c == '\n' && !triple:
			return p.errorf("newline in string")
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return p.errorf("unterminated string")
			}
			if raw {
				sb.WriteByte('\\')
				sb.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
			if err := p.escape(sb); err != nil {
				return err
			}
		default:
			r, n := utf8.DecodeRuneInString(p.s[p.i:])
			sb.WriteRune(r)
			p.i += n
		}
	}
}

// escape decodes the escape sequence at p.i (a backslash) into sb.
func (p *pyParser) escape(sb *strings.Builder) error {
	c := p.s[p.i+1]
	p.i += 2
	switch c {
	case '\n':
	case '\\', '\'', '"':
		sb.WriteByte(c)
	case 'a':
		sb.WriteByte('\a')
	case 'b':
		sb.WriteByte('\b')
	case 'f':
		sb.WriteByte('\f')
	case 'n':
		sb.WriteByte('\n')
	case 'r':
		sb.WriteByte('\r')
	case 't':
		sb.WriteByte('\t')
	case 'v':
		sb.WriteByte('\v')
	case 'x', 'u', 'U':
		n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
		if p.i+n > len(p.s) {
			return p.errorf("truncated \\%c escape", c)
		}
		v, err := strconv.ParseUint(p.s[p.i:p.i+n], 16, 32)
		if err != nil {
			return p.errorf("bad \\%c escape", c)
		}
		p.i += n
		sb.WriteRune(rune(v)) // invalid code points become U+FFFD
	case '0', '1', '2', '3', '4', '5', '6', '7':
		v := int(c - '0')
		for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7'; k++ {
			v = v*8 + int(p.s[p.i]-'0')
			p.i++
		}
		sb.WriteRune(rune(v))
	case 'N':
		return p.errorf("\\N{...} escapes are not supported")
	default: // Python keeps unknown escapes verbatim
		sb.WriteByte('\\')
		p.i--
	}
	return nil
}

func (p *pyParser) number() (pyValue, error) {
	start := p.i
	neg := false
	for p.i < len(p.s) && (p.s[p.i] == '-' || p.s[p.i] == '+') {
		if p.s[p.i] == '-' {
			neg = !neg
		}
		p.i++
		p.skipSpace()
	}
	j := p.i
	for j < len(p.s) && (isIdentPart(p.s[j]) || p.s[j] == '.' ||
		((p.s[j] == '+' || p.s[j] == '-') && j > p.i && (p.s[j-1] == 'e' || p.s[j-1] == 'E') && !isHexPrefixed(p.s[p.i:j]))) {
		j++
	}
	lit := strings.ReplaceAll(p.s[p.i:j], "_", "")
	if lit == "" {
		p.i = start
		return pyValue{}, p.errorf("bad number")
	}
	sign := ""
	if neg {
		sign = "-"
	}
	base := 10
	if len(lit) > 1 && lit[0] == '0' && strings.ContainsRune("xXoObB", rune(lit[1])) {
		base = 0
	}
	if n, ok := new(big.Int).SetString(lit, base); ok {
		if neg {
			n.Neg(n)
		}
		p.i = j
		return pyValue{kind: pyInt, text: n.String()}, nil
	}
	if strings.ContainsAny(lit, "xXoObBjJ") || strings.Contains(strings.ToLower(lit), "inf") || strings.Contains(strings.ToLower(lit), "nan") {
		p.i = start
		return pyValue{}, p.errorf("unsupported number %q", lit)
	}
	f, err := strconv.ParseFloat(sign+lit, 64)
	if err != nil {
		p.i = start
		return pyValue{}, p.errorf("bad number %q", lit)
	}
	p.i = j
	return pyValue{kind: pyFloat, text: strconv.FormatFloat(f, 'g', -1, 64)}, nil
}

func isHexPrefixed(s string) bool {
	return len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isStringPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "r", "u", "b", "br", "rb", "f", "fr", "rf":
		return !strings.ContainsAny(strings.ToLower(w), "f") // f-strings are expressions
	}
	return false
}

// writePyJSON writes v as compact JSON.
func writePyJSON(buf *bytes.Buffer, v pyValue) {
	switch v.kind {
	case pyNone:
		buf.WriteString("null")
	case pyBool:
		if v.b {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case pyInt, pyFloat:
		buf.WriteString(v.text)
	case pyStr:
		writeJSONString(buf, v.text)
	case pyList:
		buf.WriteByte('[')
		for i, it := range v.items {
			if i > 0 {
				buf.WriteByte(',')
			}
			writePyJSON(buf, it)
		}
		buf.WriteByte(']')
	case pyDict:
		buf.WriteByte('{')
		for i := 0; i+1 < len(v.items); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			k := v.items[i]
			if k.kind == pyStr {
				writeJSONString(buf, k.text)
			} else {
				var kb bytes.Buffer
				writePyJSON(&kb, k)
				writeJSONString(buf, kb.String())
			}
			buf.WriteByte(':')
			writePyJSON(buf, v.items[i+1])
		}
		buf.WriteByte('}')
	}
}

// writeJSONString writes s as a JSON string without HTML escaping; invalid
// UTF-8 becomes U+FFFD.
func writeJSONString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	if n := buf.Len(); n > 0 && buf.Bytes()[n-1] == '\n' {
		buf.Truncate(n - 1)
	}
}
