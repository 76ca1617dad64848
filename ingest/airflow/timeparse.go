package airflow

import (
	"errors"
	"fmt"
	"time"
)

// ErrTime is wrapped by every time-parsing error.
var ErrTime = errors.New("bad time")

// ParseTime parses the timestamps Airflow writes and users export:
// RFC 3339 / ISO 8601 with a 'T' or a space between date and time, 0 to 9
// fractional digits (a comma is accepted as the decimal mark), and an offset
// written as Z, ±hh, ±hhmm or ±hh:mm. A time without an offset is UTC, the
// zone Airflow stores. The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	t, ok := parseTime(s)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %q", ErrTime, truncate(s, 64))
	}
	return t, nil
}

func parseTime(s string) (time.Time, bool) {
	// YYYY-MM-DD
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	var hour, min, sec, nsec int
	rest := s[10:]
	if rest != "" {
		if rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ' {
			return time.Time{}, false
		}
		rest = rest[1:]
		if len(rest) < 5 || rest[2] != ':' {
			return time.Time{}, false
		}
		var ok bool
		if hour, ok = digits(rest[0:2]); !ok {
			return time.Time{}, false
		}
		if min, ok = digits(rest[3:5]); !ok {
			return time.Time{}, false
		}
		rest = rest[5:]
		if len(rest) >= 3 && rest[0] == ':' {
			if sec, ok = digits(rest[1:3]); !ok {
				return time.Time{}, false
			}
			rest = rest[3:]
			if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
				i := 1
				for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
					i++
				}
				frac := rest[1:i]
				if frac == "" || len(frac) > 9 {
					return time.Time{}, false
				}
				n, _ := digits(frac)
				for k := len(frac); k < 9; k++ {
					n *= 10
				}
				nsec = n
				rest = rest[i:]
			}
		}
	}
	loc := time.UTC
	if rest != "" {
		switch rest[0] {
		case 'Z', 'z':
			if len(rest) != 1 {
				return time.Time{}, false
			}
		case '+', '-':
			off := rest[1:]
			var oh, om int
			var ok bool
			switch {
			case len(off) == 2:
				oh, ok = digits(off)
			case len(off) == 4:
				oh, ok = digits(off[:2])
				if ok {
					om, ok = digits(off[2:])
				}
			case len(off) == 5 && off[2] == ':':
				oh, ok = digits(off[:2])
				if ok {
					om, ok = digits(off[3:])
				}
			}
			if !ok || oh > 23 || om > 59 {
				return time.Time{}, false
			}
			secs := oh*3600 + om*60
			if rest[0] == '-' {
				secs = -secs
			}
			loc = time.FixedZone("", secs)
		default:
			return time.Time{}, false
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, loc)
	if t.Day() != day { // e.g. February 30th
		return time.Time{}, false
	}
	return t.UTC(), true
}

// digits parses a short run of ASCII digits.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
