package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"

	"tokenharness/reports"
	"tokenharness/reports/compare"
	"tokenharness/reports/html"
)

// CompareHTML is the comparison page's name beside the current report
// unless -html says otherwise.
const CompareHTML = "compare.html"

// compareCmd is the baseline gate: `make compare BASELINE=old.json
// CURRENT=new.json`. It prints the differences, writes them as an HTML page
// (-html, default compare.html beside CURRENT) and exits 1 on a regression
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
	page := fs.String("html", os.Getenv("COMPARE_HTML"), "write the comparison as an HTML page here (env COMPARE_HTML; default compare.html beside the current report)")
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
	if *page == "" {
		*page = filepath.Join(filepath.Dir(*current), CompareHTML)
	}
	// A page left from an earlier comparison would show a verdict this one
	// did not reach: it goes before anything can refuse.
	if err := os.Remove(*page); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "compare: removing the earlier %s: %v\n", *page, err)
		return exitConfig
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
	var buf bytes.Buffer
	if err := html.Compare(&buf, html.CompareInput{BaselineName: *baseline, CurrentName: *current, Baseline: base, Current: cur, Result: res}); err != nil {
		fmt.Fprintf(os.Stderr, "compare: %v\n", err)
		return exitConfig
	}
	if err := reports.WriteFile(*page, buf.Bytes()); err != nil {
		fmt.Fprintf(os.Stderr, "compare: %v\n", err)
		return exitConfig
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		fmt.Printf("baseline: %s\ncurrent:  %s\n", *baseline, *current)
		err = res.Write(os.Stdout)
		if err == nil {
			_, err = fmt.Printf("page: %s\n", *page)
		}
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
