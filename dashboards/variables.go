package dashboards

import (
	"fmt"
	"regexp"
	"strings"
)

// Var is the current value of a dashboard template variable.
type Var struct {
	// Values are the selected values; for All, every option's value.
	Values []string
	// All is true when the variable's All option is selected.
	All bool
	// Multi is true for a multi-value or include-All variable: Grafana
	// then hands the plugin an array, which it renders 'a','b'.
	Multi bool
}

// Vars are a dashboard's variables by name.
type Vars map[string]Var

// varRE is Grafana's template variable syntax (templateSrv's regex): $name,
// [[name]] and ${name}, ${name:format}.
var varRE = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

// Interpolate does what Grafana's frontend does to a ClickHouse query before
// the plugin's backend sees it (the plugin's CHDatasource.applyTemplateVariables):
// first each $__conditionalAll(condition, $var), from the last to the first,
// becomes 1=1 when $var's value is empty or All and the condition otherwise;
// then every variable is replaced by its value, formatted as the plugin
// formats values: an array as 'a','b' (values joined with "','", no escaping),
// a single value as it is. Names starting with __ (Grafana's and the plugin's
// macros) are left alone; any other unknown variable is an error.
func (v Vars) Interpolate(sql string) (string, error) {
	sql, err := v.conditionalAll(sql)
	if err != nil {
		return "", err
	}
	var bad []string
	out := varRE.ReplaceAllStringFunc(sql, func(m string) string {
		sub := varRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[4]
		if strings.HasPrefix(name, "__") {
			return m
		}
		val, ok := v[name]
		if !ok {
			bad = append(bad, name)
			return m
		}
		if sub[3] != "" || sub[6] != "" {
			bad = append(bad, name+" (formats are not supported here)")
			return m
		}
		if val.Multi {
			return "'" + strings.Join(val.Values, "','") + "'"
		}
		return strings.Join(val.Values, ",")
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("%w: unknown template variable(s) %s", ErrMacro, strings.Join(bad, ", "))
	}
	return out, nil
}

// conditionalAll expands $__conditionalAll as the plugin's frontend does:
// arguments split on commas at the call's own parenthesis depth (quotes are
// not considered), the first argument kept verbatim, the second naming the
// variable.
func (v Vars) conditionalAll(sql string) (string, error) {
	const macro = "$__conditionalAll("
	for i := strings.LastIndex(sql, macro); i >= 0; i = strings.LastIndex(sql, macro) {
		open := i + len(macro) - 1
		args, end := macroArgs(sql, open)
		if len(args) != 2 {
			return "", fmt.Errorf("%w: $__conditionalAll at offset %d takes 2 arguments, got %d", ErrMacro, i, len(args))
		}
		phrase := args[0]
		name := strings.TrimSpace(args[1])
		name = strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(name, "${"), "}"), "$")
		val, ok := v[name]
		if !ok {
			return "", fmt.Errorf("%w: $__conditionalAll names unknown variable %q", ErrMacro, name)
		}
		if val.All || strings.Join(val.Values, ",") == "" {
			phrase = "1=1"
		}
		sql = sql[:i] + phrase + sql[end+1:]
	}
	return sql, nil
}

// macroArgs splits the arguments of the call whose '(' is at open, the way
// the plugin's getMacroArgs does, and returns the index of its ')'.
func macroArgs(s string, open int) ([]string, int) {
	var args []string
	depth, last := 0, open+1
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return append(args, s[last:i]), i
			}
		case ',':
			if depth == 1 {
				args = append(args, s[last:i])
				last = i + 1
			}
		}
	}
	return nil, len(s) - 1
}
