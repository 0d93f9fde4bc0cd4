package html

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// plot draws one chart as inline SVG. Everything is computed here, in Go, so
// the page needs no script and no library to show its figures; the output
// has a viewBox and scales to its container with CSS.
//
// Coordinates outside the data's range and non-finite values are clamped,
// so an empty or odd series still yields a well-formed chart and never
// "NaN" in an attribute.
type plot struct {
	class, title   string
	w, h           float64 // viewBox size
	left, right    float64 // margins around the plotting area
	top, bottom    float64
	x0, x1, y0, y1 float64 // data ranges
	xTicks, yTicks []float64
	xLabel, yLabel string
	b              strings.Builder
}

const (
	chartW = 1080
	chartH = 300
)

func newPlot(class, title string) *plot {
	return &plot{class: class, title: title, w: chartW, h: chartH, left: 64, right: 20, top: 34, bottom: 46, x1: 1, y1: 1}
}

// finite replaces NaN and ±Inf with 0 so they cannot reach the SVG.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// num formats a coordinate compactly.
func num(v float64) string { return strconv.FormatFloat(finite(v), 'f', 1, 64) }

// setX sets the x range to [lo, hi] rounded out to nice ticks.
func (p *plot) setX(lo, hi float64, label string) {
	p.xTicks, p.x0, p.x1 = niceTicks(lo, hi, 10)
	p.xLabel = label
}

// setY sets the y range to [lo, hi] rounded out to nice ticks.
func (p *plot) setY(lo, hi float64, label string) {
	p.yTicks, p.y0, p.y1 = niceTicks(lo, hi, 6)
	p.yLabel = label
}

func (p *plot) plotW() float64 { return p.w - p.left - p.right }
func (p *plot) plotH() float64 { return p.h - p.top - p.bottom }

// px maps a data x to a viewBox x, clamped to the plotting area.
func (p *plot) px(x float64) float64 {
	f := (finite(x) - p.x0) / (p.x1 - p.x0)
	return p.left + clamp01(f)*p.plotW()
}

// py maps a data y to a viewBox y, clamped to the plotting area.
func (p *plot) py(y float64) float64 {
	f := (finite(y) - p.y0) / (p.y1 - p.y0)
	return p.top + (1-clamp01(f))*p.plotH()
}

func clamp01(f float64) float64 {
	switch {
	case math.IsNaN(f) || f < 0:
		return 0
	case f > 1:
		return 1
	}
	return f
}

func (p *plot) printf(format string, args ...any) { fmt.Fprintf(&p.b, format, args...) }

// text writes an escaped label.
func (p *plot) text(x, y float64, anchor, class, s string) {
	p.printf(`<text x="%s" y="%s" text-anchor="%s" class="%s">%s</text>`, num(x), num(y), anchor, class, html.EscapeString(s))
}

// grid draws the frame, horizontal grid lines, tick labels on both axes and
// the axis titles. With xTicks false the x axis gets no tick labels (bar
// charts label their own categories).
func (p *plot) grid(xTicks bool) {
	p.printf(`<g class="grid">`)
	for _, t := range p.yTicks {
		y := p.py(t)
		p.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(p.left), num(y), num(p.w-p.right), num(y))
	}
	p.printf(`</g><g class="axis">`)
	p.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(p.left), num(p.h-p.bottom), num(p.w-p.right), num(p.h-p.bottom))
	p.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(p.left), num(p.top), num(p.left), num(p.h-p.bottom))
	for _, t := range p.yTicks {
		p.text(p.left-8, p.py(t)+4, "end", "tick", tickLabel(t, p.yTicks))
	}
	if xTicks {
		for _, t := range p.xTicks {
			x := p.px(t)
			p.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(x), num(p.h-p.bottom), num(x), num(p.h-p.bottom+5))
			p.text(x, p.h-p.bottom+19, "middle", "tick", tickLabel(t, p.xTicks))
		}
	}
	p.printf(`</g>`)
	if p.xLabel != "" {
		p.text(p.left+p.plotW()/2, p.h-6, "middle", "axis-title", p.xLabel)
	}
	if p.yLabel != "" {
		p.printf(`<text transform="translate(14 %s) rotate(-90)" text-anchor="middle" class="axis-title">%s</text>`,
			num(p.top+p.plotH()/2), html.EscapeString(p.yLabel))
	}
}

// legendItem is one entry of a chart's legend.
type legendItem struct {
	label, color string
	dashed, dot  bool
}

