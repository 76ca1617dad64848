package demo

import (
	"fmt"
	"strings"

	"github.com/keytrail/keytrail/model"
)

// keyModel is an authenticator model with its real AAGUID.
type keyModel struct {
	AAGUID string
	Model  string
}

// hardwareKeys are roaming security keys (AAGUIDs as published in FIDO MDS3
// and the passkey-authenticator-aaguids list).
var hardwareKeys = []keyModel{
	{"cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 NFC"},
	{"fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 Series with NFC"},
	{"ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series"},
	{"c5ef55ff-ad9a-4b9f-b580-adebafe026d0", "YubiKey 5Ci"},
	{"d8522d9f-575b-4866-88a9-ba99fa02f35b", "YubiKey Bio Series"},
	{"149a2021-8ef6-4133-96b8-81f8d5b7f1f5", "Security Key by Yubico with NFC"},
	{"833b721a-ff5f-4d00-bb2e-bdda3ec01e29", "Feitian ePass FIDO2 Authenticator"},
	{"42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3", "Google Titan Security Key v2"},
	{"8876631b-d4a0-427f-5773-0ec71c9e0279", "Solo Secp256R1 FIDO2 CTAP2 Authenticator"},
}

// platformKeys are platform authenticators whose keys never leave the device
// (TPM, Secure Enclave): keytrail's AAGUID table classes them platform.
var platformKeys = []keyModel{
	{"08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"},
	{"adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"},
}

