package specs

import (
	"os"

	. "github.com/onsi/ginkgo/v2"

	"tokenharness/internal/gate"
	"tokenharness/internal/plan"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
)

// runPlan is the run's configuration, resolved once by internal/plan.
type runPlan struct {
	cfg     target.Config
	gate    plan.Gate
	profile rules.Profile
	err     error
}

func newPlan(getenv func(string) string) runPlan {
	var p runPlan
	p.cfg, p.err = plan.Resolve(getenv)
	if p.err == nil {
		p.gate, p.err = plan.ResolveGate(getenv)
	}
	p.profile = rules.Profile(p.cfg.Profile)
	if p.profile == "" || p.err != nil && getenv("PROFILE") != "" {
		p.profile = rules.Profile(getenv("PROFILE"))
	}
	return p
}

func (p runPlan) reportDir() string {
	if p.cfg.ReportDir != "" {
		return p.cfg.ReportDir
	}
	return target.DefaultReportDir
}

// startTarget resolves the target in process 1 (internal/gate.Start) and
// stops a bundled mock when the suite ends.
func startTarget(ctx SpecContext, p runPlan) (*gate.Target, error) {
	t, err := gate.Start(ctx, p.cfg.Target, p.profile, p.gate.Mock, os.Stderr)
	if err != nil {
		return nil, err
	}
	DeferCleanup(t.Close)
	return t, nil
}
