// Package compare is the baseline gate: it compares a current report with a
// baseline of the same kind and profile and says, metric by metric, whether
// the current run regressed beyond a tolerance.
//
// For load reports it compares p50 and p99 latency (relative increase),
// throughput (relative decrease), success ratio and the share of each error
// class (absolute change in percentage points), thresholds that newly failed, and the
// correctness counters (multi-winner race groups, duplicate tokens, refresh
// tokens dead after a refresh), which regress on any increase. For
// conformance reports it lists every rule whose status changed; a rule that
// passed and now failed or warned, or a failed rule the baseline did not
// have, is a regression.
package compare

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"tokenharness/reports"
)

// Tolerances are how much worse the current run may be before the gate
// fails. Percentages are relative to the baseline; points are absolute
// differences of a ratio expressed in percent (99.5% → 98.0% is 1.5 points).
type Tolerances struct {
	P50Pct          float64 // p50 latency may rise this many percent
	P99Pct          float64 // p99 latency may rise this many percent
	ThroughputPct   float64 // successful req/s may fall this many percent
	SuccessRatioPts float64 // success ratio may fall this many points
	ErrorRatePts    float64 // each error class's share of requests may rise this many points
}

// DefaultTolerances are the gate's defaults: 10% on latency and throughput,
// 1 point on success ratio and error rate.
func DefaultTolerances() Tolerances {
	return Tolerances{P50Pct: 10, P99Pct: 10, ThroughputPct: 10, SuccessRatioPts: 1, ErrorRatePts: 1}
}

// Validate rejects negative or non-finite tolerances.
func (t Tolerances) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"p50-pct", t.P50Pct}, {"p99-pct", t.P99Pct}, {"throughput-pct", t.ThroughputPct},
		{"success-ratio-pts", t.SuccessRatioPts}, {"error-rate-pts", t.ErrorRatePts},
	} {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("compare: tolerance %s is %v: want a finite number >= 0", f.name, f.v)
		}
	}
	return nil
}

// Unit says how a metric's Delta and Limit are expressed.
type Unit string

const (
	Percent Unit = "%"   // relative change, in percent of the baseline
	Points  Unit = "pts" // absolute change of a percentage
	Count   Unit = ""    // absolute change of a count
)

// Metric is one compared figure of a load report.
type Metric struct {
	Name     string  `json:"name"` // "p99_ms", "throughput", ...
	Baseline float64 `json:"baseline"`
	Current  float64 `json:"current"`
	// Delta is the change in Unit, signed so that positive means "went up".
	Delta float64 `json:"delta"`
	Unit  Unit    `json:"unit"`
	// Limit is the tolerated change in the worsening direction, in Unit;
	// Worse says which direction is worse: "up" or "down".
	Limit     float64 `json:"limit"`
	Worse     string  `json:"worse"`
	Regressed bool    `json:"regressed"`
	// Note explains a metric that could not be judged (no baseline).
	Note string `json:"note,omitempty"`
}

// RuleChange is one conformance rule whose status differs between the runs.
// An empty status means the rule is absent from that run.
type RuleChange struct {
	ID        string         `json:"id"`
	Baseline  reports.Status `json:"baseline"`
	Current   reports.Status `json:"current"`
	Regressed bool           `json:"regressed"`
}

// ThresholdChange is a threshold that failed in the current load run.
type ThresholdChange struct {
	Name     string  `json:"name"`
	Limit    float64 `json:"limit"`
	Observed float64 `json:"observed"`
	// Baseline is the threshold's result in the baseline: passed, failed,
	// or absent when the baseline did not declare it.
	Baseline  reports.Status `json:"baseline"`
	Regressed bool           `json:"regressed"`
}

// Result is the comparison of two reports.
type Result struct {
	Kind    string `json:"kind"`
	Profile string `json:"profile"`
	// Compared is how many metrics or rules were compared.
	Compared int `json:"compared"`
	// Metrics and Thresholds are set for load reports, Rules for
	// conformance reports (only the rules whose status changed).
	Metrics    []Metric          `json:"metrics,omitempty"`
	Thresholds []ThresholdChange `json:"thresholds,omitempty"`
	Rules      []RuleChange      `json:"rules,omitempty"`
	// Notes are caveats worth reading before trusting the numbers.
	Notes     []string `json:"notes,omitempty"`
	Regressed bool     `json:"regressed"`
}

