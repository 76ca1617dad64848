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
