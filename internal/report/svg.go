package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// xy is a point of a chart, in data units. A NaN y breaks the line.
type xy struct{ x, y float64 }

// plotLine is one named series of a chart.
type plotLine struct {
	name  string
	color string
	dash  string // an SVG stroke-dasharray, "" for a solid line
	pts   []xy
}

// tick is a labelled position on an axis, in data units.
type tick struct {
	v     float64
	label string
}

// axis maps data units to the plot: linearly, or by their logarithm
// (then min and max must be positive).
type axis struct {
	min, max float64
	log      bool
	ticks    []tick
	label    string
}

// chart is a line chart drawn as inline SVG.
type chart struct {
	title string
	x, y  axis
	lines []plotLine
}

// The charts' geometry, in SVG user units (pixels at 100% zoom).
const (
	chartW      = 1100
	plotTop     = 34
	plotH       = 240
	plotLeft    = 74
	plotRight   = 16
	legendItemW = 170
	legendRowH  = 18
	plotW       = chartW - plotLeft - plotRight
)

// pos maps v to a fraction of the axis, 0 to 1.
func (a axis) pos(v float64) float64 {
	lo, hi := a.min, a.max
	if a.log {
		v, lo, hi = math.Log10(v), math.Log10(lo), math.Log10(hi)
	}
	if hi == lo {
		return 0.5
	}
	return (v - lo) / (hi - lo)
}

func (c *chart) px(x float64) float64 {
	return plotLeft + c.x.pos(x)*plotW
}

func (c *chart) py(y float64) float64 {
	return plotTop + (1-c.y.pos(y))*plotH
}

// svg renders the chart. Every text it writes is escaped.
func (c *chart) svg() template.HTML {
	rows := (len(c.lines) + legendPerRow() - 1) / legendPerRow()
	h := plotTop + plotH + 46 + rows*legendRowH

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" `+
		`role="img" aria-label="%s">`+"\n", chartW, h, esc(c.title))
	fmt.Fprintf(&b, `<text class="title" x="%d" y="18">%s</text>`+"\n",
		plotLeft, esc(c.title))
	fmt.Fprintf(&b, `<rect class="plot" x="%d" y="%d" width="%d" `+
		`height="%d"/>`+"\n", plotLeft, plotTop, plotW, plotH)
	c.axes(&b)
	if c.empty() {
		fmt.Fprintf(&b, `<text class="nodata" x="%d" y="%d">no data`+
			`</text>`+"\n", plotLeft+plotW/2, plotTop+plotH/2)
	}
	for _, l := range c.lines {
		c.path(&b, l)
	}
	c.legend(&b, plotTop+plotH+46)
	b.WriteString("</svg>\n")
	return template.HTML(b.String())
}

func (c *chart) empty() bool {
	for _, l := range c.lines {
		for _, p := range l.pts {
			if !math.IsNaN(p.y) {
				return false
			}
		}
	}
	return true
}

// axes draws the grid, the tick labels and the axis labels.
func (c *chart) axes(b *strings.Builder) {
	for _, t := range c.y.ticks {
		y := c.py(t.v)
		fmt.Fprintf(b, `<line class="grid" x1="%d" y1="%s" x2="%d" `+
			`y2="%s"/>`, plotLeft, num(y), plotLeft+plotW, num(y))
		fmt.Fprintf(b, `<text class="ytick" x="%d" y="%s">%s</text>`+
			"\n", plotLeft-6, num(y+4), esc(t.label))
	}
	for _, t := range c.x.ticks {
		x := c.px(t.v)
		fmt.Fprintf(b, `<line class="grid" x1="%s" y1="%d" x2="%s" `+
			`y2="%d"/>`, num(x), plotTop, num(x), plotTop+plotH)
		fmt.Fprintf(b, `<text class="xtick" x="%s" y="%d">%s</text>`+
			"\n", num(x), plotTop+plotH+16, esc(t.label))
	}
	fmt.Fprintf(b, `<text class="xlabel" x="%d" y="%d">%s</text>`+"\n",
		plotLeft+plotW/2, plotTop+plotH+34, esc(c.x.label))
	fmt.Fprintf(b, `<text class="ylabel" x="14" y="%d" `+
		`transform="rotate(-90 14 %d)">%s</text>`+"\n",
		plotTop+plotH/2, plotTop+plotH/2, esc(c.y.label))
}

