package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/server/console"
)

// Verifier verifies an evidence pack against the store. Implemented by
// warehouse.Warehouse.VerifyReport.
type Verifier interface {
	VerifyReport(ctx context.Context, dir string, trusted []ed25519.PublicKey) (report.Result, []string, error)
}

// newConsole builds the console when cfg configures one (a client id).
func (s *Server) newConsole(cfg Config, d Deps) (*console.Console, error) {
	cc := cfg.Console
	if cc.ClientID == "" {
		return nil, nil
	}
	if d.Console == nil {
		return nil, errors.New("server.console is configured but the server has no console reader")
	}
	key, err := cc.CookieKey.Value()
	if err != nil {
		return nil, fmt.Errorf("console.cookie_key: %w", err)
	}
	opts := console.Options{Issuer: cc.Issuer, ClientID: cc.ClientID, RedirectURL: cc.RedirectURL, Scopes: cc.Scopes,
		Algorithms: cfg.API.Algorithms, CookieKey: []byte(key), SessionTTL: cc.SessionTTL,
		Roles: func(claims map[string]json.RawMessage) (bool, bool) {
			p := Principal{Roles: s.auth.roles(claims[cfg.API.RoleClaim])}
			return p.Has(RoleAuditor), slices.Contains(p.Roles, RoleAdmin)
		}}
	if opts.Issuer == "" {
		opts.Issuer = cfg.API.Issuer
	}
	if cc.ClientSecret != (Secret{}) {
		if opts.ClientSecret, err = cc.ClientSecret.Value(); err != nil {
			return nil, fmt.Errorf("console.client_secret: %w", err)
		}
	}
	return console.New(opts, console.Deps{Reader: d.Console, Packs: &consolePacks{s: s}, HTTPClient: d.HTTPClient,
		Now: d.Now, Logger: d.Logger, Version: d.Version})
}

// consolePacks are the console's view of the report jobs: the same packs as
// /v1/reports.
type consolePacks struct{ s *Server }

func (p *consolePacks) Enabled() bool {
	r := p.s.reports
	return r.cfg.Dir != "" && p.s.d.Reporter != nil && len(p.s.d.SigningKey) > 0
}

func parseReportTime(v string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}

// pack copies a job (under r.mu) into the console's form.
func pack(j *reportJob) console.Pack {
	k := console.Pack{ID: j.ID, State: j.State, From: parseReportTime(j.From), To: parseReportTime(j.To), Instance: j.Instance,
		StartedAt: parseReportTime(j.StartedAt), FinishedAt: parseReportTime(j.FinishedAt), Done: j.Done, Total: j.Total,
		Error: j.Error, PolicyVersion: j.PolicyVer, DataDigest: j.DataDigest}
	for _, f := range j.Files {
		k.Files = append(k.Files, console.PackFile{Name: f.Name, SHA256: f.SHA256, Bytes: f.Bytes})
	}
	if j.verification != nil {
		v := *j.verification
		v.Differences, v.Notes = slices.Clone(v.Differences), slices.Clone(v.Notes)
		k.Verification = &v
	}
	return k
}

func (p *consolePacks) List() []console.Pack {
	r := p.s.reports
	r.mu.Lock()
	out := make([]console.Pack, 0, len(r.jobs))
	for _, j := range r.jobs {
		out = append(out, pack(j))
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b console.Pack) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

func (p *consolePacks) Get(id string) (console.Pack, bool) {
	r := p.s.reports
	r.mu.Lock()
	defer r.mu.Unlock()
	j, ok := r.jobs[id]
	if !ok {
		return console.Pack{}, false
	}
	return pack(j), true
}

func (p *consolePacks) Start(req console.PackRequest) (console.Pack, error) {
	if !p.Enabled() {
		return console.Pack{}, fmt.Errorf("%w: evidence packs are not configured (server.reports.dir and signing_key)", ErrNotFound)
	}
	s := p.s
	opts := report.Options{From: req.From, To: req.To, Instance: req.Instance, SampleSize: req.SampleSize,
		Organisation: s.reports.cfg.Organisation, SigningKey: s.d.SigningKey, Version: s.d.Version, GeneratedAt: s.d.Now().UTC()}
	if err := opts.Validate(); err != nil {
		return console.Pack{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	j := s.startJob(opts)
	s.reports.mu.Lock()
	defer s.reports.mu.Unlock()
	return pack(j), nil
}

func (p *consolePacks) File(id, name string) (string, error) {
	j, ok := p.s.reports.get(id)
	if !ok {
		return "", fmt.Errorf("%w: no evidence pack %q", ErrNotFound, id)
	}
	if j.State != ReportDone {
		return "", fmt.Errorf("%w: evidence pack %s is %s", ErrConflict, j.ID, j.State)
	}
	if !j.allowedName[name] || name != filepath.Base(name) {
		return "", fmt.Errorf("%w: evidence pack %s has no file %q", ErrNotFound, j.ID, name)
	}
	return filepath.Join(p.s.reports.cfg.Dir, j.ID, name), nil
}

// Verify checks a finished pack against the store in the background with
// the server's own public key as the one trusted key.
func (p *consolePacks) Verify(id string) error {
	s, r := p.s, p.s.reports
	if s.d.Verifier == nil || len(s.d.SigningKey) == 0 {
		return fmt.Errorf("%w: verifying packs is not configured on this server", ErrNotFound)
	}
	r.mu.Lock()
	j, ok := r.jobs[id]
	switch {
	case !ok:
		r.mu.Unlock()
		return fmt.Errorf("%w: no evidence pack %q", ErrNotFound, id)
	case j.State != ReportDone:
		r.mu.Unlock()
		return fmt.Errorf("%w: evidence pack %s is %s", ErrConflict, id, j.State)
	case j.verification != nil && j.verification.State == console.VerifyRunning:
		r.mu.Unlock()
		return nil
	}
	j.verification = &console.Verification{State: console.VerifyRunning, StartedAt: s.d.Now().UTC()}
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		pub := s.d.SigningKey.Public().(ed25519.PublicKey)
		res, notes, err := s.d.Verifier.VerifyReport(r.ctx, filepath.Join(r.cfg.Dir, id), []ed25519.PublicKey{pub})
		v := &console.Verification{State: console.VerifyOK, StartedAt: j.verification.StartedAt, CheckedAt: s.d.Now().UTC(),
			RowsChecked: res.RowsChecked, Notes: notes}
		switch {
		case err != nil:
			v.State, v.Error = console.VerifyFailed, err.Error()
			s.log.Error("evidence pack verification failed", "report_id", id, "err", err)
		case !res.OK || !res.Authenticated:
			v.State = console.VerifyMismatch
			for _, d := range res.Differences {
				v.Differences = append(v.Differences, d.File+": "+d.Detail)
			}
			if !res.Authenticated {
				v.Differences = append(v.Differences, "the manifest is not signed by this server's key")
			}
		}
		r.mu.Lock()
		j.verification = v
		r.mu.Unlock()
		s.log.Info("evidence pack verified", "report_id", id, "state", v.State)
	}()
	return nil
}

// newReportID is a fresh report id, KT- and 12 hex digits.
func newReportID() string {
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	return "KT-" + strings.ToUpper(hex.EncodeToString(nonce[:]))
}
