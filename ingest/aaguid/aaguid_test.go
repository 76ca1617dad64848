package aaguid

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keytrail/keytrail/model"
)

func TestCuratedTable(t *testing.T) {
	entries, err := parseCurated(curatedCSV)
	require.NoError(t, err)
	require.Greater(t, len(entries), 80)
	seen := map[string]bool{}
	for _, e := range entries {
		require.False(t, seen[e.AAGUID], "duplicate %s", e.AAGUID)
		seen[e.AAGUID] = true
		require.Equal(t, strings.ToLower(e.AAGUID), e.AAGUID)
		require.NotEmpty(t, e.Model)
		require.False(t, e.Synced && e.Hardware, e.AAGUID)
	}
	require.Equal(t, len(entries), Default().Len())
	require.Len(t, Curated(), len(entries))
}

func TestLookup(t *testing.T) {
	tab := Default()
	tests := []struct {
		name     string
		aaguid   string
		ok       bool
		hardware bool
		synced   bool
		platform bool
		model    string
	}{
		{"yubikey 5 nfc", "fa2b99dc-9e39-4257-8f92-4a30d23c4118", true, true, false, false, "YubiKey 5 Series with NFC"},
		{"upper case", "FA2B99DC-9E39-4257-8F92-4A30D23C4118", true, true, false, false, "YubiKey 5 Series with NFC"},
		{"no hyphens braces", "{CB69481E8FF7403993EC0A2729A154A8}", true, true, false, false, "YubiKey 5 Series"},
		{"security key by yubico", "f8a011f3-8c0a-4d15-8006-17111f9edc7d", true, true, false, false, "Security Key by Yubico"},
		{"titan", "42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3", true, true, false, false, "Google Titan Security Key v2"},
		{"feitian", "833b721a-ff5f-4d00-bb2e-bdda3ec01e29", true, true, false, false, "Feitian ePass FIDO2 Authenticator"},
		{"windows hello tpm", "08987058-cadc-4b81-b6e1-30de50dcbe96", true, true, false, true, "Windows Hello Hardware Authenticator (TPM)"},
		{"windows hello software", "6028b017-b1d4-4c02-b4b3-afcdafc96bb2", true, false, false, true, "Windows Hello Software Authenticator"},
		{"icloud", "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", true, false, true, false, "iCloud Keychain"},
		{"google password manager", "EA9B8D66-4D01-1D21-3CE4-B6B48CB575D4", true, false, true, false, "Google Password Manager"},
		{"1password", "bada5566-a7aa-401f-bd96-45619a55120d", true, false, true, false, "1Password"},
		{"bitwarden", "d548826e-79b4-db40-a3d8-11116f7e8349", true, false, true, false, "Bitwarden"},
		{"unknown", "11111111-2222-3333-4444-555555555555", false, false, false, false, ""},
		{"zero", Zero, false, false, false, false, ""},
		{"garbage", "not-an-aaguid", false, false, false, false, ""},
		{"empty", "", false, false, false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := tab.Lookup(tc.aaguid)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.hardware, e.Hardware)
			require.Equal(t, tc.synced, e.Synced)
			require.Equal(t, tc.platform, e.Platform)
			require.Equal(t, tc.model, e.Model)
			if ok {
				require.Equal(t, SourceCurated, e.Source)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"FA2B99DC-9E39-4257-8F92-4A30D23C4118":   "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
		" fa2b99dc9e3942578f924a30d23c4118 ":     "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
		"{fa2b99dc-9e39-4257-8f92-4a30d23c4118}": "fa2b99dc-9e39-4257-8f92-4a30d23c4118",
	} {
		got, err := Canonical(in)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	for _, bad := range []string{"", "fa2b99dc", "ga2b99dc-9e39-4257-8f92-4a30d23c4118", "fa2b99dc_9e39-4257-8f92-4a30d23c4118"} {
		_, err := Canonical(bad)
		require.ErrorIs(t, err, ErrAAGUID, bad)
	}
}

func TestAllowDeny(t *testing.T) {
	tab := Default()
	const icloud, yubi, unknown = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "fa2b99dc-9e39-4257-8f92-4a30d23c4118", "11111111-2222-3333-4444-555555555555"
	require.NoError(t, tab.Allow(strings.ToUpper(unknown), icloud))
	require.NoError(t, tab.Deny(strings.ToUpper(yubi)))
	require.Error(t, tab.Allow("nope"))

	e, ok := tab.Lookup(unknown)
	require.True(t, ok)
	require.True(t, e.Hardware)
	require.Equal(t, SourceAllow, e.Source)

	e, ok = tab.Lookup(icloud)
	require.True(t, ok)
	require.True(t, e.Hardware)
	require.False(t, e.Synced)
	require.Equal(t, "iCloud Keychain", e.Model)

	e, ok = tab.Lookup(yubi)
	require.True(t, ok)
	require.False(t, e.Hardware)
	require.Equal(t, SourceDeny, e.Source)

	// Deny wins over allow.
	require.NoError(t, tab.Deny(unknown))
	e, _ = tab.Lookup(unknown)
	require.False(t, e.Hardware)
}

func TestParseList(t *testing.T) {
	ids, err := ParseList(strings.NewReader("# operator list\nFA2B99DC-9E39-4257-8F92-4A30D23C4118  # my keys\n\n cb69481e8ff7403993ec0a2729a154a8\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"fa2b99dc-9e39-4257-8f92-4a30d23c4118", "cb69481e-8ff7-4039-93ec-0a2729a154a8"}, ids)
	_, err = ParseList(strings.NewReader("bad\nfa2b99dc-9e39-4257-8f92-4a30d23c4118\nalso bad\n"))
	require.ErrorContains(t, err, "line 1")
	require.ErrorContains(t, err, "line 3")
}

func TestDecide(t *testing.T) {
	tab := Default()
	require.NoError(t, tab.Deny("2fc0579f-8113-47ea-b116-bb5a8db9202a"))
	require.NoError(t, tab.Allow("22222222-2222-2222-2222-222222222222", "08987058-cadc-4b81-b6e1-30de50dcbe96"))
	yes, no := model.Bool(true), model.Bool(false)
	const (
		webauthn = model.FactorWebAuthn
		platform = model.FactorPlatform
		synced   = model.FactorPasskeySynced
	)
	tests := []struct {
		name     string
		ev       Evidence
		factor   model.Factor
		hardware *bool
		model    string
	}{
		{"nothing known", Evidence{Factor: webauthn}, webauthn, nil, ""},
		{"no factor, nothing known", Evidence{}, "", nil, ""},
		{"unknown aaguid", Evidence{Factor: webauthn, AAGUID: "11111111-2222-3333-4444-555555555555"}, webauthn, nil, ""},
		{"zero aaguid", Evidence{Factor: webauthn, AAGUID: Zero}, webauthn, nil, ""},
		{"explicit true, no aaguid", Evidence{Factor: webauthn, Hardware: yes}, webauthn, yes, ""},
		{"explicit false beats hardware table", Evidence{Factor: webauthn, Hardware: no, AAGUID: "fa2b99dc-9e39-4257-8f92-4a30d23c4118"}, webauthn, no, "YubiKey 5 Series with NFC"},
		{"explicit true, unknown aaguid", Evidence{Factor: webauthn, Hardware: yes, AAGUID: "11111111-2222-3333-4444-555555555555"}, webauthn, yes, ""},
		{"table security key", Evidence{Factor: webauthn, AAGUID: "FA2B99DC-9E39-4257-8F92-4A30D23C4118"}, webauthn, yes, "YubiKey 5 Series with NFC"},
		{"table security key, no provider factor", Evidence{AAGUID: "cb69481e-8ff7-4039-93ec-0a2729a154a8"}, webauthn, yes, "YubiKey 5 Series"},
		{"aaguid decides over a platform label", Evidence{Factor: platform, AAGUID: "cb69481e-8ff7-4039-93ec-0a2729a154a8"}, webauthn, yes, "YubiKey 5 Series"},
		{"table synced", Evidence{Factor: webauthn, AAGUID: "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"}, synced, no, "iCloud Keychain"},
		{"synced beats explicit", Evidence{Factor: webauthn, Hardware: yes, AAGUID: "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"}, synced, no, "Google Password Manager"},
		{"backup eligible is synced", Evidence{Factor: synced, Hardware: yes, AAGUID: "11111111-2222-3333-4444-555555555555"}, synced, no, ""},
		{"deny beats explicit", Evidence{Factor: webauthn, Hardware: yes, AAGUID: "2fc0579f-8113-47ea-b116-bb5a8db9202a"}, webauthn, no, "YubiKey 5 Series with NFC"},
		{"allow", Evidence{Factor: webauthn, AAGUID: "22222222-2222-2222-2222-222222222222"}, webauthn, yes, ""},
		{"allowed platform stays platform", Evidence{Factor: webauthn, AAGUID: "08987058-cadc-4b81-b6e1-30de50dcbe96"}, platform, yes, "Windows Hello Hardware Authenticator (TPM)"},
		{"windows hello labelled a security key", Evidence{Factor: webauthn, Hardware: yes, AAGUID: "9ddd1817-af5a-4672-a2b9-3e3dd95000a9"}, platform, yes, "Windows Hello VBS Hardware Authenticator"},
		{"platform software", Evidence{Factor: webauthn, AAGUID: "6028b017-b1d4-4c02-b4b3-afcdafc96bb2"}, platform, no, "Windows Hello Software Authenticator"},
		{"microsoft authenticator passkey", Evidence{Factor: webauthn, AAGUID: "90a3ccdf-635c-4729-a248-9b709135078f"}, platform, no, "Microsoft Authenticator for iOS"},
		{"platform, no aaguid", Evidence{Factor: platform, Hardware: yes}, platform, yes, ""},
		// Okta's factor inventory names the authenticator but no AAGUID.
		{"platform model name, no aaguid", Evidence{Model: "Windows Hello"}, platform, nil, ""},
		{"platform model name beats hardware-protected", Evidence{Factor: webauthn, Hardware: yes, Model: "windows hello"}, platform, yes, ""},
		{"synced model name", Evidence{Factor: webauthn, Hardware: yes, Model: "iCloud Keychain"}, synced, no, ""},
		{"security key model name decides nothing", Evidence{Model: "YubiKey 5 Series"}, "", nil, ""},
		{"unknown model name", Evidence{Factor: webauthn, Model: "MacBook Touch ID"}, webauthn, nil, ""},
		{"aaguid beats model name", Evidence{Factor: webauthn, AAGUID: "cb69481e-8ff7-4039-93ec-0a2729a154a8", Model: "Windows Hello"}, webauthn, yes, "YubiKey 5 Series"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.ev, tab)
			require.Equal(t, tc.factor, d.Factor)
			require.Equal(t, tc.hardware, d.Hardware)
			require.Equal(t, tc.model, d.Model)
		})
	}
	d := Decide(Evidence{Factor: webauthn, Hardware: yes, AAGUID: "fa2b99dc-9e39-4257-8f92-4a30d23c4118"}, nil)
	require.Equal(t, Decision{Factor: webauthn, Hardware: yes}, d)
}

// TestModelClass: a provider's model name (Okta's factor inventory gives no
// AAGUID) matches the table's entries of that name, or whose name begins
// with it and a space or "("; it classes the credential only when every
// match agrees. Over the whole curated table, an entry's own name never
// classes it as anything but its class.
func TestModelClass(t *testing.T) {
	tab := Default()
	for _, tc := range []struct {
		name string
		want model.Factor
	}{
		{"Windows Hello", model.FactorPlatform},
		{"  WINDOWS HELLO ", model.FactorPlatform},
		{"Windows Hello Hardware Authenticator (TPM)", model.FactorPlatform},
		{"Chrome on Mac", model.FactorPlatform},
		{"iCloud Keychain", model.FactorPasskeySynced},
		{"Google Password Manager", model.FactorPasskeySynced},
		{"1Password", model.FactorPasskeySynced},
		{"YubiKey 5 Series", model.FactorWebAuthn},
		{"Windows", model.FactorPlatform}, // every Windows entry is Windows Hello
		{"Google", ""},                    // Titan Security Key and Password Manager disagree
		{"Windows Hell", ""},              // a prefix inside a word
		{"MacBook Touch ID", ""},
		{"", ""},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, tab.ModelClass(tc.name)) })
	}
	require.Equal(t, model.Factor(""), (&Table{}).ModelClass("Windows Hello"), "an empty table knows no name")
	// The curated file's class column, read on its own.
	want := map[string]model.Factor{"security-key": model.FactorWebAuthn, "platform": model.FactorPlatform,
		"platform-software": model.FactorPlatform, "synced": model.FactorPasskeySynced}
	for _, line := range strings.Split(curatedCSV, "\n") {
		f := strings.SplitN(line, ",", 3)
		if len(f) != 3 || strings.HasPrefix(line, "#") {
			continue
		}
		require.Contains(t, want, f[1], line)
		if got := tab.ModelClass(f[2]); got != "" {
			require.Equal(t, want[f[1]], got, line)
		}
	}
}

