package html

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"

	"tokenharness/reports"
)

// Colours, chosen to stay apart for the common kinds of colour blindness
// where it matters most (p50 against p99, ok against failed).
const (
	colP50       = "#2563eb"
	colP99       = "#ea580c"
	colOK        = "#64748b"
	colFail      = "#dc2626"
	colRequested = "#94a3b8"
	colSent      = "#2563eb"
	colSucceeded = "#16a34a"
	colBar       = "#6366f1"
)

// bucketWidth is the series' interval in seconds: the median gap between
// bucket starts, so one late bucket does not widen every bar.
func bucketWidth(series []reports.Bucket) float64 {
	if len(series) < 2 {
		return 1
	}
	gaps := make([]float64, 0, len(series)-1)
	for i := 1; i < len(series); i++ {
		if g := finite(series[i].T - series[i-1].T); g > 0 {
			gaps = append(gaps, g)
		}
	}
	if len(gaps) == 0 {
		return 1
	}
	sort.Float64s(gaps)
	return gaps[len(gaps)/2]
}

// seriesEnd is the time the last bucket or scatter point ends.
func seriesEnd(series []reports.Bucket, scatter []reports.Point) float64 {
	end := 0.0
	if n := len(series); n > 0 {
		end = finite(series[n-1].T) + bucketWidth(series)
	}
	for _, pt := range scatter {
		end = math.Max(end, finite(pt.T))
	}
	return end
}

func seconds(v float64) string { return strconv.FormatFloat(finite(v), 'f', -1, 64) }

// latencyOverTime draws p50 and p99 per bucket over a scatter of individual
// requests, failures in red and drawn last so they are never hidden.
func latencyOverTime(series []reports.Bucket, scatter []reports.Point) template.HTML {
	p := newPlot("latency-over-time", "Latency over time: p50 and p99 per interval, individual requests as dots")
	ymax := 0.0
	for _, b := range series {
		ymax = math.Max(ymax, math.Max(finite(b.P50), finite(b.P99)))
	}
	for _, pt := range scatter {
		ymax = math.Max(ymax, finite(pt.LatencyMS))
	}
	p.setX(0, seriesEnd(series, scatter), "seconds since start")
	p.setY(0, ymax, "latency (ms)")
	p.grid(true)
	if len(series) == 0 && len(scatter) == 0 {
		p.noData("no requests recorded")
		return p.svg()
	}
	for _, ok := range []bool{true, false} {
		class, color, opacity := "scatter ok", colOK, "0.35"
		if !ok {
			class, color, opacity = "scatter failed", colFail, "0.8"
		}
		p.printf(`<g class="%s" fill="%s" fill-opacity="%s">`, class, color, opacity)
		for _, pt := range scatter {
			if pt.OK == ok {
				p.printf(`<circle cx="%s" cy="%s" r="1.8"/>`, num(p.px(pt.T)), num(p.py(pt.LatencyMS)))
			}
		}
		p.printf(`</g>`)
	}
	if len(series) > 0 {
		half := bucketWidth(series) / 2
		xs := make([]float64, len(series))
		p50 := make([]float64, len(series))
		p99 := make([]float64, len(series))
		for i, b := range series {
			xs[i], p50[i], p99[i] = b.T+half, b.P50, b.P99
		}
		p.polyline(xs, p99, colP99, 2.2, false, "line p99")
		p.polyline(xs, p50, colP50, 2.2, false, "line p50")
	}
	p.legend([]legendItem{
		{label: "p50", color: colP50},
		{label: "p99", color: colP99},
		{label: "request", color: colOK, dot: true},
		{label: "failed request", color: colFail, dot: true},
	})
	return p.svg()
}

