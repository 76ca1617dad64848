package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keytrail/keytrail/model"
	"github.com/keytrail/keytrail/report"
	"github.com/keytrail/keytrail/server/console"
)

// Report job states.
const (
	ReportRunning = "running"
	ReportDone    = "done"
	ReportFailed  = "failed"
)

// reportJob is one evidence pack made through the API.
type reportJob struct {
	ID          string     `json:"id"`
	State       string     `json:"state"`
	From        string     `json:"from"`
	To          string     `json:"to"`
	Instance    string     `json:"instance,omitempty"`
	StartedAt   string     `json:"started_at,omitempty"`
	FinishedAt  string     `json:"finished_at,omitempty"`
	Done        int64      `json:"rows_done"`
	Total       int64      `json:"rows_total"`
	Error       string     `json:"error,omitempty"`
	Files       []fileView `json:"files,omitempty"`
	PolicyVer   string     `json:"policy_version,omitempty"`
	DataDigest  string     `json:"data_digest,omitempty"`
	allowedName map[string]bool
	// verification is the console's latest verification of the pack.
	verification *console.Verification
}

type fileView struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// reportJobs runs evidence packs in the background, one folder per report
// id under reports.dir; packs found there at start are listed too.
type reportJobs struct {
	cfg Reports
	d   Deps
	m   *Metrics

	mu   sync.Mutex
	jobs map[string]*reportJob
	wg   sync.WaitGroup
	stop context.CancelFunc
	ctx  context.Context
}

func newReportJobs(cfg Reports, d Deps, m *Metrics) *reportJobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &reportJobs{cfg: cfg, d: d, m: m, jobs: map[string]*reportJob{}, ctx: ctx, stop: cancel}
}

var reportIDRE = regexp.MustCompile(`^KT-[0-9A-F]{12}$`)

// load lists the packs already in the directory.
func (r *reportJobs) load() error {
	if r.cfg.Dir == "" {
		return nil
	}
	if err := os.MkdirAll(r.cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("reports dir: %w", err)
	}
	ents, err := os.ReadDir(r.cfg.Dir)
	if err != nil {
		return fmt.Errorf("reports dir: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() || !reportIDRE.MatchString(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.cfg.Dir, e.Name(), report.FileManifest))
		if err != nil {
			continue // an unfinished pack
		}
		var m model.Manifest
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		j := &reportJob{ID: e.Name(), State: ReportDone, From: report.FormatTime(m.PeriodFrom), To: report.FormatTime(m.PeriodTo)}
		j.finish(m)
		r.jobs[j.ID] = j
	}
	return nil
}

func (j *reportJob) finish(m model.Manifest) {
	j.PolicyVer, j.DataDigest = m.PolicyVersion, m.DataDigest
	j.allowedName = map[string]bool{report.FileManifest: true, report.FileSignature: true}
	for _, f := range m.Files {
		j.Files = append(j.Files, fileView{Name: f.Name, SHA256: f.SHA256, Bytes: f.Bytes})
		j.allowedName[f.Name] = true
	}
	j.Files = append(j.Files, fileView{Name: report.FileManifest}, fileView{Name: report.FileSignature})
}

// reportRequest is the body of POST /v1/reports.
type reportRequest struct {
	From          string `json:"from"`
	To            string `json:"to"`
	Instance      string `json:"instance"`
	Organisation  string `json:"organisation"`
	SampleSize    int    `json:"sample_size"`
	Seed          string `json:"seed"`
	PolicyVersion string `json:"policy_version"`
}

func (s *Server) startReport(c echo.Context) error {
	r := s.reports
	if r.cfg.Dir == "" || s.d.Reporter == nil || len(s.d.SigningKey) == 0 {
		return fmt.Errorf("%w: evidence packs are not configured (server.reports.dir and signing_key)", ErrNotFound)
	}
	body, err := readBody(c, s.cfg.BodyLimits.API)
	if err != nil {
		return err
	}
	var req reportRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("%w: body: %w", ErrBadRequest, err)
	}
	opts := report.Options{Instance: req.Instance, Organisation: req.Organisation, SampleSize: req.SampleSize, Seed: req.Seed,
		PolicyVersion: req.PolicyVersion, SigningKey: s.d.SigningKey, Version: s.d.Version, GeneratedAt: s.d.Now().UTC()}
	if opts.Organisation == "" {
		opts.Organisation = r.cfg.Organisation
	}
	for name, dst := range map[string]*time.Time{"from": &opts.From, "to": &opts.To} {
		v := map[string]string{"from": req.From, "to": req.To}[name]
		t, perr := time.Parse(time.RFC3339Nano, v)
		if perr != nil {
			t, perr = time.Parse("2006-01-02", v)
		}
		if perr != nil {
			return fmt.Errorf("%w: %s=%q: want RFC 3339 or YYYY-MM-DD", ErrBadRequest, name, v)
		}
		*dst = t.UTC()
	}
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	j := s.startJob(opts)
	r.mu.Lock()
	v := r.view(j)
	r.mu.Unlock()
	c.Response().Header().Set(echo.HeaderLocation, "/v1/reports/"+j.ID)
	return c.JSON(http.StatusAccepted, v)
}

