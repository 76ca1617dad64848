package aaguid

import (
	"bufio"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/keytrail/keytrail/model"
)

//go:embed curated.csv
var curatedCSV string

// ErrAAGUID is wrapped by errors about a malformed AAGUID.
var ErrAAGUID = errors.New("malformed aaguid")

// Zero is the all-zero AAGUID authenticators send with "none" attestation or
// for U2F credentials; it identifies no model.
const Zero = "00000000-0000-0000-0000-000000000000"

// Entry sources.
const (
	SourceCurated        = "curated"         // the embedded table
	SourceMDS3           = "mds3"            // a FIDO MDS3 blob whose signature and chain were verified
	SourceMDS3Unverified = "mds3-unverified" // a FIDO MDS3 blob imported without a root certificate
	SourceAllow          = "allow"           // the operator's allow list
	SourceDeny           = "deny"            // the operator's deny list
)

// Entry is what keytrail knows about one authenticator model.
type Entry struct {
	AAGUID   string `json:"aaguid"` // lower-case, hyphenated
	Model    string `json:"model"`
	Hardware bool   `json:"hardware"`         // the private key is held in non-exportable hardware
	Synced   bool   `json:"synced"`           // keys are synced through a cloud account: never hardware
	Platform bool   `json:"platform"`         // built into a device (Windows Hello, Touch ID) rather than a roaming key
	Status   string `json:"status,omitempty"` // latest FIDO MDS status report, when imported from MDS3
	Source   string `json:"source"`
}

// Table maps AAGUIDs to entries, with operator allow and deny lists on top.
// The zero value is an empty table. A Table is safe for concurrent use.
type Table struct {
	mu      sync.RWMutex
	entries map[string]Entry
	allow   map[string]bool
	deny    map[string]bool
}

// Default returns a new table holding the curated entries. Each call returns
// an independent table, so callers may add to it freely.
func Default() *Table {
	t := &Table{}
	entries, err := parseCurated(curatedCSV)
	if err != nil {
		// The embedded file is checked by tests; an error here is a build defect.
		panic(fmt.Sprintf("aaguid: embedded curated.csv: %v", err))
	}
	t.Add(entries...)
	return t
}

// Curated returns the embedded curated entries, sorted by AAGUID.
func Curated() []Entry {
	return Default().Entries()
}

// Curated table classes (curated.csv's second column).
const (
	ClassSecurityKey      = "security-key"      // a roaming security key: hardware, not platform
	ClassPlatform         = "platform"          // a device-bound platform authenticator whose key is in a TPM or Secure Enclave
	ClassPlatformSoftware = "platform-software" // a device-bound platform authenticator whose key is software-held
	ClassSynced           = "synced"            // a passkey provider that syncs keys through a cloud account
)

// parseCurated reads the curated CSV: aaguid,class,model with # comments.
func parseCurated(s string) ([]Entry, error) {
	r := csv.NewReader(strings.NewReader(s))
	r.Comment = '#'
	r.FieldsPerRecord = 3
	var out []Entry
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parse curated table: %w", err)
		}
		id, err := Canonical(rec[0])
		if err != nil {
			return nil, fmt.Errorf("curated table: %w", err)
		}
		e := Entry{AAGUID: id, Model: strings.TrimSpace(rec[2]), Source: SourceCurated}
		switch strings.TrimSpace(rec[1]) {
		case ClassSecurityKey:
			e.Hardware = true
		case ClassPlatform:
			e.Hardware, e.Platform = true, true
		case ClassPlatformSoftware:
			e.Platform = true
		case ClassSynced:
			e.Synced = true
		default:
			return nil, fmt.Errorf("curated table: %s: unknown class %q", id, rec[1])
		}
		out = append(out, e)
	}
}

// Canonical returns s as a lower-case hyphenated AAGUID. It accepts any case,
// surrounding space and braces, and the 32-hex-digit form without hyphens.
func Canonical(s string) (string, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimPrefix(t, "{"), "}")
	t = strings.ToLower(t)
	if len(t) == 32 && isHex(t) {
		return t[0:8] + "-" + t[8:12] + "-" + t[12:16] + "-" + t[16:20] + "-" + t[20:32], nil
	}
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return "", fmt.Errorf("%w: %q", ErrAAGUID, truncate(s, 64))
	}
	if !isHex(t[0:8]) || !isHex(t[9:13]) || !isHex(t[14:18]) || !isHex(t[19:23]) || !isHex(t[24:36]) {
		return "", fmt.Errorf("%w: %q", ErrAAGUID, truncate(s, 64))
	}
	return t, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Add puts entries into the table; an entry replaces any earlier one with the
