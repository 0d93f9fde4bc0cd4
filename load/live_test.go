package load

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"tokenharness/internal/rules"
	"tokenharness/load/live"
	"tokenharness/reports"
)

func scrape(t *testing.T, url, accept string) (string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b), resp.Header.Get("Content-Type")
}

func families(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	var p expfmt.TextParser
	mf, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, text)
	}
	return mf
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func requestsTotal(mf map[string]*dto.MetricFamily) (total float64, byOutcome map[string]float64) {
	byOutcome = map[string]float64{}
	for _, m := range mf[live.Namespace+"_requests_total"].GetMetric() {
		total += m.GetCounter().GetValue()
		byOutcome[label(m, "outcome")] += m.GetCounter().GetValue()
	}
	return total, byOutcome
}

// A load against the bundled mock with the metrics endpoint on: a scrape
// during the run shows it under way, and the last one adds up to the
// report. A strict mock gives race losers (expected failures); its race
// quirk, groups with several winners.
func TestLive_MetricsDuringARun(t *testing.T) {
	// Not parallel with the package's other tests: its subtests load the
	// machine together and then leave it to the latency-sensitive ones.
	for _, tt := range []struct {
		pr     Profile
		p      Params
		quirks []rules.ID
	}{
		{Herd, Params{Clients: 40, Rate: 100, Every: 500 * time.Millisecond, Duration: 2 * time.Second}, nil},
		{RotationRace, Params{Rate: 100, GroupSize: 4, Duration: 2 * time.Second}, nil},
		{RotationRace, Params{Rate: 100, GroupSize: 4, Duration: 2 * time.Second}, []rules.ID{rules.RefreshRace.ID}},
	} {
		t.Run(fmt.Sprint(tt.pr.Name, tt.quirks), func(t *testing.T) {
			t.Parallel()
			cfg := mockConfig(t, tt.pr, tt.p, tt.quirks...)
			cfg.Live = live.New("1/1")
			url, stop, err := live.Serve("127.0.0.1:0", cfg.Live)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			done := make(chan *reports.Load, 1)
			go func() {
				l, err := Run(ctx, cfg)
				if err != nil {
					t.Error(err)
				}
				done <- l
			}()

			var mid map[string]*dto.MetricFamily
			var l *reports.Load
		poll:
			for i := 0; i < 300; i++ { // 30 s at most
				select {
				case l = <-done:
					break poll
				case <-time.After(100 * time.Millisecond):
				}
				if mid != nil {
					continue
				}
				text, _ := scrape(t, url, "")
				if mf := families(t, text); mf[live.Namespace+"_requests_total"] != nil {
					mid = mf
				}
			}
			if l == nil {
				t.Fatal("run did not finish")
			}
			if mid == nil {
				t.Fatal("no scrape during the run showed a request")
			}
			n, _ := requestsTotal(mid)
			if n <= 0 || uint64(n) >= l.Requests {
				t.Errorf("mid-run scrape counts %g requests of %d: not a scrape during the run", n, l.Requests)
			}
			for _, name := range []string{"requests_total", "latency_seconds", "generator_lag_seconds", "scheduled_requests", "scheduled_rate", "info"} {
				f := mid[live.Namespace+"_"+name]
				if f == nil || len(f.GetMetric()) == 0 || label(f.GetMetric()[0], "shard") != "1/1" {
					t.Errorf("mid-run scrape: %s missing or without shard=\"1/1\": %v", name, f)
				}
			}

			text, ctype := scrape(t, url, "application/openmetrics-text; version=1.0.0")
			if !strings.HasPrefix(ctype, "application/openmetrics-text") || !strings.HasSuffix(text, "# EOF\n") {
				t.Errorf("OpenMetrics asked for, got %q ending %q", ctype, text[max(len(text)-20, 0):])
			}
			text, _ = scrape(t, url, "")
			end := families(t, text)
			total, by := requestsTotal(end)
			o := l.Outcomes
			if uint64(total) != l.Requests || uint64(by[live.Succeeded]) != o.Succeeded ||
				uint64(by[live.ExpectedFailure]) != o.ExpectedFailures || uint64(by[live.UnexpectedFailure]) != o.UnexpectedFailures ||
				uint64(by[live.Unsent]) != o.Unsent {
				t.Errorf("metrics count %g requests %v; the report %d %+v", total, by, l.Requests, o)
			}
			var sent uint64
			for _, m := range end[live.Namespace+"_latency_seconds"].GetMetric() {
				sent += m.GetHistogram().GetSampleCount()
			}
			if sent != l.Requests-l.Correctness.PoolExhausted {
				t.Errorf("latency histogram holds %d requests, the report %d sent", sent, l.Requests-l.Correctness.PoolExhausted)
			}
			switch tt.pr.Workload {
			case Race:
				groups := map[string]uint64{}
				for _, m := range end[live.Namespace+"_race_groups_total"].GetMetric() {
					groups[label(m, "winners")] += uint64(m.GetCounter().GetValue())
				}
				want := map[string]uint64{} // the report's keys carry a policy suffix: "4-one-rotation"
				for k, v := range l.Correctness.RaceWinners {
					k, _, _ = strings.Cut(k, "-")
					want[k] += v
				}
				if len(groups) == 0 || !maps.Equal(groups, want) {
					t.Errorf("race groups by winners %v; the report %v", groups, l.Correctness.RaceWinners)
				}
				if tt.quirks == nil && l.Outcomes.ExpectedFailures == 0 {
					t.Errorf("a strict server's race left no losers: %+v", l.Outcomes)
				}
			default:
				var slots float64
				for _, m := range end[live.Namespace+"_token_pool_slots"].GetMetric() {
					slots += m.GetGauge().GetValue()
				}
				if int(slots) != l.Params.Clients {
					t.Errorf("token pool slots add up to %g, the pool has %d", slots, l.Params.Clients)
				}
			}
		})
	}
}