// startJob starts writing the pack opts (validated) describes in the
// background and returns its job.
func (s *Server) startJob(opts report.Options) *reportJob {
	r := s.reports
	opts.ReportID = newReportID()
	j := &reportJob{ID: opts.ReportID, State: ReportRunning, From: report.FormatTime(opts.From), To: report.FormatTime(opts.To),
		Instance: opts.Instance, StartedAt: report.FormatTime(s.d.Now())}
	r.mu.Lock()
	r.jobs[j.ID] = j
	r.mu.Unlock()
	r.wg.Add(1)
	go r.run(j, opts, s)
	return j
}

// run writes the pack; its state and progress are visible meanwhile.
func (r *reportJobs) run(j *reportJob, opts report.Options, s *Server) {
	defer r.wg.Done()
	start := time.Now()
	dir := filepath.Join(r.cfg.Dir, j.ID)
	m, err := s.d.Reporter.Report(r.ctx, opts, dir, func(done, total int64) {
		r.mu.Lock()
		j.Done, j.Total = done, total
		r.mu.Unlock()
	})
	r.m.reportDone(time.Since(start), err)
	r.mu.Lock()
	defer r.mu.Unlock()
	j.FinishedAt = report.FormatTime(s.d.Now())
	if err != nil {
		j.State, j.Error = ReportFailed, err.Error()
		s.log.Error("evidence pack failed", "report_id", j.ID, "err", err)
		return
	}
	j.State = ReportDone
	j.finish(m)
	s.log.Info("evidence pack written", "report_id", j.ID, "rows", j.Done, "duration_ms", time.Since(start).Milliseconds())
}

// wait waits for running packs until ctx ends, then cancels them.
func (r *reportJobs) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		r.stop()
		<-done
		return errors.New("evidence packs still running at shutdown were cancelled")
	}
}

func (r *reportJobs) view(j *reportJob) reportJob {
	cp := *j
	cp.Files = slices.Clone(j.Files)
	return cp
}

func (r *reportJobs) get(id string) (reportJob, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	j, ok := r.jobs[id]
	if !ok {
		return reportJob{}, false
	}
	return r.view(j), true
}

func (s *Server) listReports(c echo.Context) error {
	r := s.reports
	r.mu.Lock()
	out := make([]reportJob, 0, len(r.jobs))
	for _, j := range r.jobs {
		out = append(out, r.view(j))
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b reportJob) int { return strings.Compare(b.StartedAt+b.ID, a.StartedAt+a.ID) })
	return c.JSON(http.StatusOK, map[string]any{"reports": out})
}

func (s *Server) getReport(c echo.Context) error {
	j, ok := s.reports.get(c.Param("id"))
	if !ok {
		return fmt.Errorf("%w: no report %q", ErrNotFound, c.Param("id"))
	}
	return c.JSON(http.StatusOK, j)
}

// reportFile serves one file of a finished pack. Only names the pack's
// manifest lists (and the manifest and its signature) are served, from the
// pack's own folder: nothing else on disk is reachable.
func (s *Server) reportFile(c echo.Context) error {
	j, ok := s.reports.get(c.Param("id"))
	if !ok {
		return fmt.Errorf("%w: no report %q", ErrNotFound, c.Param("id"))
	}
	if j.State != ReportDone {
		return fmt.Errorf("%w: report %s is %s", ErrConflict, j.ID, j.State)
	}
	name := c.Param("name")
	if !j.allowedName[name] || name != filepath.Base(name) {
		return fmt.Errorf("%w: report %s has no file %q", ErrNotFound, j.ID, name)
	}
	return c.Attachment(filepath.Join(s.reports.cfg.Dir, j.ID, name), name)
}