// same AAGUID. Entries with a malformed AAGUID are skipped.
func (t *Table) Add(entries ...Entry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = make(map[string]Entry, len(entries))
	}
	for _, e := range entries {
		id, err := Canonical(e.AAGUID)
		if err != nil {
			continue
		}
		e.AAGUID = id
		if e.Synced {
			e.Hardware = false
		}
		t.entries[id] = e
	}
}

// Allow marks AAGUIDs as hardware whatever the table says (the operator vouches
// for the model). Deny wins over Allow.
func (t *Table) Allow(aaguids ...string) error {
	return t.mark(&t.allow, aaguids)
}

// Deny marks AAGUIDs as not hardware whatever the table or the provider says.
func (t *Table) Deny(aaguids ...string) error {
	return t.mark(&t.deny, aaguids)
}

func (t *Table) mark(set *map[string]bool, aaguids []string) error {
	ids := make([]string, 0, len(aaguids))
	var errs []error
	for _, a := range aaguids {
		id, err := Canonical(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, id)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if *set == nil {
		*set = make(map[string]bool)
	}
	for _, id := range ids {
		(*set)[id] = true
	}
	return nil
}

// Lookup returns what the table says about aaguid (any case), with the
// operator's lists applied: a denied AAGUID comes back Hardware=false with
// Source "deny", an allowed one Hardware=true, Synced=false with Source
// "allow". ok is false when neither the table nor the lists know it.
func (t *Table) Lookup(aaguid string) (Entry, bool) {
	id, err := Canonical(aaguid)
	if err != nil || id == Zero {
		return Entry{}, false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.entries[id]
	switch {
	case t.deny[id]:
		e.AAGUID, e.Hardware, e.Source = id, false, SourceDeny
		return e, true
	case t.allow[id]:
		e.AAGUID, e.Hardware, e.Synced, e.Source = id, true, false, SourceAllow
		return e, true
	}
	return e, ok
}

// Len is the number of entries in the table (not counting list-only AAGUIDs).
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.entries)
}

// Entries returns the table's entries sorted by AAGUID, without the
// operator's lists applied.
func (t *Table) Entries() []Entry {
	t.mu.RLock()
	out := make([]Entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.AAGUID, b.AAGUID) })
	return out
}

// ParseList reads an operator allow or deny list: one AAGUID per line, blank
// lines and text after '#' ignored. Every malformed line is reported.
func ParseList(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	var out []string
	var errs []error
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		id, err := Canonical(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		out = append(out, id)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read list: %w", err))
	}
	return out, errors.Join(errs...)
}

// Evidence is what is known about one WebAuthn credential when Decide weighs it.
type Evidence struct {
	// Factor is what the provider reports: model.FactorWebAuthn,
	// model.FactorPlatform or model.FactorPasskeySynced (a backup-eligible
	// credential); empty when it reports none.
	Factor model.Factor
	// Hardware is the provider's explicit hardware signal (Okta
	// HARDWARE_PROTECTED, Entra "FIDO2 security key"); nil when it gives none.
	Hardware *bool
	// AAGUID is the credential's AAGUID, from the event itself or from the
	// credential's registration; empty or the all-zero AAGUID when unknown.
	AAGUID string
	// Model is the provider's name for the authenticator (Okta's factor
	// profile.authenticatorName, "Windows Hello"), consulted only when no
	// AAGUID is known: see Table.ModelClass.
	Model string
}

// Decision is what Decide concludes about a credential.
type Decision struct {
	// Factor is model.FactorWebAuthn for a roaming security key,
	// model.FactorPlatform for a device-bound platform credential (Windows
	// Hello, Touch ID, an authenticator app's device-bound passkey),
	// model.FactorPasskeySynced for a synced passkey, or Evidence.Factor when
	// nothing tells them apart.
	Factor model.Factor
	// Hardware says whether the private key is held in non-exportable
	// hardware; nil when undecided. A platform credential can be hardware
	// (TPM, Secure Enclave) and still not be a security key: the policy's
	// hardware factors decide whether its factor counts.
	Hardware *bool
	// Model is the table's name for the AAGUID, when it knows it.
	Model string
}