// TestDecideCuratedClasses walks the whole curated table: only a security
// key is factor webauthn; every platform authenticator (Windows Hello,
// Touch ID, Microsoft Authenticator) is factor platform, hardware only when
// its key is bound to a TPM or Secure Enclave; synced passkeys are never
// hardware — whatever the provider's label says.
func TestDecideCuratedClasses(t *testing.T) {
	entries, err := parseCurated(curatedCSV)
	require.NoError(t, err)
	classes := map[string]string{}
	for _, line := range strings.Split(curatedCSV, "\n") {
		if f := strings.SplitN(line, ",", 3); len(f) == 3 && !strings.HasPrefix(line, "#") {
			classes[f[0]] = f[1]
		}
	}
	tab := Default()
	seen := map[string]int{}
	for _, e := range entries {
		class := classes[e.AAGUID]
		seen[class]++
		for _, provider := range []model.Factor{model.FactorWebAuthn, model.FactorPlatform, ""} {
			d := Decide(Evidence{Factor: provider, Hardware: model.Bool(true), AAGUID: strings.ToUpper(e.AAGUID)}, tab)
			undecided := Decide(Evidence{Factor: provider, AAGUID: e.AAGUID}, tab)
			require.Equal(t, e.Model, d.Model)
			switch class {
			case ClassSecurityKey:
				require.Equal(t, model.FactorWebAuthn, d.Factor, e.Model)
				require.Equal(t, model.Bool(true), undecided.Hardware, e.Model)
			case ClassPlatform:
				require.Equal(t, model.FactorPlatform, d.Factor, e.Model)
				require.Equal(t, model.Bool(true), undecided.Hardware, e.Model)
			case ClassPlatformSoftware:
				require.Equal(t, model.FactorPlatform, d.Factor, e.Model)
				require.Equal(t, model.Bool(false), undecided.Hardware, e.Model)
			case ClassSynced:
				require.Equal(t, model.FactorPasskeySynced, d.Factor, e.Model)
				require.Equal(t, model.Bool(false), d.Hardware, e.Model)
			default:
				t.Fatalf("%s: unknown class %q", e.AAGUID, class)
			}
			require.Equal(t, undecided.Factor, d.Factor)
		}
	}
	for _, c := range []string{ClassSecurityKey, ClassPlatform, ClassPlatformSoftware, ClassSynced} {
		require.NotZero(t, seen[c], c)
	}
	for _, id := range []string{"08987058-cadc-4b81-b6e1-30de50dcbe96", "9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "6e96969e-a5cf-4aad-9b56-305fe6c82795"} {
		require.Contains(t, []string{ClassPlatform, ClassPlatformSoftware}, classes[id], "Windows Hello %s is a platform authenticator", id)
	}
}

