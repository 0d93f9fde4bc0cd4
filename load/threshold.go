package load

import (
	"fmt"
	"math"
	"math/big"
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
	// Profiles names the profiles whose runs produce this figure; nil is
	// every profile. A limit on it for another profile is refused before
	// anything is sent (CheckLimits): knee_rate on a herd would be judged
	// on a knee nobody measured.
	Profiles []string
	// Observe reads the figure from a finished report, exactly, or says
	// why the run gave nothing to judge.
	Observe func(*reports.Load) Observation
}

// AppliesTo reports whether runs of profile produce the metric.
func (m Metric) AppliesTo(profile string) bool {
	if m.Profiles == nil {
		return true
	}
	for _, p := range m.Profiles {
		if p == profile {
			return true
		}
	}
	return false
}

// Observation is what a run showed about one metric.
type Observation struct {
	// Value is exact: counts and ratios of counts are rationals; figures
	// the report shows as decimals (latencies, rates) are those decimals,
	// so the comparison judges what the reader sees. Nil when the run gave
	// nothing to judge (Status says which).
	Value *big.Rat
	// LowerBound marks Value as only a bound: the true figure is above it
	// (a spike not recovered by the end of the run).
	LowerBound bool
	// UpperBound marks Value as only a bound the true figure is below (a
	// capacity search whose first step broke its SLO).
	UpperBound bool
	// Status is empty when Value is set, else reports.StatusNotApplicable
	// or reports.StatusInconclusive.
	Status reports.Status
	// Reason is the evidence: the counts behind Value, or why there is none.
	Reason string
}

func observed(v *big.Rat, format string, args ...any) Observation {
	return Observation{Value: v, Reason: fmt.Sprintf(format, args...)}
}

func notApplicable(format string, args ...any) Observation {
	return Observation{Status: reports.StatusNotApplicable, Reason: fmt.Sprintf(format, args...)}
}

func inconclusive(format string, args ...any) Observation {
	return Observation{Status: reports.StatusInconclusive, Reason: fmt.Sprintf(format, args...)}
}

func count(n uint64) *big.Rat { return new(big.Rat).SetUint64(n) }

// frac is num/den exactly; den is not zero.
func frac(num, den uint64) *big.Rat {
	return new(big.Rat).SetFrac(new(big.Int).SetUint64(num), new(big.Int).SetUint64(den))
}

// exactDecimal is the decimal a float64 prints as (its shortest
// round-tripping form), as an exact rational: the 0.01 a profile declares
// or a report shows, not the binary fraction nearest to it.
func exactDecimal(f float64) *big.Rat {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok {
		panic(fmt.Sprintf("load: %v has no decimal form", f)) // NaN and ±Inf never reach here
	}
	return r
}

// ratioOver reports whether num/den is above limit, exactly (the ramp's
// error-rate limit, judged per window the way error_rate is judged).
func ratioOver(num, den uint64, limit float64) bool {
	return den > 0 && frac(num, den).Cmp(exactDecimal(limit)) > 0
}

// Threshold is a limit on a metric: at most Limit, or at least when AtLeast.
// Limit is compared as the exact decimal it prints as (see exactDecimal).
type Threshold struct {
	Metric  Metric
	Limit   float64
	AtLeast bool
	// Required marks a threshold the run was asked for: the profile's
	// headline check, or a limit the user set. A run that cannot judge it
	// is inconclusive, not passed.
	Required bool
}

// Max is "metric ≤ limit"; Min is "metric ≥ limit".
func Max(m Metric, limit float64) Threshold { return Threshold{Metric: m, Limit: limit} }
func Min(m Metric, limit float64) Threshold { return Threshold{Metric: m, Limit: limit, AtLeast: true} }

// Headline marks t as the check the profile exists for (Required).
func (t Threshold) Headline() Threshold { t.Required = true; return t }

func (t Threshold) op() string {
	if t.AtLeast {
		return ">="
	}
	return "<="
}

// String reads like the declaration: "p99_ms <= 250".
func (t Threshold) String() string { return fmt.Sprintf("%s %s %g", t.Metric.Name, t.op(), t.Limit) }

