// Package specs is the conformance suite: one Ginkgo spec per rule of the
// selected profile (internal/rules), each a thin adapter over conform.Run.
// The target comes from TARGET (and the other variables of internal/target);
// without one, the bundled mock server is started in a container when Docker
// answers and in-process otherwise. ReportAfterSuite writes junit.xml,
// report.json and report.html to REPORT_DIR/conformance/.
package specs

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	stdlog "log"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"tokenharness/internal/conform"
	"tokenharness/internal/gate"
	"tokenharness/internal/rules"
	"tokenharness/reports"
)

func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	// testcontainers-go narrates every container step; keep it for -v.
	tclog.SetDefault(stdlog.New(GinkgoWriter, "", stdlog.LstdFlags))
	RunSpecs(t, "tokenharness conformance ("+string(run.profile)+")")
}

// run is the configuration, read once at tree construction from the
// environment. Ginkgo runs a suite in its package directory; relative paths
// (CONFIG, CODE_CMD, CA_FILE, REPORT_DIR) are the user's, relative to the
// module root where make runs, so the suite moves there first.
var run = func() runPlan {
	if err := chdirModuleRoot(); err != nil {
		return runPlan{err: err}
	}
	return newPlan(os.Getenv)
}()

func chdirModuleRoot() error {
	root, err := gate.ModuleRoot()
	if err != nil {
		return fmt.Errorf("specs: %w", err)
	}
	return os.Chdir(root)
}

// runner checks rules in this process; set up by SynchronizedBeforeSuite.
var runner *conform.Runner

// started is the target process 1 resolved (the bundled mock's log is read
// there); the other processes know only what resolved carries.
var started *gate.Target

// resolved is what process 1 learned about the target and shares with the others.
type resolved struct {
	Target       string `json:"target"`
	AuthorizeURL string `json:"authorize_url"`
	Kind         string `json:"kind"`
	Note         string `json:"note"`
}

var resolvedTarget resolved

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	if run.err != nil {
		Fail(run.err.Error())
	}
	t, err := startTarget(ctx, run)
	if err != nil {
		Fail(err.Error())
	}
	started = t
	resolvedTarget = resolved{Target: t.URL, AuthorizeURL: t.AuthorizeURL, Kind: t.Kind, Note: t.Note}
	fmt.Fprintln(os.Stderr, "tokenharness:", t.Note)
	if err := newRunner(resolvedTarget).Preflight(ctx); err != nil {
		Fail(err.Error())
	}
	b, err := json.Marshal(resolvedTarget)
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(ctx SpecContext, b []byte) {
	Expect(json.Unmarshal(b, &resolvedTarget)).To(Succeed())
	runner = newRunner(resolvedTarget)
}, NodeTimeout(5*time.Minute))

// newRunner builds the conformance runner for the resolved target.
func newRunner(r resolved) *conform.Runner {
	GinkgoHelper()
	cr, err := gate.NewRunner(run.cfg, &gate.Target{URL: r.Target, AuthorizeURL: r.AuthorizeURL})
	Expect(err).NotTo(HaveOccurred(), "building the conformance runner")
	return cr
}

// One spec per rule of the profile, registered even when a precondition is
// unmet: such specs skip with the reason rather than vanish.
var _ = func() bool {
	for _, r := range rules.For(run.profile) {
		It(r.SpecText(), Label(r.Labels()...), func(ctx SpecContext) {
			v := runner.Run(ctx, r)
			AddReportEntry(verdictEntry, v, ReportEntryVisibilityFailureOrVerbose)
			switch v.Status {
			case reports.StatusSkipped:
				Skip(v.Reason)
			case reports.StatusInconclusive:
				// Not a Ginkgo failure: the report (and the exit status the
				// CLI derives from it) says "inconclusive" on its own.
				Skip("inconclusive: " + v.Reason)
			}
			Expect(v).To(Pass())
		}, SpecTimeout(3*time.Minute))
	}
	return true
}()

// verdictEntry names the report entry that carries a rule's Verdict.
const verdictEntry = "verdict"

// Pass succeeds unless the verdict failed: warned and waived rules pass the
// spec, so Ginkgo's own exit status means "a gating rule failed". On
// failure it prints the redacted exchanges.
func Pass() types.GomegaMatcher { return passMatcher{} }

type passMatcher struct{}

func (passMatcher) Match(actual any) (bool, error) {
	v, ok := actual.(conform.Verdict)
	if !ok {
		return false, fmt.Errorf("Pass expects a conform.Verdict, got %T", actual)
	}
	return v.Status != reports.StatusFailed, nil
}

func (passMatcher) FailureMessage(actual any) string {
	return "rule failed: " + actual.(conform.Verdict).String()
}

func (passMatcher) NegatedFailureMessage(actual any) string {
	return "rule did not fail: " + actual.(conform.Verdict).String()
}