// Regressions counts the metrics or rules that regressed.
func (r Result) Regressions() int {
	n := 0
	for _, m := range r.Metrics {
		if m.Regressed {
			n++
		}
	}
	for _, t := range r.Thresholds {
		if t.Regressed {
			n++
		}
	}
	for _, c := range r.Rules {
		if c.Regressed {
			n++
		}
	}
	return n
}

// ErrMismatch is returned when the two reports cannot be compared: other
// kinds or other profiles.
var ErrMismatch = errors.New("reports are not comparable")

// Compare compares current against baseline. Both are *reports.Conformance
// or both *reports.Load, for the same profile; a report whose verdict is
// "error" measured nothing and is refused.
func Compare(baseline, current any, tol Tolerances) (Result, error) {
	if err := tol.Validate(); err != nil {
		return Result{}, err
	}
	switch b := baseline.(type) {
	case *reports.Load:
		c, ok := current.(*reports.Load)
		if !ok {
			return Result{}, fmt.Errorf("compare: %w: baseline is a load report, current is %s: pass two reports of the same kind", ErrMismatch, kindOf(current))
		}
		return compareLoad(b, c, tol)
	case *reports.Conformance:
		c, ok := current.(*reports.Conformance)
		if !ok {
			return Result{}, fmt.Errorf("compare: %w: baseline is a conformance report, current is %s: pass two reports of the same kind", ErrMismatch, kindOf(current))
		}
		return compareConformance(b, c)
	}
	return Result{}, fmt.Errorf("compare: baseline is %s: want *reports.Conformance or *reports.Load", kindOf(baseline))
}

func kindOf(v any) string {
	switch r := v.(type) {
	case *reports.Load:
		if r != nil {
			return "a load report"
		}
	case *reports.Conformance:
		if r != nil {
			return "a conformance report"
		}
	}
	return fmt.Sprintf("%T", v)
}

func bothPresent(baseNil, curNil bool) error {
	switch {
	case baseNil:
		return errors.New("compare: baseline report is nil")
	case curNil:
		return errors.New("compare: current report is nil")
	}
	return nil
}

// measured refuses a report that judged nothing.
func measured(which string, verdict reports.Verdict, harnessError string) error {
	if verdict == reports.VerdictError {
		return fmt.Errorf("compare: the %s report judged nothing (verdict error): %s: compare a completed run", which, harnessError)
	}
	return nil
}

func sameProfile(b, c string) error {
	if b != c {
		return fmt.Errorf("compare: %w: baseline profile %q, current profile %q: compare runs of the same profile", ErrMismatch, b, c)
	}
	return nil
}

