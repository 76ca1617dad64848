package report

import (
	"strings"
	"unicode/utf8"

	"github.com/jung-kurt/gofpdf"
)

// Page geometry in millimetres (A4 portrait).
const (
	pageW      = 210.0
	pageH      = 297.0
	marginL    = 15.0
	marginR    = 15.0
	contentTop = 22.0
	contentBot = 282.0 // the footer sits below
	contentW   = pageW - marginL - marginR
	cellPad    = 1.2
)

// doc wraps gofpdf with Unicode-safe text primitives: every string is sanitized,
// split into runs by the font that has its glyphs, measured and cut to fit.
type doc struct {
	f    *gofpdf.Fpdf
	bold bool
	size float64 // points

	// pending are subheadings not drawn yet: each is kept with the content
	// that follows it (ensure draws them together, on one page).
	pending []string
	// headings records the text of every subheading and table header drawn,
	// so tests can check that none ends a page.
	headings []string
}

func (d *doc) font(bold bool, size float64) {
	d.bold, d.size = bold, size
	d.apply(false)
}

func (d *doc) apply(cjk bool) {
	switch {
	case cjk:
		d.f.SetFont(famCJK, "", d.size)
	case d.bold:
		d.f.SetFont(famSans, "B", d.size)
	default:
		d.f.SetFont(famSans, "", d.size)
	}
}

// lineH is the line height for the current size.
func (d *doc) lineH() float64 { return d.size * 0.3528 * 1.3 }

// spansWidth measures runs in their fonts.
func (d *doc) spansWidth(sp []span) float64 {
	w := 0.0
	for _, s := range sp {
		d.apply(s.cjk)
		w += d.f.GetStringWidth(s.text)
	}
	d.apply(false)
	return w
}

// width measures already-sanitized text.
func (d *doc) width(s string) float64 { return d.spansWidth(spans(s, d.bold)) }

// fit cuts sanitized text s to width w, ending it with an ellipsis when cut.
func (d *doc) fit(s string, w float64) string {
	if d.width(s) <= w {
		return s
	}
	ell := d.width("…")
	total := 0.0
	var b strings.Builder
	for _, sp := range spans(s, d.bold) {
		d.apply(sp.cjk)
		for _, r := range sp.text {
			rw := d.f.GetStringWidth(string(r))
			if total+rw+ell > w {
				d.apply(false)
				return b.String() + "…"
			}
			total += rw
			b.WriteRune(r)
		}
	}
	d.apply(false)
	return b.String()
}

// put draws s (raw; sanitized here) in the box at (x, y) of size w×h, aligned
// "L", "C" or "R", cut to fit.
func (d *doc) put(x, y, w, h float64, s, align string) {
	s = d.fit(sanitize(s), w-2*cellPad)
	sp := spans(s, d.bold)
	tw := d.spansWidth(sp)
	x0 := x + cellPad
	switch align {
	case "R":
		x0 = x + w - cellPad - tw
	case "C":
		x0 = x + (w-tw)/2
	}
	for _, seg := range sp {
		d.apply(seg.cjk)
		sw := d.f.GetStringWidth(seg.text)
		d.f.SetXY(x0, y)
		d.f.CellFormat(sw, h, seg.text, "", 0, "L", false, 0, "")
		x0 += sw
	}
	d.apply(false)
}

// wrap breaks raw text into lines no wider than w (sanitized, at most maxLines;
// 0 = unlimited). Newlines in s start new lines.
func (d *doc) wrap(s string, w float64, maxLines int) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		para = sanitizeLong(para)
		line := ""
		emit := func(l string) { out = append(out, l) }
		for _, word := range strings.Fields(para) {
			cand := word
			if line != "" {
				cand = line + " " + word
			}
			if d.width(cand) <= w {
				line = cand
				continue
			}
			if line != "" {
				emit(line)
				line = ""
			}
			for d.width(word) > w {
				cut := d.fit(word, w)
				cut = strings.TrimSuffix(cut, "…")
				if cut == "" {
					_, n := utf8.DecodeRuneInString(word)
					cut = word[:n]
				}
				emit(cut)
				word = word[len(cut):]
			}
			line = word
		}
		emit(line)
	}
	if maxLines > 0 && len(out) > maxLines {
		out = out[:maxLines]
		out[maxLines-1] = d.fit(out[maxLines-1]+" …", w)
	}
	return out
}

