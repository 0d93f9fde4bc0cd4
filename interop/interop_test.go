package interop

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenharness/internal/conform"
	"tokenharness/internal/rules"
	"tokenharness/reports"
)

var (
	update   = flag.Bool("update", false, "rewrite expected.tsv with the statuses observed, keeping justifications")
	raceRuns = flag.Int("race-runs", 0, "TestRaceCatchRatio: run each race rule this many times against each server and print the catch ratio")
	outDir   = flag.String("out", "", "write each server's verdicts (with redacted evidence) to this directory")
	only     = flag.String("servers", "", "comma-separated server names to run (default: all); the table check needs all")
	raceOnly = flag.String("race-rules", "", "TestRaceCatchRatio: comma-separated race rule IDs to run (default: every race rule)")
)

const expectedFile = "expected.tsv"

// raceRetries and raceBudget: a race rule expected to fail is run again
// until it catches the race, up to raceRetries runs or raceBudget. A double
// win is proof whatever the run; a run that sees none proves little, so one
// miss is not a changed verdict. The catch ratio itself is measured by
// TestRaceCatchRatio: with the 3x8 race rules of this writing one run
// catches go-oauth2's code race about 1 time in 100 (7 ms a run), fosite's
// code race (public clients) 1 in 200 and the refresh races 1 in 5 to 1 in
// 25, so 1000 runs miss about 1 time in 20000 for go-oauth2 and 1 in 150 for
// fosite-public's code race. A race rule expected to pass runs once: a
// double win there is a new finding and fails the comparison.
const (
	raceRetries = 1000
	raceBudget  = 30 * time.Second
)

func TestMain(m *testing.M) {
	flag.Parse()
	// The zitadel example logs every request at info through slog.Default.
	slog.SetLogLoggerLevel(slog.LevelError)
	os.Exit(m.Run())
}