func compareLoad(b, c *reports.Load, tol Tolerances) (Result, error) {
	if err := bothPresent(b == nil, c == nil); err != nil {
		return Result{}, err
	}
	if err := measured("baseline", b.Verdict, loadErrorWhy(b)); err != nil {
		return Result{}, err
	}
	if err := measured("current", c.Verdict, loadErrorWhy(c)); err != nil {
		return Result{}, err
	}
	if err := sameProfile(b.Profile, c.Profile); err != nil {
		return Result{}, err
	}
	r := Result{Kind: reports.KindLoad, Profile: c.Profile}
	r.Metrics = []Metric{
		relative("p50_ms", b.Latency.P50, c.Latency.P50, tol.P50Pct, "up"),
		relative("p99_ms", b.Latency.P99, c.Latency.P99, tol.P99Pct, "up"),
		relative("throughput", b.Throughput, c.Throughput, tol.ThroughputPct, "down"),
		points("success_ratio", b.SuccessRatio, c.SuccessRatio, tol.SuccessRatioPts, "down"),
		increase("multi_winner_groups", b.Correctness.MultiWinnerGroups, c.Correctness.MultiWinnerGroups),
		increase("duplicate_access_tokens", b.Correctness.DuplicateAccessTokens, c.Correctness.DuplicateAccessTokens),
		increase("dead_after_refresh", b.Correctness.DeadAfterRefresh, c.Correctness.DeadAfterRefresh),
	}
	if b.Capacity != nil && c.Capacity != nil {
		// The capacity profile's figure is what it gates on: a fall beyond
		// the throughput tolerance is a regression.
		m := relative("capacity_rate", b.Capacity.Rate, c.Capacity.Rate, tol.ThroughputPct, "down")
		if b.Capacity.Bound != c.Capacity.Bound || b.Capacity.Bound != reports.CapacityExact {
			r.Notes = append(r.Notes, fmt.Sprintf("capacity_rate is a bound in at least one run (baseline %s %g, current %s %g req/s): compare the step evidence",
				b.Capacity.Bound, b.Capacity.Rate, c.Capacity.Bound, c.Capacity.Rate))
		}
		if b.Capacity.SLOP99MS != c.Capacity.SLOP99MS || b.Capacity.SLOErrorRate != c.Capacity.SLOErrorRate {
			r.Notes = append(r.Notes, "the runs searched for capacity under different SLOs")
		}
		r.Metrics = append([]Metric{m}, r.Metrics...)
	}
	r.Metrics = append(r.Metrics, errorRates(b, c, tol.ErrorRatePts)...)
	r.Thresholds = thresholds(b.Thresholds, c.Thresholds)
	r.Notes = append(r.Notes, unjudgedNotes(b.Thresholds, c.Thresholds)...)
	r.Compared = len(r.Metrics) + len(c.Thresholds)
	if !b.Valid {
		r.Notes = append(r.Notes, "the baseline run is marked invalid (its generator fell behind): its latency understates the truth")
	}
	if !c.Valid {
		r.Notes = append(r.Notes, "the current run is marked invalid (its generator fell behind): its latency understates the truth")
	}
	if b.Params.Rate != c.Params.Rate || b.Params.Duration != c.Params.Duration {
		r.Notes = append(r.Notes, fmt.Sprintf("the runs differ in shape (rate %v vs %v req/s, duration %v vs %v): counts are not directly comparable",
			b.Params.Rate, c.Params.Rate, b.Params.Duration, c.Params.Duration))
	}
	r.Regressed = r.Regressions() > 0
	return r, nil
}

// loadErrorWhy says why a load run judged nothing: the harness error, or
// why the run is invalid.
func loadErrorWhy(l *reports.Load) string {
	if l.HarnessError != "" {
		return l.HarnessError
	}
	return "the run is invalid: " + l.InvalidWhy
}

// errorRates compares each error class's share of requests. The success
// ratio already catches more failures overall; a class rising while another
// falls (5xx up, invalid_grant down) keeps the ratio level and shows here.
func errorRates(b, c *reports.Load, limitPts float64) []Metric {
	classes := map[string]bool{}
	for k := range b.ErrorClasses {
		classes[k] = true
	}
	for k := range c.ErrorClasses {
		classes[k] = true
	}
	names := make([]string, 0, len(classes))
	for k := range classes {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]Metric, 0, len(names))
	for _, k := range names {
		out = append(out, points("error_rate["+k+"]", share(b.ErrorClasses[k], b.Requests), share(c.ErrorClasses[k], c.Requests), limitPts, "up"))
	}
	return out
}

