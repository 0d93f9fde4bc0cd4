package load

import (
	"fmt"
	"math"
	"slices"
	"time"

	"tokenharness/reports"
)

// Shared defaults: every profile's defaults keep a run against the bundled
// mock under about 20 s, pool minting included.
const (
	defaultWorkers = 128
	defaultTimeout = 5 * time.Second
)

// The profiles. Each is one value; Profiles lists them. There is no init():
// adding a profile is declaring it here and adding it to Profiles.
var (
	Herd = Profile{
		Name: "herd",
		Doc: "CLIENTS clients whose access tokens expire at the same instant all refresh within one short window " +
			"(a thundering herd), at the open-model arrival rate RATE; the herd comes back every EVERY (the " +
			"access-token lifetime) with the refresh tokens the last wave rotated. Catches latency collapse " +
			"under a burst and rotated tokens that do not work.",
		Workload: Refresh,
		Defaults: Params{Rate: 2000, Duration: 10 * time.Second, Workers: defaultWorkers, Clients: 500,
			Timeout: defaultTimeout, Every: 2 * time.Second},
		Pacer: func(p Params) Schedule {
			window := time.Duration(float64(p.Clients) / p.Rate * float64(time.Second))
			every := p.Every
			if every <= 0 {
				every = p.Duration // one wave
			}
			var segs []Segment
			for at := time.Duration(0); at < p.Duration; at += every {
				w := min(window, every, p.Duration-at)
				segs = append(segs, Segment{Dur: w, From: p.Rate, To: p.Rate},
					Segment{Dur: min(every, p.Duration-at) - w})
			}
			return NewSegments(segs...)
		},
		Thresholds: []Threshold{Max(P99, 250), Max(ErrorRate, 0.01), Max(DeadAfterRefresh, 0), Max(DuplicateAccessTokens, 0)},
	}

	Ramp = Profile{
		Name: "ramp",
		Doc: "a linearly rising arrival rate from START_RATE to RATE over DURATION, stopped once p99 latency or the " +
			"error rate has broken its limit for two seconds; reports the knee, the highest rate before that " +
			"(two intervals in a row over a limit). Gates on the knee being at least knee_rate.",
		Workload: Refresh,
		Defaults: Params{Rate: 2000, StartRate: 50, Duration: 15 * time.Second, Workers: defaultWorkers, Timeout: defaultTimeout},
		Pacer: func(p Params) Schedule {
			return NewSegments(Segment{Dur: p.Duration, From: p.StartRate, To: p.Rate})
		},
		Thresholds: []Threshold{Min(KneeRate, 100).Headline(), Max(P99, 100), Max(ErrorRate, 0.01), Max(DeadAfterRefresh, 0), Max(DuplicateAccessTokens, 0)},
		StopAtKnee: true,
		Finish:     findKnee,
	}

	RotationRace = Profile{
		Name: "rotation-race",
		Doc: "groups of GROUP_SIZE concurrent refreshes with the same refresh token, at RATE requests/s; counts the " +
			"winners of each group. Against a rotating server more than one winner is a correctness failure " +
			"(RFC 9700 §4.14.2); the losers' invalid_grant is expected and not counted as an error. Each group " +
			"spends its own freshly minted token. RACE_POLICY=grace accepts several winners that all received the " +
			"same new refresh token (one rotation answered twice, as servers with a reuse grace period do).",
		Workload: Race,
		Defaults: Params{Rate: 400, GroupSize: 4, RacePolicy: RaceStrict, Duration: 5 * time.Second, Workers: defaultWorkers, Timeout: defaultTimeout},
		Pacer: func(p Params) Schedule {
			return Grouped{Inner: Constant(p.Rate/float64(p.GroupSize), p.Duration), Size: uint64(p.GroupSize)}
		},
		Thresholds: []Threshold{Max(RaceWinners, 1).Headline(), Max(ErrorRate, 0.01), Max(DuplicateAccessTokens, 0)},
	}

	Spike = Profile{
		Name: "spike",
		Doc: "a steady baseline at RATE, a sudden burst at SPIKE_RATE from SPIKE_AT for SPIKE_FOR, then the baseline " +
			"again; reports how long latency took to come back to the baseline's (recovery_s). SPIKE_AT and " +
			"SPIKE_FOR default to a third and a sixth of DURATION.",
		Workload: Refresh,
		Defaults: Params{Rate: 200, SpikeRate: 2000, Duration: 12 * time.Second, Workers: defaultWorkers, Timeout: defaultTimeout},
		Derive: func(p Params) Params {
			if p.SpikeAt == 0 {
				p.SpikeAt = p.Duration / 3
			}
			if p.SpikeFor == 0 {
				p.SpikeFor = p.Duration / 6
			}
			return p
		},
		Pacer: func(p Params) Schedule {
			at := min(p.SpikeAt, p.Duration)
			burst := min(p.SpikeFor, p.Duration-at)
			return NewSegments(
				Segment{Dur: at, From: p.Rate, To: p.Rate},
				Segment{Dur: burst, From: p.SpikeRate, To: p.SpikeRate},
				Segment{Dur: p.Duration - at - burst, From: p.Rate, To: p.Rate})
		},
		Thresholds: []Threshold{Max(P99, 250), Max(ErrorRate, 0.01), Max(RecoverySeconds, 2).Headline(), Max(DeadAfterRefresh, 0), Max(DuplicateAccessTokens, 0)},
		Finish:     findRecovery,
	}

	Soak = Profile{
		Name: "soak",
		Doc: "a long steady rate that watches for drift: the last third's interval p99 against the first third's " +
			"(latency_drift_ms) and the error rate's growth (error_growth). Run it for hours with DURATION; the " +
			"default is a 20 s smoke run.",
		Workload: Refresh,
		Defaults: Params{Rate: 300, Duration: 20 * time.Second, Workers: defaultWorkers, Timeout: defaultTimeout},
		Pacer:    func(p Params) Schedule { return Constant(p.Rate, p.Duration) },
		Thresholds: []Threshold{Max(P99, 100), Max(ErrorRate, 0.01), Max(LatencyDrift, 50).Headline(), Max(ErrorGrowth, 0.01).Headline(),
			Max(DeadAfterRefresh, 0), Max(DuplicateAccessTokens, 0)},
	}

	MixedTraffic = Profile{
		Name: "mixed",
		Doc: "code exchanges (logins) and refreshes in a realistic ratio: one request in CODE_EVERY redeems a fresh " +
			"authorization code, the rest refresh pooled tokens. Sessions refresh many times per login, so " +
			"refreshes dominate.",
		Workload:   Mixed,
		Defaults:   Params{Rate: 300, CodeEvery: 10, Duration: 10 * time.Second, Workers: defaultWorkers, Timeout: defaultTimeout},
		Pacer:      func(p Params) Schedule { return Constant(p.Rate, p.Duration) },
		Thresholds: []Threshold{Max(P99, 250), Max(ErrorRate, 0.01), Max(DeadAfterRefresh, 0), Max(DuplicateAccessTokens, 0)},
	}
)