// Decide says what a WebAuthn credential is — security key, platform
// credential or synced passkey — and whether it is hardware-backed. It is the
// single place this decision is made; the evidence is weighed in this order.
//
// Factor:
//
//  1. A synced AAGUID in the table (not on the allow list), or a provider
//     that reports the credential backup-eligible: passkey_synced.
//  2. A platform AAGUID in the table (Windows Hello, Touch ID, Microsoft
//     Authenticator…): platform, whatever label the provider used — the
//     AAGUID decides.
//  3. Any other AAGUID in the table: webauthn (a roaming security key).
//  4. Without a known AAGUID, a provider's model name that the table knows
//     only for synced models, or only for platform models (Table.ModelClass:
//     Okta's factor inventory names "Windows Hello" and no AAGUID):
//     passkey_synced, or platform. A name never makes a credential a
//     security key, nor hardware.
//  5. Otherwise the provider's own factor.
//
// Hardware:
//
//  1. The operator's deny list: a denied AAGUID is never hardware.
//  2. A synced passkey is never hardware, whatever the provider says.
//  3. The provider's explicit signal (Okta HARDWARE_PROTECTED, Entra
//     "FIDO2 security key", Google security_key) wins over the table.
//  4. The operator's allow list: an allowed AAGUID is hardware.
//  5. The table entry for the credential's AAGUID (curated or MDS3).
//  6. Otherwise the answer is unknown: nil.
//
// The all-zero AAGUID identifies no model. t may be nil.
func Decide(ev Evidence, t *Table) Decision {
	d := Decision{Factor: ev.Factor}
	var e Entry
	var inTable, allow, deny bool
	if t != nil && ev.AAGUID != "" {
		e, inTable, allow, deny = t.lookup(ev.AAGUID)
	}
	if inTable {
		d.Model = e.Model
	}
	switch {
	case inTable && e.Synced && !allow, ev.Factor == model.FactorPasskeySynced:
		d.Factor = model.FactorPasskeySynced
	case inTable && e.Platform:
		d.Factor = model.FactorPlatform
	case inTable:
		d.Factor = model.FactorWebAuthn
	case t != nil && ev.Model != "" && (ev.AAGUID == "" || ev.AAGUID == Zero):
		switch t.ModelClass(ev.Model) {
		case model.FactorPasskeySynced:
			d.Factor = model.FactorPasskeySynced
		case model.FactorPlatform:
			d.Factor = model.FactorPlatform
		}
	}
	switch {
	case deny:
		d.Hardware = boolPtr(false)
	case d.Factor == model.FactorPasskeySynced:
		d.Hardware = boolPtr(false)
	case ev.Hardware != nil:
		d.Hardware = boolPtr(*ev.Hardware)
	case allow:
		d.Hardware = boolPtr(true)
	case inTable:
		d.Hardware = boolPtr(e.Hardware)
	}
	return d
}

// ModelClass is what the table's entries named name say about a credential
// known only by a provider's model name: model.FactorPasskeySynced when
// every entry whose model is name (case-insensitive), or begins with name
// and a space or "(" ("Windows Hello" names "Windows Hello Hardware
// Authenticator (TPM)" and the other Windows Hello entries), is synced;
// model.FactorPlatform when every such entry is a platform authenticator
// that is not synced; model.FactorWebAuthn when every one is a roaming
// authenticator; "" when none matches or they disagree.
func (t *Table) ModelClass(name string) model.Factor {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return ""
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	var class model.Factor
	for _, e := range t.entries {
		m := strings.ToLower(strings.TrimSpace(e.Model))
		if m != name && !(strings.HasPrefix(m, name) && (m[len(name)] == ' ' || m[len(name)] == '(')) {
			continue
		}
		c := e.factor()
		if class != "" && class != c {
			return ""
		}
		class = c
	}
	return class
}

// factor is the factor a credential of e's model authenticates as.
func (e Entry) factor() model.Factor {
	switch {
	case e.Synced:
		return model.FactorPasskeySynced
	case e.Platform:
		return model.FactorPlatform
	}
	return model.FactorWebAuthn
}

// lookup returns the table's own entry for aaguid (inTable false when it has
// none) and whether the operator's lists name it.
func (t *Table) lookup(aaguid string) (e Entry, inTable, allow, deny bool) {
	id, err := Canonical(aaguid)
	if err != nil || id == Zero {
		return Entry{}, false, false, false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, inTable = t.entries[id]
	return e, inTable, t.allow[id], t.deny[id]
}

func boolPtr(b bool) *bool { return &b }