func share(n, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// relative compares a figure by its change in percent of the baseline. A
// zero baseline cannot be judged relatively and is noted, not failed.
func relative(name string, base, cur, limitPct float64, worse string) Metric {
	m := Metric{Name: name, Baseline: base, Current: cur, Unit: Percent, Limit: limitPct, Worse: worse}
	if base <= 0 {
		m.Note = "no baseline value to compare with"
		return m
	}
	m.Delta = (cur - base) / base * 100
	m.Regressed = worsened(m.Delta, limitPct, worse)
	return m
}

// points compares a ratio in [0, 1] by its change in percentage points.
func points(name string, base, cur, limitPts float64, worse string) Metric {
	m := Metric{Name: name, Baseline: base, Current: cur, Unit: Points, Limit: limitPts, Worse: worse}
	m.Delta = (cur - base) * 100
	m.Regressed = worsened(m.Delta, limitPts, worse)
	return m
}

// increase compares a correctness counter, for which any rise is a
// regression: these count protocol violations, not noise.
func increase(name string, base, cur uint64) Metric {
	m := Metric{Name: name, Baseline: float64(base), Current: float64(cur), Unit: Count, Worse: "up"}
	m.Delta = float64(cur) - float64(base)
	m.Regressed = cur > base
	return m
}

// worsened reports whether delta moved in the worse direction by more
// than limit. A tiny epsilon keeps 10.000000001% from failing a 10% gate
// through float noise.
func worsened(delta, limit float64, worse string) bool {
	const eps = 1e-9
	if worse == "down" {
		return -delta > limit+eps
	}
	return delta > limit+eps
}

// ThresholdAbsent is ThresholdChange.Baseline for a threshold the
// baseline did not have; otherwise Baseline is the threshold's status.
const ThresholdAbsent reports.Status = "absent"

// thresholds lists every threshold that failed in the current run; one
// that did not fail in the baseline (passed, absent, or not judged there:
// not_applicable, inconclusive) is a regression. One that failed in both
// is listed but is not new. A threshold the current run could not judge
// did not fail: it is not listed (see unjudgedNotes).
func thresholds(base, cur []reports.Threshold) []ThresholdChange {
	before := map[string]reports.Status{}
	for _, t := range base {
		before[t.Name] = t.Judged()
	}
	var out []ThresholdChange
	for _, t := range cur {
		if t.Judged() != reports.StatusFailed {
			continue
		}
		was, ok := before[t.Name]
		if !ok {
			was = ThresholdAbsent
		}
		out = append(out, ThresholdChange{Name: t.Name, Limit: t.Limit, Observed: t.Observed, Baseline: was, Regressed: was != reports.StatusFailed})
	}
	return out
}

func compareConformance(b, c *reports.Conformance) (Result, error) {
	if err := bothPresent(b == nil, c == nil); err != nil {
		return Result{}, err
	}
	if err := measured("baseline", b.Verdict, b.HarnessError); err != nil {
		return Result{}, err
	}
	if err := measured("current", c.Verdict, c.HarnessError); err != nil {
		return Result{}, err
	}
	if err := sameProfile(b.Profile, c.Profile); err != nil {
		return Result{}, err
	}
	r := Result{Kind: reports.KindConformance, Profile: c.Profile, Compared: len(c.Rules)}
	before := map[string]reports.Status{}
	for _, rr := range b.Rules {
		before[rr.ID] = rr.Status
	}
	seen := map[string]bool{}
	for _, rr := range c.Rules {
		seen[rr.ID] = true
		was := before[rr.ID]
		if was == rr.Status {
			continue
		}
		r.Rules = append(r.Rules, RuleChange{ID: rr.ID, Baseline: was, Current: rr.Status, Regressed: ruleRegressed(was, rr.Status)})
	}
	for _, rr := range b.Rules {
		if !seen[rr.ID] {
			r.Rules = append(r.Rules, RuleChange{ID: rr.ID, Baseline: rr.Status})
		}
	}
	sort.SliceStable(r.Rules, func(i, j int) bool {
		if r.Rules[i].Regressed != r.Rules[j].Regressed {
			return r.Rules[i].Regressed
		}
		return r.Rules[i].ID < r.Rules[j].ID
	})
	if removed := len(b.Rules) - countSeen(b.Rules, seen); removed > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d %s of the baseline did not run now (removed from the catalogue or filtered by LABELS)", removed, plural(removed, "rule", "rules")))
	}
	r.Regressed = r.Regressions() > 0
	return r, nil
}

// ruleRegressed: a rule that passed and now fails or warns regressed, and so
// did any rule that fails now but did not before (new, skipped, waived).
func ruleRegressed(was, now reports.Status) bool {
	switch {
	case now == reports.StatusFailed:
		return was != reports.StatusFailed
	case now == reports.StatusWarned:
		return was == reports.StatusPassed
	}
	return false
}

func countSeen(rules []reports.RuleResult, seen map[string]bool) int {
	n := 0
	for _, r := range rules {
		if seen[r.ID] {
			n++
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// unjudgedNotes names thresholds the baseline judged that the current run
// could not (a server that stopped rotating leaves race_winners
// not_applicable): not a regression of a figure, but worth a reader's eye.
func unjudgedNotes(base, cur []reports.Threshold) []string {
	judged := map[string]reports.Status{}
	for _, t := range base {
		if st := t.Judged(); st == reports.StatusPassed || st == reports.StatusFailed {
			judged[t.Name] = st
		}
	}
	var notes []string
	for _, t := range cur {
		st := t.Judged()
		if was, ok := judged[t.Name]; ok && st != reports.StatusPassed && st != reports.StatusFailed {
			notes = append(notes, fmt.Sprintf("threshold %s was %s in the baseline and is %s now: %s", t.Name, was, st, t.Reason))
		}
	}
	return notes
}