// sanitizeLong sanitizes paragraph text, allowing more runes than a cell.
func sanitizeLong(s string) string { return sanitizeN(s, 20000) }

// ensure starts a new page unless h millimetres fit below the cursor
// together with the pending subheadings, then draws those: a heading is never
// left alone at the foot of a page. It reports whether it broke the page.
func (d *doc) ensure(h float64) bool {
	broke := false
	if d.f.GetY()+h+subheadingH*float64(len(d.pending)) > contentBot {
		d.newPage()
		broke = true
	}
	d.drawPending()
	return broke
}

// subheadingH is the height of a subheading, its gap included.
const subheadingH = 9.0

func (d *doc) drawPending() {
	if len(d.pending) == 0 {
		return
	}
	bold, size := d.bold, d.size
	for _, title := range d.pending {
		d.gap(2)
		d.font(true, 10.5)
		y := d.f.GetY()
		d.put(marginL, y, contentW, 6, title, "L")
		d.f.SetXY(marginL, y+7)
		d.headings = append(d.headings, title)
	}
	d.pending = nil
	d.font(bold, size)
}

func (d *doc) newPage() {
	bold, size := d.bold, d.size
	d.f.AddPage()
	d.font(bold, size)
	d.f.SetXY(marginL, contentTop)
}

// para writes wrapped text across the content width.
func (d *doc) para(s string) {
	d.paraAt(marginL, contentW, s)
}

func (d *doc) paraAt(x, w float64, s string) {
	h := d.lineH()
	for _, l := range d.wrap(s, w-2*cellPad, 0) {
		d.ensure(h)
		y := d.f.GetY()
		d.put(x, y, w, h, l, "L")
		d.f.SetXY(marginL, y+h)
	}
}

// gap moves the cursor down.
func (d *doc) gap(h float64) { d.f.SetXY(marginL, d.f.GetY()+h) }

// kv writes a label and a value wrapped to at most 8 lines.
func (d *doc) kv(label, value string, labelW float64) {
	bold, size := d.bold, d.size
	h := d.lineH()
	lines := d.wrap(value, contentW-labelW-2*cellPad, 8)
	d.ensure(h * float64(max(1, len(lines))))
	y := d.f.GetY()
	d.font(true, size)
	d.put(marginL, y, labelW, h, label, "L")
	d.font(bold, size)
	for i, l := range lines {
		d.put(marginL+labelW, y+float64(i)*h, contentW-labelW, h, l, "L")
	}
	d.f.SetXY(marginL, y+h*float64(max(1, len(lines))))
}

// section starts a numbered section with a bookmark.
func (d *doc) section(title string) {
	d.drawPending()
	d.ensure(30)
	if d.f.GetY() > contentTop+1 {
		d.gap(4)
	}
	y := d.f.GetY()
	d.f.Bookmark(title, 0, y)
	d.font(true, 14)
	d.f.SetTextColor(20, 40, 80)
	d.put(marginL, y, contentW, 8, title, "L")
	d.f.SetTextColor(0, 0, 0)
	d.f.SetDrawColor(20, 40, 80)
	d.f.SetLineWidth(0.4)
	d.f.Line(marginL, y+8.5, marginL+contentW, y+8.5)
	d.f.SetLineWidth(0.2)
	d.f.SetXY(marginL, y+11)
	d.font(false, 9.5)
}

// subheading writes a bold line, kept with what follows it (keep-with-next):
// it is drawn by the next ensure, on the page that content starts on.
func (d *doc) subheading(title string) {
	d.pending = append(d.pending, title)
	d.font(false, 9.5)
}

