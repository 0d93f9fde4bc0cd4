package load

import (
	"math"
	"sort"
	"sync/atomic"
	"time"
)

// A Schedule says when each request of a run is due. It is the open-model
// arrival process of a profile: requests are due whether or not earlier ones
// have come back, so a slow target cannot slow the load down (load/LOAD.md §1).
//
// Knowing each request's intended send time is what lets the harness measure
// latency from that time instead of from when a worker got round to it.
type Schedule interface {
	// At returns the intended send time of hit n (counted from 0) as an
	// offset from the start of the attack; ok is false past the last hit.
	At(n uint64) (at time.Duration, ok bool)
	// Hits is the number of hits in the whole schedule.
	Hits() uint64
	// Span is the schedule's length in time.
	Span() time.Duration
}

// Segment is a stretch of a schedule whose rate moves linearly from From to
// To requests per second over Dur. From == To is a constant rate; zero is a
// pause.
type Segment struct {
	Dur      time.Duration
	From, To float64
}

// hits is the number of arrivals in the first t of the segment.
func (s Segment) hits(t time.Duration) float64 {
	x := t.Seconds()
	d := s.Dur.Seconds()
	if d <= 0 {
		return 0
	}
	return s.From*x + (s.To-s.From)*x*x/(2*d)
}

// when inverts hits: the offset at which the segment's k-th arrival (k may be
// fractional) is due.
func (s Segment) when(k float64) time.Duration {
	d := s.Dur.Seconds()
	a := (s.To - s.From) / d // acceleration, req/s²
	var x float64
	switch {
	case math.Abs(a) < 1e-12:
		x = k / s.From
	default:
		// Solve From·x + a·x²/2 = k for the root in [0, d].
		x = (-s.From + math.Sqrt(s.From*s.From+2*a*k)) / a
	}
	if x < 0 {
		x = 0
	}
	if x > d {
		x = d
	}
	return time.Duration(x * float64(time.Second))
}

// Segments is a piecewise-linear schedule: a constant rate, a ramp, a
// baseline with a spike, waves separated by pauses. Hit n is due when the
// integral of the rate reaches n, so hit 0 is due at the first instant with a
// non-zero rate.
type Segments struct {
	segs  []Segment
	start []time.Duration // offset of each segment
	cum   []float64       // arrivals before each segment
	total uint64
	span  time.Duration
}

// eps absorbs floating-point dust so that rate × duration = 100.0000001 is
// 100 hits, not 101.
const eps = 1e-6

// NewSegments builds a schedule from segments run back to back. Segments
// with a non-positive duration are ignored.
func NewSegments(segs ...Segment) *Segments {
	s := &Segments{}
	var off time.Duration
	var cum float64
	for _, g := range segs {
		if g.Dur <= 0 {
			continue
		}
		g.From, g.To = math.Max(g.From, 0), math.Max(g.To, 0)
		s.segs = append(s.segs, g)
		s.start = append(s.start, off)
		s.cum = append(s.cum, cum)
		off += g.Dur
		cum += g.hits(g.Dur)
	}
	s.span = off
	// Hit n exists when arrival n (0-based) is due inside the schedule,
	// that is n < cum, with dust removed.
	s.total = uint64(math.Ceil(cum - eps))
	if cum-eps < 0 {
		s.total = 0
	}
	return s
}

// Constant is a schedule of rate requests per second for d.
func Constant(rate float64, d time.Duration) *Segments {
	return NewSegments(Segment{Dur: d, From: rate, To: rate})
}

// Hits implements Schedule.
func (s *Segments) Hits() uint64 { return s.total }

// Span implements Schedule.
func (s *Segments) Span() time.Duration { return s.span }

// At implements Schedule.
func (s *Segments) At(n uint64) (time.Duration, bool) {
	if n >= s.total {
		return 0, false
	}
	k := float64(n)
	// Arrival k belongs to the last segment whose count starts at or
	// before k. A pause starts at the same count as the segment after it,
	// so the search passes over pauses; only float dust can land k on a
	// trailing pause, and then the arrival is the previous segment's.
	i := sort.Search(len(s.cum), func(j int) bool { return s.cum[j] > k+eps }) - 1
	for i > 0 && s.segs[i].hits(s.segs[i].Dur) <= eps {
		i--
	}
	local := k - s.cum[i]
	if local < 0 {
		local = 0
	}
	return s.start[i] + s.segs[i].when(local), true
}

// Rate is the requested rate at offset t, in requests per second.
func (s *Segments) Rate(t time.Duration) float64 {
	for i := len(s.segs) - 1; i >= 0; i-- {
		if t >= s.start[i] {
			g := s.segs[i]
			x := (t - s.start[i]).Seconds() / g.Dur.Seconds()
			if x > 1 {
				return 0
			}
			return g.From + (g.To-g.From)*x
		}
	}
	return 0
}

// Grouped turns each hit of Inner into Size hits due at the same instant:
// the concurrent refreshes of one rotation race.
type Grouped struct {
	Inner Schedule
	Size  uint64
}

// At implements Schedule.
func (g Grouped) At(n uint64) (time.Duration, bool) { return g.Inner.At(n / g.Size) }

// Hits implements Schedule.
func (g Grouped) Hits() uint64 { return g.Inner.Hits() * g.Size }

// Span implements Schedule.
func (g Grouped) Span() time.Duration { return g.Inner.Span() }

// pacer adapts a Schedule to vegeta's Pacer and remembers when the attack
// began, so results can be re-timed from their intended send time.
//
// Subtleness ahead: vegeta's attack loop calls Pace once per hit from a
// single goroutine, with the elapsed time since its own start; the first
// call lets us recover that start to within the call's own latency.
type pacer struct {
	s     Schedule
	began atomic.Pointer[time.Time]
}

func newPacer(s Schedule) *pacer { return &pacer{s: s} }

// Pace implements vegeta.Pacer.
func (p *pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if p.began.Load() == nil {
		b := time.Now().Add(-elapsed)
		p.began.CompareAndSwap(nil, &b)
	}
	at, ok := p.s.At(hits)
	if !ok {
		return 0, true
	}
	return at - elapsed, false // negative: behind schedule, send at once
}

// Rate implements vegeta.Pacer.
func (p *pacer) Rate(elapsed time.Duration) float64 {
	if r, ok := p.s.(interface{ Rate(time.Duration) float64 }); ok {
		return r.Rate(elapsed)
	}
	return 0
}

// Began is the attack's start as seen by the pacer; zero before the first
// hit was paced.
func (p *pacer) Began() time.Time {
	if b := p.began.Load(); b != nil {
		return *b
	}
	return time.Time{}
}
