package mockserver

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"tokenharness/internal/rules"
)

// TestRefreshStormLosesNoUpdates: many token families refreshing at once
// under rotation. Every refresh token the server issued must be redeemable
// exactly once (no lost rotation, no double spend), and reusing a spent one
// must revoke its family.
func TestRefreshStormLosesNoUpdates(t *testing.T) {
	t.Parallel()
	const families, steps = 64, 20
	h := newHarness(t, rules.OAuth21)
	chains := make([][]string, families)
	for i := range chains {
		chains[i] = []string{h.tokens(codeOpts{}).str("refresh_token")}
	}
	var wg sync.WaitGroup
	errs := make(chan error, families)
	for i := range chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := 0; s < steps; s++ {
				rt := chains[i][len(chains[i])-1]
				r := h.refresh(rt)
				next := r.str("refresh_token")
				if r.status != 200 || next == "" || next == rt {
					errs <- fmt.Errorf("family %d step %d: %s", i, s, r.summary())
					return
				}
				chains[i] = append(chains[i], next)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	// Each spent token is now refused; the first reuse revoked the family,
	// so the family's live token is refused too.
	for i, chain := range chains {
		if r := h.refresh(chain[len(chain)/2]); r.errCode() != "invalid_grant" {
			t.Fatalf("family %d: reusing a spent token: %s", i, r.summary())
		}
		if r := h.refresh(chain[len(chain)-1]); r.errCode() != "invalid_grant" {
			t.Fatalf("family %d: live token after reuse: %s, want the family revoked", i, r.summary())
		}
	}
}

// BenchmarkSoak_MemoryAfterExpiry drives a refresh storm, lets every token
// expire and sweeps: the store must return to empty and the heap to its
// starting size, so a long-running mock's memory is bounded by its live
// tokens. Reports live entries and heap growth per 1000 families.
func BenchmarkSoak_MemoryAfterExpiry(b *testing.B) {
	const families, steps = 1000, 5
	h := newHarness(b, rules.OAuth21)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	var peak Stats
	for i := 0; i < b.N; i++ {
		for f := 0; f < families; f++ {
			rt := h.tokens(codeOpts{}).str("refresh_token")
			for s := 0; s < steps; s++ {
				rt = h.refresh(rt).str("refresh_token")
			}
		}
		peak = h.srv.Stats()
		h.clock.Advance(31 * 24 * time.Hour) // past every lifetime in the fixture
		h.srv.Sweep()
	}
	after := heap()
	left := h.srv.Stats()
	if left.Codes+left.RefreshTokens+left.Families != 0 {
		b.Fatalf("after expiry and a sweep the store still holds %+v", left)
	}
	b.ReportMetric(float64(peak.RefreshTokens), "peak_refresh_tokens")
	b.ReportMetric(float64(left.RefreshTokens+left.Codes+left.Families), "entries_after_sweep")
	b.ReportMetric(float64(int64(after)-int64(before))/1024, "heap_growth_KiB")
}

// TestConcurrentRefreshWithAMovingClock: a refresh that read the clock
// before a concurrent one rotated the token must not pass as a retry
// "within" a zero grace period. A fixed fake clock hides this; a clock that
// ticks on every read exposes it whenever a loser reads before the winner.
func TestConcurrentRefreshWithAMovingClock(t *testing.T) {
	t.Parallel()
	cfg, err := loadTest(rules.OAuth21, "")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tick := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		tick = tick.Add(time.Millisecond)
		now := tick
		mu.Unlock()
		// Yield after reading, so other refreshes read the clock before
		// this one goes on: the interleaving that exposed the bug.
		runtime.Gosched()
		return now
	}
	h := newHarnessCfg(t, cfg, WithClock(clock))
	for round := 0; round < 50; round++ {
		rt := h.tokens(codeOpts{}).str("refresh_token")
		if got, want := race(h, 8, func() *result { return h.refresh(rt) }), "1 of 8 won"; got != want {
			t.Fatalf("round %d: %s, want %s", round, got, want)
		}
	}
}