// pre writes preformatted text (a policy, a query) in a size-point font:
// each line keeps its indentation, and a line too long for the page wraps
// with a hanging indent.
func (d *doc) pre(text string, size float64) {
	bold, old := d.bold, d.size
	d.font(false, size)
	h := d.lineH()
	const indentPerSpace, hang = 1.6, 6.0
	var lines []preLine
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		trimmed := strings.TrimLeft(line, " \t")
		indent := 0.0
		for _, r := range line[:len(line)-len(trimmed)] {
			if r == '\t' {
				indent += 4 * indentPerSpace
			} else {
				indent += indentPerSpace
			}
		}
		indent = min(indent, contentW/2)
		for i, l := range d.wrap(trimmed, contentW-indent-hang-2*cellPad, 0) {
			x := marginL + indent
			if i > 0 {
				x += hang
			}
			lines = append(lines, preLine{x, l})
		}
	}
	// A block that fits on a page is kept on one.
	if total := h * float64(len(lines)); total <= keepTogether {
		d.ensure(total)
	}
	for _, l := range lines {
		d.ensure(h)
		y := d.f.GetY()
		d.put(l.x, y, marginL+contentW-l.x, h, l.text, "L")
		d.f.SetXY(marginL, y+h)
	}
	d.font(bold, old)
}

// keepTogether is the height below which a preformatted block or a table is
// kept on one page.
const keepTogether = 120.0

type preLine struct {
	x    float64
	text string
}

// column of a table.
type column struct {
	title string
	w     float64
	align string
	wrap  int // > 0: wrap to at most this many lines
}

// columnTitles is a table header's text, titles joined by spaces.
func columnTitles(cols []column) string {
	t := make([]string, len(cols))
	for i, c := range cols {
		t[i] = c.title
	}
	return strings.Join(t, " ")
}

// table draws rows in a size-point font with a header that repeats on every
// page. row(i) returns the cells of row i.
func (d *doc) table(size float64, cols []column, n int, row func(i int) []string) {
	header := func() {
		d.font(true, size)
		h := d.lineH() + 1.5
		y := d.f.GetY()
		d.f.SetFillColor(20, 40, 80)
		d.f.Rect(marginL, y, contentW, h, "F")
		d.f.SetTextColor(255, 255, 255)
		x := marginL
		for _, c := range cols {
			d.put(x, y, c.w, h, c.title, c.align)
			x += c.w
		}
		d.f.SetTextColor(0, 0, 0)
		d.f.SetXY(marginL, y+h)
		d.font(false, size)
	}
	d.font(false, size)
	lh := d.lineH()
	layout := func(i int) ([][]string, float64) {
		cells := row(i)
		lines := make([][]string, len(cols))
		rows := 1
		for j, c := range cols {
			v := ""
			if j < len(cells) {
				v = cells[j]
			}
			if c.wrap > 0 {
				lines[j] = d.wrap(v, c.w-2*cellPad, c.wrap)
			} else {
				lines[j] = []string{v}
			}
			rows = max(rows, len(lines[j]))
		}
		return lines, float64(rows)*lh + 1
	}
	// The header is kept with the first row (keep-with-next), and a short
	// table is kept on one page.
	var lines [][]string
	var h float64
	if n > 0 {
		lines, h = layout(0)
	}
	need := lh + 1.5 + h
	if n <= 12 {
		total := lh + 1.5
		for i := range n {
			_, rh := layout(i)
			total += rh
		}
		if total <= keepTogether/2 {
			need = total
		}
	}
	d.ensure(need)
	header()
	d.headings = append(d.headings, columnTitles(cols))
	for i := 0; i < n; i++ {
		if i > 0 {
			lines, h = layout(i)
		}
		if d.ensure(h) {
			header()
		}
		y := d.f.GetY()
		if i%2 == 1 {
			d.f.SetFillColor(236, 240, 246)
			d.f.Rect(marginL, y, contentW, h, "F")
		}
		x := marginL
		for j, c := range cols {
			for k, l := range lines[j] {
				d.put(x, y+0.5+float64(k)*lh, c.w, lh, l, c.align)
			}
			x += c.w
		}
		d.f.SetDrawColor(200, 205, 215)
		d.f.Line(marginL, y+h, marginL+contentW, y+h)
		d.f.SetXY(marginL, y+h)
	}
	d.font(false, 9.5)
	d.gap(2)
}
