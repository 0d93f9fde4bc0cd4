package compare

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"tokenharness/reports"
	"tokenharness/reports/reportstest"
)

func metric(t *testing.T, r Result, name string) Metric {
	t.Helper()
	for _, m := range r.Metrics {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no metric %q in %+v", name, r.Metrics)
	return Metric{}
}

func TestCompareLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		description string
		mutate      func(*reports.Load)
		tol         func(*Tolerances)
		regressed   []string // metric names that must regress; none other may
	}{
		{description: "identical runs", mutate: func(*reports.Load) {}},
		{description: "p99 +5% is within 10%", mutate: func(l *reports.Load) { l.Latency.P99 *= 1.05 }},
		{description: "p99 +50% regresses", mutate: func(l *reports.Load) { l.Latency.P99 *= 1.5 }, regressed: []string{"p99_ms"}},
		{description: "p99 exactly +10% passes", mutate: func(l *reports.Load) { l.Latency.P99 *= 1.10 }},
		{description: "p99 +50% passes a 60% tolerance", mutate: func(l *reports.Load) { l.Latency.P99 *= 1.5 },
			tol: func(t *Tolerances) { t.P99Pct = 60 }},
		{description: "faster is never a regression", mutate: func(l *reports.Load) { l.Latency.P50 /= 2; l.Latency.P99 /= 2 }},
		{description: "p50 +20% regresses", mutate: func(l *reports.Load) { l.Latency.P50 *= 1.2 }, regressed: []string{"p50_ms"}},
		{description: "throughput -15% regresses", mutate: func(l *reports.Load) { l.Throughput *= 0.85 }, regressed: []string{"throughput"}},
		{description: "throughput +15% is fine", mutate: func(l *reports.Load) { l.Throughput *= 1.15 }},
		{description: "success ratio -2 points regresses", mutate: func(l *reports.Load) { l.SuccessRatio -= 0.02 }, regressed: []string{"success_ratio"}},
		{description: "success ratio -0.5 points is fine", mutate: func(l *reports.Load) { l.SuccessRatio -= 0.005 }},
		{description: "5xx share +3 points regresses", mutate: func(l *reports.Load) {
			l.ErrorClasses["5xx"] += uint64(float64(l.Requests) * 0.03)
		}, regressed: []string{"error_rate[5xx]"}},
		{description: "a class shift with a level success ratio regresses", mutate: func(l *reports.Load) {
			n := uint64(float64(l.Requests) * 0.02)
			l.ErrorClasses["invalid_grant"] -= n
			l.ErrorClasses["timeout"] += n
		}, regressed: []string{"error_rate[timeout]"}},
		{description: "a new class below the tolerance is fine", mutate: func(l *reports.Load) { l.ErrorClasses["conn"] = 1 }},
		{description: "one more multi-winner group regresses", mutate: func(l *reports.Load) { l.Correctness.MultiWinnerGroups++ },
			regressed: []string{"multi_winner_groups"}},
		{description: "a duplicate access token regresses", mutate: func(l *reports.Load) { l.Correctness.DuplicateAccessTokens = 1 },
			regressed: []string{"duplicate_access_tokens"}},
		{description: "a newly failed threshold regresses", mutate: func(l *reports.Load) { l.Thresholds[0].Passed = false },
			regressed: []string{"threshold p99_ms"}},
		{description: "a threshold the run could not judge did not fail", mutate: func(l *reports.Load) {
			l.Thresholds[0].Passed, l.Thresholds[0].Status, l.Thresholds[0].Observed = false, reports.StatusNotApplicable, -1
		}},
		{description: "a new threshold that fails regresses", mutate: func(l *reports.Load) {
			l.Thresholds = append(l.Thresholds, reports.Threshold{Name: "error_rate", Limit: 0.01, Observed: 0.07})
		}, regressed: []string{"threshold error_rate"}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			base, cur := reportstest.Load(20, 100), reportstest.Load(20, 100)
			tc.mutate(cur)
			tol := DefaultTolerances()
			if tc.tol != nil {
				tc.tol(&tol)
			}
			r, err := Compare(base, cur, tol)
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			var got []string
			for _, m := range r.Metrics {
				if m.Regressed {
					got = append(got, m.Name)
				}
			}
			for _, th := range r.Thresholds {
				if th.Regressed {
					got = append(got, "threshold "+th.Name)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.regressed, ",") {
				t.Errorf("regressed = %v, want %v", got, tc.regressed)
			}
			if r.Regressed != (len(tc.regressed) > 0) {
				t.Errorf("Result.Regressed = %v, want %v", r.Regressed, len(tc.regressed) > 0)
			}
		})
	}
}