func selected(name string) bool {
	if *only == "" {
		return true
	}
	for _, n := range strings.Split(*only, ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}

// start starts server name for profile p and returns a runner for it.
func start(t testing.TB, run Run, p rules.Profile) (*Server, *conform.Runner) {
	t.Helper()
	s, err := run.Start(Options{Profile: p, Public: run.Public, Variant: run.Variant})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	cfg, err := s.Config()
	if err != nil {
		t.Fatal(err)
	}
	r, err := conform.New(cfg, conform.WithCodeSource(s.Codes))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Preflight(ctx); err != nil {
		t.Fatalf("%s/%s: preflight: %v", s.Name, p, err)
	}
	return s, r
}

// TestInterop runs every rule of each profile against each server and
// compares the statuses with expected.tsv.
func TestInterop(t *testing.T) {
	expected, err := ReadTableFile(expectedFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Row{}
	for _, r := range expected {
		want[r.Key()] = r
	}
	var (
		mu  sync.Mutex
		got []Row
	)
	began := time.Now()
	t.Run("servers", func(t *testing.T) {
		for _, sv := range Servers {
			if !selected(sv.Name) {
				continue
			}
			for _, p := range sv.Profiles {
				t.Run(sv.Name+"/"+string(p), func(t *testing.T) {
					t.Parallel()
					s, r := start(t, sv, p)
					rows, report := runProfile(t, s, r, want)
					mu.Lock()
					got = append(got, rows...)
					mu.Unlock()
					t.Logf("%s/%s: %s", s.Name, p, tally(rows))
					if *outDir != "" {
						if err := os.MkdirAll(*outDir, 0o755); err != nil {
							t.Fatal(err)
						}
						f := filepath.Join(*outDir, s.Name+"-"+string(p)+".txt")
						if err := os.WriteFile(f, report, 0o644); err != nil {
							t.Fatal(err)
						}
					}
				})
			}
		}
	})
	if t.Failed() {
		return
	}
	order := map[string]int{}
	for i, sv := range Servers {
		order[sv.Name] = i
	}
	sort.Slice(got, func(i, j int) bool {
		a, b := got[i], got[j]
		if a.Server != b.Server {
			return order[a.Server] < order[b.Server]
		}
		if a.Profile != b.Profile {
			return a.Profile > b.Profile // rfc6749 before oauth21
		}
		return a.Rule < b.Rule
	})
	var sum bytes.Buffer
	fmt.Fprintf(&sum, "interop: %d verdicts in %v\n", len(got), time.Since(began).Round(100*time.Millisecond))
	printSummary(&sum, got)
	os.Stdout.Write(sum.Bytes())
	if *outDir != "" {
		if err := os.WriteFile(filepath.Join(*outDir, "summary.txt"), sum.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if *only != "" {
		t.Logf("-servers set: table not compared")
		return
	}
	if *update {
		merged := Merge(expected, got)
		var buf bytes.Buffer
		if err := WriteTable(&buf, merged); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(expectedFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d rows)", expectedFile, len(merged))
		expected = merged
	} else if d := Diff(expected, got); len(d) > 0 {
		t.Errorf("verdicts differ from %s (a changed verdict is a finding: explain it, then go test -update and justify):\n%s",
			expectedFile, strings.Join(d, "\n"))
	}
	for _, r := range expected {
		if r.Justification != "" && !NeedsJustification(r.Status) && !strings.HasPrefix(r.Justification, "Note") {
			// Kept by -update when a failure went away: still true? prune it.
			t.Logf("%s: %s carries a justification for a verdict it no longer has", expectedFile, r.line())
		}
	}
	if u := Unjustified(expected); len(u) > 0 {
		t.Errorf("%s: %d rows fail, warn or are inconclusive without a justification (quote the sentence and say what the server did):\n%s",
			expectedFile, len(u), strings.Join(u, "\n"))
	}
}

// runProfile runs every rule of s's profile, a few at a time.
func runProfile(t *testing.T, s *Server, r *conform.Runner, want map[string]Row) ([]Row, []byte) {
	rs := rules.For(s.Profile)
	verdicts := make([]conform.Verdict, len(rs))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, rule := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			key := Row{Server: s.Name, Profile: string(s.Profile), Rule: string(rule.ID)}.Key()
			tries, deadline := 1, time.Now().Add(raceBudget)
			if rule.Race && want[key].Status == reports.StatusFailed {
				tries = raceRetries
			}
			for n := 0; n < tries && (n == 0 || time.Now().Before(deadline)); n++ {
				verdicts[i] = r.Run(context.Background(), rule)
				if verdicts[i].Violated {
					if n > 0 {
						verdicts[i].Note += fmt.Sprintf(" (caught on run %d)", n+1)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	rows := make([]Row, len(rs))
	var report bytes.Buffer
	fmt.Fprintf(&report, "%s under %s\n%s\n\n", s.Name, s.Profile, strings.Join(s.Notes, "\n"))
	for i, v := range verdicts {
		rows[i] = Row{Server: s.Name, Profile: string(s.Profile), Rule: string(v.Rule), Status: v.Status}
		fmt.Fprintf(&report, "== %s (%s, policy %s)\n%s", v.Rule, v.Level, v.Policy.Mode, v.String())
		if v.Note != "" {
			fmt.Fprintf(&report, "  note: %s\n", v.Note)
		}
		report.WriteString("\n")
	}
	return rows, report.Bytes()
}

func tally(rows []Row) string {
	n := map[reports.Status]int{}
	for _, r := range rows {
		n[r.Status]++
	}
	var parts []string
	for _, s := range []reports.Status{reports.StatusPassed, reports.StatusFailed, reports.StatusWarned, reports.StatusWaived, reports.StatusSkipped, reports.StatusInconclusive} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// printSummary prints counts and the non-passing rule IDs per server/profile.
func printSummary(w io.Writer, rows []Row) {
	type key struct{ server, profile string }
	var keys []key
	by := map[key][]Row{}
	for _, r := range rows {
		k := key{r.Server, r.Profile}
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r)
	}
	for _, k := range keys {
		fmt.Fprintf(w, "  %-16s %-8s %s\n", k.server, k.profile, tally(by[k]))
		for _, st := range []reports.Status{reports.StatusFailed, reports.StatusWarned, reports.StatusInconclusive} {
			var ids []string
			for _, r := range by[k] {
				if r.Status == st {
					ids = append(ids, r.Rule)
				}
			}
			if len(ids) > 0 {
				fmt.Fprintf(w, "  %-16s %-8s   %s: %s\n", "", "", st, strings.Join(ids, " "))
			}
		}
	}
}

// TestRaceCatchRatio runs the race rules -race-runs times against each
// server and prints how often each caught a double win. It judges nothing:
// the ratio is a measurement (the goal is set in README.md).
func TestRaceCatchRatio(t *testing.T) {
	if *raceRuns <= 0 {
		t.Skip("set -race-runs=N to measure the race rules' catch ratio")
	}
	var lines []string
	var mu sync.Mutex
	var only []string
	if *raceOnly != "" {
		only = strings.Split(*raceOnly, ",")
	}
	t.Run("servers", func(t *testing.T) {
		for _, sv := range Servers {
			if !selected(sv.Name) {
				continue
			}
			for _, rule := range rules.All() {
				if !rule.Race || (only != nil && !slices.Contains(only, string(rule.ID))) {
					continue
				}
				// The profile under which the rule runs; oauth21 has both.
				p := rules.OAuth21
				if _, ok := rule.Profiles[p]; !ok {
					continue
				}
				t.Run(sv.Name+"/"+string(rule.ID), func(t *testing.T) {
					_, r := start(t, sv, p)
					n := map[reports.Status]int{}
					caught := 0
					began := time.Now()
					var skip string
					for range *raceRuns {
						v := r.Run(context.Background(), rule)
						n[v.Status]++
						if v.Violated {
							caught++
						}
						if v.Status == reports.StatusSkipped {
							skip = v.Reason
						}
					}
					if n[reports.StatusSkipped] == *raceRuns {
						// Not a catch ratio of 0: the rule never raced here.
						t.Skipf("%s skipped in every run against %s: %s", rule.ID, sv.Name, skip)
					}
					line := fmt.Sprintf("%-16s %-28s caught %3d/%-3d (%5.1f%%)  statuses %v  %v/run",
						sv.Name, rule.ID, caught, *raceRuns, 100*float64(caught)/float64(*raceRuns), n,
						(time.Since(began) / time.Duration(*raceRuns)).Round(time.Millisecond))
					mu.Lock()
					lines = append(lines, line)
					mu.Unlock()
				})
			}
		}
	})
	sort.Strings(lines)
	fmt.Println("race catch ratio (" + fmt.Sprint(*raceRuns) + " runs each):")
	for _, l := range lines {
		fmt.Println("  " + l)
	}
}
