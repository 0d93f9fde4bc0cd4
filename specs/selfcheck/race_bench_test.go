package selfcheck

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tokenharness/internal/conform"
	"tokenharness/internal/plan"
	"tokenharness/internal/rules"
	"tokenharness/mockserver"
	"tokenharness/reports"
)

// raceWindows are the check-then-act windows BenchmarkRaceDetection opens
// in the mock, widest first.
var raceWindows = []time.Duration{50 * time.Microsecond, 5 * time.Microsecond, time.Microsecond, 0}

// raceBenchMax bounds the whole benchmark: once spent, the remaining runs
// are not made and each line says over how many runs its share is.
// RACE_BENCH_MAX overrides it.
var raceBenchMax = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("RACE_BENCH_MAX")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Minute
}()

var raceBenchStart = sync.OnceValue(time.Now)

// BenchmarkRaceDetection measures the race rules' power: for each window,
// the share of runs (one run is the rule with its default budget against
// the mock with the rule's fault on) that report the violation. Run it
// with -benchtime 100x (make bench does) for 100 runs per line.
//
// The mock runs as its own process (cmd/mockserver), as every target of
// the gate does. RACE_BENCH_MOCK=inprocess serves it from the benchmark's
// process instead, for comparison: there the mock shares the racer's Go
// scheduler, as no real server does, and reports when each racer reaches
// its check (the first-to-second check gaps in the output).
//
// Each line runs twice: proto=h2, the mock serving HTTP/2 over cleartext
// (h2c) as well as HTTP/1.1, so the racer releases its requests as
// streams of one connection in one packet; and proto=http1, the mock
// serving HTTP/1.1 only, so the racer falls back to last-byte
// synchronisation over one connection per request.
func BenchmarkRaceDetection(b *testing.B) {
	for _, w := range raceWindows {
		for _, proto := range []string{"h2", "http1"} {
			for _, rule := range []rules.Rule{rules.CodeRace, rules.RefreshRace} {
				b.Run(fmt.Sprintf("window=%v/proto=%s/%s", w, proto, rule.ID), func(b *testing.B) {
					benchRaceDetection(b, rule, w, proto)
				})
			}
		}
	}
}

func benchRaceDetection(b *testing.B, rule rules.Rule, window time.Duration, proto string) {
	base := mockProcess(b, rule, window, proto)
	// In process, the mock tells when each racer takes the grant's lock for
	// the check: gaps holds, per race, the time from the first racer's
	// check to the second's. A window is hit when that gap is shorter than
	// it (or when the first racer loses its core inside the window).
	var (
		checksMu sync.Mutex
		checks   = map[any][]time.Time{}
	)
	if base == "" {
		mcfg, err := mockserver.LoadConfig(rules.OAuth21, "")
		if err != nil {
			b.Fatal(err)
		}
		mcfg.RaceWindow = new(window)
		srv, err := mockserver.New(mcfg, mockserver.WithQuirks(rule.ID), mockserver.WithRaceChecks(func(grant any) {
			t := time.Now()
			checksMu.Lock()
			checks[grant] = append(checks[grant], t)
			checksMu.Unlock()
		}))
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		hs := httptest.NewUnstartedServer(srv)
		if proto == "h2" {
			hs.Config.Protocols = new(http.Protocols)
			hs.Config.Protocols.SetHTTP1(true)
			hs.Config.Protocols.SetUnencryptedHTTP2(true)
		}
		hs.Start()
		defer hs.Close()
		base = hs.URL
	}
	env := map[string]string{
		"TARGET": base + "/oauth/token", "AUTHORIZE_URL": base + "/oauth/authorize",
		// The public client: RFC 9700 §4.14.2 binds the refresh race to public
		// clients, and the code race runs for any client.
		"CONFIG": "../../fixtures/targets/mock-oauth21-public.yaml",
	}
	// The default budget unless RACE_ATTEMPTS or RACE_BUDGET say otherwise.
	for _, k := range []string{"RACE_ATTEMPTS", "RACE_BUDGET"} {
		if v := os.Getenv(k); v != "" {
			env[k] = v
		}
	}
	cfg, err := plan.Resolve(func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	r, err := conform.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()

	start := raceBenchStart()
	var (
		runs, caught, attempts int
		tries                  int // attempts made in all runs, caught or not
		spreads                []time.Duration
		took                   time.Duration
	)
	for b.Loop() {
		if time.Since(start) > raceBenchMax {
			continue // the benchmark's time is spent: the loop ends without runs
		}
		began := time.Now()
		v := r.Run(context.Background(), rule)
		took += time.Since(began)
		runs++
		spreads = append(spreads, noteSpreads(v.Note)...)
		tries += noteAttempts(v.Note)
		switch {
		case v.Violated:
			caught++
			var n int
			if _, err := fmt.Sscanf(v.Violation, "attempt %d/", &n); err == nil {
				attempts += n
			}
		case v.Status != reports.StatusPassed:
			b.Errorf("run %d: %s, want passed or violated:\n%s", runs, v.Status, v)
		}
	}
	if runs == 0 {
		fmt.Printf("race detection %-28s window %-5v %-5s: not run, the benchmark's %v were spent\n", rule.ID, window, proto, raceBenchMax)
		return
	}
	slices.Sort(spreads)
	pct := func(p int) time.Duration {
		if len(spreads) == 0 {
			return 0
		}
		return spreads[min(len(spreads)-1, len(spreads)*p/100)]
	}
	share := 100 * float64(caught) / float64(runs)
	perCatch := "-"
	if caught > 0 {
		perCatch = fmt.Sprintf("%.1f", float64(attempts)/float64(caught))
	}
	b.ReportMetric(share, "%caught")
	b.ReportMetric(float64(took.Milliseconds())/float64(runs), "ms/run")
	perTry := 0.0
	if tries > 0 {
		perTry = 100 * float64(caught) / float64(tries)
	}
	b.ReportMetric(perTry, "%caught/attempt")
	fmt.Printf("race detection %-28s window %-5v %-5s: caught %5.1f%% of %d runs (attempts to catch %s; %.2f%% of %d attempts), %v/run, spread p50 %v p90 %v%s\n",
		rule.ID, window, proto, share, runs, perCatch, perTry, tries, (took / time.Duration(runs)).Round(time.Millisecond), pct(50), pct(90),
		checkGaps(checks))
}

// mockBinary builds cmd/mockserver once for all the benchmark's lines.
var mockBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "racebench")
	if err != nil {
		return "", err
	}
	closers = append(closers, func() { _ = os.RemoveAll(dir) })
	bin := filepath.Join(dir, "mockserver")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/mockserver").CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the mock: %v\n%s", err, out)
	}
	return bin, nil
})