// latencyHistogram draws one bar per bucket. Buckets are usually spaced
// exponentially, so the x axis is categorical (one slot per bucket) rather
// than linear in milliseconds.
func latencyHistogram(hist []reports.HistBucket) template.HTML {
	p := newPlot("latency-histogram", "Latency histogram: requests per latency bucket")
	p.bottom = 56
	maxCount := 0.0
	for _, h := range hist {
		maxCount = math.Max(maxCount, float64(h.Count))
	}
	p.x0, p.x1 = 0, math.Max(1, float64(len(hist)))
	p.yTicks, p.y0, p.y1 = niceTicks(0, maxCount, 6)
	p.xLabel, p.yLabel = "latency bucket (upper bound)", "requests"
	p.grid(false)
	if len(hist) == 0 {
		p.noData("no latency histogram recorded")
		return p.svg()
	}
	slot := p.plotW() / float64(len(hist))
	every := int(math.Ceil(float64(len(hist)) / 14)) // at most ~14 labels fit
	lo := 0.0
	for i, h := range hist {
		x := p.px(float64(i)) + slot*0.12
		y := p.py(float64(h.Count))
		label := "≤ " + trimZeros(fmtNum(h.LeMS)) + " ms"
		title := fmt.Sprintf("%s–%s ms: %s requests", fmtNum(lo), fmtNum(h.LeMS), fmtCount(h.Count))
		p.rect(x, y, slot*0.76, p.py(0)-y, colBar, "bar", title)
		if i%every == 0 || i == len(hist)-1 {
			p.text(p.px(float64(i))+slot/2, p.h-p.bottom+18, "middle", "tick", label)
		}
		lo = h.LeMS
	}
	return p.svg()
}

// throughputChart draws the requested rate against the rate actually sent
// and the rate of successful (2xx) responses, per interval.
func throughputChart(series []reports.Bucket) template.HTML {
	p := newPlot("throughput", "Throughput against the requested rate")
	dt := bucketWidth(series)
	xs := make([]float64, len(series))
	req := make([]float64, len(series))
	sent := make([]float64, len(series))
	ok := make([]float64, len(series))
	haveCodes := false
	ymax := 0.0
	for i, b := range series {
		xs[i], req[i], sent[i] = b.T+dt/2, b.Requested, b.Rate
		var n uint64
		for code, c := range b.Codes {
			haveCodes = true
			if strings.HasPrefix(code, "2") {
				n += c
			}
		}
		ok[i] = float64(n) / dt
		ymax = math.Max(ymax, math.Max(finite(req[i]), math.Max(finite(sent[i]), finite(ok[i]))))
	}
	p.setX(0, seriesEnd(series, nil), "seconds since start")
	p.setY(0, ymax, "requests per second")
	p.grid(true)
	if len(series) == 0 {
		p.noData("no intervals recorded")
		return p.svg()
	}
	items := []legendItem{{label: "requested", color: colRequested, dashed: true}, {label: "sent", color: colSent}}
	p.polyline(xs, req, colRequested, 2.2, true, "line requested")
	p.polyline(xs, sent, colSent, 2.2, false, "line sent")
	if haveCodes {
		p.polyline(xs, ok, colSucceeded, 2.2, false, "line succeeded")
		items = append(items, legendItem{label: "2xx responses", color: colSucceeded})
	}
	p.legend(items)
	return p.svg()
}

