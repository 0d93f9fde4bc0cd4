package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"tokenharness/reports/html"
)

// reportCmd (re)renders report.html beside every report.json in a report
// directory and writes the combined index.html.
func reportCmd(args []string) int {
	def := os.Getenv("REPORT_DIR")
	if def == "" {
		def = "reports/out"
	}
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	dir := fs.String("dir", def, "report directory (env REPORT_DIR)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if err := html.WriteDir(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "report: %v\n", err)
		return exitConfig
	}
	fmt.Printf("report: %s\n", filepath.Join(*dir, html.IndexHTML))
	return exitOK
}

// writeIndex refreshes REPORT_DIR/index.html after a run, so several runs
// sharing a report directory are listed together. A failure is reported,
// never fatal: the run's own reports are already written.
func writeIndex(dir string) {
	if err := html.WriteDir(dir); err != nil {
		fmt.Fprintln(os.Stderr, "tokenharness: index page:", err)
	}
}
