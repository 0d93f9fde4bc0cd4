package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"tokenharness/internal/conform"
	"tokenharness/internal/plan"
	"tokenharness/internal/redact"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// verdictCmd reads the conformance report the suite wrote and turns it into
// the run's exit status, so a CI gate needs only `make conformance`.
func verdictCmd(args []string) int {
	fs := flag.NewFlagSet("verdict", flag.ContinueOnError)
	dir := fs.String("report-dir", envOr("REPORT_DIR", "reports/out"), "report directory (env REPORT_DIR)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	path := filepath.Join(*dir, "conformance", "report.json")
	c, err := reports.ReadConformance(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tokenharness: ERROR: no conformance report at %s (%v): the suite did not run; see the output above\n", path, err)
		return exitConfig
	}
	if c.Verdict == reports.VerdictError {
		fmt.Fprintf(os.Stderr, "tokenharness: ERROR (harness or configuration, nothing was judged): %s\n", c.HarnessError)
		return reports.ExitCode(c.Verdict)
	}
	// What needs attention first, the verdict last: a CI log's last line
	// is the one people read.
	for _, r := range c.Rules {
		switch {
		case r.Status == reports.StatusFailed:
			fmt.Printf("  failed        %-40s %s\n", r.ID, r.Violation)
		case r.Status == reports.StatusInconclusive && r.Gating():
			fmt.Printf("  inconclusive  %-40s %s\n", r.ID, r.Reason)
		}
	}
	s := c.Summary
	counts := fmt.Sprintf("%d rules: %d passed, %d failed, %d inconclusive (%d gating), %d warned, %d waived, %d skipped",
		s.Total, s.Passed, s.Failed, s.Inconclusive, s.InconclusiveGating, s.Warned, s.Waived, s.Skipped)
	page := filepath.Join(*dir, "conformance", "report.html")
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

// configCmd validates the run configuration before anything starts, so a
// mistake costs one line, not a suite run.
// With a TARGET it also checks, once, that the target answers and that the
// code source yields a code; the bundled mock is checked by the suite itself.
// A failure is one line on stderr and an error report.json for CI artifacts.
func configCmd(args []string) int {
	cfg, err := plan.Resolve(os.Getenv)
	if err == nil && cfg.Target != "" {
		var run *conform.Runner
		if run, err = conform.New(cfg); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err = run.Preflight(ctx)
			cancel()
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenharness:", redact.String(err.Error()))
		writeErrorReport(cfg, err)
		return exitConfig
	}
	return exitOK
}

// writeErrorReport leaves a report.json with verdict "error", so a CI job
// that archives reports shows why nothing was judged.
func writeErrorReport(cfg target.Config, cause error) {
	dir := cfg.ReportDir
	if dir == "" {
		dir = envOr("REPORT_DIR", "reports/out")
	}
	now := time.Now()
	c := &reports.Conformance{
		APIVersion: reports.APIVersion, Kind: reports.KindConformance, Profile: cfg.Profile,
		Target: redact.String(cfg.Target), TargetKind: "external", ClientAuth: string(cfg.ClientAuth),
		StartedAt: now, FinishedAt: now, HarnessError: redact.String(cause.Error()),
	}
	c.Finalize()
	path := filepath.Join(dir, "conformance", "report.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		_ = reports.WriteJSON(path, c)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
