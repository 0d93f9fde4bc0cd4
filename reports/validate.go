package reports

import (
	"fmt"
	"slices"
	"strings"
)

// Allowed values, in the order error messages name them.
var (
	verdicts = []Verdict{VerdictPass, VerdictFail, VerdictInconclusive, VerdictError}
	statuses = []Status{StatusPassed, StatusFailed, StatusWarned, StatusWaived, StatusSkipped, StatusInconclusive}
	// thresholdStatuses are a load threshold's; passed and failed mean what
	// they mean for a rule.
	thresholdStatuses = []Status{StatusPassed, StatusFailed, StatusNotApplicable, StatusInconclusive}
	maxProblems       = 5 // a broken generator breaks every rule; name a few, count the rest
)

// allowedNames joins vs for an error message.
func allowedNames[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, "|")
}

// problems collects what is wrong with a report so Validate can name all of
// it in one line.
type problems struct {
	kind string
	list []string
}

func (p *problems) addf(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func oneOf[T ~string](p *problems, field string, got T, allowed []T) {
	if !slices.Contains(allowed, got) {
		p.addf("%s %q is not one of %s", field, got, allowedNames(allowed))
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := p.list
	more := ""
	if len(list) > maxProblems {
		more = fmt.Sprintf("; and %d more", len(list)-maxProblems)
		list = list[:maxProblems]
	}
	return fmt.Errorf("reports: invalid %s report: %s%s", p.kind, strings.Join(list, "; "), more)
}

// header checks what both kinds share. excused is true when something other
// than harness_error explains an "error" verdict (an invalid load run).
func (p *problems) header(apiVersion, kind, wantKind string, verdict Verdict, harnessError string, excused bool) {
	if apiVersion != APIVersion {
		p.addf("api_version %q is not %q", apiVersion, APIVersion)
	}
	if kind != wantKind {
		p.addf("kind %q is not %q", kind, wantKind)
	}
	oneOf(p, "verdict", verdict, verdicts)
	switch {
	case verdict == VerdictError && harnessError == "" && !excused:
		p.addf("verdict is %q but harness_error is empty: say what went wrong", VerdictError)
	case verdict != VerdictError && harnessError != "":
		p.addf("harness_error is set but verdict is %q, not %q", verdict, VerdictError)
	}
}

// Validate checks c against the schema: api_version and kind, statuses and
// levels in their allowed sets, unique rule IDs, summary counts equal to the
// rules, and a verdict that follows the verdict rule (see Finalize). It
// returns one error naming every problem found (up to a few).
func (c *Conformance) Validate() error {
	p := &problems{kind: KindConformance}
	p.header(c.APIVersion, c.Kind, KindConformance, c.Verdict, c.HarnessError, false)
	seen := make(map[string]bool, len(c.Rules))
	for i, r := range c.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		if r.ID == "" {
			p.addf("%s: id is empty", where)
		} else {
			where = fmt.Sprintf("rules[%d] %s", i, r.ID)
			if seen[r.ID] {
				p.addf("%s: id appears twice", where)
			}
			seen[r.ID] = true
		}
		oneOf(p, where+": status", r.Status, statuses)
		// Level and policy_mode are empty when the suite met a spec it has
		// no rule for; that is worth showing, not worth refusing the report.
		if r.Level != "" {
			oneOf(p, where+": level", r.Level, Levels)
		}
		if r.PolicyMode != "" {
			oneOf(p, where+": policy_mode", r.PolicyMode, PolicyModes)
		}
	}
	if want := Summarize(c.Rules); c.Summary != want {
		p.addf("summary %+v does not match the rules %+v: call Finalize after filling rules", c.Summary, want)
	}
	if cp := c.Capabilities; cp != nil {
		for _, g := range cp.Exercised {
			if !slices.Contains(cp.Grants, g) {
				p.addf("capabilities: exercised grant %q is not among the declared grants %v", g, cp.Grants)
			}
		}
		for _, n := range cp.NotExercised {
			if slices.Contains(cp.Exercised, n.Grant) || n.Reason == "" {
				p.addf("capabilities: not_exercised %q is exercised too, or says no reason", n.Grant)
			}
		}
		if b := cp.DPoP; b != nil && (b.Exercised && !b.Declared || b.Exercised == (b.Reason != "")) {
			p.addf("capabilities: dpop %+v: exercised only when declared, and a reason exactly when not exercised", *b)
		}
	}
	if c.Verdict != VerdictError {
		if want := conformanceVerdict(c); c.Verdict != want && c.HarnessError == "" {
			p.addf("verdict is %q but the rules say %q (fail iff a rule failed, else inconclusive iff a gating rule is inconclusive)", c.Verdict, want)
		}
	}
	return p.err()
}

// Validate checks l against the schema: api_version and kind, the verdict and
// what explains an "error" (harness_error, or valid false with invalid_why),
// ratios within [0, 1], no negative latency, and a pass verdict only when
// every threshold passed. A run marked invalid must say why, which also
// catches a producer that forgot to set valid.
func (l *Load) Validate() error {
	p := &problems{kind: KindLoad}
	// A run whose generator fell behind is not judged: verdict "error"
	// with valid false and invalid_why, and no harness_error.
	p.header(l.APIVersion, l.Kind, KindLoad, l.Verdict, l.HarnessError, !l.Valid && l.InvalidWhy != "")
	if l.SuccessRatio < 0 || l.SuccessRatio > 1 {
		p.addf("success_ratio %v is outside [0, 1]", l.SuccessRatio)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"latency_ms.p50", l.Latency.P50}, {"latency_ms.p90", l.Latency.P90}, {"latency_ms.p95", l.Latency.P95},
		{"latency_ms.p99", l.Latency.P99}, {"latency_ms.max", l.Latency.Max}, {"latency_ms.mean", l.Latency.Mean},
		{"rate", l.Rate}, {"throughput", l.Throughput},
	} {
		if f.v < 0 {
			p.addf("%s %v is negative", f.name, f.v)
		}
	}
	if !l.Valid && l.InvalidWhy == "" && l.Verdict != VerdictError {
		p.addf("valid is false but invalid_why is empty: say why the run is invalid, or set valid")
	}
	if o := l.Outcomes; o.Succeeded+o.ExpectedFailures+o.UnexpectedFailures+o.Unsent > 0 || len(o.ExpectedClasses) > 0 {
		// Reports written before outcomes existed have none; any report
		// that has them accounts for every request exactly once.
		if n := o.Succeeded + o.ExpectedFailures + o.UnexpectedFailures + o.Unsent; n != l.Requests {
			p.addf("outcomes add up to %d requests, not %d: succeeded + expected_failures + unexpected_failures + unsent must be requests", n, l.Requests)
		}
	}
	if c := l.Capacity; c != nil {
		oneOf(p, "capacity.bound", c.Bound, []string{CapacityExact, CapacityBelow, CapacityAtLeast})
		var n uint64
		for _, st := range c.Steps {
			n += st.Requests
		}
		if len(c.Steps) == 0 || n != l.Requests {
			p.addf("capacity: %d steps holding %d requests, the report %d: every request belongs to one step", len(c.Steps), n, l.Requests)
		}
	}
	unjudged := false
	for i, t := range l.Thresholds {
		if t.Name == "" {
			p.addf("thresholds[%d]: name is empty", i)
		}
		status := t.Judged()
		if t.Status != "" {
			oneOf(p, fmt.Sprintf("thresholds[%d] %s: status", i, t.Name), t.Status, thresholdStatuses)
			if t.Passed != (t.Status == StatusPassed) {
				p.addf("thresholds[%d] %s: passed is %v but status is %q", i, t.Name, t.Passed, t.Status)
			}
		}
		switch {
		case status == StatusFailed && (l.Verdict == VerdictPass || l.Verdict == VerdictInconclusive):
			p.addf("verdict is %q but threshold %q failed", l.Verdict, t.Name)
		case status != StatusPassed && status != StatusFailed && t.Required:
			unjudged = true
			if l.Verdict == VerdictPass {
				p.addf("verdict is %q but required threshold %q is %s", VerdictPass, t.Name, status)
			}
		}
	}
	if l.Verdict == VerdictInconclusive && !unjudged {
		p.addf("verdict is %q but no required threshold is not_applicable or inconclusive", VerdictInconclusive)
	}
	return p.err()
}

// Judged is t's status: passed, failed, not_applicable or inconclusive.
// Reports written before Status existed have only Passed.
func (t Threshold) Judged() Status {
	switch {
	case t.Status != "":
		return t.Status
	case t.Passed:
		return StatusPassed
	}
	return StatusFailed
}
