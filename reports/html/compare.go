package html

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"

	"tokenharness/reports"
	"tokenharness/reports/compare"
)

// CompareInput is what the comparison page shows: the two reports as read
// (both *reports.Load or both *reports.Conformance), the names they were
// given by, and the gate's result.
type CompareInput struct {
	BaselineName, CurrentName string
	Baseline, Current         any
	Result                    compare.Result
}

type compareView struct {
	page
	Kind, Profile, BaselineName, CurrentName string
	Verdict                                  reports.Verdict
	VerdictText                              string
	Metrics                                  []compareMetricRow
	Thresholds                               []compareThresholdRow
	Rules                                    []compareRuleRow
	Notes                                    []string
	IsLoad                                   bool
	LatencyOverTime, Histogram, Throughput   template.HTML
}

type compareMetricRow struct {
	Name, Baseline, Current, Change, Tolerance, Note string
	Regressed                                        bool
}

type compareThresholdRow struct {
	Name, Limit                      string
	BaselineStatus, BaselineObserved string
	CurrentStatus, CurrentObserved   string
	Change                           string
	Regressed                        bool
}

type compareRuleRow struct {
	ID, Baseline, Current string
	Regressed             bool
}

// Colours of the two runs: the baseline muted and dashed, the current
// run solid, so the eye follows the current one.
const (
	colBaseline = "#94a3b8"
	colCurrent  = "#2563eb"
	// colRequestedLight keeps the requested rate apart from the baseline's
	// grey line.
	colRequestedLight = "#cbd5e1"
)

// Compare writes the comparison of two runs as a self-contained page: the
// gate's verdict, every compared figure with its change and tolerance, and
// for load reports the thresholds side by side and the two runs overlaid
// (latency percentiles over time, latency histogram, throughput); for
// conformance reports the rules whose status changed.
func Compare(w io.Writer, in CompareInput, opts ...Option) error {
	res := in.Result
	o := collect(opts)
	v := compareView{
		page: page{Title: "Compare · " + orDash(res.Profile), Kind: "compare",
			Subtitle: "baseline against current run", Links: o.links},
		Kind: clean(res.Kind), Profile: clean(res.Profile),
		BaselineName: clean(in.BaselineName), CurrentName: clean(in.CurrentName),
	}
	n := res.Regressions()
	v.Verdict, v.VerdictText = reports.VerdictPass, fmt.Sprintf("No regression beyond the tolerances (%d compared).", res.Compared)
	if res.Regressed {
		v.Verdict = reports.VerdictFail
		word := "regressions"
		if n == 1 {
			word = "regression"
		}
		v.VerdictText = fmt.Sprintf("%d %s beyond the tolerances (%d compared).", n, word, res.Compared)
	}
	for _, m := range res.Metrics {
		b, c, d, t := m.Texts()
		v.Metrics = append(v.Metrics, compareMetricRow{Name: clean(m.Name), Baseline: b, Current: c, Change: d, Tolerance: t,
			Note: clean(m.Note), Regressed: m.Regressed})
	}
	for _, note := range res.Notes {
		v.Notes = append(v.Notes, clean(note))
	}
	for _, r := range res.Rules {
		v.Rules = append(v.Rules, compareRuleRow{ID: clean(r.ID), Baseline: orAbsent(r.Baseline), Current: orAbsent(r.Current), Regressed: r.Regressed})
	}
	switch b := in.Baseline.(type) {
	case *reports.Load:
		c, ok := in.Current.(*reports.Load)
		if !ok || b == nil || c == nil {
			return fmt.Errorf("html: compare: want two load reports")
		}
		v.IsLoad = true
		v.Thresholds = compareThresholds(b.Thresholds, c.Thresholds, res.Thresholds)
		v.LatencyOverTime = latencyCompared(b.Series, c.Series)
		v.Histogram = histogramCompared(b.Histogram, c.Histogram)
		v.Throughput = throughputCompared(b.Series, c.Series)
	case *reports.Conformance:
		if c, ok := in.Current.(*reports.Conformance); !ok || b == nil || c == nil {
			return fmt.Errorf("html: compare: want two conformance reports")
		}
	default:
		return fmt.Errorf("html: compare: baseline is %T: want a load or conformance report", in.Baseline)
	}
	return render(w, "compare", v)
}

