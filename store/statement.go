package store

import "strings"

// rowKeywords are the first words of statements that return rows.
var rowKeywords = map[string]bool{
	"SELECT": true, "WITH": true, "SHOW": true, "DESCRIBE": true, "DESC": true,
	"EXPLAIN": true, "EXISTS": true, "CHECK": true,
}

// ReturnsRows reports whether query is a statement that returns rows (SELECT,
// WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS, CHECK), judged by its first word
// after comments and opening parentheses. Run the others (DDL, INSERT, SET,
// OPTIMIZE, …) with Exec: a server answers them with no result set at all.
func ReturnsRows(query string) bool {
	q := query
	for {
		q = strings.TrimLeft(q, " \t\r\n(")
		switch {
		case strings.HasPrefix(q, "--"), strings.HasPrefix(q, "#"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return false
			}
			q = q[i+1:]
			continue
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q, "*/")
			if i < 0 {
				return false
			}
			q = q[i+2:]
			continue
		}
		break
	}
	end := strings.IndexFunc(q, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	if end < 0 {
		end = len(q)
	}
	return rowKeywords[strings.ToUpper(q[:end])]
}

// InlineInsertData reports whether query is an INSERT that carries its rows
// in the statement text (INSERT … VALUES (…) or INSERT … FORMAT F data) rather
// than selecting them (INSERT … SELECT). A ClickHouse server does not parse
// such data over the native protocol: it answers with the table's structure
// and waits for the client to send the rows as blocks (clickhouse-client
// converts inline data on the client side), so the statement would hang.
func InlineInsertData(query string) bool {
	words := keywords(query)
	if len(words) == 0 || words[0] != "INSERT" {
		return false
	}
	for _, w := range words[1:] {
		switch w {
		case "SELECT", "WITH":
			return false
		case "VALUES", "FORMAT":
			return true
		}
	}
	return false
}

// keywords returns the upper-cased bare words of query outside comments,
// quoted strings and quoted identifiers, in order.
func keywords(query string) []string {
	var words []string
	q := query
	for len(q) > 0 {
		switch c := q[0]; {
		case strings.HasPrefix(q, "--"), c == '#':
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return words
			}
			q = q[i+1:]
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q, "*/")
			if i < 0 {
				return words
			}
			q = q[i+2:]
		case c == '\'' || c == '"' || c == '`':
			i := 1
			for i < len(q) && q[i] != c {
				if q[i] == '\\' {
					i++
				}
				i++
			}
			q = q[min(i+1, len(q)):]
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			end := strings.IndexFunc(q, func(r rune) bool {
				return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
			})
			if end < 0 {
				end = len(q)
			}
			words = append(words, strings.ToUpper(q[:end]))
			q = q[end:]
		default:
			q = q[1:]
		}
	}
	return words
}