func TestCompareLoadFigures(t *testing.T) {
	t.Parallel()
	base, cur := reportstest.Load(20, 100), reportstest.Load(20, 100)
	base.Latency.P99, cur.Latency.P99 = 40, 60
	base.SuccessRatio, cur.SuccessRatio = 0.995, 0.98
	r, err := Compare(base, cur, DefaultTolerances())
	if err != nil {
		t.Fatal(err)
	}
	p99 := metric(t, r, "p99_ms")
	if p99.Baseline != 40 || p99.Current != 60 || p99.Delta != 50 || p99.Unit != Percent || !p99.Regressed {
		t.Errorf("p99 = %+v, want 40 → 60, +50%%, regressed", p99)
	}
	sr := metric(t, r, "success_ratio")
	if d := sr.Delta; d > -1.49 || d < -1.51 || sr.Unit != Points || !sr.Regressed {
		t.Errorf("success ratio = %+v, want about -1.5 pts, regressed", sr)
	}
}

func TestCompareLoadZeroBaseline(t *testing.T) {
	t.Parallel()
	base, cur := reportstest.Sparse(), reportstest.Load(5, 10)
	cur.Profile = base.Profile
	r, err := Compare(base, cur, DefaultTolerances())
	if err != nil {
		t.Fatal(err)
	}
	if m := metric(t, r, "p99_ms"); m.Regressed || m.Note == "" {
		t.Errorf("p99 against a zero baseline = %+v, want not regressed with a note", m)
	}
}

func TestCompareLoadNotes(t *testing.T) {
	t.Parallel()
	base, cur := reportstest.Load(20, 100), reportstest.Load(30, 100)
	cur.Valid, cur.InvalidWhy = false, "generator lag"
	r, err := Compare(base, cur, DefaultTolerances())
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(r.Notes, "\n")
	for _, want := range []string{"current run is marked invalid", "differ in shape"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q lack %q", notes, want)
		}
	}
}

func TestCompareConformance(t *testing.T) {
	t.Parallel()
	passedID := func(c *reports.Conformance) int {
		for i, r := range c.Rules {
			if r.Status == reports.StatusPassed {
				return i
			}
		}
		t.Fatal("sample has no passed rule")
		return -1
	}
	for _, tc := range []struct {
		description string
		mutate      func(base, cur *reports.Conformance)
		changes     int
		regressed   int
	}{
		{"identical", func(_, _ *reports.Conformance) {}, 0, 0},
		{"passed → failed regresses", func(_, cur *reports.Conformance) {
			cur.Rules[passedID(cur)].Status = reports.StatusFailed
		}, 1, 1},
		{"passed → warned regresses", func(_, cur *reports.Conformance) {
			cur.Rules[passedID(cur)].Status = reports.StatusWarned
		}, 1, 1},
		{"skipped → failed regresses", func(base, cur *reports.Conformance) {
			i := passedID(cur)
			base.Rules[i].Status, cur.Rules[i].Status = reports.StatusSkipped, reports.StatusFailed
		}, 1, 1},
		{"failed → passed is an improvement", func(base, cur *reports.Conformance) {
			i := passedID(cur)
			base.Rules[i].Status = reports.StatusFailed
		}, 1, 0},
		{"passed → skipped is listed, not a regression", func(_, cur *reports.Conformance) {
			cur.Rules[passedID(cur)].Status = reports.StatusSkipped
		}, 1, 0},
		{"a new failing rule regresses", func(_, cur *reports.Conformance) {
			cur.Rules = append(cur.Rules, reports.RuleResult{ID: "TH-NEW-RULE", Level: "MUST", Status: reports.StatusFailed})
		}, 1, 1},
		{"a removed rule is listed", func(_, cur *reports.Conformance) {
			cur.Rules = cur.Rules[1:]
		}, 1, 0},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			base, cur := reportstest.Conformance(), reportstest.Conformance()
			tc.mutate(base, cur)
			base.Finalize()
			cur.Finalize()
			r, err := Compare(base, cur, DefaultTolerances())
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			if len(r.Rules) != tc.changes || r.Regressions() != tc.regressed || r.Regressed != (tc.regressed > 0) {
				t.Errorf("got %d changes, %d regressions (Regressed %v); want %d, %d: %+v",
					len(r.Rules), r.Regressions(), r.Regressed, tc.changes, tc.regressed, r.Rules)
			}
		})
	}
}