// stackedOverTime draws, per interval, one bar stacked by class (status
// code or error class).
func stackedOverTime(series []reports.Bucket, classes func(reports.Bucket) map[string]uint64,
	order func([]string), color func(key string, i int) string, class, title, yLabel, empty string) template.HTML {
	p := newPlot(class, title)
	seen := map[string]bool{}
	ymax := 0.0
	for _, b := range series {
		total := 0.0
		for k, c := range classes(b) {
			seen[k] = true
			total += float64(c)
		}
		ymax = math.Max(ymax, total)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	order(keys)
	dt := bucketWidth(series)
	p.setX(0, seriesEnd(series, nil), "seconds since start")
	p.setY(0, ymax, yLabel)
	p.grid(true)
	if len(keys) == 0 {
		p.noData(empty)
		return p.svg()
	}
	colors := make(map[string]string, len(keys))
	items := make([]legendItem, len(keys))
	for i, k := range keys {
		colors[k] = color(k, i)
		items[i] = legendItem{label: k, color: colors[k]}
	}
	for _, b := range series {
		x0, x1 := p.px(b.T), p.px(b.T+dt)
		gap := math.Min(1, (x1-x0)*0.1)
		base := 0.0
		m := classes(b)
		for _, k := range keys {
			c := m[k]
			if c == 0 {
				continue
			}
			y0, y1 := p.py(base), p.py(base+float64(c))
			p.rect(x0+gap, y1, x1-x0-2*gap, y0-y1, colors[k], "bar",
				fmt.Sprintf("%s s: %s %s", seconds(b.T), fmtCount(c), k))
			base += float64(c)
		}
	}
	p.legend(items)
	return p.svg()
}

func statusOverTime(series []reports.Bucket) template.HTML {
	return stackedOverTime(series, func(b reports.Bucket) map[string]uint64 { return b.Codes },
		sortNumeric, statusColor, "status-over-time", "HTTP status codes per interval",
		"responses per interval", "no status codes recorded")
}

func errorsOverTime(series []reports.Bucket) template.HTML {
	return stackedOverTime(series, func(b reports.Bucket) map[string]uint64 { return b.Errors },
		sort.Strings, errorColor, "errors-over-time", "Error classes per interval (OAuth errors and transport failures)",
		"errors per interval", "no errors in any interval")
}

// sortNumeric orders numeric strings by value, others after them by text.
func sortNumeric(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		a, aerr := strconv.Atoi(keys[i])
		b, berr := strconv.Atoi(keys[j])
		switch {
		case aerr == nil && berr == nil:
			return a < b
		case aerr == nil:
			return true
		case berr == nil:
			return false
		}
		return keys[i] < keys[j]
	})
}

// statusColor gives each status family its own hue: green 2xx, amber 4xx,
// pink 429, red 5xx, slate for transport failures ("0").
func statusColor(code string, _ int) string {
	shade := func(shades []string) string {
		n, _ := strconv.Atoi(code)
		return shades[n%len(shades)]
	}
	switch {
	case code == "0":
		return "#334155"
	case code == "429":
		return "#db2777"
	case strings.HasPrefix(code, "2"):
		return shade([]string{"#16a34a", "#4ade80", "#15803d"})
	case strings.HasPrefix(code, "3"):
		return "#0d9488"
	case strings.HasPrefix(code, "4"):
		return shade([]string{"#f59e0b", "#d97706", "#fbbf24", "#b45309"})
	case strings.HasPrefix(code, "5"):
		return shade([]string{"#dc2626", "#991b1b", "#f87171"})
	}
	return "#a855f7"
}

// errorColors fixes the colours of the classes the load runner documents,
// so the same class looks the same in every report.
var errorColors = map[string]string{
	"invalid_grant":  "#f59e0b",
	"invalid_client": "#a855f7",
	"other_oauth":    "#a16207",
	"5xx":            "#dc2626",
	"429":            "#db2777",
	"timeout":        "#334155",
	"conn_cut":       "#64748b",
	"refused":        "#475569",
	"not_json":       "#0d9488",
}

var fallbackColors = []string{"#0ea5e9", "#84cc16", "#e11d48", "#7c3aed", "#f97316", "#14b8a6", "#78716c"}

func errorColor(class string, i int) string {
	if c, ok := errorColors[class]; ok {
		return c
	}
	return fallbackColors[i%len(fallbackColors)]
}

// raceKey parses a RaceWinners key: "<winners>" for groups where the
// server rotated the refresh token, "<winners>-not-rotated" where it did
// not. An unparsable key reads as -1 winners.
func raceKey(k string) (winners int, rotated bool) {
	num, suffix, _ := strings.Cut(k, "-")
	n, err := strconv.Atoi(num)
	if err != nil {
		return -1, true
	}
	return n, suffix == ""
}