// judgeObservation compares o with the limit exactly. A lower bound proves
// a maximum broken once it reaches it, and a minimum met; otherwise it
// proves nothing.
func (t Threshold) judgeObservation(o Observation) reports.Status {
	if o.Value == nil {
		return o.Status
	}
	c := o.Value.Cmp(exactDecimal(t.Limit))
	switch {
	case o.LowerBound && !t.AtLeast && c >= 0:
		return reports.StatusFailed
	case o.LowerBound && t.AtLeast && c >= 0:
		return reports.StatusPassed
	case o.LowerBound:
		return reports.StatusInconclusive
	case o.UpperBound && t.AtLeast && c <= 0:
		return reports.StatusFailed
	case o.UpperBound && !t.AtLeast && c <= 0:
		return reports.StatusPassed
	case o.UpperBound:
		return reports.StatusInconclusive
	case t.AtLeast && c >= 0, !t.AtLeast && c <= 0:
		return reports.StatusPassed
	}
	return reports.StatusFailed
}

// The metrics profiles gate on.
var (
	P99 = Metric{Name: "p99_ms", Doc: "99th percentile latency from the intended send time, ms",
		Observe: func(l *reports.Load) Observation {
			if sent(l) == 0 {
				return inconclusive("no request was sent")
			}
			return observed(exactDecimal(l.Latency.P99), "over %d requests sent", sent(l))
		}}
	ErrorRate = Metric{Name: "error_rate", Doc: "share of requests sent that failed unexpectedly (expected race losers excluded)",
		Observe: func(l *reports.Load) Observation {
			o := l.Outcomes
			if l.Requests == 0 {
				return inconclusive("no request was scheduled")
			}
			n := sent(l)
			if n == 0 {
				return inconclusive("no request was sent")
			}
			why := fmt.Sprintf("%d of %d requests sent failed unexpectedly", o.UnexpectedFailures, n)
			if o.ExpectedFailures > 0 {
				why += fmt.Sprintf("; %d expected failures (race losers) are not counted", o.ExpectedFailures)
			}
			if u := l.Requests - n; u > 0 {
				why += fmt.Sprintf("; %d scheduled requests were never sent (the token pool was empty)", u)
			}
			return observed(frac(o.UnexpectedFailures, n), "%s", why)
		}}
	RaceWinners = Metric{Name: "race_winners", Correctness: true, Profiles: []string{"rotation-race"},
		Doc:     "most refreshes of one token that succeeded in any race group where the server rotated",
		Observe: observeRaceWinners}
	DeadAfterRefresh = Metric{Name: "dead_after_refresh", Correctness: true,
		Profiles: []string{"herd", "ramp", "spike", "soak", "mixed", "capacity"}, // the workloads that spend rotated tokens again
		Doc:      "refresh tokens returned by a successful refresh and rejected on first use",
		Observe: func(l *reports.Load) Observation {
			c := l.Correctness
			if c.RefreshesRotated == 0 {
				if n := c.RefreshesSameToken + c.RefreshesNoNewToken; n > 0 {
					return notApplicable("the server did not rotate: none of %d successful refreshes returned a new refresh token "+
						"(%d returned none, %d the same one), so no rotated token could be rejected", n, c.RefreshesNoNewToken, c.RefreshesSameToken)
				}
				return inconclusive("no refresh succeeded, so no rotated token was spent")
			}
			if c.RotatedTokensSpent == 0 {
				return inconclusive("the server rotated %d refresh tokens but the run spent none of them again (too short for a second use: raise DURATION)",
					c.RefreshesRotated)
			}
			return observed(count(c.DeadAfterRefresh), "%d of %d rotated refresh tokens rejected on first use", c.DeadAfterRefresh, c.RotatedTokensSpent)
		}}
	DuplicateAccessTokens = Metric{Name: "duplicate_access_tokens", Correctness: true,
		Doc: "access tokens issued more than once",
		Observe: func(l *reports.Load) Observation {
			if l.Outcomes.Succeeded == 0 {
				return inconclusive("no access token was issued")
			}
			return observed(count(l.Correctness.DuplicateAccessTokens), "%d repeats among %d access tokens issued", l.Correctness.DuplicateAccessTokens, l.Outcomes.Succeeded)
		}}
	KneeRate = Metric{Name: "knee_rate", Profiles: []string{"ramp"},
		Doc: "highest ramp rate (req/s) before p99 or errors broke their limits",
		Observe: func(l *reports.Load) Observation {
			if l.Knee == nil {
				return inconclusive("the ramp reported no knee")
			}
			return observed(exactDecimal(l.Knee.Rate), "%s", l.Knee.Reason)
		}}
	RecoverySeconds = Metric{Name: "recovery_s", Profiles: []string{"spike"},
		Doc: "seconds after the spike until latency was back to baseline",
		Observe: func(l *reports.Load) Observation {
			r := l.Recovery
			switch {
			case r == nil:
				return inconclusive("the spike reported no recovery")
			case r.Reason != "":
				return inconclusive("%s", r.Reason)
			case !r.Recovered:
				// Only a bound: it broke a limit the run outlasted, and
				// proves nothing about a longer one.
				return Observation{Value: exactDecimal(r.Seconds), LowerBound: true,
					Reason: fmt.Sprintf("latency was not back to baseline when the run ended, %g s after the spike", r.Seconds)}
			}
			return observed(exactDecimal(r.Seconds), "back to baseline latency")
		}}
	LatencyDrift = Metric{Name: "latency_drift_ms", Profiles: steadyProfiles,
		Doc: "mean interval p99 of the last third of the run minus the first third, ms",
		Observe: func(l *reports.Load) Observation {
			a, b, ok := thirds(l, bucketP99)
			if !ok {
				return inconclusive("the run has too few intervals with requests to compare its first and last thirds")
			}
			return observed(exactDecimal(round3(b-a)), "first third %.3f ms, last third %.3f ms", a, b)
		}}
	ErrorGrowth = Metric{Name: "error_growth", Profiles: steadyProfiles,
		Doc:     "error rate of the last third of the run minus the first third",
		Observe: observeErrorGrowth}
)

