package load

import (
	"strings"
	"testing"
	"time"

	"tokenharness/load/shard"
	"tokenharness/reports"
)

func TestCapacity(t *testing.T) {
	// Not parallel with the package's other tests: its subtests load the
	// machine together and then leave it to the latency-sensitive ones.
	tests := []struct {
		name      string
		as        *fakeAS
		p         Params
		wantBound string
		check     func(t *testing.T, c *reports.Capacity)
		verdict   reports.Verdict
	}{
		{"a fast server holds every step up to RATE", &fakeAS{rotate: true},
			// A ceiling and an SLO this machine's generator keeps under the
			// race detector, so the test is about the search, not the host.
			Params{StartRate: 50, Rate: 200, Duration: 500 * time.Millisecond, SLOP99: 500 * time.Millisecond},
			reports.CapacityAtLeast, func(t *testing.T, c *reports.Capacity) {
				if c.Rate != 200 || len(c.Steps) != 3 {
					t.Errorf("capacity %g after %d steps, want at least 200 after 50, 100, 200", c.Rate, len(c.Steps))
				}
			}, reports.VerdictPass},
		{"a slow server is below START_RATE, with the evidence", &fakeAS{rotate: true, delay: 150 * time.Millisecond},
			Params{StartRate: 50, Rate: 400, Duration: 500 * time.Millisecond, SLOP99: 100 * time.Millisecond},
			reports.CapacityBelow, func(t *testing.T, c *reports.Capacity) {
				if c.Rate != 50 || len(c.Steps) != 1 || c.Steps[0].Passed || !strings.Contains(c.Steps[0].Why, "p99") ||
					!strings.Contains(c.Reason, "capacity below 50 req/s") {
					t.Errorf("capacity %+v", c)
				}
			}, reports.VerdictInconclusive},
		{"a server serving one request at a time is found near its capacity", &fakeAS{rotate: true, serial: 5 * time.Millisecond},
			Params{StartRate: 50, Rate: 800, Duration: time.Second, SLOP99: 50 * time.Millisecond},
			reports.CapacityExact, func(t *testing.T, c *reports.Capacity) {
				// 5 ms per request: 200 req/s at most.
				if c.Rate < 75 || c.Rate > 250 {
					t.Errorf("capacity %g req/s for a server that serves 200 req/s at most; steps %+v", c.Rate, c.Steps)
				}
				held, broke := 0, 0
				for _, s := range c.Steps {
					switch {
					case s.Passed && s.Rate > c.Rate, !s.Passed && s.Rate <= c.Rate:
						t.Errorf("step %+v contradicts capacity %g", s, c.Rate)
					case s.Passed:
						held++
					default:
						broke++
					}
				}
				if held == 0 || broke == 0 {
					t.Errorf("want steps that held and steps that broke: %+v", c.Steps)
				}
			}, reports.VerdictPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeAS(t, tt.as)
			l := mustRun(t, testConfig(t, Capacity, tt.p, srv.URL))
			c := l.Capacity
			if c == nil || c.Bound != tt.wantBound {
				t.Fatalf("capacity %+v, want bound %s", c, tt.wantBound)
			}
			tt.check(t, c)
			t.Logf("capacity %s %g req/s: %s", c.Bound, c.Rate, c.Reason)
			for _, s := range c.Steps {
				t.Logf("  step %+v", s)
			}
			if l.Verdict != tt.verdict || !l.Valid {
				t.Errorf("verdict %s valid %v (%s), want %s; thresholds %+v", l.Verdict, l.Valid, l.InvalidWhy, tt.verdict, l.Thresholds)
			}
			var sum uint64
			for _, s := range c.Steps {
				sum += s.Requests
			}
			if sum != l.Requests {
				t.Errorf("steps add up to %d requests, the report has %d", sum, l.Requests)
			}
			if err := l.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestCapacity_Thresholds(t *testing.T) {
	t.Parallel()
	at := func(bound string, rate float64) *reports.Load {
		return &reports.Load{Capacity: &reports.Capacity{Rate: rate, Bound: bound}}
	}
	tests := []struct {
		l     *reports.Load
		limit float64
		want  reports.Status
	}{
		{at(reports.CapacityExact, 300), 250, reports.StatusPassed},
		{at(reports.CapacityExact, 300), 350, reports.StatusFailed},
		{at(reports.CapacityBelow, 50), 100, reports.StatusFailed}, // below 50 is below 100
		{at(reports.CapacityBelow, 50), 20, reports.StatusInconclusive},
		{at(reports.CapacityAtLeast, 400), 300, reports.StatusPassed},
		{at(reports.CapacityAtLeast, 400), 500, reports.StatusInconclusive},
		{&reports.Load{}, 1, reports.StatusInconclusive},
	}
	for _, tt := range tests {
		th := Min(CapacityRate, tt.limit)
		if got := th.judgeObservation(CapacityRate.Observe(tt.l)); got != tt.want {
			t.Errorf("capacity %+v, limit %g: %s, want %s", tt.l.Capacity, tt.limit, got, tt.want)
		}
	}
}

func TestCapacity_RefusesShards(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, Capacity, Params{}, "http://127.0.0.1:1")
	cfg.Shard = shard.Shard{I: 0, N: 2}
	if _, err := Resolve(cfg); err == nil || !strings.Contains(err.Error(), "SHARD") {
		t.Errorf("a sharded capacity search: %v, want a refusal naming SHARD", err)
	}
}
