package reports

// Summarize counts rules by status. Statuses outside the schema are counted
// in Total only, which Validate then reports as a mismatch.
func Summarize(rules []RuleResult) Summary {
	s := Summary{Total: len(rules)}
	for _, r := range rules {
		switch r.Status {
		case StatusPassed:
			s.Passed++
		case StatusFailed:
			s.Failed++
		case StatusWarned:
			s.Warned++
		case StatusWaived:
			s.Waived++
		case StatusSkipped:
			s.Skipped++
		case StatusInconclusive:
			s.Inconclusive++
			if r.Gating() {
				s.InconclusiveGating++
			}
		}
	}
	return s
}

// Finalize fills in what a conformance report derives from its rules: the
// api_version and kind when unset, the Summary, and the Verdict.
//
// The verdict rule is deliberately small, because the policy already lives in
// the suite: a rule is only ever "failed" when it is a MUST or DOC rule under
// an enforce policy (warn and waive record "warned" and "waived"). So the
// verdict is "error" when HarnessError is set (nothing was judged), else
// "fail" when any rule failed, else "inconclusive" when a gating rule could
// not be judged, else "pass". A failure outranks an inconclusive rule: it is
// evidence on its own.
func (c *Conformance) Finalize() {
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = KindConformance
	}
	c.Summary = Summarize(c.Rules)
	c.Verdict = conformanceVerdict(c)
}

func conformanceVerdict(c *Conformance) Verdict {
	switch {
	case c.HarnessError != "":
		return VerdictError
	case Summarize(c.Rules).Failed > 0:
		return VerdictFail
	case Summarize(c.Rules).InconclusiveGating > 0:
		return VerdictInconclusive
	}
	return VerdictPass
}

// ExitCode maps a verdict to the process exit status every tokenharness
// command uses: pass 0, fail 1, error 2, inconclusive 3 (something gating
// could not be judged). An unknown verdict is 2, since a report nobody can
// read has judged nothing.
func ExitCode(verdict Verdict) int {
	switch verdict {
	case VerdictPass:
		return 0
	case VerdictFail:
		return 1
	case VerdictInconclusive:
		return 3
	}
	return 2
}

// Gating reports whether r's status decides the run: a MUST or DOC rule under
// an enforce policy.
func (r RuleResult) Gating() bool {
	return r.Level.Gates() && r.PolicyMode == PolicyEnforce
}
