package gate

import (
	"strings"
	"testing"

	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// TestDPoPCapability: the capabilities say whether DPoP was declared and
// exercised, and why not.
func TestDPoPCapability(t *testing.T) {
	t.Parallel()
	cfg := target.Default()
	skipped := []reports.RuleResult{{ID: string(rules.DPoPTokenType.ID), Status: reports.StatusSkipped, Reason: "a DPoP token request needs a grant to ride on"}}
	ran := append(skipped, reports.RuleResult{ID: string(rules.DPoPHTM.ID), Status: reports.StatusPassed})
	for _, tc := range []struct {
		name     string
		declared bool
		profile  rules.Profile
		results  []reports.RuleResult
		want     reports.Binding
		reason   string
	}{
		{"undeclared", false, rules.RFC6749, ran, reports.Binding{}, "not declared: set DPOP=true"},
		{"exercised", true, rules.RFC6749, ran, reports.Binding{Declared: true, Exercised: true}, ""},
		{"all skipped", true, rules.RFC6749, skipped, reports.Binding{Declared: true}, "every DPoP rule was skipped: a DPoP token request needs a grant"},
		{"nothing judged", true, rules.RFC6749, nil, reports.Binding{Declared: true}, "no rule was judged"},
		{"no DPoP rules in the profile", true, rules.Commoninja, ran, reports.Binding{Declared: true}, "no rule of profile commoninja"},
	} {
		cfg.DPoP = tc.declared
		b := Capabilities(cfg, tc.profile, tc.results).DPoP
		if b == nil || b.Declared != tc.want.Declared || b.Exercised != tc.want.Exercised || !strings.Contains(b.Reason, tc.reason) || (tc.reason == "") != (b.Reason == "") {
			t.Errorf("%s: got %+v, want %+v with a reason containing %q", tc.name, b, tc.want, tc.reason)
		}
	}
}
