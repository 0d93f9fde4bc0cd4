package load

import (
	"math"
	"testing"
	"time"
)

func TestSegments_HitsAndTimes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		s        Schedule
		wantHits uint64
		// checks: hit n due at want (±1µs)
		at map[uint64]time.Duration
	}{
		{"constant", Constant(100, time.Second), 100,
			map[uint64]time.Duration{0: 0, 1: 10 * time.Millisecond, 99: 990 * time.Millisecond}},
		{"constant, rate × duration not whole", Constant(150, 100*time.Millisecond), 15, nil},
		{"ramp 0→200 over 1s: 100 hits, hit k at sqrt(k/100) s", NewSegments(Segment{Dur: time.Second, From: 0, To: 200}), 100,
			map[uint64]time.Duration{0: 0, 25: 500 * time.Millisecond, 64: 800 * time.Millisecond}},
		{"waves with pauses", NewSegments(
			Segment{Dur: 100 * time.Millisecond, From: 100, To: 100}, Segment{Dur: 900 * time.Millisecond},
			Segment{Dur: 100 * time.Millisecond, From: 100, To: 100}, Segment{Dur: 900 * time.Millisecond}), 20,
			map[uint64]time.Duration{9: 90 * time.Millisecond, 10: time.Second, 19: 1090 * time.Millisecond}},
		{"baseline, spike, baseline", NewSegments(
			Segment{Dur: time.Second, From: 10, To: 10}, Segment{Dur: time.Second, From: 100, To: 100},
			Segment{Dur: time.Second, From: 10, To: 10}), 120,
			map[uint64]time.Duration{10: time.Second, 110: 2 * time.Second}},
		{"groups of four", Grouped{Inner: Constant(10, time.Second), Size: 4}, 40,
			map[uint64]time.Duration{0: 0, 3: 0, 4: 100 * time.Millisecond, 39: 900 * time.Millisecond}},
		{"nothing", Constant(0, time.Second), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.s.Hits(); got != tt.wantHits {
				t.Fatalf("Hits() = %d, want %d", got, tt.wantHits)
			}
			if _, ok := tt.s.At(tt.wantHits); ok {
				t.Errorf("At(%d) is past the end but ok", tt.wantHits)
			}
			prev := time.Duration(-1)
			for n := range tt.s.Hits() {
				at, ok := tt.s.At(n)
				if !ok || at < prev || at > tt.s.Span() {
					t.Fatalf("At(%d) = %v, %v after %v: want ok, non-decreasing, within %v", n, at, ok, prev, tt.s.Span())
				}
				prev = at
			}
			for n, want := range tt.at {
				if got, _ := tt.s.At(n); math.Abs(float64(got-want)) > float64(time.Microsecond) {
					t.Errorf("At(%d) = %v, want %v", n, got, want)
				}
			}
		})
	}
}

func TestProfiles_PacersScheduleTheirDefaults(t *testing.T) {
	t.Parallel()
	for _, pr := range Profiles() {
		p := pr.Defaults
		if pr.Derive != nil {
			p = pr.Derive(p)
		}
		s := pr.Pacer(p)
		if s.Hits() == 0 || s.Span() != p.Duration {
			t.Errorf("%s: %d hits over %v; want some over %v", pr.Name, s.Hits(), s.Span(), p.Duration)
		}
		// The default run must stay short (≤ ~20 s) and bounded.
		if p.Duration > 20*time.Second {
			t.Errorf("%s: default duration %v is over 20s", pr.Name, p.Duration)
		}
	}
	// A herd of 500 at 2000 req/s every 2 s for 10 s: five waves of 500.
	p := Herd.Defaults
	s := Herd.Pacer(p)
	if s.Hits() != 2500 {
		t.Errorf("herd hits = %d, want 2500", s.Hits())
	}
	if at, _ := s.At(500); at != 2*time.Second {
		t.Errorf("second wave starts at %v, want 2s", at)
	}
}

func TestPacer_FollowsTheSchedule(t *testing.T) {
	t.Parallel()
	p := newPacer(Constant(10, time.Second))
	if wait, stop := p.Pace(0, 0); wait != 0 || stop {
		t.Errorf("Pace(0, 0) = %v, %v; want 0, false", wait, stop)
	}
	if wait, _ := p.Pace(50*time.Millisecond, 1); wait != 50*time.Millisecond {
		t.Errorf("Pace(50ms, 1) = %v, want 50ms", wait)
	}
	if wait, _ := p.Pace(300*time.Millisecond, 2); wait >= 0 {
		t.Errorf("Pace behind schedule = %v, want negative (send at once)", wait)
	}
	if _, stop := p.Pace(time.Second, 10); !stop {
		t.Error("Pace past the last hit does not stop")
	}
	if p.Began().IsZero() {
		t.Error("Began not recorded")
	}
	if r := p.Rate(0); r != 10 {
		t.Errorf("Rate = %v, want 10", r)
	}
}
