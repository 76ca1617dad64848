package report

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The fonts embedded in the binary (licences in fonts/): DejaVu Sans for Latin,
// Greek, Cyrillic, Hebrew, Arabic and symbols, and Droid Sans Fallback for CJK.
var (
	//go:embed fonts/DejaVuSans.ttf
	fontSans []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontSansBold []byte
	//go:embed fonts/DroidSansFallback.ttf
	fontCJK []byte
)

// Font family names registered with gofpdf.
const (
	famSans = "dejavu"
	famCJK  = "droid"
)

// coverage is the set of BMP code points a font has a glyph for.
type coverage [65536 / 64]uint64

func (c *coverage) has(r rune) bool {
	if r < 0 || r > 0xFFFF {
		return false
	}
	return c[r>>6]&(1<<(uint(r)&63)) != 0
}

func (c *coverage) set(r int) { c[r>>6] |= 1 << (uint(r) & 63) }

var (
	coverOnce                      sync.Once
	coverSans, coverBold, coverCJK *coverage
	coverErr                       error
)

// fontCoverage parses the cmap of every embedded font once.
func fontCoverage() error {
	coverOnce.Do(func() {
		var errs []error
		var err error
		if coverSans, err = parseCmap(fontSans); err != nil {
			errs = append(errs, fmt.Errorf("DejaVuSans.ttf: %w", err))
		}
		if coverBold, err = parseCmap(fontSansBold); err != nil {
			errs = append(errs, fmt.Errorf("DejaVuSans-Bold.ttf: %w", err))
		}
		if coverCJK, err = parseCmap(fontCJK); err != nil {
			errs = append(errs, fmt.Errorf("DroidSansFallback.ttf: %w", err))
		}
		coverErr = errors.Join(errs...)
	})
	return coverErr
}

// parseCmap reads the (3,1) format-4 cmap subtable of a TrueType font — the one
// gofpdf maps text through — and returns the code points with a non-zero glyph.
func parseCmap(ttf []byte) (*coverage, error) {
	be := binary.BigEndian
	if len(ttf) < 12 {
		return nil, errors.New("font too short")
	}
	n := int(be.Uint16(ttf[4:]))
	var cmap []byte
	for i := 0; i < n; i++ {
		rec := 12 + 16*i
		if rec+16 > len(ttf) {
			return nil, errors.New("truncated table directory")
		}
		if string(ttf[rec:rec+4]) == "cmap" {
			off, ln := int(be.Uint32(ttf[rec+8:])), int(be.Uint32(ttf[rec+12:]))
			if off+ln > len(ttf) {
				return nil, errors.New("cmap out of bounds")
			}
			cmap = ttf[off : off+ln]
		}
	}
	if len(cmap) < 4 {
		return nil, errors.New("no cmap table")
	}
	sub := -1
	for i := 0; i < int(be.Uint16(cmap[2:])); i++ {
		rec := 4 + 8*i
		if rec+8 > len(cmap) {
			break
		}
		if be.Uint16(cmap[rec:]) == 3 && be.Uint16(cmap[rec+2:]) == 1 {
			sub = int(be.Uint32(cmap[rec+4:]))
		}
	}
	if sub < 0 || sub+14 > len(cmap) || be.Uint16(cmap[sub:]) != 4 {
		return nil, errors.New("no (3,1) format 4 cmap subtable")
	}
	t := cmap[sub:]
	seg := int(be.Uint16(t[6:])) / 2
	ends, starts := 14, 16+2*seg
	deltas, offs := starts+2*seg, starts+4*seg
	if offs+2*seg > len(t) {
		return nil, errors.New("truncated format 4 subtable")
	}
	cov := new(coverage)
	for s := 0; s < seg; s++ {
		end := int(be.Uint16(t[ends+2*s:]))
		start := int(be.Uint16(t[starts+2*s:]))
		delta := int(be.Uint16(t[deltas+2*s:]))
		ro := int(be.Uint16(t[offs+2*s:]))
		for c := start; c <= end && c <= 0xFFFF; c++ {
			g := 0
			if ro == 0 {
				g = (c + delta) & 0xFFFF
			} else {
				p := offs + 2*s + ro + 2*(c-start)
				if p+2 > len(t) {
					continue
				}
				if g = int(be.Uint16(t[p:])); g != 0 {
					g = (g + delta) & 0xFFFF
				}
			}
			if g != 0 {
				cov.set(c)
			}
		}
	}
	return cov, nil
}

// maxCellRunes bounds the runes of any one string the PDF renders; longer
// strings are cut before measuring, so a 10 000-character name costs nothing.
const maxCellRunes = 400

// sanitize makes s safe to render: invalid UTF-8 and control characters (C0, C1,
// DEL) become U+FFFD or a space (tab, CR, LF), bidi overrides and zero-width
// characters are dropped (text is laid out in logical order, left to right), and
// the result is cut to maxCellRunes runes with an ellipsis.
func sanitize(s string) string { return sanitizeN(s, maxCellRunes) }

// sanitizeN is sanitize with a limit of n runes.
func sanitizeN(s string, n int) string {
	out := make([]rune, 0, min(len(s), n+1))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError:
			r = '\uFFFD'
		case r == '\t' || r == '\n' || r == '\r':
			r = ' '
		case r < 0x20 || (r >= 0x7F && r < 0xA0):
			r = '\uFFFD'
		case r >= 0x200B && r <= 0x200F, r >= 0x202A && r <= 0x202E,
			r >= 0x2060 && r <= 0x206F, r == 0xFEFF:
			continue
		}
		if len(out) == n {
			out = append(out, '…')
			break
		}
		out = append(out, r)
	}
	return string(out)
}

// span is a run of text drawn in one font.
type span struct {
	cjk  bool
	text string
}

// spans splits sanitized text into runs by the font that has each glyph: the
// DejaVu face for bold or regular text, else Droid Sans Fallback; a code point
// neither has (emoji, supplementary planes) is drawn as U+FFFD.
func spans(s string, bold bool) []span {
	primary := coverSans
	if bold {
		primary = coverBold
	}
	var out []span
	var cur []rune
	curCJK := false
	flush := func() {
		if len(cur) > 0 {
			out = append(out, span{cjk: curCJK, text: string(cur)})
			cur = cur[:0]
		}
	}
	for _, r := range s {
		cjk := false
		switch {
		case primary.has(r):
		case coverCJK.has(r) && !unicode.IsSpace(r):
			cjk = true
		default:
			r = '\uFFFD'
		}
		if cjk != curCJK {
			flush()
			curCJK = cjk
		}
		cur = append(cur, r)
	}
	flush()
	return out
}
