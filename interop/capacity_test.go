package interop

import (
	"context"
	"flag"
	"fmt"
	"testing"
	"time"

	"tokenharness/internal/codes"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/load"
	"tokenharness/mockserver"
)

var capacity = flag.Bool("capacity", false, "TestCapacityTable: run the capacity profile against the bundled mock and each server and print the table")

// TestCapacityTable measures, in one sitting on one machine, the highest
// refresh rate each server sustains within one SLO (p99 ≤ 50 ms, ≤ 1 %
// unexpected failures), with the capacity load profile, and prints it as
// ratios to the bundled mock. Off unless -capacity is given (make
// interop-capacity): it is a measurement, not a check.
func TestCapacityTable(t *testing.T) {
	if !*capacity {
		t.Skip("set -capacity to measure the capacity table")
	}
	params := load.Params{StartRate: 100, Rate: 12800, Duration: 2 * time.Second, SLOP99: 50 * time.Millisecond, SLOErrors: 0.01}
	type row struct {
		name   string
		rate   float64
		bound  string
		reason string
	}
	var rows []row
	measure := func(name string, tc target.Config, src codes.Source) {
		if src != nil && tc.AuthorizeURL == "" && tc.CodeCmd == "" {
			// The server's own code source is set below; FromTarget only
			// wants to know one exists.
			tc.AuthorizeURL = tc.Target
		}
		cfg, err := load.FromTarget(tc, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if src != nil {
			cfg.Codes = src
		}
		cfg.Profile, cfg.Params, cfg.Dir, cfg.TargetKind = load.Capacity, params, t.TempDir(), "in-process"
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		l, err := load.Run(ctx, cfg)
		if err != nil || l.Capacity == nil {
			t.Errorf("%s: %v (capacity %v)", name, err, l)
			return
		}
		rows = append(rows, row{name, l.Capacity.Rate, l.Capacity.Bound, l.Capacity.Reason})
	}

	m, err := mockserver.StartLocal(rules.RFC6749)
	if err != nil {
		t.Fatal(err)
	}
	mc := target.Default()
	mc.Target, mc.AuthorizeURL = m.Base+mockserver.PathToken, m.Base+mockserver.PathAuthorize
	mc.Profile, mc.ClientID, mc.ClientSecret, mc.RedirectURI, mc.Scope = "rfc6749", "tokenharness-1", "th-secret-one-5f2c9a1e", "http://127.0.0.1:8080/callback", "read"
	measure("mock", mc, nil)
	m.Close()

	for _, run := range Servers {
		if run.Public {
			continue
		}
		s, err := run.Start(Options{Profile: rules.RFC6749})
		if err != nil {
			t.Fatalf("%s: %v", run.Name, err)
		}
		tc, err := s.Config()
		if err != nil {
			t.Fatal(err)
		}
		measure(run.Name, tc, s.Codes)
		s.Close()
	}
	base := 0.0
	out := fmt.Sprintf("capacity at p99 ≤ %v and ≤ %.0f%% unexpected failures (refresh_token grant, steps of %v):\n",
		params.SLOP99, 100*params.SLOErrors, params.Duration)
	for _, r := range rows {
		if r.name == "mock" {
			base = r.rate
		}
		ratio := "-"
		if base > 0 {
			ratio = fmt.Sprintf("%.3f", r.rate/base)
		}
		out += fmt.Sprintf("  %-10s %-8s %8.0f req/s  ratio to the mock %s  (%s)\n", r.name, r.bound, r.rate, ratio, r.reason)
	}
	fmt.Print(out)
}
