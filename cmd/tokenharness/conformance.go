package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
)

// conformanceCmd is the CI gate: validate the configuration, run the Ginkgo
// suite (go tool ginkgo ./specs), then turn the report into the exit status:
// 0 no gating rule failed, 1 a gating rule failed, 2 a configuration or
// harness error. make reports every failing recipe as 2, so a gate that needs
// to tell 1 from 2 calls this command rather than make.
func conformanceCmd(args []string) int {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	procs := fs.String("procs", envOr("PROCS", "4"), "parallel Ginkgo processes (env PROCS)")
	labels := fs.String("labels", os.Getenv("LABELS"), "Ginkgo label filter, e.g. 'level: containsAny MUST' (env LABELS)")
	timeout := fs.String("timeout", envOr("SUITE_TIMEOUT", "20m"), "bound on the whole suite (env SUITE_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if _, err := os.Stat(filepath.Join("specs", "suite_test.go")); err != nil {
		fmt.Fprintln(os.Stderr, "tokenharness: conformance runs the suite in ./specs: run it from the tokenharness checkout (where make conformance works)")
		return exitConfig
	}
	if code := configCmd(nil); code != exitOK {
		return code
	}
	dir := filepath.Join(envOr("REPORT_DIR", "reports/out"), "conformance")
	_ = os.Remove(filepath.Join(dir, "report.json")) // a stale report must not pass for this run's
	ginkgoArgs := []string{"tool", "ginkgo", "--procs=" + *procs, "--timeout=" + *timeout, "--silence-skips"}
	if *labels != "" {
		ginkgoArgs = append(ginkgoArgs, "--label-filter="+*labels)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := exec.CommandContext(ctx, "go", append(ginkgoArgs, "./specs")...)
	// Ginkgo's narrative goes to stderr; stdout carries only the verdict.
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// On an interrupt Ginkgo gets SIGINT, so it runs its cleanup (containers).
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	var exit *exec.ExitError
	if err := cmd.Run(); err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "tokenharness: running the suite:", err)
		return exitConfig
	}
	code := verdictCmd(nil)
	writeIndex(envOr("REPORT_DIR", "reports/out"))
	return code
}
