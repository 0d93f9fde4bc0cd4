package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"tokenharness/internal/conform"
	"tokenharness/internal/gate"
	"tokenharness/internal/plan"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// verdictCmd reads a conformance report and turns it into the exit status
// its verdict implies, printing the verdict last.
func verdictCmd(args []string) int {
	fs, getenv := varFlags("verdict", []string{"REPORT_DIR"})
	if code, done := parseFlags(fs, args); done {
		return code
	}
	dir := getenv("REPORT_DIR")
	if dir == "" {
		dir = target.DefaultReportDir
	}
	path := filepath.Join(dir, "conformance", "report.json")
	c, err := reports.ReadConformance(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tokenharness: ERROR: no conformance report at %s (%v): the suite did not run; see the output above\n", path, err)
		return exitConfig
	}
	return printVerdict(c, dir)
}

// configCmd resolves the run configuration exactly as conformance does and
// prints it, secrets masked; it writes nothing. With a TARGET it also sends
// the preflight: one token request, and one code from the code source.
func configCmd(args []string) int {
	fs, getenv := varFlags("config", plan.ConformanceVars())
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, g, err := resolveConformance(getenv)
	if err == nil && cfg.Target != "" {
		var run *conform.Runner
		if run, err = conform.New(cfg); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err = run.Preflight(ctx)
			cancel()
			run.Close()
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenharness:", redact.String(err.Error()))
		return exitConfig
	}
	fmt.Print(redact.String(cfg.Describe()))
	fmt.Printf("mock: %s\nprocs: %d\nlabels: %q\nsuite_timeout: %s\n", g.Mock, g.Procs, g.Labels, g.SuiteTimeout)
	return exitOK
}

// writeErrorReport rewrites all three outputs with verdict "error", so a CI
// job that archives reports shows why nothing was judged and no earlier
// run's junit.xml or report.html is left beside it.
func writeErrorReport(cfg target.Config, cause error) {
	dir := cfg.ReportDir
	if dir == "" {
		dir = target.DefaultReportDir
	}
	now := time.Now()
	c := &reports.Conformance{
		Profile: cfg.Profile, Target: redact.String(cfg.Target), TargetKind: "external", ClientAuth: string(cfg.ClientAuth),
		StartedAt: now, FinishedAt: now, HarnessError: redact.String(cause.Error()),
		Capabilities: gate.Capabilities(cfg, rules.Profile(cfg.Profile), nil),
	}
	c.Finalize()
	if err := gate.Write(dir, c); err != nil {
		fmt.Fprintln(os.Stderr, "tokenharness: writing the error report:", err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
