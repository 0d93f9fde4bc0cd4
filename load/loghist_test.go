package load

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestLogHist_PercentilesWithinHalfAPercent(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var h logHist
	var vs []float64
	for range 100_000 {
		v := math.Exp(rng.NormFloat64()*1.5) * 2 // log-normal around 2 ms
		vs = append(vs, v)
		h.add(v)
	}
	slices.Sort(vs)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vs[int(math.Ceil(q*float64(len(vs))))-1]
		got := h.quantile(q)
		if got < exact || got > exact*histGrowth {
			t.Errorf("q%g = %v, exact %v: want within [exact, exact×%v]", q, got, exact, histGrowth)
		}
	}
	if p := h.percentiles(); p.Max != round3(vs[len(vs)-1]) {
		t.Errorf("max = %v, want %v", p.Max, vs[len(vs)-1])
	}
}

func TestLogHist_Edges(t *testing.T) {
	t.Parallel()
	var h logHist
	if got := h.percentiles(); got.P99 != 0 {
		t.Errorf("empty histogram p99 = %v", got.P99)
	}
	h.add(0)
	h.add(1e9) // beyond the last bucket
	if got := h.quantile(1); got != 1e9 {
		t.Errorf("max quantile = %v, want the exact max", got)
	}
	if got := h.quantile(0.5); got > histMinMS {
		t.Errorf("median of {0, 1e9} = %v, want the first bucket", got)
	}
}

func TestRecentSet_RemembersTwoGenerations(t *testing.T) {
	t.Parallel()
	r := newRecentSet(2)
	for _, s := range []string{"a", "b", "c"} { // "c" starts a new generation
		if r.seenBefore(s) {
			t.Fatalf("%s seen before it was added", s)
		}
	}
	if !r.seenBefore("a") || !r.seenBefore("c") {
		t.Error("a token of the last two generations was forgotten")
	}
	r.seenBefore("d")
	r.seenBefore("e") // a, b are now two generations back
	if r.seenBefore("a") {
		t.Error("a token older than two generations was remembered")
	}
}
