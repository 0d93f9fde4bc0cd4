package load

import (
	"context"
	"strings"
	"testing"
	"time"
)

// preparedSlots mints the pool for a soak at rate against a fake server
// answering every token request after delay, with CLIENTS left to the run.
func preparedSlots(t *testing.T, rate float64, delay time.Duration) (int, string) {
	t.Helper()
	hs := newFakeAS(t, &fakeAS{rotate: true, delay: delay})
	cfg := testConfig(t, Soak, Params{Rate: rate, Duration: time.Second}, hs.URL)
	cfg.MintWorkers = 32
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pre, err := prepare(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := pre.tg.pool.Len(); got != pre.pl.Slots || pre.pl.Params.Clients != got {
		t.Fatalf("pool of %d slots, plan %d, clients %d", got, pre.pl.Slots, pre.pl.Params.Clients)
	}
	return pre.pl.Slots, pre.pl.Params.PoolSizing
}

func TestPoolSize_GrowsWithMeasuredLatency(t *testing.T) {
	t.Parallel()
	// A rate low enough that the fast target stays at the floor even with
	// -race on a loaded machine (p90 up to 80 ms).
	const rate = 400
	fast, fastWhy := preparedSlots(t, rate, 0)
	slow, slowWhy := preparedSlots(t, rate, 200*time.Millisecond)
	t.Logf("fast: %d (%s); slow: %d (%s)", fast, fastWhy, slow, slowWhy)
	// The old fixed sizing was a quarter second at the peak rate: 100.
	if fast != minPoolSlots || !strings.Contains(fastWhy, "the floor") {
		t.Errorf("fast target: %d slots (%s), want the floor %d", fast, fastWhy, minPoolSlots)
	}
	// 400 req/s × ≥ 200 ms × 2.
	if slow < 160 || slow > rate || !strings.Contains(slowWhy, "refresh p90") {
		t.Errorf("slow target (200 ms): %d slots (%s), want in [160, %d]", slow, slowWhy, rate)
	}
}

func TestPoolSize_Derivation(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	lat := []time.Duration{ms(10), ms(10), ms(10), ms(10), ms(10), ms(10), ms(10), ms(10), ms(10), ms(100)}
	for _, tc := range []struct {
		peak float64
		lat  []time.Duration
		slo  time.Duration
		want int
	}{
		{30000, lat, 0, 600}, // p90 is the 9th of 10: 10 ms; 30000 × 0.01 × 2
		{30000, []time.Duration{ms(5)}, 0, 300},
		{12800, []time.Duration{ms(1)}, ms(50), 1280}, // capacity: SLO_P99 is the least latency covered
		{12800, []time.Duration{ms(80)}, ms(50), 2048},
		{100, lat, 0, minPoolSlots},                   // 2 → the floor
		{1000, []time.Duration{time.Second}, 0, 1000}, // 2000 → one second at the peak rate
	} {
		if got, why := sizeFromLatency(tc.peak, tc.lat, tc.slo); got != tc.want {
			t.Errorf("sizeFromLatency(%g, %v) = %d (%s), want %d", tc.peak, tc.lat, got, why, tc.want)
		}
	}
}

func TestPoolSize_ClientsOverrides(t *testing.T) {
	t.Parallel()
	hs := newFakeAS(t, &fakeAS{rotate: true, delay: 30 * time.Millisecond})
	cfg := testConfig(t, Soak, Params{Rate: 1000, Duration: time.Second, Clients: 70}, hs.URL)
	pre, err := prepare(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if pre.pl.Slots != 70 || pre.pl.Measure || pre.pl.Params.PoolSizing != "" {
		t.Errorf("CLIENTS=70: %d slots, measured %v (%s)", pre.pl.Slots, pre.pl.Measure, pre.pl.Params.PoolSizing)
	}
}
