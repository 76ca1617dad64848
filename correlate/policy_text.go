package correlate

import (
	"bytes"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keytrail/keytrail/model"
)

// CanonicalYAML returns the policy as YAML an auditor can read and
// LoadPolicy can load back to the same Version: every key written out (the
// effective policy, defaults included), sets sorted and deduplicated, AAGUIDs
// canonical, durations in Go syntax, and per-class max_age overrides only
// where they differ from the class's privileged or other age. It is what
// correlate records beside the version and what an evidence pack prints.
// Policies with one Version have one text, up to an unused privileged or
// other age when every class it would apply to is overridden.
func (p Policy) CanonicalYAML() []byte {
	c := p
	c.PrivilegedClasses = sortedUnique(p.PrivilegedClasses)
	c.HardwareFactors = sortedUnique(p.HardwareFactors)
	c.AAGUID.Allow = canonicalAAGUIDs(p.AAGUID.Allow)
	c.AAGUID.Deny = canonicalAAGUIDs(p.AAGUID.Deny)
	priv := p.privilegedSet()
	c.MaxAge.Classes = nil
	for cl, d := range p.MaxAge.Classes {
		base := p.MaxAge.Other
		if priv[cl] {
			base = p.MaxAge.Privileged
		}
		if d != base {
			if c.MaxAge.Classes == nil {
				c.MaxAge.Classes = map[model.ActionClass]time.Duration{}
			}
			c.MaxAge.Classes[cl] = d
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil { // cannot happen: strings, durations, lists and maps of them
		panic(fmt.Sprintf("encode policy: %v", err))
	}
	if err := enc.Close(); err != nil {
		panic(fmt.Sprintf("encode policy: %v", err))
	}
	return buf.Bytes()
}
