package load

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"tokenharness/reports"
)

// Metric is one figure a threshold can gate, read from a finished report.
// Its Name is the threshold's name in report.json and in overrides.
type Metric struct {
	Name string
	Doc  string
	// Correctness marks protocol failures (extra race winners, dead or
	// duplicate tokens): they fail a run even when the generator fell
	// behind, because lag cannot make a server issue a token twice.
	Correctness bool
	Observe     func(*reports.Load) float64
}

// Threshold is a limit on a metric: at most Limit, or at least when AtLeast.
type Threshold struct {
	Metric  Metric
	Limit   float64
	AtLeast bool
}

// Max is "metric ≤ limit"; Min is "metric ≥ limit".
func Max(m Metric, limit float64) Threshold { return Threshold{Metric: m, Limit: limit} }
func Min(m Metric, limit float64) Threshold { return Threshold{Metric: m, Limit: limit, AtLeast: true} }

// String reads like the declaration: "p99_ms <= 250".
func (t Threshold) String() string {
	op := "<="
	if t.AtLeast {
		op = ">="
	}
	return fmt.Sprintf("%s %s %g", t.Metric.Name, op, t.Limit)
}

func (t Threshold) met(observed float64) bool {
	if math.IsNaN(observed) {
		return false
	}
	if t.AtLeast {
		return observed >= t.Limit
	}
	return observed <= t.Limit
}

// The metrics profiles gate on.
var (
	P99 = Metric{Name: "p99_ms", Doc: "99th percentile latency from the intended send time, ms",
		Observe: func(l *reports.Load) float64 { return l.Latency.P99 }}
	ErrorRate = Metric{Name: "error_rate", Doc: "share of requests that failed (expected race losers excluded)",
		Observe: func(l *reports.Load) float64 { return 1 - l.SuccessRatio }}
	RaceWinners = Metric{Name: "race_winners", Correctness: true,
		Doc:     "most refreshes of one token that succeeded in any race group where the server rotated",
		Observe: func(l *reports.Load) float64 { return float64(maxRotatingWinners(l)) }}
	DeadAfterRefresh = Metric{Name: "dead_after_refresh", Correctness: true,
		Doc:     "refresh tokens returned by a successful refresh and rejected on first use",
		Observe: func(l *reports.Load) float64 { return float64(l.Correctness.DeadAfterRefresh) }}
	DuplicateAccessTokens = Metric{Name: "duplicate_access_tokens", Correctness: true,
		Doc:     "access tokens issued more than once",
		Observe: func(l *reports.Load) float64 { return float64(l.Correctness.DuplicateAccessTokens) }}
	KneeRate = Metric{Name: "knee_rate", Doc: "highest ramp rate (req/s) before p99 or errors broke their limits",
		Observe: func(l *reports.Load) float64 {
			if l.Knee == nil {
				return 0
			}
			return l.Knee.Rate
		}}
	RecoverySeconds = Metric{Name: "recovery_s", Doc: "seconds after the spike until latency was back to baseline",
		Observe: func(l *reports.Load) float64 {
			if l.Recovery == nil || !l.Recovery.Recovered {
				return math.NaN() // never recovered: fails whatever the limit
			}
			return l.Recovery.Seconds
		}}
	LatencyDrift = Metric{Name: "latency_drift_ms", Doc: "mean interval p99 of the last third of the run minus the first third, ms",
		Observe: func(l *reports.Load) float64 { a, b := thirds(l, bucketP99); return b - a }}
	ErrorGrowth = Metric{Name: "error_growth", Doc: "error rate of the last third of the run minus the first third",
		Observe: func(l *reports.Load) float64 { a, b := thirds(l, bucketErrorRate); return b - a }}
)

// Metrics lists every metric, for -list and for overrides.
func Metrics() []Metric {
	return []Metric{P99, ErrorRate, RaceWinners, DeadAfterRefresh, DuplicateAccessTokens, KneeRate, RecoverySeconds, LatencyDrift, ErrorGrowth}
}

