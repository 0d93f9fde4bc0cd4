package main

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"tokenharness/internal/gate"
	"tokenharness/internal/plan"
	"tokenharness/internal/redact"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// conformanceCmd is the CI gate: resolve the configuration once, check the
// target with the rules compiled into this binary (internal/gate), write
// report.json, junit.xml and report.html, and exit 0 pass, 1 a gating rule
// failed, 2 a configuration or harness error, 3 a gating rule could not be
// judged. It needs neither Go nor the source tree.
func conformanceCmd(args []string) int {
	fs, getenv := varFlags("conformance", plan.ConformanceVars())
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, g, err := resolveConformance(getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenharness:", redact.String(err.Error()))
		writeErrorReport(cfg, err)
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// testcontainers-go narrates every container step; the gate prints its
	// own progress lines instead.
	tclog.SetDefault(stdlog.New(io.Discard, "", 0))
	c := gate.Run(ctx, gate.Options{Config: cfg, Mock: g.Mock, Procs: g.Procs, Labels: g.Labels, Timeout: g.SuiteTimeout, Progress: os.Stderr})
	if err := gate.Write(cfg.ReportDir, c); err != nil {
		fmt.Fprintln(os.Stderr, "tokenharness: ERROR writing reports:", err)
		return exitConfig
	}
	writeIndex(cfg.ReportDir)
	return printVerdict(c, cfg.ReportDir)
}

// resolveConformance is the one resolution of a conformance run.
func resolveConformance(getenv func(string) string) (target.Config, plan.Gate, error) {
	cfg, err := plan.Resolve(getenv)
	if err != nil {
		return cfg, plan.Gate{}, err
	}
	g, err := plan.ResolveGate(getenv)
	if err != nil {
		return cfg, g, err
	}
	if err := writable(cfg.ReportDir); err != nil {
		return cfg, g, fmt.Errorf("%w: REPORT_DIR %q is not writable (%v): choose a directory this user can write", target.ErrConfig, cfg.ReportDir, err)
	}
	return cfg, g, nil
}

// writable checks that dir can be created and written, before any work.
func writable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tokenharness-write-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// printVerdict prints the rules that need attention, then the verdict as the
// last line, and returns the exit status the verdict implies.
func printVerdict(c *reports.Conformance, dir string) int {
	if c.Verdict == reports.VerdictError {
		fmt.Fprintf(os.Stderr, "tokenharness: ERROR (harness or configuration, nothing was judged): %s\n", c.HarnessError)
		return reports.ExitCode(c.Verdict)
	}
	for _, r := range c.Rules {
		switch {
		case r.Status == reports.StatusFailed:
			fmt.Printf("  failed        %-40s %s\n", r.ID, r.Violation)
		case r.Status == reports.StatusInconclusive && r.Gating():
			fmt.Printf("  inconclusive  %-40s %s\n", r.ID, r.Reason)
		}
	}
	if cp := c.Capabilities; cp != nil {
		exercised := strings.Join(cp.Exercised, ", ")
		if exercised == "" {
			exercised = "none"
		}
		fmt.Printf("  capabilities  grants %s, client auth %s; exercised: %s\n", strings.Join(cp.Grants, ","), cp.ClientAuth, exercised)
		for _, n := range cp.NotExercised {
			fmt.Printf("  not exercised %-18s %s\n", n.Grant, n.Reason)
		}
		if b := cp.DPoP; b != nil && b.Exercised {
			fmt.Printf("  dpop          exercised\n")
		} else if b != nil {
			fmt.Printf("  not exercised %-18s %s\n", "dpop", b.Reason)
		}
	}
	s := c.Summary
	counts := fmt.Sprintf("%d rules: %d passed, %d failed, %d inconclusive (%d gating), %d warned, %d waived, %d skipped",
		s.Total, s.Passed, s.Failed, s.Inconclusive, s.InconclusiveGating, s.Warned, s.Waived, s.Skipped)
	page := filepath.Join(dir, "conformance", "report.html")
	switch c.Verdict {
	case reports.VerdictPass:
		fmt.Printf("tokenharness: PASS — profile %s, %s (report: %s)\n", c.Profile, counts, page)
	case reports.VerdictFail:
		fmt.Printf("tokenharness: FAIL — profile %s: %d gating rule(s) failed; %s (report: %s)\n", c.Profile, s.Failed, counts, page)
	case reports.VerdictInconclusive:
		fmt.Printf("tokenharness: INCONCLUSIVE — profile %s: no gating rule failed, %d could not be judged; %s (report: %s)\n", c.Profile, s.InconclusiveGating, counts, page)
	}
	return reports.ExitCode(c.Verdict)
}
