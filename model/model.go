package model

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Source names an upstream system keytrail collects from.
type Source string

// The sources keytrail understands.
const (
	SourceOkta     Source = "okta"
	SourceEntra    Source = "entra"
	SourceGoogle   Source = "google"
	SourceKeycloak Source = "keycloak"
	SourceOIDC     Source = "oidc"
	SourceAirflow  Source = "airflow"
)

// IdPSources lists the identity-provider sources in a stable order.
var IdPSources = []Source{SourceOkta, SourceEntra, SourceGoogle, SourceKeycloak, SourceOIDC}

// Valid reports whether s is a known source.
func (s Source) Valid() bool {
	switch s {
	case SourceOkta, SourceEntra, SourceGoogle, SourceKeycloak, SourceOIDC, SourceAirflow:
		return true
	}
	return false
}

// Category classifies an identity-provider event.
type Category string

// Auth event categories.
const (
	CategoryLogin        Category = "login"        // primary sign-in
	CategoryMFA          Category = "mfa"          // a second-factor / step-up verification
	CategoryRegistration Category = "registration" // an authenticator was enrolled
	CategoryRemoval      Category = "removal"      // an authenticator was removed
	CategorySession      Category = "session"      // token reuse, session refresh, logout
	CategoryOther        Category = "other"
)

// Principal is the kind of actor an identity-provider event is about. Only
// users are people: events of other principals are stored as evidence, but
// keytrail never infers a person from them.
type Principal string

// Principals.
const (
	PrincipalUser    Principal = "user"    // a human user account (the empty value means user too)
	PrincipalService Principal = "service" // a service principal, managed identity, or a client-credentials login
	PrincipalSystem  Principal = "system"  // the provider acting on its own (Okta SystemPrincipal)
)

// Human reports whether p is a user (the empty value included).
func (p Principal) Human() bool { return p == "" || p == PrincipalUser }

// Outcome is the result of an identity-provider event.
type Outcome string

// Outcomes.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
)

// Factor is the authentication method an event was performed with.
type Factor string

// Factors, from strongest to weakest. Only webauthn (a security key) and
// platform (a device-bound platform credential) can be hardware-backed; the
// policy's hardware_factors say which of them verify an action (default:
// webauthn only — keytrail proves security-key taps).
const (
	FactorWebAuthn      Factor = "webauthn"       // FIDO2 / WebAuthn / U2F assertion with a roaming security key (or a passkey not yet known to be platform or synced)
	FactorPlatform      Factor = "platform"       // a device-bound platform credential (Windows Hello, Touch ID, Okta FastPass, an authenticator app's device-bound passkey): hardware-bound, but not a security-key tap
	FactorPasskeySynced Factor = "passkey_synced" // a passkey synced by a cloud keychain: not hardware
	FactorTOTP          Factor = "totp"
	FactorPush          Factor = "push"
	FactorSMS           Factor = "sms"
	FactorEmail         Factor = "email"
	FactorPassword      Factor = "password"
	FactorOther         Factor = "other"
	FactorNone          Factor = "none" // no authentication happened in this event (e.g. token reuse)
)

// Factors lists every factor in a stable order.
var Factors = []Factor{FactorWebAuthn, FactorPlatform, FactorPasskeySynced, FactorTOTP, FactorPush, FactorSMS, FactorEmail, FactorPassword, FactorOther, FactorNone}

// Channel is how an Airflow audit event was produced.
type Channel string

// Airflow channels.
const (
	ChannelUI     Channel = "ui"
	ChannelAPI    Channel = "api"
	ChannelCLI    Channel = "cli"
	ChannelSystem Channel = "system"
)

// ActionClass groups Airflow event names by what they do.
type ActionClass string

// Airflow action classes.
const (
	ActionTrigger   ActionClass = "trigger"
	ActionPause     ActionClass = "pause"
	ActionUnpause   ActionClass = "unpause"
	ActionClear     ActionClass = "clear"
	ActionMarkState ActionClass = "mark_state"
	ActionDelete    ActionClass = "delete"
	ActionConn      ActionClass = "connection"
	ActionVariable  ActionClass = "variable"
	ActionPool      ActionClass = "pool"
	ActionUserAdmin ActionClass = "user_admin"
	ActionBackfill  ActionClass = "backfill"
	ActionView      ActionClass = "view"
	ActionTaskState ActionClass = "task_state"
	ActionOther     ActionClass = "other"
	// ActionRun is the class of a DAG run taken as an action.
	ActionRun ActionClass = "dag_run"
)