func TestCompareRefuses(t *testing.T) {
	t.Parallel()
	conf, load := reportstest.Conformance(), reportstest.Load(5, 10)
	otherProfile := reportstest.Conformance()
	otherProfile.Profile = "rfc6749"
	otherLoad := reportstest.Load(5, 10)
	otherLoad.Profile = "herd"
	broken := reportstest.Load(5, 10)
	broken.Verdict, broken.HarnessError = reports.VerdictError, "load: TARGET unreachable"
	invalid := reportstest.Load(5, 10)
	invalid.Verdict, invalid.Valid, invalid.InvalidWhy = reports.VerdictError, false, "generator lag p99 250 ms"
	for _, tc := range []struct {
		description       string
		baseline, current any
		tol               Tolerances
		want              string
		mismatch          bool
	}{
		{"kinds differ", conf, load, DefaultTolerances(), "current is a load report", true},
		{"kinds differ the other way", load, conf, DefaultTolerances(), "current is a conformance report", true},
		{"conformance profiles differ", conf, otherProfile, DefaultTolerances(), `profile "rfc6749"`, true},
		{"load profiles differ", load, otherLoad, DefaultTolerances(), `profile "herd"`, true},
		{"harness error", load, broken, DefaultTolerances(), "TARGET unreachable", false},
		{"invalid run", invalid, load, DefaultTolerances(), "the run is invalid: generator lag", false},
		{"not a report", "x", load, DefaultTolerances(), "want *reports.Conformance or *reports.Load", false},
		{"nil current", load, (*reports.Load)(nil), DefaultTolerances(), "current report is nil", false},
		{"negative tolerance", load, load, Tolerances{P99Pct: -1}, "p99-pct", false},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			_, err := Compare(tc.baseline, tc.current, tc.tol)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compare error = %v, want one containing %q", err, tc.want)
			}
			if errors.Is(err, ErrMismatch) != tc.mismatch {
				t.Errorf("errors.Is(err, ErrMismatch) = %v, want %v", !tc.mismatch, tc.mismatch)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	base, cur := reportstest.Load(20, 100), reportstest.Load(20, 100)
	cur.Latency.P99 = base.Latency.P99 * 1.5
	cur.Thresholds[0].Passed = false
	r, err := Compare(base, cur, DefaultTolerances())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{
		"load profile rotation-race: 2 regressions", "error_rate[invalid_grant]",
		"METRIC", "p99_ms", "+50.0%", "+10%", "REGRESSED", "-10%", "success_ratio", " pts",
		"FAILED THRESHOLD", "passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Columns are aligned: every metric row starts its BASELINE column at
	// the same offset as the header.
	lines := strings.Split(out, "\n")
	var header string
	for _, l := range lines {
		if strings.HasPrefix(l, "METRIC") {
			header = l
		}
	}
	col := strings.Index(header, "BASELINE")
	for _, l := range lines {
		if strings.HasPrefix(l, "p50_ms") || strings.HasPrefix(l, "throughput") {
			if l[col-1] != ' ' || l[col] == ' ' {
				t.Errorf("row %q is not aligned with the header %q", l, header)
			}
		}
	}

	c := reportstest.Conformance()
	c2 := reportstest.Conformance()
	c2.Rules[len(c2.Rules)-1].Status = reports.StatusFailed
	c2.Finalize()
	r, err = Compare(c, c2, DefaultTolerances())
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "1 regression") || !strings.Contains(out, "passed    failed   REGRESSED") {
		t.Errorf("conformance output:\n%s", out)
	}
}

func TestCompareLoadUnjudgedThresholds(t *testing.T) {
	t.Parallel()
	base, cur := reportstest.Load(20, 100), reportstest.Load(20, 100)
	cur.Thresholds[0] = reports.Threshold{Name: "p99_ms", Limit: 100, Observed: -1, Status: reports.StatusInconclusive, Reason: "no request was sent"}
	r, err := Compare(base, cur, DefaultTolerances())
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(r.Notes, "\n"); !strings.Contains(notes, "threshold p99_ms was passed in the baseline and is inconclusive now: no request was sent") {
		t.Errorf("notes %q do not say p99_ms is no longer judged", notes)
	}
	// Failing now where the baseline could not judge it is new.
	base.Thresholds[0] = reports.Threshold{Name: "p99_ms", Limit: 100, Observed: -1, Status: reports.StatusNotApplicable}
	cur.Thresholds[0] = reports.Threshold{Name: "p99_ms", Limit: 100, Observed: 120, Status: reports.StatusFailed}
	if r, err = Compare(base, cur, DefaultTolerances()); err != nil {
		t.Fatal(err)
	}
	if len(r.Thresholds) == 0 || r.Thresholds[0].Name != "p99_ms" || !r.Thresholds[0].Regressed || r.Thresholds[0].Baseline != reports.StatusNotApplicable {
		t.Errorf("thresholds %+v: want p99_ms regressed from not_applicable", r.Thresholds)
	}
}

func TestCompareCapacity(t *testing.T) {
	t.Parallel()
	withCapacity := func(rate float64, bound string) *reports.Load {
		l := reportstest.Load(10, 50)
		l.Profile = "capacity"
		l.Capacity = &reports.Capacity{Rate: rate, Bound: bound, SLOP99MS: 100, SLOErrorRate: 0.01}
		return l
	}
	for _, tc := range []struct {
		base, cur *reports.Load
		regressed bool
		note      string
	}{
		{withCapacity(400, reports.CapacityExact), withCapacity(380, reports.CapacityExact), false, ""},
		{withCapacity(400, reports.CapacityExact), withCapacity(300, reports.CapacityExact), true, ""},
		{withCapacity(400, reports.CapacityExact), withCapacity(50, reports.CapacityBelow), true, "a bound"},
	} {
		r, err := Compare(tc.base, tc.cur, DefaultTolerances())
		if err != nil {
			t.Fatal(err)
		}
		m := metric(t, r, "capacity_rate")
		if m.Regressed != tc.regressed || !r.Regressed == tc.regressed {
			t.Errorf("capacity %g → %g: regressed %v (run %v), want %v", tc.base.Capacity.Rate, tc.cur.Capacity.Rate, m.Regressed, r.Regressed, tc.regressed)
		}
		if tc.note != "" && !strings.Contains(strings.Join(r.Notes, "\n"), tc.note) {
			t.Errorf("notes %q lack %q", r.Notes, tc.note)
		}
	}
	if r, _ := Compare(reportstest.Load(10, 50), reportstest.Load(10, 50), DefaultTolerances()); strings.Contains(r.Metrics[0].Name, "capacity") {
		t.Error("capacity_rate compared for reports without a capacity")
	}
}