func orAbsent(s reports.Status) string {
	if s == "" {
		return "absent"
	}
	return clean(string(s))
}

// compareThresholds lists every threshold either run declared, in the
// current run's order then the baseline's leftovers, with the change of
// the observed figure when both runs judged it.
func compareThresholds(base, cur []reports.Threshold, changes []compare.ThresholdChange) []compareThresholdRow {
	regressed := map[string]bool{}
	for _, c := range changes {
		regressed[c.Name] = c.Regressed
	}
	before := map[string]reports.Threshold{}
	for _, t := range base {
		before[t.Name] = t
	}
	judged := func(t reports.Threshold) (string, string, bool) {
		st := t.Judged()
		if st != reports.StatusPassed && st != reports.StatusFailed {
			return string(st), "—", false
		}
		return string(st), fmtObserved(t.Observed, t.Limit), true
	}
	limit := func(t reports.Threshold) string {
		op := "≤ "
		if t.AtLeast {
			op = "≥ "
		}
		return op + strconv.FormatFloat(finite(t.Limit), 'f', -1, 64)
	}
	var rows []compareThresholdRow
	seen := map[string]bool{}
	for _, t := range cur {
		seen[t.Name] = true
		r := compareThresholdRow{Name: clean(t.Name), Limit: limit(t), BaselineStatus: "absent", BaselineObserved: "—", Change: "—",
			Regressed: regressed[t.Name]}
		var cok bool
		r.CurrentStatus, r.CurrentObserved, cok = judged(t)
		if bt, ok := before[t.Name]; ok {
			var bok bool
			r.BaselineStatus, r.BaselineObserved, bok = judged(bt)
			if bok && cok {
				r.Change = signedNum(t.Observed - bt.Observed)
			}
		}
		rows = append(rows, r)
	}
	for _, t := range base {
		if seen[t.Name] {
			continue
		}
		r := compareThresholdRow{Name: clean(t.Name), Limit: limit(t), CurrentStatus: "absent", CurrentObserved: "—", Change: "—"}
		r.BaselineStatus, r.BaselineObserved, _ = judged(t)
		rows = append(rows, r)
	}
	return rows
}

func signedNum(v float64) string {
	s := fmtNum(v)
	if v > 0 {
		s = "+" + s
	}
	return s
}

// latencyCompared overlays the two runs' p50 and p99 per interval, each
// against seconds since its own start.
func latencyCompared(base, cur []reports.Bucket) template.HTML {
	p := newPlot("compare-latency", "Latency over time, p50 and p99 per interval: baseline dashed, current solid")
	ymax, end := 0.0, math.Max(seriesEnd(base, nil), seriesEnd(cur, nil))
	for _, s := range [][]reports.Bucket{base, cur} {
		for _, b := range s {
			ymax = math.Max(ymax, math.Max(finite(b.P50), finite(b.P99)))
		}
	}
	p.setX(0, end, "seconds since start")
	p.setY(0, ymax, "latency (ms)")
	p.grid(true)
	if len(base) == 0 && len(cur) == 0 {
		p.noData("no intervals recorded")
		return p.svg()
	}
	for _, run := range []struct {
		s      []reports.Bucket
		name   string
		dashed bool
	}{{base, "baseline", true}, {cur, "current", false}} {
		if len(run.s) == 0 {
			continue
		}
		half := bucketWidth(run.s) / 2
		xs, p50, p99 := make([]float64, len(run.s)), make([]float64, len(run.s)), make([]float64, len(run.s))
		for i, b := range run.s {
			xs[i], p50[i], p99[i] = b.T+half, b.P50, b.P99
		}
		p.polyline(xs, p99, colP99, 2.2, run.dashed, "line p99 "+run.name)
		p.polyline(xs, p50, colP50, 2.2, run.dashed, "line p50 "+run.name)
	}
	p.legend([]legendItem{
		{label: "p50 baseline", color: colP50, dashed: true}, {label: "p99 baseline", color: colP99, dashed: true},
		{label: "p50 current", color: colP50}, {label: "p99 current", color: colP99},
	})
	return p.svg()
}