// path draws one line; NaN values and values off a log axis break
// it, and a point alone between breaks is drawn as a dot.
func (c *chart) path(b *strings.Builder, l plotLine) {
	var d strings.Builder
	var run []xy // the points since the last break
	flush := func() {
		if len(run) == 1 {
			fmt.Fprintf(b, `<circle class="dot" cx="%s" cy="%s" r="3" `+
				`fill="%s"/>`, num(c.px(run[0].x)), num(c.py(run[0].y)),
				l.color)
			run = run[:0]
		}
		for i, p := range run {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%s %s", cmd, num(c.px(p.x)), num(c.py(p.y)))
		}
		run = run[:0]
	}
	for _, p := range l.pts {
		if math.IsNaN(p.y) || (c.y.log && p.y <= 0) {
			flush()
			continue
		}
		run = append(run, p)
	}
	flush()
	if d.Len() == 0 {
		return
	}
	dash := ""
	if l.dash != "" {
		dash = fmt.Sprintf(` stroke-dasharray="%s"`, l.dash)
	}
	fmt.Fprintf(b, `<path class="line" d="%s" stroke="%s"%s>`+
		`<title>%s</title></path>`+"\n", d.String(), l.color, dash,
		esc(l.name))
}

func legendPerRow() int { return plotW / legendItemW }

// legend draws a swatch and the name of each line, in rows from top.
func (c *chart) legend(b *strings.Builder, top int) {
	for i, l := range c.lines {
		x := plotLeft + (i%legendPerRow())*legendItemW
		y := top + (i/legendPerRow())*legendRowH
		dash := ""
		if l.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, l.dash)
		}
		fmt.Fprintf(b, `<line class="swatch" x1="%d" y1="%d" x2="%d" `+
			`y2="%d" stroke="%s"%s/>`, x, y-4, x+22, y-4, l.color, dash)
		fmt.Fprintf(b, `<text class="legend" x="%d" y="%d">%s</text>`+
			"\n", x+28, y, esc(l.name))
	}
}

// num writes a coordinate with one decimal.
func num(v float64) string {
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func esc(s string) string { return html.EscapeString(s) }

// linearAxis returns an axis from 0 (or lo, when negative) to a round
// number at or above hi, with about five ticks labelled by label.
func linearAxis(lo, hi float64, label func(float64) string) axis {
	lo = math.Min(lo, 0)
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	a := axis{
		min: math.Floor(lo/step) * step,
		max: math.Ceil(hi/step) * step,
	}
	for i := 0.0; a.min+i*step <= a.max+step/2; i++ {
		// Round away the error of the multiplication (0.6000000000000001).
		v := math.Round((a.min+i*step)*1e9) / 1e9
		a.ticks = append(a.ticks, tick{v, label(v)})
	}
	return a
}

// niceStep returns 1, 2 or 5 times a power of ten, at least d.
func niceStep(d float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(d)))
	for _, m := range []float64{1, 2, 5} {
		if m*p >= d {
			return m * p
		}
	}
	return 10 * p
}

// logAxis returns a logarithmic axis over whole decades holding lo to
// hi (both positive), with a tick at each decade, and at 2 and 5 times
// it when there are few decades.
func logAxis(lo, hi float64, label func(float64) string) axis {
	if lo <= 0 || hi <= 0 {
		lo, hi = 1, 10
	}
	a := axis{
		min: math.Pow(10, math.Floor(math.Log10(lo))),
		max: math.Pow(10, math.Ceil(math.Log10(hi))),
		log: true,
	}
	if a.max <= a.min {
		a.max = a.min * 10
	}
	mults := []float64{1}
	if a.max/a.min <= 100 {
		mults = []float64{1, 2, 5}
	}
	for d := a.min; d <= a.max*1.001; d *= 10 {
		for _, m := range mults {
			if v := d * m; v <= a.max*1.001 {
				a.ticks = append(a.ticks, tick{v, label(v)})
			}
		}
	}
	return a
}

// shortDuration labels a duration tick: "1ms", "2.5s", "500µs".
func shortDuration(ns float64) string {
	s := duration(int64(math.Round(ns)))
	i := strings.IndexFunc(s, func(r rune) bool {
		return (r < '0' || r > '9') && r != '.'
	})
	if i < 0 || !strings.Contains(s[:i], ".") {
		return s
	}
	n := strings.TrimRight(strings.TrimRight(s[:i], "0"), ".")
	return n + s[i:]
}

// shortNumber labels a count tick.
func shortNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}
