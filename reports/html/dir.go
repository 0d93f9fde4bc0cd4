package html

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"tokenharness/reports"
)

// File names inside a report directory. The layout is
//
//	REPORT_DIR/index.html
//	REPORT_DIR/conformance/{report.json,report.html,junit.xml}
//	REPORT_DIR/load/<profile>/{report.json,report.html,plot.html}
const (
	ReportJSON = "report.json"
	ReportHTML = "report.html"
	IndexHTML  = "index.html"
	JUnitXML   = "junit.xml"
	// PlotHTML is vegeta's own latency plot, linked when a load run left one.
	PlotHTML = "plot.html"
)

// maxDepth bounds the scan: reports sit at most two levels below the root
// (load/<profile>/report.json); one spare level allows conformance/<profile>/.
const maxDepth = 3

// WriteDir (re)renders report.html beside every report.json under
// reportDir and writes reportDir/index.html listing them all. A report that
// cannot be read is listed on the index with its error, the rest are still
// rendered, and the returned error names every report that failed.
func WriteDir(reportDir string) error {
	st, err := os.Stat(reportDir)
	if err != nil {
		return fmt.Errorf("html: report dir: %w: run make conformance or make load first, or set REPORT_DIR", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("html: report dir %s is not a directory", reportDir)
	}
	paths, err := findReports(reportDir)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("html: no %s under %s: run make conformance or make load with REPORT_DIR=%s first", ReportJSON, reportDir, reportDir)
	}
	var (
		entries []IndexEntry
		errs    []error
	)
	for _, p := range paths {
		rel, _ := filepath.Rel(reportDir, filepath.Dir(p))
		e, err := renderOne(p)
		if e.Kind == "" {
			e.Kind, _, _ = strings.Cut(filepath.ToSlash(rel), "/")
		}
		e.Location = filepath.ToSlash(rel)
		e.Href = filepath.ToSlash(filepath.Join(rel, ReportHTML))
		e.JSONHref = filepath.ToSlash(filepath.Join(rel, ReportJSON))
		if err != nil {
			errs = append(errs, err)
			e.Error, e.Href = err.Error(), ""
			if e.Profile == "" {
				e.Profile = filepath.ToSlash(rel)
			}
		}
		entries = append(entries, e)
	}
	var buf bytes.Buffer
	if err := Index(&buf, entries); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if err := reports.WriteFile(filepath.Join(reportDir, IndexHTML), buf.Bytes()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// findReports lists report.json files, conformance before load, each group
// in path order, so the index reads the same on every run.
func findReports(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		depth := len(strings.Split(filepath.ToSlash(rel), "/"))
		if d.IsDir() && depth > maxDepth {
			return fs.SkipDir
		}
		if !d.IsDir() && d.Name() == ReportJSON {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("html: scanning %s: %w", root, err)
	}
	group := func(p string) int {
		if strings.Contains(filepath.ToSlash(p), "/"+reports.KindConformance+"/") {
			return 0
		}
		return 1
	}
	sort.SliceStable(out, func(i, j int) bool {
		if gi, gj := group(out[i]), group(out[j]); gi != gj {
			return gi < gj
		}
		return out[i] < out[j]
	})
	return out, nil
}

// WriteReport renders dir/report.json into dir/report.html, linking the
// files that sit beside it (report.json, junit.xml, vegeta's plot.html).
// Producers call it once every file of a run is written.
func WriteReport(dir string) error {
	_, err := renderOne(filepath.Join(dir, ReportJSON))
	return err
}

// renderOne reads one report.json and writes its report.html.
func renderOne(jsonPath string) (IndexEntry, error) {
	dir := filepath.Dir(jsonPath)
	v, err := reports.ReadAny(jsonPath)
	if err != nil {
		return IndexEntry{}, err
	}
	e, err := EntryFor(v)
	if err != nil {
		return e, err
	}
	links := []Link{{Label: "report.json", Href: ReportJSON}}
	var buf bytes.Buffer
	switch r := v.(type) {
	case *reports.Conformance:
		if exists(filepath.Join(dir, JUnitXML)) {
			links = append(links, Link{Label: "junit.xml", Href: JUnitXML})
		}
		err = Conformance(&buf, r, WithLinks(links...))
	case *reports.Load:
		if exists(filepath.Join(dir, PlotHTML)) {
			links = append(links, Link{Label: "vegeta latency plot", Href: PlotHTML})
		}
		err = Load(&buf, r, WithLinks(links...))
	}
	if err != nil {
		return e, fmt.Errorf("html: %s: %w", jsonPath, err)
	}
	return e, reports.WriteFile(filepath.Join(dir, ReportHTML), buf.Bytes())
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