// histogramCompared draws both runs' latency histograms side by side per
// bucket, as shares of each run's requests so runs of different length
// compare.
func histogramCompared(base, cur []reports.HistBucket) template.HTML {
	p := newPlot("compare-histogram", "Latency histogram, share of each run's requests per bucket: baseline and current")
	p.bottom = 56
	bounds := map[float64]bool{}
	for _, h := range append(append([]reports.HistBucket(nil), base...), cur...) {
		bounds[finite(h.LeMS)] = true
	}
	les := make([]float64, 0, len(bounds))
	for le := range bounds {
		les = append(les, le)
	}
	sort.Float64s(les)
	share := func(hs []reports.HistBucket) map[float64]float64 {
		total := 0.0
		for _, h := range hs {
			total += float64(h.Count)
		}
		out := map[float64]float64{}
		for _, h := range hs {
			if total > 0 {
				out[finite(h.LeMS)] += float64(h.Count) / total
			}
		}
		return out
	}
	bs, cs := share(base), share(cur)
	maxShare := 0.0
	for _, le := range les {
		maxShare = math.Max(maxShare, math.Max(bs[le], cs[le]))
	}
	p.x0, p.x1 = 0, math.Max(1, float64(len(les)))
	p.yTicks, p.y0, p.y1 = niceTicks(0, maxShare*100, 6)
	p.xLabel, p.yLabel = "latency bucket (upper bound)", "% of requests"
	p.grid(false)
	if len(les) == 0 {
		p.noData("no latency histogram recorded")
		return p.svg()
	}
	slot := p.plotW() / float64(len(les))
	every := int(math.Ceil(float64(len(les)) / 14))
	for i, le := range les {
		label := "≤ " + trimZeros(fmtNum(le)) + " ms"
		for j, run := range []struct {
			name, color string
			share       float64
		}{{"baseline", colBaseline, bs[le]}, {"current", colCurrent, cs[le]}} {
			x := p.px(float64(i)) + slot*(0.1+0.4*float64(j))
			y := p.py(run.share * 100)
			p.rect(x, y, slot*0.38, p.py(0)-y, run.color, "bar "+run.name, fmt.Sprintf("%s, %s: %s of requests", label, run.name, fmtPct(run.share)))
		}
		if i%every == 0 || i == len(les)-1 {
			p.text(p.px(float64(i))+slot/2, p.h-p.bottom+18, "middle", "tick", label)
		}
	}
	p.legend([]legendItem{{label: "baseline", color: colBaseline}, {label: "current", color: colCurrent}})
	return p.svg()
}

// throughputCompared overlays the rate each run sent, and the rate the
// current run asked for.
func throughputCompared(base, cur []reports.Bucket) template.HTML {
	p := newPlot("compare-throughput", "Throughput: the rate each run sent, and the rate the current run asked for")
	ymax := 0.0
	for _, s := range [][]reports.Bucket{base, cur} {
		for _, b := range s {
			ymax = math.Max(ymax, math.Max(finite(b.Rate), finite(b.Requested)))
		}
	}
	p.setX(0, math.Max(seriesEnd(base, nil), seriesEnd(cur, nil)), "seconds since start")
	p.setY(0, ymax, "requests per second")
	p.grid(true)
	if len(base) == 0 && len(cur) == 0 {
		p.noData("no intervals recorded")
		return p.svg()
	}
	line := func(s []reports.Bucket, val func(reports.Bucket) float64, color string, dashed bool, class string) {
		if len(s) == 0 {
			return
		}
		half := bucketWidth(s) / 2
		xs, ys := make([]float64, len(s)), make([]float64, len(s))
		for i, b := range s {
			xs[i], ys[i] = b.T+half, val(b)
		}
		p.polyline(xs, ys, color, 2.2, dashed, class)
	}
	line(cur, func(b reports.Bucket) float64 { return b.Requested }, colRequestedLight, true, "line requested")
	line(base, func(b reports.Bucket) float64 { return b.Rate }, colBaseline, true, "line sent baseline")
	line(cur, func(b reports.Bucket) float64 { return b.Rate }, colCurrent, false, "line sent current")
	p.legend([]legendItem{{label: "requested (current)", color: colRequestedLight, dashed: true},
		{label: "sent, baseline", color: colBaseline, dashed: true}, {label: "sent, current", color: colCurrent}})
	return p.svg()
}
