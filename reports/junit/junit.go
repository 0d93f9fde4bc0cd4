// Package junit writes a conformance report as JUnit XML for CI systems.
package junit

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"

	"tokenharness/reports"
)

// Render renders c as JUnit XML with Ginkgo's JUnit types, one test case per
// rule in the report's order, named "<ID>: <summary>". It is built from the
// report rather than from Ginkgo's spec states because JUnit has no word for
// warned, waived or inconclusive; each status maps to the element CI tools
// show most faithfully, and the case's status attribute carries the
// tokenharness status itself:
//
//	failed       <failure>, with the violation and the exchanges
//	inconclusive <error type="inconclusive">: the rule could not be judged
//	skipped      <skipped>, with the reason
//	waived       <skipped message="waived: ...">
//	warned       passes, with the violation in system-out
//	passed       passes
func Render(c *reports.Conformance) ([]byte, error) {
	suite := reporters.JUnitTestSuite{
		Name: "tokenharness conformance (" + c.Profile + ")", Package: c.Target,
		Timestamp: c.StartedAt.UTC().Format("2006-01-02T15:04:05"),
		Time:      c.FinishedAt.Sub(c.StartedAt).Seconds(),
		Properties: reporters.JUnitProperties{Properties: []reporters.JUnitProperty{
			{Name: "profile", Value: c.Profile}, {Name: "target", Value: c.Target},
			{Name: "verdict", Value: string(c.Verdict)},
		}},
	}
	for _, r := range c.Rules {
		tc := reporters.JUnitTestCase{
			Name: r.ID + ": " + r.Summary, Classname: "tokenharness." + c.Profile,
			Status: string(r.Status), Time: r.DurationMS / 1000,
		}
		switch r.Status {
		case reports.StatusFailed:
			tc.Failure = &reporters.JUnitFailure{Type: "failed", Message: r.Violation, Description: details(r)}
			suite.Failures++
		case reports.StatusInconclusive:
			tc.Error = &reporters.JUnitError{Type: string(reports.StatusInconclusive), Message: "inconclusive: " + r.Reason, Description: details(r)}
			suite.Errors++
		case reports.StatusSkipped:
			tc.Skipped = &reporters.JUnitSkipped{Message: "skipped: " + r.Reason}
			suite.Skipped++
		case reports.StatusWaived:
			tc.Skipped = &reporters.JUnitSkipped{Message: "waived: " + r.Reason}
			suite.Skipped++
		case reports.StatusWarned:
			tc.SystemOut = "warned: " + r.Reason + "\n" + details(r)
		}
		suite.TestCases = append(suite.TestCases, tc)
	}
	suite.Tests = len(suite.TestCases)
	all := reporters.JUnitTestSuites{
		Tests: suite.Tests, Errors: suite.Errors, Failures: suite.Failures, Time: suite.Time,
		TestSuites: []reporters.JUnitTestSuite{suite},
	}
	b, err := xml.MarshalIndent(all, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// details is a rule's violation or reason and its exchanges, one per line.
func details(r reports.RuleResult) string {
	var b strings.Builder
	if r.Violation != "" {
		b.WriteString(r.Violation + "\n")
	} else if r.Reason != "" {
		b.WriteString(r.Reason + "\n")
	}
	for i := range r.Evidence {
		b.WriteString("  " + r.Evidence[i].Summary() + "\n")
	}
	return b.String()
}

// Write writes c's JUnit XML to path (atomically, like WriteJSON).
func Write(path string, c *reports.Conformance) error {
	b, err := Render(c)
	if err != nil {
		return err
	}
	return reports.WriteFile(path, b)
}