// ActionClasses lists the action classes.
var ActionClasses = []ActionClass{ActionTrigger, ActionPause, ActionUnpause, ActionClear, ActionMarkState, ActionDelete, ActionConn,
	ActionVariable, ActionPool, ActionUserAdmin, ActionBackfill, ActionView, ActionTaskState, ActionOther, ActionRun}

// Verdict is the correlator's finding for one action.
type Verdict string

// Verdicts, as defined in DESIGN.md.
const (
	VerdictVerified        Verdict = "verified"
	VerdictStale           Verdict = "stale"
	VerdictWeakFactor      Verdict = "weak_factor"
	VerdictNoAssertion     Verdict = "no_assertion"
	VerdictUnknownIdentity Verdict = "unknown_identity"
	VerdictInherited       Verdict = "inherited"
	VerdictUnattributed    Verdict = "unattributed"
)

// Verdicts lists every verdict in a stable order.
var Verdicts = []Verdict{VerdictVerified, VerdictStale, VerdictWeakFactor, VerdictNoAssertion, VerdictUnknownIdentity, VerdictInherited, VerdictUnattributed}

// Millis truncates t to millisecond precision in UTC, the precision keytrail stores.
func Millis(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// SHA256Hex returns the lower-case hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Bool returns a pointer to b, for tri-state fields such as AuthEvent.Hardware.
func Bool(b bool) *bool { return &b }

// RawRecord is one provider record exactly as received. Raw is never modified;
// SHA256 is the hex digest of Raw.
type RawRecord struct {
	Source     Source
	Instance   string
	EventID    string    // the provider's event id (or a derived stable id)
	TS         time.Time // the event's own time; partitions the record with its event
	ReceivedAt time.Time
	Raw        []byte
	SHA256     string
}

// AuthEvent is a normalized identity-provider authentication event.
type AuthEvent struct {
	Source       Source
	Instance     string
	EventID      string
	TS           time.Time
	Person       string    // resolved person id; empty when unresolved
	Subject      string    // the provider's user id (Okta actor.id, Entra userId, Google profileId, Keycloak userId)
	Email        string    // login name / UPN / email as the provider reports it
	Principal    Principal // who the subject is: a user (default), a service or the system
	EventType    string    // the provider's event name, e.g. user.authentication.auth_via_mfa
	Category     Category
	Outcome      Outcome
	Factor       Factor
	Hardware     *bool  // nil when undecided
	AAGUID       string // lower-case, when known
	CredentialID string
	App          string // the application signed in to
	SessionID    string
	IP           string
	Detail       string   // provider detail kept for evidence (method detail, key type)
	Methods      []string // every authentication method the event names (Entra authenticationDetails, Google login_challenge_method, OIDC amr)
	RawSHA256    string
	ReceivedAt   time.Time
}

// Authenticator records an authenticator registration or removal.
type Authenticator struct {
	Source         Source
	Instance       string
	EventID        string
	TS             time.Time
	Person         string
	Subject        string
	Email          string
	Action         string // "register" or "remove"
	CredentialID   string
	AAGUID         string // lower-case
	Model          string // e.g. "YubiKey 5 NFC", when known
	Factor         Factor // what the credential authenticates as: webauthn (a security key), platform, passkey_synced, totp…; empty when unknown
	Hardware       *bool
	BackupEligible *bool
	RawSHA256      string
	ReceivedAt     time.Time
}

// Authenticator actions.
const (
	AuthenticatorRegister = "register"
	AuthenticatorRemove   = "remove"
)

// AirflowEvent is one row of an Airflow audit log (table `log`, /eventLogs).
type AirflowEvent struct {
	Instance    string
	EventLogID  int64
	TS          time.Time
	Event       string
	Channel     Channel
	Action      ActionClass
	Human       bool
	Privileged  bool
	Actor       string // Airflow `owner`
	Person      string // resolved person id; empty when unresolved
	DagID       string
	TaskID      string
	RunID       string
	MapIndex    int64 // -1 when absent
	TryNumber   int64
	LogicalDate time.Time // execution_date / logical_date
	Extra       string    // `extra` decoded to JSON ("" when absent)
	RawSHA256   string
	ReceivedAt  time.Time
}

// DAG run types.
const (
	RunManual           = "manual"
	RunScheduled        = "scheduled"
	RunBackfill         = "backfill"
	RunDatasetTriggered = "dataset_triggered"
	RunAssetTriggered   = "asset_triggered"
)

// DagRun is one Airflow DAG run.
type DagRun struct {
	Instance       string
	DagID          string
	RunID          string
	RunType        string
	TriggeredBy    string // Airflow 3.0+ triggered_by (ui, rest_api, cli, timetable, asset, backfill…)
	TriggeringUser string // Airflow 3.1+ triggering_user_name
	Person         string
	TS             time.Time // when the run came to be: queued_at, else start_date, else logical_date
	LogicalDate    time.Time
	StartDate      time.Time
	EndDate        time.Time
	State          string
	Conf           string // JSON
	RawSHA256      string
	ReceivedAt     time.Time
}

// Identity ties a source subject to a person.
type Identity struct {
	Person    string
	Source    Source
	Subject   string // provider user id, email/UPN, Airflow owner…
	Origin    string // "mapping" (operator file, wins) or "inferred"
	UpdatedAt time.Time
}

// AuthenticatorModel is an operator-supplied fact about an authenticator
// model, keyed by AAGUID: an entry imported from a FIDO MDS3 blob, or an
// allow or deny decision. The curated table shipped in the binary is not
// stored; these rows are added on top of it.
type AuthenticatorModel struct {
	AAGUID    string // lower-case, hyphenated
	Model     string
	Hardware  bool
	Synced    bool
	Platform  bool
	Status    string // latest FIDO MDS status, when imported from MDS3
	Source    string // "mds3", "mds3-unverified", "allow" or "deny"
	UpdatedAt time.Time
}

// Identity origins.
const (
	OriginMapping  = "mapping"
	OriginInferred = "inferred"
)

// Correlation is the correlator's verdict for one action under one policy version.
type Correlation struct {
	ActionID            string // stable: instance + event_log_id, or instance + dag_id + run_id
	ActionTS            time.Time
	Instance            string
	Kind                string // "audit" or "run"
	Channel             Channel
	Action              ActionClass
	Privileged          bool
	DagID               string
	RunID               string
	Actor               string
	Person              string
	Verdict             Verdict
	TriggerActionID     string  // manual run: the action id of the trigger audit event whose person and verdict it carries
	InheritedFrom       string  // inherited run: the action id of the enabling action (unpause, backfill request)
	InheritedVerdict    Verdict // inherited run: the enabling action's verdict
	AssertionID         string
	AssertionTS         time.Time
	AssertionAgeMS      int64 // action time − assertion time, in ms (negative within clock skew)
	Factor              Factor
	AuthenticatorAAGUID string
	AuthenticatorModel  string
	PolicyVersion       string
	Reason              string
	ComputedAt          time.Time
}

// Correlation kinds.
const (
	KindAudit = "audit"
	KindRun   = "run"
)

// Alert is a notification about a privileged action that was not verified.
type Alert struct {
	AlertID       string // stable per action + policy version
	ActionID      string
	ActionTS      time.Time
	Verdict       Verdict
	Status        string // "firing" or "resolved"
	Target        string
	Summary       string
	PolicyVersion string
	Attempts      int64
	LastError     string
	CreatedAt     time.Time
	SentAt        time.Time
	ResolvedAt    time.Time
}

// Alert statuses.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// DeadLetter is input keytrail could not accept, kept with its raw bytes.
type DeadLetter struct {
	Source     Source
	Instance   string
	Origin     string // file name, URL or topic/partition/offset
	ReceivedAt time.Time
	Error      string
	Raw        []byte
	SHA256     string
}

// Conflict is a record whose provider id is already stored with other bytes.
// A byte-identical redelivery is a duplicate; a conflict is a different
// record under the same id. The record stored first stays the stored one;
// the conflicting record is kept here with its raw bytes and both digests.
type Conflict struct {
	Source       Source
	Instance     string
	EventID      string
	TS           time.Time // the conflicting record's own time; partitions it
	Origin       string    // file name, URL or topic/partition/offset of the conflicting record
	ReceivedAt   time.Time
	Raw          []byte
	SHA256       string // of Raw
	StoredSHA256 string // of the record stored under EventID
}

// Cursor is a collector's durable position in its source.
type Cursor struct {
	Collector string // e.g. "okta/prod"
	Position  string // opaque: a URL, timestamp, offset or page token
	UpdatedAt time.Time
}

// SourceStatus is the state of one configured source of `keytrail collect`:
// where its collector is, how far behind the provider, its last error, and
// what the sink stored of it since the process started.
type SourceStatus struct {
	Name     string `json:"name"` // the source's name in the config
	Type     string `json:"type"` // okta, entra, …, kafka-topic, webhook
	Source   Source `json:"source"`
	Instance string `json:"instance"`
	// Cursor is the collector's durable position (or a topic's committed offsets).
	Cursor string `json:"cursor,omitempty"`
	// Lag is how far the collector is behind the provider.
	Lag time.Duration `json:"lag_ns,omitempty"`
	// Complete is the provider time up to which the collector has handed on
	// every record the provider will ever list (zero: not known yet).
	Complete time.Time `json:"complete"`
	// Backlog counts records waiting upstream (a topic's messages not yet consumed).
	Backlog     int64     `json:"backlog,omitempty"`
	LastSuccess time.Time `json:"last_success"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at"`
	// Stored, Duplicates, Conflicts and DeadLetters count the sink's
	// outcomes since the collect process started.
	Stored       int64     `json:"stored"`
	Duplicates   int64     `json:"duplicates"`
	Conflicts    int64     `json:"conflicts"`
	DeadLetters  int64     `json:"dead_letters"`
	LastStoredAt time.Time `json:"last_stored_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Manifest is an evidence pack's description: what was queried, over what, and
// the digest of every file.
type Manifest struct {
	ReportID      string           `json:"report_id"`
	GeneratedAt   time.Time        `json:"generated_at"`
	PeriodFrom    time.Time        `json:"period_from"`
	PeriodTo      time.Time        `json:"period_to"`
	Scope         string           `json:"scope"`
	Version       string           `json:"keytrail_version"`
	PolicyVersion string           `json:"policy_version"`
	PolicyText    string           `json:"policy_text,omitempty"`   // the policy's canonical YAML, recorded by correlate beside PolicyVersion
	PolicySHA256  string           `json:"policy_sha256,omitempty"` // hex SHA-256 of PolicyText
	Queries       []ManifestQuery  `json:"queries"`
	Coverage      []SourceCoverage `json:"coverage"`
	Files         []ManifestFile   `json:"files"`
	Organisation  string           `json:"organisation,omitempty"`
	DataDigest    string           `json:"data_digest,omitempty"` // SHA-256 of the data files' sha256sum listing (see report)
	Sample        *ManifestSample  `json:"sample,omitempty"`
	PublicKey     string           `json:"public_key,omitempty"` // base64 raw Ed25519 key that signs the manifest
}

// ManifestSample records how an evidence pack's sample was drawn.
type ManifestSample struct {
	Size      int    `json:"size"`
	Seed      string `json:"seed"`
	Algorithm string `json:"algorithm"`
	Rows      int    `json:"rows"`
}

// ManifestQuery is one query an evidence pack was built from.
type ManifestQuery struct {
	Name   string            `json:"name"`
	SQL    string            `json:"sql"`
	SHA256 string            `json:"sha256"`
	Params map[string]string `json:"params"`
	Rows   int64             `json:"rows"`
}

// ManifestFile is one file of an evidence pack.
type ManifestFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// SourceCoverage says what a source contributed to a report.
type SourceCoverage struct {
	Source   Source    `json:"source"`
	Instance string    `json:"instance"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Events   int64     `json:"events"`
	Cursor   string    `json:"cursor,omitempty"`
	IDRanges []IDRange `json:"id_ranges,omitempty"` // Airflow event_log_id ranges
	IDGaps   []IDRange `json:"id_gaps,omitempty"`
}

// IDRange is an inclusive range of Airflow event_log_ids.
type IDRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}
