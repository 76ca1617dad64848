package collect

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// NextLink returns the target of the Link header's rel="next" (RFC 8288),
// as Okta pages its lists; "" when there is none.
func NextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, link := range splitLinks(v) {
			target, params, ok := strings.Cut(link, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(name), "rel") {
					for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
						if strings.EqualFold(rel, "next") {
							return target[1 : len(target)-1]
						}
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header value at the commas between links (not
// those inside <…> or quotes).
func splitLinks(v string) []string {
	var out []string
	depth, quote, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			quote = !quote
		case quote:
		case c == '<':
			depth++
		case c == '>':
			depth--
		case c == ',' && depth == 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// SameOrigin checks that link, a page link a provider returned or a cursor
// read back from storage, points at base's scheme and host, so that a
// collector never sends its credentials elsewhere.
func SameOrigin(base *url.URL, link string) error {
	u, err := url.Parse(link)
	if err != nil {
		return fmt.Errorf("page link %q: %w", link, err)
	}
	if !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) {
		return fmt.Errorf("page link %s://%s…: not the provider's origin %s://%s", u.Scheme, u.Host, base.Scheme, base.Host)
	}
	return nil
}

// ParseBaseURL parses a provider's base URL (http or https, a host, no
// query), without a trailing slash.
func ParseBaseURL(name, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s: required", name)
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("%s %q: want an http or https URL", name, raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s %q: no host", name, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s %q: must not have a query or fragment", name, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: must not hold credentials; use the secret settings", name)
	}
	return u, nil
}