// steadyProfiles keep one rate for the whole run, so the first and last
// thirds of it can be compared; a ramp, spike or herd changes its rate on
// purpose.
var steadyProfiles = []string{"soak", "mixed", "rotation-race", "m2m"}

// Metrics lists every metric, for -list and for overrides.
func Metrics() []Metric {
	return []Metric{P99, ErrorRate, RaceWinners, DeadAfterRefresh, DuplicateAccessTokens, KneeRate, RecoverySeconds, LatencyDrift, ErrorGrowth, CapacityRate, DPoPUnbound}
}

// metricByName finds a metric by its name.
func metricByName(name string) (Metric, bool) {
	for _, m := range Metrics() {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// ParseLimits reads threshold overrides "p99_ms=100,error_rate=0.05". A
// limit must be a decimal a float64 carries exactly in its shortest form
// (at most 15 significant digits), so that the report's limit is the one
// the user wrote and comparisons at it are exact.
func ParseLimits(s string) (map[string]float64, error) {
	out := map[string]float64{}
	var names []string
	for _, m := range Metrics() {
		names = append(names, m.Name)
	}
	for _, kv := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		k, v, ok := strings.Cut(kv, "=")
		if _, known := metricByName(k); !ok || !known {
			return nil, fmt.Errorf("load: threshold %q: want name=limit with name one of %s", kv, strings.Join(names, "|"))
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("load: threshold %q: limit is not a finite number", kv)
		}
		exact, ok := new(big.Rat).SetString(v)
		if !ok || exact.Cmp(exactDecimal(f)) != 0 {
			return nil, fmt.Errorf("load: threshold %q: limit has more digits than a report carries exactly; use at most 15 significant digits", kv)
		}
		out[k] = f
	}
	return out, nil
}

// CheckLimits refuses limits on metrics that runs of pr do not produce: a
// one-line configuration error before anything is sent, rather than a
// verdict on a figure nobody measured.
func CheckLimits(pr Profile, limits map[string]float64) error {
	var bad []string
	for name := range limits {
		m, ok := metricByName(name)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s is not a metric", name))
			continue
		}
		if !m.AppliesTo(pr.Name) {
			bad = append(bad, fmt.Sprintf("%s (measured by %s only)", name, strings.Join(m.Profiles, ", ")))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("load: THRESHOLDS: %s %s not apply to profile %s", strings.Join(bad, "; "),
		map[bool]string{true: "does", false: "do"}[len(bad) == 1], pr.Name)
}

// resolve applies overrides (by metric name) to a profile's thresholds.
// Overriding a metric the profile does not declare adds it. An override
// makes its threshold required: the user asked for that figure.
func resolve(pr Profile, overrides map[string]float64) ([]Threshold, error) {
	if err := CheckLimits(pr, overrides); err != nil {
		return nil, err
	}
	out := append([]Threshold(nil), pr.Thresholds...)
	seen := map[string]bool{}
	for i := range out {
		seen[out[i].Metric.Name] = true
		if v, ok := overrides[out[i].Metric.Name]; ok {
			out[i].Limit, out[i].Required = v, true
		}
	}
	names := make([]string, 0, len(overrides))
	for n := range overrides {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if m, ok := metricByName(n); ok && !seen[n] {
			out = append(out, Max(m, overrides[n]).Headline())
		}
	}
	return out, nil
}

func limitsOf(ths []Threshold) map[string]float64 {
	out := make(map[string]float64, len(ths))
	for _, t := range ths {
		out[t.Metric.Name] = t.Limit
	}
	return out
}

// judge evaluates thresholds and sets the report's verdict. A threshold
// fails only on a figure that breaks its limit; one the run could not
// produce is not_applicable or inconclusive, never passed or failed. The
// verdict: a correctness failure fails the run outright; otherwise a run
// whose generator fell behind is an error (its latency understates the
// truth, so nothing was judged); otherwise any broken threshold fails it;
// otherwise a required threshold that was not judged makes it inconclusive.
func judge(l *reports.Load, ths []Threshold) {
	l.Thresholds = l.Thresholds[:0]
	correctnessFailed, failed, unjudged := false, false, false
	for _, t := range ths {
		o := t.Metric.Observe(l)
		status := t.judgeObservation(o)
		obs := -1.0 // JSON has no "nothing"; -1 with a status other than passed/failed
		if o.Value != nil && (status == reports.StatusPassed || status == reports.StatusFailed) {
			obs, _ = o.Value.Float64()
		}
		l.Thresholds = append(l.Thresholds, reports.Threshold{Name: t.Metric.Name, Limit: t.Limit, AtLeast: t.AtLeast,
			Observed: obs, Passed: status == reports.StatusPassed, Status: status, Reason: o.Reason, Required: t.Required})
		switch status {
		case reports.StatusFailed:
			failed = true
			correctnessFailed = correctnessFailed || t.Metric.Correctness
		case reports.StatusNotApplicable, reports.StatusInconclusive:
			unjudged = unjudged || t.Required
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
	case unjudged:
		l.Verdict = reports.VerdictInconclusive
	default:
		l.Verdict = reports.VerdictPass
	}
}

// ExitCode maps a load verdict to the command's exit status: 0 pass,
// 1 a threshold broke, 2 the harness could not run or measure, 3 the run
// completed but a check it was asked for could not be judged.
func ExitCode(l *reports.Load) int { return reports.ExitCode(l.Verdict) }

// sent is the requests that left the process (pool_exhausted never do).
func sent(l *reports.Load) uint64 {
	return l.Requests - min(l.Requests, l.Correctness.PoolExhausted)
}

// observeRaceWinners judges only groups where the server rotated: against
// a server that keeps the refresh token, every racer may win (RFC 6749 §6
// lets it), so the one-winner rule of RFC 9700 §4.14.2 does not apply and
// the check says so instead of passing.
func observeRaceWinners(l *reports.Load) Observation {
	c := l.Correctness
	var rotating, notRotated, exempt, noWinner uint64
	best := 0
	// RaceWinners keys are "<winners>" for judged groups; suffixed keys
	// ("-not-rotated", "-one-rotation") are groups the policy exempts.
	for k, n := range c.RaceWinners {
		w, suffix, _ := strings.Cut(k, "-")
		won, err := strconv.Atoi(w)
		if err != nil {
			continue
		}
		switch {
		case suffix == "not-rotated":
			notRotated += n
		case suffix != "":
			exempt += n
		case won == 0:
			noWinner += n
		default:
			rotating += n
			best = max(best, won)
		}
	}
	switch {
	case len(c.RaceWinners) == 0: // every group sent has a key, "0" when nobody won
		return inconclusive("no race group was sent")
	case rotating+exempt == 0 && notRotated > 0:
		return notApplicable("the server did not rotate: in all %d race groups with a winner, no winning refresh returned a new refresh token "+
			"(%d returned none, %d the same one), so concurrent winners are its policy, not a lost race", notRotated,
			c.RefreshesNoNewToken, c.RefreshesSameToken)
	case rotating+exempt == 0:
		return inconclusive("no race group had a successful refresh (%d groups), so nothing shows how the server handles the race", noWinner)
	}
	why := fmt.Sprintf("%d rotating groups judged, %d with more than one winner", rotating, c.MultiWinnerGroups)
	if exempt > 0 {
		why += fmt.Sprintf("; %d groups answered one rotation more than once (grace policy)", exempt)
	}
	if notRotated > 0 {
		why += fmt.Sprintf("; %d groups not rotated, not judged", notRotated)
	}
	if noWinner > 0 {
		why += fmt.Sprintf("; %d groups without a winner", noWinner)
	}
	return observed(count(uint64(best)), "%s", why)
}

// observeErrorGrowth is the mean interval error rate of the last third of
// the run minus the first third's, computed from the interval counts as
// rationals.
func observeErrorGrowth(l *reports.Load) Observation {
	n := len(l.Series)
	if n < 3 {
		return inconclusive("the run has fewer than three intervals")
	}
	width := l.Series[1].T - l.Series[0].T
	avg := func(bs []reports.Bucket) (*big.Rat, bool) {
		sum, k := new(big.Rat), int64(0)
		for _, b := range bs {
			// Requested is a rate rounded to 3 decimals; times the interval
			// it is the interval's whole count of scheduled requests.
			scheduled := uint64(math.Round(b.Requested * width))
			if scheduled == 0 {
				continue
			}
			var errs uint64
			for _, c := range b.Errors {
				errs += c
			}
			sum.Add(sum, frac(errs, scheduled))
			k++
		}
		if k == 0 {
			return nil, false
		}
		return sum.Quo(sum, big.NewRat(k, 1)), true
	}
	first, ok1 := avg(l.Series[:n/3])
	last, ok2 := avg(l.Series[n-n/3:])
	if !ok1 || !ok2 {
		return inconclusive("the first or last third of the run scheduled no requests")
	}
	f1, _ := first.Float64()
	f2, _ := last.Float64()
	return observed(new(big.Rat).Sub(last, first), "first third %.4f, last third %.4f", f1, f2)
}

func bucketP99(b reports.Bucket, _ float64) (float64, bool) { return b.P99, b.Requested > 0 }

// thirds averages f over the buckets of the first and last third of the
// series (buckets where f is defined); ok is false when either third has
// none.
func thirds(l *reports.Load, f func(b reports.Bucket, width float64) (float64, bool)) (first, last float64, ok bool) {
	n := len(l.Series)
	if n < 3 {
		return 0, 0, false
	}
	width := l.Series[1].T - l.Series[0].T
	avg := func(bs []reports.Bucket) (float64, bool) {
		var sum float64
		var k int
		for _, b := range bs {
			if v, ok := f(b, width); ok {
				sum += v
				k++
			}
		}
		if k == 0 {
			return 0, false
		}
		return sum / float64(k), true
	}
	first, ok1 := avg(l.Series[:n/3])
	last, ok2 := avg(l.Series[n-n/3:])
	return first, last, ok1 && ok2
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
