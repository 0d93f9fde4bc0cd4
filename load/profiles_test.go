package load

import (
	"strings"
	"testing"
	"time"

	"tokenharness/reports"
)

// series builds one-second intervals with the given requested rates, p99s
// and error counts.
func series(rates, p99s []float64, errs []uint64) []reports.Bucket {
	out := make([]reports.Bucket, len(rates))
	for i := range rates {
		out[i] = reports.Bucket{T: float64(i), Requested: rates[i], Rate: rates[i], P99: p99s[i]}
		if errs != nil && errs[i] > 0 {
			out[i].Errors = map[string]uint64{Class5xx: errs[i]}
		}
	}
	return out
}

func TestFindKnee(t *testing.T) {
	t.Parallel()
	limits := map[string]float64{P99.Name: 100, ErrorRate.Name: 0.01}
	tests := []struct {
		name       string
		series     []reports.Bucket
		wantRate   float64
		wantReason string
	}{
		{"latency breaks twice", series([]float64{100, 200, 300, 400, 500}, []float64{5, 8, 150, 300, 400}, nil), 200, "p99 150.0 ms > 100 ms at 300 req/s"},
		{"one bad interval is noise", series([]float64{100, 200, 300, 400, 500}, []float64{5, 150, 8, 9, 10}, nil), 500, "no limit broke up to 500"},
		{"errors break", series([]float64{100, 200, 300, 400}, []float64{5, 5, 5, 5}, []uint64{0, 0, 30, 40}), 200, "error rate 0.100 > 0.01"},
		{"broken from the start", series([]float64{100, 200}, []float64{500, 500}, nil), 0, "p99"},
		{"errors exactly at the limit do not break", series([]float64{100, 200, 300, 400}, []float64{5, 5, 5, 5}, []uint64{1, 2, 3, 4}), 400, "no limit broke"},
	}
	for _, tt := range tests {
		l := &reports.Load{Series: tt.series}
		findKnee(l, Params{}, limits)
		if l.Knee == nil || l.Knee.Rate != tt.wantRate || !strings.Contains(l.Knee.Reason, tt.wantReason) {
			t.Errorf("%s: knee %+v, want rate %v reason containing %q", tt.name, l.Knee, tt.wantRate, tt.wantReason)
		}
	}
}

func TestFindRecovery(t *testing.T) {
	t.Parallel()
	p := Params{SpikeAt: 3 * time.Second, SpikeFor: 2 * time.Second, Duration: 10 * time.Second}
	rates := []float64{100, 100, 100, 900, 900, 100, 100, 100, 100, 100}
	tests := []struct {
		name      string
		p99s      []float64
		recovered bool
		seconds   float64
	}{
		{"back at once", []float64{2, 2, 2, 40, 40, 3, 2, 2, 2, 2}, true, 0},
		{"two seconds late", []float64{2, 2, 2, 40, 40, 30, 20, 2, 2, 2}, true, 2},
		{"never", []float64{2, 2, 2, 40, 40, 30, 30, 30, 30, 30}, false, 5},
		{"as slow as a baseline window is back", []float64{2, 12, 2, 40, 40, 12, 2, 2, 2, 2}, true, 0},
		{"slower than every baseline window is not", []float64{2, 12, 2, 40, 40, 13, 2, 2, 2, 2}, true, 1},
	}
	for _, tt := range tests {
		l := &reports.Load{Series: series(rates, tt.p99s, nil)}
		findRecovery(l, p, nil)
		if l.Recovery == nil || l.Recovery.Recovered != tt.recovered || l.Recovery.Seconds != tt.seconds {
			t.Errorf("%s: recovery %+v, want recovered %v after %vs", tt.name, l.Recovery, tt.recovered, tt.seconds)
		}
	}
}
