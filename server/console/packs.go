package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keytrail/keytrail/report"
)

// packRefresh is how often a page showing a pack in progress reloads.
const packRefresh = 2

// packsPage is the list's data.
type packsPage struct {
	Packs       []Pack
	Enabled     bool
	Admin       bool
	From, To    string // the start form's defaults: the overview's period
	Instances   []string
	SampleSizes []int
}

// running reports whether a pack is being written or verified.
func running(p Pack) bool {
	return p.State == PackRunning || (p.Verification != nil && p.Verification.State == VerifyRunning)
}

func (c *Console) packList(ec echo.Context) error {
	p, err := c.periodOf(ec)
	if err != nil {
		return err
	}
	s, _ := c.session(ec)
	d := packsPage{Packs: c.d.Packs.List(), Enabled: c.d.Packs.Enabled(), Admin: s.Admin, From: p.FromDay(), To: p.ToDay(),
		SampleSizes: report.SampleSizes}
	if ov, err := c.cache.get(ec.Request().Context(), c.d.Reader, report.Query{From: p.From, To: p.To}); err == nil {
		d.Instances = airflowInstances(ov.Coverage, "")
	}
	refresh := 0
	if slices.ContainsFunc(d.Packs, running) {
		refresh = packRefresh
	}
	return c.page(ec, "packs", "Evidence packs", "packs", d, refresh)
}

// packStart starts a pack for the form's period (admin only: Routes).
func (c *Console) packStart(ec echo.Context) error {
	from, err := parseDay("from", ec.FormValue("from"))
	if err != nil {
		return err
	}
	last, err := parseDay("to", ec.FormValue("to"))
	if err != nil {
		return err
	}
	req := PackRequest{From: from, To: last.AddDate(0, 0, 1), Instance: strings.TrimSpace(ec.FormValue("instance"))}
	if !req.To.After(req.From) {
		return badRequest("the period ends (%s) before it starts (%s)", last.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	if v := ec.FormValue("sample_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(report.SampleSizes, n) {
			return badRequest("sample size %q: want one of %v", v, report.SampleSizes)
		}
		req.SampleSize = n
	}
	p, err := c.d.Packs.Start(req)
	if err != nil {
		return err
	}
	s, _ := c.session(ec)
	c.log.Info("console: evidence pack started", "report_id", p.ID, "subject", s.Subject)
	return ec.Redirect(http.StatusSeeOther, "/packs/"+url.PathEscape(p.ID))
}

// packPage is one pack's data.
type packPage struct {
	P       Pack
	Percent int
}

func (c *Console) packShow(ec echo.Context) error {
	p, ok := c.d.Packs.Get(ec.Param("id"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "There is no evidence pack "+ec.Param("id")+".")
	}
	d := packPage{P: p}
	if p.Total > 0 {
		d.Percent = int(100 * p.Done / p.Total)
	}
	refresh := 0
	if running(p) {
		refresh = packRefresh
	}
	return c.page(ec, "pack", "Evidence pack "+p.ID, "packs", d, refresh)
}

// packFile downloads one file of a finished pack.
func (c *Console) packFile(ec echo.Context) error {
	path, err := c.d.Packs.File(ec.Param("id"), ec.Param("name"))
	if err != nil {
		return err
	}
	return ec.Attachment(path, ec.Param("name"))
}

// packVerify starts verifying a pack against the store.
func (c *Console) packVerify(ec echo.Context) error {
	id := ec.Param("id")
	if err := c.d.Packs.Verify(id); err != nil {
		return err
	}
	return ec.Redirect(http.StatusSeeOther, "/packs/"+url.PathEscape(id))
}
