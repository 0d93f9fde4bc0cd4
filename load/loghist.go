package load

import (
	"math"

	"tokenharness/reports"
)

// logHist is a latency histogram with logarithmic buckets, in the manner of
// HdrHistogram (wrk2, load/LOAD.md §10): each bucket is 0.5% wider than the last,
// so any percentile is within 0.5% of the true value, memory stays fixed
// however long a soak runs, and histograms of shards add up exactly —
// unlike vegeta's t-digest (load/LOAD.md §4). Max and mean are exact.
type logHist struct {
	counts []uint64 // allocated on first use
	n      uint64
	sum    float64
	max    float64
}

const (
	histMinMS  = 0.001 // 1 µs: everything faster shares the first bucket
	histGrowth = 1.005
	histMaxMS  = 3_600_000 // an hour: everything slower shares the last bucket
)

var (
	histLogGrowth = math.Log(histGrowth)
	histBuckets   = int(math.Ceil(math.Log(histMaxMS/histMinMS)/histLogGrowth)) + 1
)

func histIndex(v float64) int {
	if v <= histMinMS {
		return 0
	}
	i := int(math.Ceil(math.Log(v/histMinMS) / histLogGrowth))
	return min(i, histBuckets-1)
}

// histUpper is bucket i's upper bound: a percentile reports the bound of
// the bucket it falls in, never less than the truth.
func histUpper(i int) float64 { return histMinMS * math.Pow(histGrowth, float64(i)) }

func (h *logHist) add(v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, histBuckets)
	}
	h.counts[histIndex(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

// quantile is the nearest-rank q-quantile, capped at the exact maximum.
func (h *logHist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			if i == histBuckets-1 {
				return h.max // the overflow bucket has no upper bound
			}
			return math.Min(histUpper(i), h.max)
		}
	}
	return h.max
}

func (h *logHist) percentiles() reports.Percentiles {
	if h.n == 0 {
		return reports.Percentiles{}
	}
	return reports.Percentiles{P50: round3(h.quantile(0.50)), P90: round3(h.quantile(0.90)), P95: round3(h.quantile(0.95)),
		P99: round3(h.quantile(0.99)), Max: round3(h.max), Mean: round3(h.sum / float64(h.n))}
}