// raceWinners draws how many rotation-race groups had 0, 1, 2, ... winners.
// Exactly one winner is the correct outcome of a refresh-token race; more
// means a reused refresh token was honoured twice. Groups where the server
// did not rotate are drawn apart, in a neutral colour: there several
// winners are the server's policy, not a race lost.
func raceWinners(c reports.Correctness) template.HTML {
	p := newPlot("race-winners", "Rotation races: groups by number of winners")
	p.h = 240
	keys := make([]string, 0, len(c.RaceWinners))
	maxCount := 0.0
	for k, v := range c.RaceWinners {
		keys = append(keys, k)
		maxCount = math.Max(maxCount, float64(v))
	}
	sort.Slice(keys, func(i, j int) bool {
		ni, ri := raceKey(keys[i])
		nj, rj := raceKey(keys[j])
		if ri != rj {
			return ri // rotated groups first
		}
		if ni != nj {
			return ni < nj
		}
		return keys[i] < keys[j]
	})
	p.x0, p.x1 = 0, math.Max(1, float64(len(keys)))
	p.yTicks, p.y0, p.y1 = niceTicks(0, maxCount, 5)
	p.xLabel, p.yLabel = "winners per race group", "groups"
	p.grid(false)
	if len(keys) == 0 {
		p.noData("no race groups recorded")
		return p.svg()
	}
	slot := p.plotW() / float64(len(keys))
	barW := math.Min(slot*0.6, 120)
	for i, k := range keys {
		n, rotated := raceKey(k)
		color, label := colSucceeded, fmt.Sprintf("%d winners", n)
		switch {
		case n < 0:
			color, label = colRequested, k
		case n == 0:
			color = colRequested
		case n == 1:
			label = "1 winner"
		default:
			color = colFail
		}
		if !rotated {
			color, label = "#a78bfa", label+" (not rotated)"
		}
		v := c.RaceWinners[k]
		cx := p.px(float64(i)) + slot/2
		y := p.py(float64(v))
		if v > 0 {
			// A handful of double winners beside hundreds of good groups
			// would be a zero-height bar; they are the point of the chart.
			y = math.Min(y, p.py(0)-3)
		}
		p.rect(cx-barW/2, y, barW, p.py(0)-y, color, "bar", fmt.Sprintf("%s: %s groups", label, fmtCount(v)))
		p.text(cx, y-6, "middle", "bar-value", fmtCount(v))
		p.text(cx, p.h-p.bottom+18, "middle", "tick", label)
	}
	return p.svg()
}

// statusBar is a thin bar of rule statuses in proportion, for the
// conformance summary.
func statusBar(s reports.Summary) template.HTML {
	const w, h = 1000.0, 14.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart status-bar" viewBox="0 0 %s %s" preserveAspectRatio="none" role="img" aria-label="rule statuses in proportion">`, num(w), num(h))
	if s.Total == 0 {
		fmt.Fprintf(&b, `<rect x="0" y="0" width="%s" height="%s" fill="#e2e8f0"/>`, num(w), num(h))
	}
	x := 0.0
	for _, part := range []struct {
		status reports.Status
		n      int
	}{
		{reports.StatusPassed, s.Passed}, {reports.StatusFailed, s.Failed}, {reports.StatusInconclusive, s.Inconclusive}, {reports.StatusWarned, s.Warned},
		{reports.StatusWaived, s.Waived}, {reports.StatusSkipped, s.Skipped},
	} {
		if part.n == 0 || s.Total == 0 {
			continue
		}
		pw := w * float64(part.n) / float64(s.Total)
		fmt.Fprintf(&b, `<rect class="s-%s" x="%s" y="0" width="%s" height="%s"><title>%d %s</title></rect>`,
			part.status, num(x), num(pw), num(h), part.n, part.status)
		x += pw
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
