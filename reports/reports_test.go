package reports_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tokenharness/reports"
	"tokenharness/reports/reportstest"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		verdict reports.Verdict
		want    int
	}{
		{reports.VerdictPass, 0},
		{reports.VerdictFail, 1},
		{reports.VerdictError, 2},
		{reports.VerdictInconclusive, 3},
		{"", 2},
		{"PASS", 2},
	} {
		if got := reports.ExitCode(tc.verdict); got != tc.want {
			t.Errorf("ExitCode(%q) = %d, want %d", tc.verdict, got, tc.want)
		}
	}
}

func TestFinalize(t *testing.T) {
	t.Parallel()
	rule := func(id string, status reports.Status) reports.RuleResult {
		return reports.RuleResult{ID: id, Level: "MUST", Status: status, PolicyMode: "enforce"}
	}
	for _, tc := range []struct {
		description  string
		rules        []reports.RuleResult
		harnessError string
		want         reports.Verdict
		summary      reports.Summary
	}{
		{"no rules", nil, "", reports.VerdictPass, reports.Summary{}},
		{"all passed", []reports.RuleResult{rule("A", "passed"), rule("B", "passed")}, "", reports.VerdictPass,
			reports.Summary{Total: 2, Passed: 2}},
		{"warned, waived and skipped do not fail", []reports.RuleResult{rule("A", "warned"), rule("B", "waived"), rule("C", "skipped")}, "",
			reports.VerdictPass, reports.Summary{Total: 3, Warned: 1, Waived: 1, Skipped: 1}},
		{"one failed rule fails", []reports.RuleResult{rule("A", "passed"), rule("B", "failed")}, "", reports.VerdictFail,
			reports.Summary{Total: 2, Passed: 1, Failed: 1}},
		{"a gating inconclusive rule makes the run inconclusive", []reports.RuleResult{rule("A", "passed"), rule("B", "inconclusive")}, "",
			reports.VerdictInconclusive, reports.Summary{Total: 2, Passed: 1, Inconclusive: 1, InconclusiveGating: 1}},
		{"a failure outranks an inconclusive rule", []reports.RuleResult{rule("A", "failed"), rule("B", "inconclusive")}, "",
			reports.VerdictFail, reports.Summary{Total: 2, Failed: 1, Inconclusive: 1, InconclusiveGating: 1}},
		{"a SHOULD or warned rule left inconclusive does not gate", []reports.RuleResult{
			{ID: "A", Level: "SHOULD", Status: "inconclusive", PolicyMode: "enforce"},
			{ID: "B", Level: "MUST", Status: "inconclusive", PolicyMode: "warn"}}, "",
			reports.VerdictPass, reports.Summary{Total: 2, Inconclusive: 2}},
		{"a harness error wins", []reports.RuleResult{rule("A", "failed")}, "CODE_CMD exited 1", reports.VerdictError,
			reports.Summary{Total: 1, Failed: 1}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			c := &reports.Conformance{Rules: tc.rules, HarnessError: tc.harnessError}
			c.Finalize()
			if c.Verdict != tc.want || c.Summary != tc.summary {
				t.Errorf("Finalize: verdict %q summary %+v, want %q %+v", c.Verdict, c.Summary, tc.want, tc.summary)
			}
			if c.APIVersion != reports.APIVersion || c.Kind != reports.KindConformance {
				t.Errorf("Finalize left api_version %q kind %q", c.APIVersion, c.Kind)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("a finalized report does not validate: %v", err)
			}
		})
	}
}

func TestConformanceValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		description string
		mutate      func(*reports.Conformance)
		want        string // "" means valid
	}{
		{"sample is valid", func(*reports.Conformance) {}, ""},
		{"wrong api_version", func(c *reports.Conformance) { c.APIVersion = "tokenharness/v0" }, `api_version "tokenharness/v0" is not "tokenharness/v1"`},
		{"wrong kind", func(c *reports.Conformance) { c.Kind = "load" }, `kind "load" is not "conformance"`},
		{"unknown status", func(c *reports.Conformance) { c.Rules[0].Status = "ok" },
			`status "ok" is not one of passed|failed|warned|waived|skipped`},
		{"unknown level", func(c *reports.Conformance) { c.Rules[0].Level = "MUSTNT" }, `level "MUSTNT" is not one of MUST|SHOULD|MAY|DOC`},
		{"unknown policy", func(c *reports.Conformance) { c.Rules[0].PolicyMode = "ignore" }, `policy_mode "ignore" is not one of enforce|warn|waive`},
		{"empty id", func(c *reports.Conformance) { c.Rules[0].ID = "" }, "rules[0]: id is empty"},
		{"duplicate id", func(c *reports.Conformance) { c.Rules[1].ID = c.Rules[0].ID }, "id appears twice"},
		{"stale summary", func(c *reports.Conformance) { c.Summary.Passed++ }, "does not match the rules"},
		{"verdict disagrees with rules", func(c *reports.Conformance) { c.Verdict = reports.VerdictPass }, `verdict is "pass" but the rules say "fail"`},
		{"unknown verdict", func(c *reports.Conformance) { c.Verdict = "meh" }, `verdict "meh" is not one of pass|fail|inconclusive|error`},
		{"error without a reason", func(c *reports.Conformance) { c.Verdict = reports.VerdictError }, "harness_error is empty"},
		{"reason without error", func(c *reports.Conformance) { c.HarnessError = "boom" }, `harness_error is set but verdict is "fail"`},
		{"capabilities", func(c *reports.Conformance) {
			c.Capabilities = &reports.Capabilities{Grants: []string{"client_credentials"}, ClientAuth: "client_secret_basic",
				Exercised: []string{"client_credentials"}, NotExercised: []reports.NotExercised{{Grant: "password", Reason: "not declared"}}}
		}, ""},
		{"exercised but not declared", func(c *reports.Conformance) {
			c.Capabilities = &reports.Capabilities{Grants: []string{"client_credentials"}, Exercised: []string{"password"}}
		}, `exercised grant "password" is not among the declared grants`},
		{"not exercised without a reason", func(c *reports.Conformance) {
			c.Capabilities = &reports.Capabilities{NotExercised: []reports.NotExercised{{Grant: "password"}}}
		}, `not_exercised "password"`},
		{"many problems are counted", func(c *reports.Conformance) {
			for i := range c.Rules {
				c.Rules[i].Status = "bogus"
			}
		}, "more"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			c := reportstest.Conformance()
			tc.mutate(c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			case err != nil && !strings.HasPrefix(err.Error(), "reports: invalid conformance report: "):
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestLoadValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		description string
		mutate      func(*reports.Load)
		want        string
	}{
		{"sample is valid", func(*reports.Load) {}, ""},
		{"sparse is valid", func(l *reports.Load) { *l = *reportstest.Sparse() }, ""},
		{"wrong kind", func(l *reports.Load) { l.Kind = "conformance" }, `kind "conformance" is not "load"`},
		{"success ratio above 1", func(l *reports.Load) { l.SuccessRatio = 1.5 }, "success_ratio 1.5 is outside [0, 1]"},
		{"negative latency", func(l *reports.Load) { l.Latency.P99 = -1 }, "latency_ms.p99 -1 is negative"},
		{"pass with a failed threshold", func(l *reports.Load) { l.Verdict = reports.VerdictPass },
			`verdict is "pass" but threshold "multi_winner_groups" failed`},
		{"invalid without a reason", func(l *reports.Load) { l.Valid = false }, "invalid_why is empty"},
		{"invalid with a reason", func(l *reports.Load) { l.Valid, l.InvalidWhy = false, "generator lag" }, ""},
		{"capacity whose steps hold every request", func(l *reports.Load) {
			l.Capacity = &reports.Capacity{Rate: 100, Bound: reports.CapacityExact, Steps: []reports.CapacityStep{{Rate: 100, Requests: l.Requests}}}
		}, ""},
		{"capacity with an unknown bound", func(l *reports.Load) {
			l.Capacity = &reports.Capacity{Rate: 100, Bound: "about", Steps: []reports.CapacityStep{{Rate: 100, Requests: l.Requests}}}
		}, "capacity.bound"},
		{"capacity steps that miss requests", func(l *reports.Load) {
			l.Capacity = &reports.Capacity{Rate: 100, Bound: reports.CapacityBelow, Steps: []reports.CapacityStep{{Rate: 100, Requests: 1}}}
		}, "every request belongs to one step"},
		{"harness error", func(l *reports.Load) { l.Verdict, l.HarnessError, l.Valid = reports.VerdictError, "no target", false }, ""},
		{"invalid run judged as error", func(l *reports.Load) {
			l.Verdict, l.Valid, l.InvalidWhy = reports.VerdictError, false, "generator lag p99 250 ms"
		}, ""},
		{"error with no explanation", func(l *reports.Load) { l.Verdict = reports.VerdictError }, "harness_error is empty"},
		{"unnamed threshold", func(l *reports.Load) { l.Thresholds[0].Name = "" }, "thresholds[0]: name is empty"},
		{"inconclusive: a required threshold not judged", func(l *reports.Load) {
			l.Verdict, l.Thresholds = reports.VerdictInconclusive, []reports.Threshold{
				{Name: "race_winners", Limit: 1, Observed: -1, Status: reports.StatusNotApplicable, Required: true}}
		}, ""},
		{"pass with a required threshold not judged", func(l *reports.Load) {
			l.Verdict, l.Thresholds = reports.VerdictPass, []reports.Threshold{
				{Name: "race_winners", Limit: 1, Observed: -1, Status: reports.StatusNotApplicable, Required: true}}
		}, `verdict is "pass" but required threshold "race_winners" is not_applicable`},
		{"pass with an optional threshold not judged", func(l *reports.Load) {
			l.Verdict, l.Thresholds = reports.VerdictPass, []reports.Threshold{
				{Name: "dead_after_refresh", Observed: -1, Status: reports.StatusNotApplicable}}
		}, ""},
		{"inconclusive with nothing unjudged", func(l *reports.Load) {
			l.Verdict, l.Thresholds = reports.VerdictInconclusive, []reports.Threshold{{Name: "p99_ms", Limit: 100, Passed: true, Status: reports.StatusPassed}}
		}, `verdict is "inconclusive" but no required threshold`},
		{"inconclusive with a failure", func(l *reports.Load) { l.Verdict = reports.VerdictInconclusive },
			`verdict is "inconclusive" but threshold "multi_winner_groups" failed`},
		{"passed disagrees with status", func(l *reports.Load) { l.Thresholds[1].Status = reports.StatusPassed },
			"passed is false but status is \"passed\""},
		{"unknown threshold status", func(l *reports.Load) { l.Thresholds[1].Status = "ok" }, `status "ok" is not one of`},
		{"outcomes that do not add up", func(l *reports.Load) {
			l.Outcomes = reports.Outcomes{Succeeded: l.Requests, UnexpectedFailures: 1}
		}, "outcomes add up to"},
		{"unsent requests counted too", func(l *reports.Load) {
			l.Outcomes = reports.Outcomes{Succeeded: l.Requests - 1, Unsent: 1}
		}, ""},
		{"unsent requests not counted", func(l *reports.Load) {
			l.Outcomes = reports.Outcomes{Succeeded: l.Requests - 1}
		}, "outcomes add up to"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			l := reportstest.Load(5, 20)
			tc.mutate(l)
			err := l.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := reportstest.Conformance()
	l := reportstest.Load(10, 50)
	cPath := filepath.Join(dir, "conformance", "report.json")
	lPath := filepath.Join(dir, "load", "rotation-race", "report.json")
	if err := reports.WriteJSON(cPath, c); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteJSON(lPath, l); err != nil {
		t.Fatal(err)
	}
	gotC, err := reports.ReadConformance(cPath)
	if err != nil {
		t.Fatalf("ReadConformance: %v", err)
	}
	if gotC.Summary != c.Summary || len(gotC.Rules) != len(c.Rules) || gotC.Verdict != c.Verdict {
		t.Errorf("conformance round trip: got %+v / %d rules, want %+v / %d", gotC.Summary, len(gotC.Rules), c.Summary, len(c.Rules))
	}
	var withEvidence *reports.RuleResult
	for i := range gotC.Rules {
		if len(gotC.Rules[i].Evidence) > 0 {
			withEvidence = &gotC.Rules[i]
			break
		}
	}
	if withEvidence == nil || withEvidence.Evidence[0].Response == nil || len(withEvidence.Evidence[0].Response.Body) == 0 {
		t.Error("evidence did not survive the round trip")
	}
	gotL, err := reports.ReadLoad(lPath)
	if err != nil {
		t.Fatalf("ReadLoad: %v", err)
	}
	if gotL.Latency != l.Latency || len(gotL.Series) != len(l.Series) || gotL.Params.Duration != l.Params.Duration {
		t.Errorf("load round trip lost data: %+v", gotL.Latency)
	}
	if v, err := reports.ReadAny(lPath); err != nil {
		t.Errorf("ReadAny: %v", err)
	} else if _, ok := v.(*reports.Load); !ok {
		t.Errorf("ReadAny returned %T, want *reports.Load", v)
	}
	if _, err := reports.ReadLoad(cPath); err == nil || !strings.Contains(err.Error(), `want "load"`) {
		t.Errorf("ReadLoad on a conformance report = %v, want a kind error", err)
	}
	if _, err := reports.ReadConformance(lPath); err == nil || !strings.Contains(err.Error(), `want "conformance"`) {
		t.Errorf("ReadConformance on a load report = %v, want a kind error", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(cPath)); len(entries) != 1 {
		t.Errorf("WriteJSON left %d files behind, want just report.json", len(entries))
	}
}

func TestReadAnyRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		description, body, want string
	}{
		{"not JSON", "<html>", "not a tokenharness report"},
		{"old api_version", `{"api_version":"tokenharness/v0","kind":"load"}`, `api_version "tokenharness/v0" is not "tokenharness/v1"`},
		{"unknown kind", `{"api_version":"tokenharness/v1","kind":"soak"}`, `kind "soak" is not one of conformance|load`},
		{"wrong type", `{"api_version":"tokenharness/v1","kind":"load","requests":"many"}`, "decoding load report"},
		{"invalid content", `{"api_version":"tokenharness/v1","kind":"load","verdict":"meh","valid":true}`, `verdict "meh"`},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "report.json")
			if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := reports.ReadAny(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("ReadAny = %v, want an error naming %s and containing %q", err, p, tc.want)
			}
		})
	}
	if _, err := reports.ReadAny(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("ReadAny of a missing file returned no error")
	}
}

func TestUnknownFieldsAreIgnored(t *testing.T) {
	t.Parallel()
	// Within one api_version the schema only grows: an older reader must
	// accept a report from a newer writer.
	body := `{"api_version":"tokenharness/v1","kind":"load","verdict":"pass","valid":true,"added_later":{"x":1}}`
	if _, err := reports.Decode([]byte(body)); err != nil {
		t.Errorf("Decode with an unknown member: %v", err)
	}
}
