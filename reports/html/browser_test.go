package html

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tokenharness/reports"
	"tokenharness/reports/reportstest"
)

// The browser test looks at the reports the way a reader does: it renders
// them, opens them in headless Chromium, and checks the DOM Chromium built
// (tables, SVG charts, unfolded evidence), then takes screenshots. With
// UPDATE_SCREENSHOTS=1 the screenshots replace reports/examples/*.png, which
// the README links.

const browserTimeout = 60 * time.Second

// chromium finds the browser, or skips the test; on CI (CI=true) a missing
// browser is a failure, so the check cannot silently disappear there.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed: run make deps (apt-get install -y chromium)")
	}
	t.Skip("chromium not on PATH: skipping the browser test (install it with make deps, or apt-get install -y chromium)")
	return ""
}

// runChromium runs one headless Chromium command and returns its stdout.
// Every network lookup is mapped to NOTFOUND: the pages must not need the
// network, and the test must not reach beyond this machine.
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, lastLines(stderr.String(), 15))
	}
	return stdout.Bytes()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func TestBrowserRendersReports(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	conf := reportstest.Conformance()
	load := reportstest.Load(60, 2000)
	if err := reports.WriteJSON(filepath.Join(dir, "conformance", ReportJSON), conf); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteJSON(filepath.Join(dir, "load", load.Profile, ReportJSON), load); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(dir); err != nil {
		t.Fatalf("WriteDir: %v", err)
	}
	confPage := filepath.Join(dir, "conformance", ReportHTML)
	loadPage := filepath.Join(dir, "load", load.Profile, ReportHTML)

	t.Run("conformance DOM", func(t *testing.T) {
		dom := string(runChromium(t, bin, "--dump-dom", "file://"+confPage))
		expectInDOM(t, dom, map[string]int{
			`id="verdict"`:                  1,
			`class="verdict verdict-fail"`:  1,
			`id="rules"`:                    1,
			`<tr class="rule status-`:       len(conf.Rules),
			`<tr class="rule status-failed`: conf.Summary.Failed,
			`<details class="rule-details"`: len(conf.Rules) - conf.Summary.Passed,
			`<tr class="deviation">`:        countDeviations(conf),
			`<svg class="chart status-bar"`: 1,
		})
	})
	t.Run("load DOM", func(t *testing.T) {
		dom := string(runChromium(t, bin, "--dump-dom", "file://"+loadPage))
		expectInDOM(t, dom, map[string]int{
			`id="verdict"`:                            1,
			`<svg class="chart latency-over-time"`:    1,
			`<svg class="chart latency-histogram"`:    1,
			`<svg class="chart throughput"`:           1,
			`<svg class="chart status-over-time"`:     1,
			`<svg class="chart errors-over-time"`:     1,
			`<svg class="chart race-winners"`:         1,
			`<circle `:                                len(load.Scatter) + 2, // + legend dots
			`class="line p50"`:                        1,
			`class="line p99"`:                        1,
			`<table class="data" id="thresholds">`:    1,
			`<table class="data" id="percentiles">`:   1,
			`<table class="data params" id="params">`: 1,
			`<tr class="threshold `:                   len(load.Thresholds),
		})
		if strings.Contains(dom, "NaN") {
			t.Error("the DOM contains NaN")
		}
	})
	t.Run("index DOM", func(t *testing.T) {
		dom := string(runChromium(t, bin, "--dump-dom", "file://"+filepath.Join(dir, IndexHTML)))
		expectInDOM(t, dom, map[string]int{
			`<tr class="run `:                       2,
			`href="conformance/report.html"`:        2,
			`href="load/rotation-race/report.html"`: 2,
			`class="verdict verdict-fail"`:          1,
		})
	})
	t.Run("compare DOM", func(t *testing.T) {
		base, cur, res := comparedLoads(t)
		var b bytes.Buffer
		if err := Compare(&b, CompareInput{BaselineName: "baseline.json", CurrentName: "current.json", Baseline: base, Current: cur, Result: res}); err != nil {
			t.Fatal(err)
		}
		page := filepath.Join(dir, "compare.html")
		if err := reports.WriteFile(page, b.Bytes()); err != nil {
			t.Fatal(err)
		}
		dom := string(runChromium(t, bin, "--dump-dom", "file://"+page))
		expectInDOM(t, dom, map[string]int{
			`class="verdict verdict-fail"`:          1,
			`<table class="data" id="compared">`:    1,
			`<table class="data" id="thresholds">`:  1,
			`<tr class="metric`:                     len(res.Metrics),
			`<tr class="threshold`:                  len(cur.Thresholds),
			`<svg class="chart compare-latency"`:    1,
			`<svg class="chart compare-histogram"`:  1,
			`<svg class="chart compare-throughput"`: 1,
			`class="line p99 baseline"`:             1,
			`class="line p99 current"`:              1,
			`class="line sent baseline"`:            1,
			`class="line sent current"`:             1,
		})
		if strings.Contains(dom, "NaN") {
			t.Error("the DOM contains NaN")
		}
	})
	t.Run("screenshots", func(t *testing.T) {
		shots := map[string]string{"conformance.png": confPage, "load.png": loadPage}
		for name, page := range shots {
			png := filepath.Join(t.TempDir(), name)
			runChromium(t, bin, "--screenshot="+png, "--window-size=1280,2400", "file://"+page)
			b, err := os.ReadFile(png)
			if err != nil {
				t.Fatalf("no screenshot %s: %v", name, err)
			}
			if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 20_000 {
				t.Fatalf("%s is not a plausible screenshot (%d bytes)", name, len(b))
			}
			if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
				dst := filepath.Join("..", "examples", name)
				if err := os.WriteFile(dst, b, 0o644); err != nil {
					t.Fatalf("updating %s: %v", dst, err)
				}
				t.Logf("updated %s (%d bytes)", dst, len(b))
			}
		}
	})
}

// expectInDOM checks how often each needle occurs in Chromium's DOM.
func expectInDOM(t *testing.T, dom string, want map[string]int) {
	t.Helper()
	if len(dom) < 1000 {
		t.Fatalf("chromium dumped only %d bytes: %q", len(dom), dom)
	}
	for needle, n := range want {
		if got := strings.Count(dom, needle); got != n {
			t.Errorf("%s appears %d times in the DOM, want %d", needle, got, n)
		}
	}
	if t.Failed() {
		t.Log(fmt.Sprintf("DOM starts: %.600s", dom))
	}
}
