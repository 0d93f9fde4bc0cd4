package specs

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	gtypes "github.com/onsi/ginkgo/v2/types"

	"tokenharness/internal/conform"
	"tokenharness/internal/gate"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/reports"
)

// capturedLog is the bundled mock's log, read in process 1 before the mock
// is torn down, for the report when a rule failed.
var capturedLog string

var _ = SynchronizedAfterSuite(func() {}, func() {
	if started != nil && started.Log != nil {
		capturedLog = started.Log()
	}
})

// The three outputs are written by internal/gate from the verdicts the
// specs recorded, exactly as the tokenharness binary writes them.
var _ = ReportAfterSuite("tokenharness reports", func(rep Report) {
	c := conformanceReport(rep)
	if err := gate.Write(run.reportDir(), c); err != nil {
		Fail(err.Error())
	}
})

// conformanceReport turns Ginkgo's report into the documented schema.
func conformanceReport(rep Report) *reports.Conformance {
	c := &reports.Conformance{
		Profile: string(run.profile), Target: redact.String(resolvedTarget.Target), TargetKind: resolvedTarget.Kind, TargetNote: resolvedTarget.Note,
		ClientAuth: string(run.cfg.ClientAuth), StartedAt: rep.StartTime, FinishedAt: rep.EndTime,
	}
	if run.err != nil {
		c.HarnessError = run.err.Error()
	}
	for _, s := range rep.SpecReports {
		if s.LeafNodeType != gtypes.NodeTypeIt {
			if s.State.Is(gtypes.SpecStateFailureStates) && c.HarnessError == "" {
				c.HarnessError = redact.String(s.Failure.Message)
			}
			continue
		}
		c.Rules = append(c.Rules, ruleResult(s))
	}
	c.Capabilities = gate.Capabilities(run.cfg, run.profile, c.Rules)
	gate.Finish(c, &gate.Target{Log: func() string { return capturedLog }})
	return c
}

func ruleResult(s gtypes.SpecReport) reports.RuleResult {
	v, ok := verdictOf(s)
	id := v.Rule
	if !ok {
		// No verdict was recorded (the spec was skipped before it ran, or cut
		// short): the spec's label names its rule.
		id = rules.ID(ruleLabel(s))
	}
	r, _ := rules.ByID(id)
	switch {
	case ok:
	case s.State == gtypes.SpecStateSkipped:
		v = conform.Verdict{Status: reports.StatusSkipped, Reason: "not run: " + skipWhy(s)}
	default:
		// The spec ended before the rule produced a verdict: a timeout, an
		// interrupt or a panic. Nothing was judged, so it is not evidence
		// against the server either way.
		v = conform.Verdict{Status: reports.StatusInconclusive, Reason: redact.String("not judged: " + s.State.String() + ": " + s.Failure.Message)}
	}
	out := gate.Result(run.profile, r, v)
	out.ID = string(id)
	out.DurationMS = float64(s.RunTime) / float64(time.Millisecond)
	return out
}

// ruleLabel is the rule ID among a spec's labels ("rule:<ID>").
func ruleLabel(s gtypes.SpecReport) string {
	for _, l := range s.Labels() {
		if id, ok := strings.CutPrefix(l, "rule:"); ok {
			return id
		}
	}
	return ""
}

func skipWhy(s gtypes.SpecReport) string {
	if s.Failure.Message != "" {
		return s.Failure.Message
	}
	return "not selected (label filter, focus, or the suite stopped early)"
}

func verdictOf(s gtypes.SpecReport) (conform.Verdict, bool) {
	for _, e := range s.ReportEntries {
		if e.Name != verdictEntry {
			continue
		}
		if v, ok := e.Value.GetRawValue().(conform.Verdict); ok {
			return v, true
		}
		var v conform.Verdict
		if err := json.Unmarshal([]byte(e.Value.AsJSON), &v); err == nil {
			return v, true
		}
	}
	return conform.Verdict{}, false
}