// mockProcess starts cmd/mockserver with the rule's fault and window, and
// returns its base URL; "" when RACE_BENCH_MOCK=inprocess.
func mockProcess(b *testing.B, rule rules.Rule, window time.Duration, proto string) string {
	switch m := os.Getenv("RACE_BENCH_MOCK"); m {
	case "", "process":
	case "inprocess":
		return ""
	default:
		b.Fatalf("RACE_BENCH_MOCK=%q: want process (the default) or inprocess", m)
	}
	bin, err := mockBinary()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-profile", string(rules.OAuth21), "-log-level", "error",
		"-quirks", string(rule.ID), "-race-window", window.String(), "-h2c="+fmt.Sprint(proto == "h2"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	_, url, ok := strings.Cut(strings.TrimSpace(line), " listening on ")
	if err != nil || !ok {
		b.Fatalf("the mock printed %q (%v), want its listening line", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return url
}

// checkGaps sums up, over the races, the time from the first racer's
// check to the second's: its p10 and p50 and how many races had it under
// 1µs and 5µs. "" when the mock ran out of process.
func checkGaps(checks map[any][]time.Time) string {
	var gaps []time.Duration
	for _, ts := range checks {
		if len(ts) < 2 {
			continue
		}
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		gaps = append(gaps, ts[1].Sub(ts[0]))
	}
	if len(gaps) == 0 {
		return ""
	}
	slices.Sort(gaps)
	under := func(d time.Duration) int {
		n, _ := slices.BinarySearch(gaps, d)
		return n
	}
	return fmt.Sprintf(", first-to-second check p10 %v p50 %v (<1µs in %d, <5µs in %d of %d races)",
		gaps[len(gaps)/10].Round(100*time.Nanosecond), gaps[len(gaps)/2].Round(100*time.Nanosecond),
		under(time.Microsecond), under(5*time.Microsecond), len(gaps))
}

// noteAttempts counts the races a rule's note lines record.
func noteAttempts(note string) int {
	n := 0
	for line := range strings.Lines(note) {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "attempt ") && strings.Contains(l, " won, ") {
			n++
		}
	}
	return n
}

// noteSpreads reads the arrival spreads from a race rule's note lines
// ("attempt 3/50: 1 of 16 won, spread 38µs").
func noteSpreads(note string) []time.Duration {
	var out []time.Duration
	for line := range strings.Lines(note) {
		_, s, ok := strings.Cut(strings.TrimSpace(line), ", spread ")
		if !ok {
			continue
		}
		s, _, _ = strings.Cut(s, ",")
		if d, err := time.ParseDuration(s); err == nil {
			out = append(out, d)
		}
	}
	return out
}