// Profiles is the registry, in the order -list shows them.
func Profiles() []Profile {
	return []Profile{Herd, Ramp, RotationRace, Spike, Soak, MixedTraffic, Capacity, M2M}
}

// minBucketRequests keeps near-empty intervals (the very start of a ramp)
// from deciding a knee or a recovery on one or two samples.
const minBucketRequests = 5

// window is one or more consecutive series intervals holding at least
// minBucketRequests requests. Its p99 is the highest of its intervals' (an
// upper bound: interval percentiles cannot be combined exactly).
type window struct {
	t, end    float64 // seconds since start
	requested float64 // mean requested rate, req/s
	p99       float64
	// n and errors are counts: a bucket's requested rate times its width
	// is its whole number of scheduled requests.
	n, errors uint64
}

func (w window) errRate() float64 { return float64(w.errors) / float64(w.n) }

// windows groups a series into windows of at least minBucketRequests
// requests; a short tail joins the last window.
func windows(series []reports.Bucket) []window {
	width := 1.0
	if len(series) >= 2 {
		width = series[1].T - series[0].T
	}
	var out []window
	var cur window
	k := 0
	for _, b := range series {
		if k == 0 {
			cur = window{t: b.T}
		}
		k++
		cur.end = b.T + width
		cur.requested += b.Requested
		cur.p99 = math.Max(cur.p99, b.P99)
		cur.n += uint64(math.Round(b.Requested * width))
		for _, c := range b.Errors {
			cur.errors += c
		}
		if cur.n >= minBucketRequests {
			cur.requested /= float64(k)
			out = append(out, cur)
			k = 0
		}
	}
	if k > 0 && cur.n > 0 {
		cur.requested /= float64(k)
		if len(out) > 0 {
			last := &out[len(out)-1]
			last.end, last.p99, last.n, last.errors = cur.end, math.Max(last.p99, cur.p99), last.n+cur.n, last.errors+cur.errors
		} else {
			out = append(out, cur)
		}
	}
	return out
}

