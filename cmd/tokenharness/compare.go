package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"

	"tokenharness/reports"
	"tokenharness/reports/compare"
)

// compareCmd is the baseline gate: `make compare BASELINE=old.json
// CURRENT=new.json`. It prints the differences and exits 1 on a regression
// beyond the tolerances, 2 when the input is unusable.
func compareCmd(args []string) int {
	tol := compare.DefaultTolerances()
	// Tolerances read the environment first so the Makefile can pass them
	// through as variables; flags win over both.
	for _, e := range []struct {
		env string
		dst *float64
	}{
		{"P50_PCT", &tol.P50Pct}, {"P99_PCT", &tol.P99Pct}, {"THROUGHPUT_PCT", &tol.ThroughputPct},
		{"SUCCESS_RATIO_PTS", &tol.SuccessRatioPts}, {"ERROR_RATE_PTS", &tol.ErrorRatePts},
	} {
		v := os.Getenv(e.env)
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "compare: %s=%q is not a number: set it like %s=10\n", e.env, v, e.env)
			return exitConfig
		}
		*e.dst = f
	}
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	baseline := fs.String("baseline", os.Getenv("BASELINE"), "baseline report.json (env BASELINE)")
	current := fs.String("current", os.Getenv("CURRENT"), "current report.json (env CURRENT)")
	fs.Float64Var(&tol.P50Pct, "p50-pct", tol.P50Pct, "tolerated p50 latency increase, percent (env P50_PCT)")
	fs.Float64Var(&tol.P99Pct, "p99-pct", tol.P99Pct, "tolerated p99 latency increase, percent (env P99_PCT)")
	fs.Float64Var(&tol.ThroughputPct, "throughput-pct", tol.ThroughputPct, "tolerated throughput decrease, percent (env THROUGHPUT_PCT)")
	fs.Float64Var(&tol.SuccessRatioPts, "success-ratio-pts", tol.SuccessRatioPts, "tolerated success ratio drop, percentage points (env SUCCESS_RATIO_PTS)")
	fs.Float64Var(&tol.ErrorRatePts, "error-rate-pts", tol.ErrorRatePts, "tolerated error rate rise, percentage points (env ERROR_RATE_PTS)")
	asJSON := fs.Bool("json", false, "print the comparison as JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	for _, f := range []struct{ name, flag, env, value string }{
		{"baseline", "-baseline", "BASELINE", *baseline},
		{"current", "-current", "CURRENT", *current},
	} {
		if f.value == "" {
			fmt.Fprintf(os.Stderr, "compare: no %s report: pass %s path/report.json or set %s=path/report.json\n", f.name, f.flag, f.env)
			return exitConfig
		}
	}
	base, err := reports.ReadAny(*baseline)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: baseline: %v\n", err)
		return exitConfig
	}
	cur, err := reports.ReadAny(*current)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: current: %v\n", err)
		return exitConfig
	}
	res, err := compare.Compare(base, cur, tol)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n", err)
		return exitConfig
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		fmt.Printf("baseline: %s\ncurrent:  %s\n", *baseline, *current)
		err = res.Write(os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: writing the result: %v\n", err)
		return exitConfig
	}
	if res.Regressed {
		return exitFailed
	}
	return exitOK
}