// ParseLimits reads threshold overrides "p99_ms=100,error_rate=0.05".
func ParseLimits(s string) (map[string]float64, error) {
	out := map[string]float64{}
	known := map[string]bool{}
	var names []string
	for _, m := range Metrics() {
		known[m.Name] = true
		names = append(names, m.Name)
	}
	for _, kv := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !known[k] {
			return nil, fmt.Errorf("load: threshold %q: want name=limit with name one of %s", kv, strings.Join(names, "|"))
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("load: threshold %q: limit is not a finite number", kv)
		}
		out[k] = f
	}
	return out, nil
}

// resolve applies overrides (by metric name) to a profile's thresholds.
// Overriding a metric the profile does not declare adds it as a maximum.
func resolve(ths []Threshold, overrides map[string]float64) []Threshold {
	out := append([]Threshold(nil), ths...)
	seen := map[string]bool{}
	for i := range out {
		seen[out[i].Metric.Name] = true
		if v, ok := overrides[out[i].Metric.Name]; ok {
			out[i].Limit = v
		}
	}
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if seen[n] {
			continue
		}
		for _, m := range Metrics() {
			if m.Name == n {
				out = append(out, Max(m, overrides[n]))
			}
		}
	}
	return out
}

func limitsOf(ths []Threshold) map[string]float64 {
	out := make(map[string]float64, len(ths))
	for _, t := range ths {
		out[t.Metric.Name] = t.Limit
	}
	return out
}

// judge evaluates thresholds and sets the report's verdict: a correctness
// failure fails the run outright; otherwise a run whose generator fell
// behind is an error (its latency understates the truth, so nothing was
// judged); otherwise any broken threshold fails it.
func judge(l *reports.Load, ths []Threshold) {
	l.Thresholds = l.Thresholds[:0]
	correctnessFailed, failed := false, false
	for _, t := range ths {
		obs := t.Metric.Observe(l)
		ok := t.met(obs)
		if math.IsNaN(obs) || math.IsInf(obs, 0) {
			obs = -1 // JSON has no NaN; -1 with passed=false reads as "not measured"
		}
		l.Thresholds = append(l.Thresholds, reports.Threshold{Name: t.Metric.Name, Limit: t.Limit, Observed: round3(obs), Passed: ok})
		if !ok {
			failed = true
			correctnessFailed = correctnessFailed || t.Metric.Correctness
		}
	}
	switch {
	case l.HarnessError != "":
		l.Verdict = reports.VerdictError
	case correctnessFailed:
		l.Verdict = reports.VerdictFail
	case !l.Valid:
		l.Verdict = reports.VerdictError
	case failed:
		l.Verdict = reports.VerdictFail
	default:
		l.Verdict = reports.VerdictPass
	}
}

// ExitCode maps a load verdict to the command's exit status: 0 pass,
// 1 a threshold broke, 2 the harness could not judge.
func ExitCode(l *reports.Load) int {
	switch l.Verdict {
	case reports.VerdictPass:
		return 0
	case reports.VerdictFail:
		return 1
	}
	return 2
}

func maxRotatingWinners(l *reports.Load) int {
	// RaceWinners keys are "<winners>" for judged groups; suffixed keys
	// ("-not-rotated", "-one-rotation") are groups the policy exempts.
	best := 0
	for k := range l.Correctness.RaceWinners {
		if n, err := strconv.Atoi(k); err == nil && n > best {
			best = n
		}
	}
	return best
}

func bucketP99(b reports.Bucket, _ float64) (float64, bool) { return b.P99, b.Requested > 0 }

// bucketErrorRate is failures over scheduled requests in one interval;
// Requested is a rate, so both sides are per second of the interval.
func bucketErrorRate(b reports.Bucket, width float64) (float64, bool) {
	if b.Requested <= 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b.Errors {
		n += c
	}
	return float64(n) / (b.Requested * width), true
}

// thirds averages f over the buckets of the first and last third of the
// series (buckets where f is defined).
func thirds(l *reports.Load, f func(b reports.Bucket, width float64) (float64, bool)) (first, last float64) {
	n := len(l.Series)
	if n < 3 {
		return 0, 0
	}
	width := l.Series[1].T - l.Series[0].T
	avg := func(bs []reports.Bucket) float64 {
		var sum float64
		var k int
		for _, b := range bs {
			if v, ok := f(b, width); ok {
				sum += v
				k++
			}
		}
		if k == 0 {
			return 0
		}
		return sum / float64(k)
	}
	return avg(l.Series[:n/3]), avg(l.Series[n-n/3:])
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