// pki is a throwaway MDS-like PKI: a self-signed root and a leaf it signs.
type pki struct {
	root     *x509.Certificate
	leaf     *x509.Certificate
	leafKey  crypto.Signer
	otherKey crypto.Signer
}

func newPKI(t testing.TB, rsaLeaf bool) pki {
	t.Helper()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test MDS Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	require.NoError(t, err)
	root, err := x509.ParseCertificate(rootDER)
	require.NoError(t, err)
	var leafKey, otherKey crypto.Signer
	if rsaLeaf {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		leafKey = k
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		leafKey = k
	}
	ok, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherKey = ok
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test MDS Signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, leafKey.Public(), rootKey)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(leafDER)
	require.NoError(t, err)
	return pki{root: root, leaf: leaf, leafKey: leafKey, otherKey: otherKey}
}

const mdsPayload = `{"legalHeader":"test","no":42,"nextUpdate":"2030-01-01","entries":[
 {"aaguid":"FA2B99DC-9E39-4257-8F92-4A30D23C4118","metadataStatement":{"description":"YubiKey 5 Series with NFC","keyProtection":["hardware","secure_element"],"attachmentHint":["external","wired","wireless","nfc"]},"statusReports":[{"status":"FIDO_CERTIFIED_L1","effectiveDate":"2020-01-01"}]},
 {"metadataStatement":{"aaguid":"08987058-cadc-4b81-b6e1-30de50dcbe96","description":"Windows Hello Hardware Authenticator","keyProtection":["hardware"],"attachmentHint":["internal"]}},
 {"aaguid":"6028b017-b1d4-4c02-b4b3-afcdafc96bb2","metadataStatement":{"description":"Windows Hello Software Authenticator","keyProtection":["software"],"attachmentHint":["internal"]}},
 {"aaguid":"11111111-2222-3333-4444-555555555555","metadataStatement":{"description":"Revoked Key","keyProtection":["hardware"]},"statusReports":[{"status":"FIDO_CERTIFIED"},{"status":"REVOKED"}]},
 {"aaid":"4e4e#4005","metadataStatement":{"description":"UAF authenticator"}},
 {"attestationCertificateKeyIdentifiers":["923881fe2f214ee465484371aeb72e97f5a58e0a"],"metadataStatement":{"description":"U2F key"}}
]}`

