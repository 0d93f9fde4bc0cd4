package junit_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"tokenharness/reports"
	"tokenharness/reports/junit"
)

// TestJUnitStatuses: every status reaches junit.xml as its own element and
// status attribute, in the report's order; an inconclusive rule is neither
// a pass nor a failure.
func TestJUnitStatuses(t *testing.T) {
	t.Parallel()
	c := &reports.Conformance{Profile: "rfc6749", Rules: []reports.RuleResult{
		{ID: "R-FAILED", Summary: "f", Level: "MUST", PolicyMode: "enforce", Status: reports.StatusFailed, Violation: "got 200"},
		{ID: "R-INCONCLUSIVE", Summary: "i", Level: "MUST", PolicyMode: "enforce", Status: reports.StatusInconclusive, Reason: "setup: got 500"},
		{ID: "R-SKIPPED", Summary: "s", Level: "MUST", PolicyMode: "enforce", Status: reports.StatusSkipped, Reason: "needs SCOPE"},
		{ID: "R-WAIVED", Summary: "w", Level: "MUST", PolicyMode: "waive", Status: reports.StatusWaived, Reason: "vendor"},
		{ID: "R-WARNED", Summary: "x", Level: "SHOULD", PolicyMode: "enforce", Status: reports.StatusWarned, Reason: "SHOULD"},
		{ID: "R-PASSED", Summary: "p", Level: "MUST", PolicyMode: "enforce", Status: reports.StatusPassed},
	}}
	c.Finalize()
	b, err := junit.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Errors   int `xml:"errors,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Skipped int `xml:"skipped,attr"`
			Cases   []struct {
				Name    string    `xml:"name,attr"`
				Status  string    `xml:"status,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct {
					Type string `xml:"type,attr"`
				} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, b)
	}
	if doc.Errors != 1 || doc.Failures != 1 || len(doc.Suites) != 1 || doc.Suites[0].Skipped != 2 {
		t.Fatalf("counts: errors %d failures %d skipped %v, want 1 1 2\n%s", doc.Errors, doc.Failures, doc.Suites, b)
	}
	for i, tc := range doc.Suites[0].Cases {
		want := c.Rules[i]
		if !strings.HasPrefix(tc.Name, want.ID+": ") || tc.Status != string(want.Status) {
			t.Errorf("case %d: %q status %q, want %s status %s", i, tc.Name, tc.Status, want.ID, want.Status)
		}
		inconclusive := tc.Error != nil && tc.Error.Type == string(reports.StatusInconclusive)
		if (tc.Failure != nil) != (want.Status == reports.StatusFailed) || inconclusive != (want.Status == reports.StatusInconclusive) ||
			(tc.Skipped != nil) != (want.Status == reports.StatusSkipped || want.Status == reports.StatusWaived) {
			t.Errorf("case %s: failure %v error %v skipped %v for status %s", want.ID, tc.Failure != nil, tc.Error != nil, tc.Skipped != nil, want.Status)
		}
	}
}