// syncedPasskeys are passkey providers that sync keys through a cloud account.
var syncedPasskeys = []keyModel{
	{"fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"},
	{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"},
	{"bada5566-a7aa-401f-bd96-45619a55120d", "1Password"},
}

var firstNames = []string{"ada", "ben", "carla", "dev", "elena", "farid", "grace", "hugo", "ines", "jonas", "kim", "lena", "marco", "nadia", "omar", "priya", "quinn", "rosa", "sam", "tariq", "uma", "victor", "wen", "xavier", "yara", "zoe", "aiko", "bruno", "chen", "dana", "emil", "fatima", "gus", "hana", "ivan", "julia", "kofi", "lucia", "mateo", "nora"}
var lastNames = []string{"adams", "baker", "costa", "dubois", "eriksen", "fischer", "garcia", "haddad", "ito", "jensen", "kowalski", "lopez", "moreau", "nakamura", "okafor", "petrov", "quispe", "rossi", "schmidt", "tanaka", "ueda", "vargas", "weber", "xu", "yilmaz", "zhang", "novak", "silva", "murphy", "khan"}

const emailDomain = "acme.example"

// idpInstance names the instance of each identity-provider source.
var idpInstance = map[model.Source]string{
	model.SourceOkta:     "acme.okta.com",
	model.SourceEntra:    "acme-entra",
	model.SourceGoogle:   "acme-workspace",
	model.SourceKeycloak: "keycloak-corp",
}

// scripted are the first people: each guarantees a scenario even at small sizes.
var scripted = []struct {
	src     model.Source
	posture string
	role    string
	cli     bool
}{
	{model.SourceOkta, PostureHardware, RoleOperator, true},     // stale sessions, clock skew, CLI
	{model.SourceEntra, PostureHardware, RoleAdmin, false},      // connections, variables, users
	{model.SourceGoogle, PostureHardware, RoleOperator, false},  // security_key
	{model.SourceKeycloak, PostureHardware, RoleOperator, true}, // webauthn via registration AAGUID
	{model.SourceOkta, PostureSynced, RoleOperator, false},      // synced passkey: weak
	{model.SourceEntra, PosturePush, RoleViewer, false},         // push: weak
	{model.SourceKeycloak, PostureOTP, RoleOperator, false},     // OTP: weak
	{model.SourceOkta, PostureNone, RoleOperator, false},        // never signs in: no_assertion
	{model.SourceGoogle, PosturePassword, RoleViewer, false},    // password-only holdout
	{model.SourceEntra, PostureHardware, RoleOperator, true},    // CLI on 2.10
	{model.SourceOkta, PosturePlatform, RoleOperator, false},    // Windows Hello: a platform credential, weak
}

func (g *gen) people() {
	g.usedNames = map[string]int{}
	n := g.cfg.People
	out := make([]Person, n)
	for i := range out {
		p := &out[i]
		first := firstNames[g.rng.IntN(len(firstNames))]
		last := lastNames[g.rng.IntN(len(lastNames))]
		local := first + "." + last
		if k := g.usedNames[local]; k > 0 {
			g.usedNames[local] = k + 1
			local = fmt.Sprintf("%s%d", local, k+1)
		} else {
			g.usedNames[local] = 1
		}
		p.ID = local + "@" + emailDomain
		p.Name = strings.ToUpper(first[:1]) + first[1:] + " " + strings.ToUpper(last[:1]) + last[1:]
		cli := false
		if i < len(scripted) {
			s := scripted[i]
			p.Source, p.Posture, p.Role, cli = s.src, s.posture, s.role, s.cli
		} else {
			r := g.rng.Float64()
			switch {
			case r < 0.40:
				p.Source = model.SourceOkta
			case r < 0.65:
				p.Source = model.SourceEntra
			case r < 0.85:
				p.Source = model.SourceGoogle
			default:
				p.Source = model.SourceKeycloak
			}
			r = g.rng.Float64()
			switch {
			case r < 0.55:
				p.Posture = PostureHardware
			case r < 0.60:
				p.Posture = PosturePlatform
			case r < 0.72:
				p.Posture = PostureSynced
			case r < 0.82:
				p.Posture = PostureOTP
			case r < 0.94:
				p.Posture = PosturePush
			default:
				p.Posture = PosturePassword
			}
			if p.Source == model.SourceKeycloak && p.Posture == PosturePush {
				p.Posture = PostureOTP // Keycloak has no push authenticator
			}
			if p.Posture == PosturePlatform && p.Source != model.SourceOkta && p.Source != model.SourceKeycloak {
				p.Posture = PostureHardware // the demo renders platform credentials for Okta and Keycloak
			}
			if p.Source == model.SourceGoogle && p.Posture == PostureSynced {
				// Google exposes no AAGUID: a Google passkey would be undecided.
				p.Posture = PosturePush
			}
			r = g.rng.Float64()
			switch {
			case r < 0.25:
				p.Role = RoleNone
			case r < 0.60:
				p.Role = RoleViewer
			case r < 0.92:
				p.Role = RoleOperator
			default:
				p.Role = RoleAdmin
			}
			cli = p.Role != RoleViewer && p.Role != RoleNone && g.chance(0.2)
		}
		switch p.Source {
		case model.SourceOkta:
			p.Subject = "00u" + g.alnum(17)
			p.Owner = "okta_" + p.Subject
		case model.SourceEntra:
			p.Subject = g.uuid()
			p.Owner = p.Subject
		case model.SourceGoogle:
			p.Subject = "1" + g.digits(20)
			p.Owner = "google_" + p.Subject
		case model.SourceKeycloak:
			p.Subject = g.uuid()
			p.Username = strings.ReplaceAll(local, ".", "_")
			p.Owner = p.Username
		}
		if cli {
			p.OSUser = first[:1] + strings.ReplaceAll(last, " ", "")
			if g.usedNames["os:"+p.OSUser] > 0 {
				p.OSUser = fmt.Sprintf("%s%d", p.OSUser, i)
			}
			g.usedNames["os:"+p.OSUser] = 1
		}
		if p.Role != RoleNone {
			ni := len(g.cfg.Instances)
			home := g.rng.IntN(ni)
			if i < len(scripted) {
				home = i % ni
			}
			p.Instances = []int{home}
			if g.chance(0.35) || (i < len(scripted) && (p.Role == RoleOperator || p.Role == RoleAdmin)) {
				if other := (home + 1 + g.rng.IntN(ni-1)) % ni; other != home {
					p.Instances = append(p.Instances, other)
				}
			}
			if i == 9 && !g.hasVersion(p.Instances, Airflow210) {
				p.Instances = append(p.Instances, g.instanceOf(Airflow210))
			}
		}
		if p.Role == RoleNone {
			p.OSUser = ""
		}
	}
	g.org.People = out
}

func (g *gen) hasVersion(idx []int, v string) bool {
	for _, i := range idx {
		if g.cfg.Instances[i].Version == v {
			return true
		}
	}
	return false
}

func (g *gen) instanceOf(v string) int {
	for i, in := range g.cfg.Instances {
		if in.Version == v {
			return i
		}
	}
	return 0
}

const alnumChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (g *gen) alnum(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnumChars[g.rng.IntN(len(alnumChars))]
	}
	return string(b)
}

func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	return string(b)
}

func (g *gen) uuid() string { return uuidFrom(g.rng.Uint64(), g.rng.Uint64()) }

func uuidFrom(a, b uint64) string {
	const hex = "0123456789abcdef"
	var buf [36]byte
	j := 0
	for i := 0; i < 32; i++ {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			buf[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = a >> (60 - 4*uint(i)) & 0xf
		} else {
			nib = b >> (60 - 4*uint(i-16)) & 0xf
		}
		switch i {
		case 12:
			nib = 4 // version 4
		case 16:
			nib = 8 | nib&3 // variant
		}
		buf[j] = hex[nib]
		j++
	}
	return string(buf[:])
}
