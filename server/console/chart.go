package console

import (
	"fmt"

	"github.com/keytrail/keytrail/report"
)

// chart is the daily verified-vs-not chart as inline SVG: one stacked bar
// per UTC day, verified under not verified, the same series and axis as the
// PDF's chart.
type chart struct {
	Width, Height float64
	PlotX, PlotY  float64 // the plot area's top-left corner
	PlotW, PlotH  float64
	Right         float64 // PlotX + PlotW
	Bars          []bar
	YTicks        []tick
	XTicks        []tick
	// Summary describes the chart for screen readers.
	Summary string
	Empty   bool
}

type bar struct {
	X, W       float64
	VerifiedY  float64
	VerifiedH  float64
	NotY, NotH float64
	Title      string
}

type tick struct {
	Pos   float64
	Label string
}

const (
	chartW, chartH                = 960.0, 260.0
	chartLeft, chartRight         = 56.0, 12.0
	chartTop, chartBottom         = 12.0, 30.0
	maxXTicks                     = 10
	chartGapShare, chartMinBarGap = 0.2, 1.5
)

// newChart lays out days (report.Summary.Daily).
func newChart(days []report.DayCount) chart {
	c := chart{Width: chartW, Height: chartH, PlotX: chartLeft, PlotY: chartTop,
		PlotW: chartW - chartLeft - chartRight, PlotH: chartH - chartTop - chartBottom, Right: chartW - chartRight}
	var peak, v, n int64
	for _, d := range days {
		peak = max(peak, d.Verified+d.NotVerified)
		v += d.Verified
		n += d.NotVerified
	}
	top := report.NiceCeil(peak)
	for i := 0; i <= 4; i++ {
		c.YTicks = append(c.YTicks, tick{Pos: c.PlotY + c.PlotH - c.PlotH*float64(i)/4, Label: formatCount(top * int64(i) / 4)})
	}
	if len(days) == 0 || peak == 0 {
		c.Empty, c.Summary = true, "No actions in this period."
		return c
	}
	c.Summary = fmt.Sprintf("Actions per UTC day over %d days: %s verified, %s not verified; the busiest day had %s actions.",
		len(days), formatCount(v), formatCount(n), formatCount(peak))
	bw := c.PlotW / float64(len(days))
	gap := 0.0
	if bw > chartMinBarGap {
		gap = bw * chartGapShare
	}
	scale := func(x int64) float64 { return c.PlotH * float64(x) / float64(top) }
	base := c.PlotY + c.PlotH
	for i, d := range days {
		vh, nh := scale(d.Verified), scale(d.NotVerified)
		c.Bars = append(c.Bars, bar{X: c.PlotX + float64(i)*bw + gap/2, W: bw - gap, VerifiedY: base - vh, VerifiedH: vh,
			NotY: base - vh - nh, NotH: nh,
			Title: fmt.Sprintf("%s: %s verified, %s not verified", d.Day, formatCount(d.Verified), formatCount(d.NotVerified))})
	}
	step := (len(days) + maxXTicks - 1) / maxXTicks
	for i := 0; i < len(days); i += step {
		c.XTicks = append(c.XTicks, tick{Pos: c.PlotX + (float64(i)+0.5)*bw, Label: days[i].Day})
	}
	return c
}