func signJWT(t testing.TB, p pki, alg string, key crypto.Signer, chain []*x509.Certificate, payload string) []byte {
	t.Helper()
	x5c := make([]string, len(chain))
	for i, c := range chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	h, err := json.Marshal(map[string]any{"alg": alg, "typ": "JWT", "x5c": x5c})
	require.NoError(t, err)
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString([]byte(payload))
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		require.NoError(t, err)
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
		require.NoError(t, err)
	}
	return []byte(signed + "." + enc.EncodeToString(sig))
}

func TestImportMDS3(t *testing.T) {
	for _, rsaLeaf := range []bool{false, true} {
		p := newPKI(t, rsaLeaf)
		alg := "ES256"
		if rsaLeaf {
			alg = "RS256"
		}
		t.Run(alg, func(t *testing.T) {
			blob := signJWT(t, p, alg, p.leafKey, []*x509.Certificate{p.leaf}, mdsPayload)
			entries, err := ImportMDS3(blob, p.root)
			require.NoError(t, err)
			require.Equal(t, []Entry{
				{AAGUID: "fa2b99dc-9e39-4257-8f92-4a30d23c4118", Model: "YubiKey 5 Series with NFC", Hardware: true, Status: "FIDO_CERTIFIED_L1", Source: SourceMDS3},
				{AAGUID: "08987058-cadc-4b81-b6e1-30de50dcbe96", Model: "Windows Hello Hardware Authenticator", Hardware: true, Platform: true, Source: SourceMDS3},
				{AAGUID: "6028b017-b1d4-4c02-b4b3-afcdafc96bb2", Model: "Windows Hello Software Authenticator", Platform: true, Source: SourceMDS3},
				{AAGUID: "11111111-2222-3333-4444-555555555555", Model: "Revoked Key", Status: "REVOKED", Source: SourceMDS3},
			}, entries)

			// Without a root nothing is verified.
			entries, err = ImportMDS3(blob, nil)
			require.NoError(t, err)
			require.Len(t, entries, 4)
			require.Equal(t, SourceMDS3Unverified, entries[0].Source)

			// The table takes them.
			tab := &Table{}
			tab.Add(entries...)
			e, ok := tab.Lookup("FA2B99DC-9E39-4257-8F92-4A30D23C4118")
			require.True(t, ok)
			require.True(t, e.Hardware)
		})
	}
}

