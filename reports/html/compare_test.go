package html

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"

	"tokenharness/reports"
	"tokenharness/reports/compare"
	"tokenharness/reports/reportstest"
)

// comparedLoads are a baseline and a current run whose p99 doubled and
// which newly fails its p99 threshold.
func comparedLoads(t *testing.T) (*reports.Load, *reports.Load, compare.Result) {
	t.Helper()
	base, cur := reportstest.Load(30, 300), reportstest.Load(40, 300)
	base.Thresholds[0].Observed, base.Thresholds[0].Passed = 40, true
	cur.Latency.P99 = base.Latency.P99 * 2
	cur.Thresholds[0].Observed, cur.Thresholds[0].Passed = 140, false
	for i := range cur.Series {
		cur.Series[i].P99 *= 2
	}
	res, err := compare.Compare(base, cur, compare.DefaultTolerances())
	if err != nil {
		t.Fatal(err)
	}
	return base, cur, res
}

func renderCompare(t *testing.T, in CompareInput) string {
	t.Helper()
	var b bytes.Buffer
	if err := Compare(&b, in); err != nil {
		t.Fatalf("Compare: %v", err)
	}
	return b.String()
}

func TestComparePage_Load(t *testing.T) {
	t.Parallel()
	base, cur, res := comparedLoads(t)
	if !res.Regressed {
		t.Fatal("fixture: the current run should regress")
	}
	page := renderCompare(t, CompareInput{BaselineName: "old/report.json", CurrentName: "new/report.json", Baseline: base, Current: cur, Result: res})
	for _, want := range []string{`id="compared"`, `id="thresholds"`, "REGRESSED", "old/report.json", "new/report.json", "newly failed"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(page, `<tr class="metric`); n != len(res.Metrics) {
		t.Errorf("%d metric rows, want %d", n, len(res.Metrics))
	}
	if n := strings.Count(page, `<tr class="metric bad"`); n != countRegressed(res.Metrics) {
		t.Errorf("%d regressed metric rows, want %d", n, countRegressed(res.Metrics))
	}
	if n := strings.Count(page, `<tr class="threshold`); n != len(cur.Thresholds) {
		t.Errorf("%d threshold rows, want %d", n, len(cur.Thresholds))
	}
	// p99_ms went from 40 to 140: its row shows the change.
	if !regexp.MustCompile(`<code>p99_ms</code>.*?>\+100<`).MatchString(html.UnescapeString(page)) {
		t.Error("the p99_ms threshold row does not show its change +100")
	}
	lat := svgOf(t, page, "compare-latency")
	for _, line := range []string{"line p50 baseline", "line p99 baseline", "line p50 current", "line p99 current"} {
		if strings.Count(lat, `class="`+line+`"`) != 1 {
			t.Errorf("latency chart: no %s", line)
		}
	}
	hist := svgOf(t, page, "compare-histogram")
	if strings.Count(hist, `class="bar baseline"`) == 0 || strings.Count(hist, `class="bar baseline"`) != strings.Count(hist, `class="bar current"`) {
		t.Error("histogram: want one baseline and one current bar per bucket")
	}
	tp := svgOf(t, page, "compare-throughput")
	if !strings.Contains(tp, `class="line sent baseline"`) || !strings.Contains(tp, `class="line sent current"`) {
		t.Error("throughput chart: want both runs' sent rate")
	}
	if strings.Contains(page, "NaN") {
		t.Error("the page contains NaN")
	}
	assertFetchesNothing(t, "compare", page)
}

func countRegressed(ms []compare.Metric) int {
	n := 0
	for _, m := range ms {
		if m.Regressed {
			n++
		}
	}
	return n
}

func TestComparePage_NoRegression(t *testing.T) {
	t.Parallel()
	l := reportstest.Load(20, 100)
	res, err := compare.Compare(l, l, compare.DefaultTolerances())
	if err != nil {
		t.Fatal(err)
	}
	page := renderCompare(t, CompareInput{Baseline: l, Current: l, Result: res})
	if !strings.Contains(page, `class="verdict verdict-pass"`) || strings.Contains(page, `<tr class="metric bad"`) {
		t.Error("a run compared with itself should show no regression")
	}
}

func TestComparePage_ConformanceRulesChanged(t *testing.T) {
	t.Parallel()
	base, cur := reportstest.Conformance(), reportstest.Conformance()
	// One rule that passed now fails; another that failed now passes.
	var flipped []string
	for i := range cur.Rules {
		switch cur.Rules[i].Status {
		case reports.StatusPassed:
			if len(flipped) == 0 {
				cur.Rules[i].Status = reports.StatusFailed
				flipped = append(flipped, cur.Rules[i].ID)
			}
		case reports.StatusFailed:
			if len(flipped) == 1 {
				cur.Rules[i].Status = reports.StatusPassed
				flipped = append(flipped, cur.Rules[i].ID)
			}
		}
	}
	if len(flipped) != 2 {
		t.Fatalf("fixture: flipped %v", flipped)
	}
	res, err := compare.Compare(base, cur, compare.DefaultTolerances())
	if err != nil {
		t.Fatal(err)
	}
	page := renderCompare(t, CompareInput{Baseline: base, Current: cur, Result: res})
	if n := strings.Count(page, `<tr class="rule-change`); n != 2 {
		t.Errorf("%d changed rules shown, want 2", n)
	}
	if n := strings.Count(page, `<tr class="rule-change bad"`); n != 1 {
		t.Errorf("%d regressed rules shown, want 1", n)
	}
	for _, id := range flipped {
		if !strings.Contains(page, "<code>"+id+"</code>") {
			t.Errorf("rule %s not shown", id)
		}
	}
	if strings.Contains(page, "<svg") {
		t.Error("a conformance comparison has no load charts")
	}
}

func TestComparePage_RefusesMixedKinds(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := Compare(&b, CompareInput{Baseline: reportstest.Load(5, 5), Current: reportstest.Conformance()}); err == nil {
		t.Error("a load baseline with a conformance current rendered")
	}
}
