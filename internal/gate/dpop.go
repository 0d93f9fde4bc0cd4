package gate

import (
	"slices"
	"strings"

	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// dpopCapability says whether cfg declares DPoP and whether the run's
// results (nil: nothing was judged) exercised it: a DPoP rule that ran.
func dpopCapability(cfg target.Config, profile rules.Profile, results []reports.RuleResult) *reports.Binding {
	b := &reports.Binding{Declared: cfg.DPoP}
	if !cfg.DPoP {
		b.Reason = "not declared: set DPOP=true for a target that binds tokens with DPoP (RFC 9449)"
		return b
	}
	if results == nil {
		b.Reason = "declared, but no rule was judged"
		return b
	}
	byID := map[string]reports.RuleResult{}
	for _, r := range results {
		byID[r.ID] = r
	}
	why, found := "", false
	for _, r := range rules.For(profile) {
		if !slices.Contains(r.Needs, rules.NeedDPoP) {
			continue
		}
		res, ok := byID[string(r.ID)]
		if !ok {
			continue
		}
		found = true
		skipped := res.Status == reports.StatusSkipped || res.Status == reports.StatusWaived && strings.Contains(res.Reason, "(not run: ")
		if !skipped {
			b.Exercised = true
			return b
		}
		if why == "" {
			why = res.Reason
		}
	}
	switch {
	case !found:
		b.Reason = "declared, but no rule of profile " + string(profile) + " exercises it"
	default:
		b.Reason = "declared, but every DPoP rule was skipped: " + why
	}
	return b
}