// legend draws the items in one row above the plotting area, right-aligned.
func (p *plot) legend(items []legendItem) {
	if len(items) == 0 {
		return
	}
	// Estimate widths from the label length: the font is a system font
	// whose metrics we cannot know, and a little slack is harmless.
	widths := make([]float64, len(items))
	total := 0.0
	for i, it := range items {
		widths[i] = 40 + 7*float64(len([]rune(it.label)))
		total += widths[i]
	}
	x := p.w - p.right - total
	if x < p.left {
		x = p.left
	}
	y := p.top - 14.0
	p.printf(`<g class="legend">`)
	for i, it := range items {
		switch {
		case it.dot:
			p.printf(`<circle cx="%s" cy="%s" r="4" fill="%s"/>`, num(x+9), num(y-4), it.color)
		case it.dashed:
			p.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2.5" stroke-dasharray="5 3"/>`, num(x), num(y-4), num(x+18), num(y-4), it.color)
		default:
			p.printf(`<rect x="%s" y="%s" width="18" height="8" rx="2" fill="%s"/>`, num(x), num(y-8), it.color)
		}
		p.text(x+24, y, "start", "legend-label", it.label)
		x += widths[i]
	}
	p.printf(`</g>`)
}

// noData writes a placeholder in the middle of the plotting area.
func (p *plot) noData(msg string) {
	p.text(p.left+p.plotW()/2, p.top+p.plotH()/2, "middle", "no-data", msg)
}

// polyline draws a line through (xs[i], ys[i]).
func (p *plot) polyline(xs, ys []float64, color string, width float64, dashed bool, class string) {
	if len(xs) == 0 {
		return
	}
	pts := make([]string, len(xs))
	for i := range xs {
		pts[i] = num(p.px(xs[i])) + "," + num(p.py(ys[i]))
	}
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="6 4"`
	}
	p.printf(`<polyline class="%s" fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round"%s points="%s"/>`,
		class, color, num(width), dash, strings.Join(pts, " "))
}

// rect draws a rectangle in viewBox units with a hover title.
func (p *plot) rect(x, y, w, h float64, color, class, title string) {
	if w < 0 {
		x, w = x+w, -w
	}
	if h < 0 {
		y, h = y+h, -h
	}
	p.printf(`<rect class="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
		class, num(x), num(y), num(w), num(h), color, html.EscapeString(title))
}

// svg wraps the drawing in its element. The title doubles as the accessible
// name; the class is what the browser test looks for.
func (p *plot) svg() template.HTML {
	var out strings.Builder
	fmt.Fprintf(&out, `<svg class="chart %s" viewBox="0 0 %s %s" role="img" aria-label="%s"><title>%s</title>`,
		p.class, num(p.w), num(p.h), html.EscapeString(p.title), html.EscapeString(p.title))
	out.WriteString(p.b.String())
	out.WriteString(`</svg>`)
	// The content is built from escaped text and formatted numbers only.
	return template.HTML(out.String())
}

// niceTicks returns about n round tick values covering [lo, hi] and the
// rounded-out range they span (Heckbert's "nice numbers").
func niceTicks(lo, hi float64, n int) (ticks []float64, nlo, nhi float64) {
	lo, hi = finite(lo), finite(hi)
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi-lo < 1e-9 {
		if hi == 0 {
			hi = 1
		} else {
			lo, hi = lo-math.Abs(lo)*0.5, hi+math.Abs(hi)*0.5
		}
	}
	step := niceNum((hi-lo)/float64(n-1), true)
	nlo = math.Floor(lo/step) * step
	nhi = math.Ceil(hi/step) * step
	for i := 0; i <= 2*n+2; i++ { // bounded: at most about n ticks fit by construction
		v := nlo + float64(i)*step
		if v > nhi+step/2 {
			break
		}
		ticks = append(ticks, v)
	}
	return ticks, nlo, nhi
}

// niceNum rounds x to 1, 2, 5 or 10 times a power of ten.
func niceNum(x float64, round bool) float64 {
	if x <= 0 {
		return 1
	}
	exp := math.Floor(math.Log10(x))
	f := x / math.Pow(10, exp)
	var nf float64
	switch {
	case round && f < 1.5, !round && f <= 1:
		nf = 1
	case round && f < 3, !round && f <= 2:
		nf = 2
	case round && f < 7, !round && f <= 5:
		nf = 5
	default:
		nf = 10
	}
	return nf * math.Pow(10, exp)
}

// tickLabel formats a tick with just enough decimals for its step.
func tickLabel(v float64, ticks []float64) string {
	step := 1.0
	if len(ticks) > 1 {
		step = ticks[1] - ticks[0]
	}
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	if math.Abs(v) >= 10000 && decimals == 0 {
		return compactCount(v)
	}
	return strconv.FormatFloat(finite(v), 'f', decimals, 64)
}

// compactCount writes 12000 as "12k" and 3500000 as "3.5M".
func compactCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strings.TrimSuffix(strconv.FormatFloat(v/1e6, 'f', 1, 64), ".0") + "M"
	case a >= 1e3:
		return strings.TrimSuffix(strconv.FormatFloat(v/1e3, 'f', 1, 64), ".0") + "k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}
