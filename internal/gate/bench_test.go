package gate_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"tokenharness/internal/rules"
	"tokenharness/mockserver"
	"tokenharness/reports"
)

// BenchmarkConformanceProcess times `tokenharness conformance` as a whole
// process against a running target (the mock, in this process) next to the
// sum of its rules' own durations from the report: the overhead of the gate
// itself (start-up, preflight, scheduling, writing three files). Goal: wall
// time at most 2 × (rules' sum) + 0.5 s.
func BenchmarkConformanceProcess(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "tokenharness")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tokenharness")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	m, err := mockserver.StartLocal(rules.RFC6749)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	target, err := os.ReadFile("../../fixtures/targets/mock-rfc6749.yaml")
	if err != nil {
		b.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(cfgFile, target, 0o644); err != nil {
		b.Fatal(err)
	}
	var wall, rulesSum time.Duration
	b.ResetTimer()
	for b.Loop() {
		out := b.TempDir()
		cmd := exec.Command(bin, "conformance", "--config", cfgFile, "--target", m.Base+"/oauth/token",
			"--authorize-url", m.Base+"/oauth/authorize", "--report-dir", out)
		start := time.Now()
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, msg)
		}
		wall += time.Since(start)
		c, err := reports.ReadConformance(filepath.Join(out, "conformance", "report.json"))
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range c.Rules {
			rulesSum += time.Duration(r.DurationMS * float64(time.Millisecond))
		}
	}
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "wall_s/op")
	b.ReportMetric(rulesSum.Seconds()/n, "rules_sum_s/op")
	b.ReportMetric(wall.Seconds()/(2*rulesSum.Seconds()+0.5*n), "wall/goal")
}