func TestImportMDS3Tampered(t *testing.T) {
	p := newPKI(t, false)
	stranger := newPKI(t, false)
	good := signJWT(t, p, "ES256", p.leafKey, []*x509.Certificate{p.leaf}, mdsPayload)
	parts := strings.Split(string(good), ".")
	enc := base64.RawURLEncoding
	tampered := strings.Replace(mdsPayload, `"hardware","secure_element"`, `"software"`, 1)
	tests := []struct {
		name string
		blob []byte
		root *x509.Certificate
		want string
	}{
		{"payload changed", []byte(parts[0] + "." + enc.EncodeToString([]byte(tampered)) + "." + parts[2]), p.root, "signature does not verify"},
		{"signature flipped", []byte(parts[0] + "." + parts[1] + "." + flip(parts[2])), p.root, "signature"},
		{"signed by another key", signJWT(t, p, "ES256", p.otherKey, []*x509.Certificate{p.leaf}, mdsPayload), p.root, "signature does not verify"},
		{"chain to another root", good, stranger.root, "certificate chain"},
		{"self-signed leaf not under root", signJWT(t, stranger, "ES256", stranger.leafKey, []*x509.Certificate{stranger.leaf}, mdsPayload), p.root, "certificate chain"},
		{"no x5c", signJWT(t, p, "ES256", p.leafKey, nil, mdsPayload), p.root, "x5c"},
		{"alg none", signJWT(t, p, "none", p.leafKey, []*x509.Certificate{p.leaf}, mdsPayload), p.root, "unsupported JWS alg"},
		{"alg mismatch", signJWT(t, p, "RS256", p.leafKey, []*x509.Certificate{p.leaf}, mdsPayload), p.root, "needs an RSA key"},
		{"two parts", []byte(parts[0] + "." + parts[1]), p.root, "3 dot-separated"},
		{"bad base64", []byte("!!!." + parts[1] + "." + parts[2]), p.root, "header"},
		{"payload not json", []byte(parts[0] + "." + enc.EncodeToString([]byte("nope")) + "." + parts[2]), nil, "payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entries, err := ImportMDS3(tc.blob, tc.root)
			require.ErrorIs(t, err, ErrMDS3)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, entries)
		})
	}
	// An expired chain fails.
	_, err := importMDS3(good, p.root, time.Now().Add(48*time.Hour))
	require.ErrorContains(t, err, "certificate chain")
}

func flip(s string) string {
	b := []byte(s)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}

func FuzzImportMDS3(f *testing.F) {
	p := newPKI(f, false)
	f.Add(signJWT(f, p, "ES256", p.leafKey, []*x509.Certificate{p.leaf}, mdsPayload))
	f.Add([]byte("a.b.c"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		entries, err := ImportMDS3(blob, p.root)
		if err != nil {
			return
		}
		for _, e := range entries {
			if _, err := Canonical(e.AAGUID); err != nil || e.Source != SourceMDS3 {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}