// findKnee walks the ramp's windows in order: the knee is the requested
// rate of the last window before two in a row broke the p99 or error-rate
// limit. A ramp that never broke reports its top rate.
func findKnee(l *reports.Load, p Params, limits map[string]float64) {
	p99Limit, errLimit := math.Inf(1), 1.0
	if v, ok := limits[P99.Name]; ok {
		p99Limit = v
	}
	if v, ok := limits[ErrorRate.Name]; ok {
		errLimit = v
	}
	knee := reports.Knee{}
	broken := 0
	for _, w := range windows(l.Series) {
		var why string
		switch {
		case w.p99 > p99Limit:
			why = fmt.Sprintf("p99 %.1f ms > %g ms", w.p99, p99Limit)
		case ratioOver(w.errors, w.n, errLimit):
			why = fmt.Sprintf("error rate %.3f > %g", w.errRate(), errLimit)
		}
		if why == "" {
			broken = 0
			knee.Rate = round3(w.requested)
			continue
		}
		if broken++; broken == 1 {
			knee.Reason = fmt.Sprintf("%s at %.0f req/s (t=%.1fs)", why, w.requested, w.t)
		}
		if broken == 2 {
			l.Knee = &knee
			return
		}
	}
	knee.Reason = fmt.Sprintf("no limit broke up to %.0f req/s", knee.Rate)
	l.Knee = &knee
}

// findRecovery measures the spike's recovery: from the end of the burst to
// the first window without failures whose p99 is back within the band the
// baseline itself spanned: its worst window, twice its median, or its
// median plus 5 ms for sub-millisecond baselines, whichever is widest. A
// window as slow as one the quiet baseline already had is not the spike's
// doing, so it does not delay recovery.
func findRecovery(l *reports.Load, p Params, _ map[string]float64) {
	at, end := p.SpikeAt.Seconds(), (p.SpikeAt + p.SpikeFor).Seconds()
	ws := windows(l.Series)
	var base []float64
	for _, w := range ws {
		if w.end <= at {
			base = append(base, w.p99)
		}
	}
	rec := &reports.Recovery{}
	l.Recovery = rec
	if len(base) == 0 {
		rec.Reason = fmt.Sprintf("no interval before the spike at %gs to take a baseline latency from", at)
		return
	}
	baseP99 := median(base)
	limit := math.Max(slices.Max(base), math.Max(2*baseP99, baseP99+5))
	for _, w := range ws {
		if w.t < end {
			continue
		}
		if w.p99 <= limit && w.errors == 0 {
			rec.Recovered = true
			rec.Seconds = round3(w.t - end)
			return
		}
	}
	rec.Seconds = round3(math.Max(0, p.Duration.Seconds()-end))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
