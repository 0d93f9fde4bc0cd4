package specs

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	gtypes "github.com/onsi/ginkgo/v2/types"

	"tokenharness/internal/conform"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/reports"
	"tokenharness/reports/html"
	"tokenharness/reports/junit"
)

// serverLog is the bundled mock's log, captured in process 1 before the
// mock is torn down, for the report when a rule failed.
var serverLog func() string

var capturedLog string

var _ = SynchronizedAfterSuite(func() {}, func() {
	if serverLog != nil {
		capturedLog = serverLog()
	}
})

var _ = ReportAfterSuite("tokenharness reports", func(rep Report) {
	dir := filepath.Join(run.reportDir(), "conformance")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		Fail(fmt.Sprintf("creating the report directory %s: %v", dir, err))
	}
	c := conformanceReport(rep)
	if c.Summary.Failed > 0 && capturedLog != "" {
		c.ServerLog = redact.String(capturedLog)
	}
	if err := reports.WriteJSON(filepath.Join(dir, "report.json"), c); err != nil {
		Fail(err.Error())
	}
	if err := junit.Write(filepath.Join(dir, "junit.xml"), c); err != nil {
		Fail(fmt.Sprintf("writing junit.xml: %v", err))
	}
	// Last, so the page links report.json and junit.xml beside it.
	if err := html.WriteReport(dir); err != nil {
		Fail(fmt.Sprintf("writing report.html: %v", err))
	}
})

// conformanceReport turns Ginkgo's report into the documented schema.
func conformanceReport(rep Report) *reports.Conformance {
	c := &reports.Conformance{
		APIVersion: reports.APIVersion, Kind: reports.KindConformance,
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
	// Catalogue order, whatever order the processes finished in, so two
	// runs' reports diff cleanly.
	order := map[string]int{}
	for i, r := range rules.All() {
		order[string(r.ID)] = i
	}
	slices.SortStableFunc(c.Rules, func(a, b reports.RuleResult) int { return cmp.Compare(order[a.ID], order[b.ID]) })
	c.Finalize()
	return c
}

func ruleResult(s gtypes.SpecReport) reports.RuleResult {
	v, ok := verdictOf(s)
	id := string(v.Rule)
	if !ok {
		// No verdict was recorded (the spec was skipped before it ran, or cut
		// short): the spec's label names its rule.
		id = ruleLabel(s)
	}
	r, _ := rules.ByID(rules.ID(id))
	pol := r.Profiles[run.profile]
	out := reports.RuleResult{
		ID: id, Level: string(r.Level), Summary: r.Summary,
		SourceDoc: r.Source.Doc, SourceSection: r.Source.Section, SourceURL: r.Source.URL, Quote: r.Source.Quote,
		PolicyMode: string(pol.Mode), PolicyReason: pol.Reason, Expects: r.Expects(),
		DurationMS: float64(s.RunTime) / float64(time.Millisecond),
	}
	switch {
	case ok:
		out.Status, out.Reason, out.Violation, out.Class = v.Status, v.Reason, v.Violation, v.Class
		if v.Note != "" && out.Reason == "" {
			out.Reason = v.Note
		}
		if v.Status != conform.StatusPassed {
			out.Evidence = v.Evidence
		}
	case s.State == gtypes.SpecStateSkipped:
		out.Status, out.Reason = reports.StatusSkipped, "not run: "+skipWhy(s)
	default:
		// The spec ended before the rule produced a verdict: a timeout, an
		// interrupt or a panic. Nothing was judged, so it is not evidence
		// against the server either way.
		out.Status, out.Reason = reports.StatusInconclusive, redact.String("not judged: "+s.State.String()+": "+s.Failure.Message)
	}
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
