// Package reportstest builds realistic sample reports for tests of the
// renderers and the compare gate, and for the example screenshots: a
// conformance report over the real rule catalogue and a load report with a
// full time series. Samples are deterministic (fixed seeds, fixed clock).
package reportstest

import (
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/reports"
)

// Start is the sample runs' start time.
var Start = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// TargetURL is the sample target.
const TargetURL = "http://127.0.0.1:8080/oauth/token"

// Conformance returns a finalized conformance report for the commoninja
// profile, built from the real catalogue: its warn and waive rules are
// reported as warned and waived, rules needing a second client are skipped,
// two enforced MUST rules failed with evidence (a missing no-store and a
// replayable code), a SHOULD rule failed and was warned, and the rest passed.
func Conformance() *reports.Conformance {
	c := &reports.Conformance{
		APIVersion: reports.APIVersion, Kind: reports.KindConformance,
		Profile: string(rules.Commoninja), Target: TargetURL, TargetKind: "in-process",
		TargetNote: "no TARGET set and Docker is not reachable: using the bundled mock in process",
		ClientAuth: string(oauth.AuthPost),
		StartedAt:  Start, FinishedAt: Start.Add(4200 * time.Millisecond),
	}
	for _, r := range rules.For(rules.Commoninja) {
		pol := r.Profiles[rules.Commoninja]
		rr := reports.RuleResult{
			ID: string(r.ID), Level: r.Level, Status: reports.StatusPassed, Summary: r.Summary,
			SourceDoc: r.Source.Doc, SourceSection: r.Source.Section, SourceURL: r.Source.URL, Quote: r.Source.Quote,
			PolicyMode: pol.Mode, PolicyReason: pol.Reason, Expects: r.Expects(),
			DurationMS: 3 + float64(len(r.ID)%7),
		}
		f, failing := sampleFailures[string(r.ID)]
		switch {
		case pol.Mode == rules.ModeWaive:
			rr.Status, rr.Reason = reports.StatusWaived, pol.Reason
		case pol.Mode == rules.ModeWarn:
			rr.Status, rr.Reason = reports.StatusWarned, pol.Reason
			rr.Violation = "the target behaves as the vendor document shows"
			rr.Evidence = []oauth.Exchange{codeExchange(http.StatusOK, okBody, noStore)}
		case needs(r, rules.NeedClient2):
			rr.Status, rr.Reason = reports.StatusSkipped, rules.NeedClient2.Why()
		case failing:
			rr.Status, rr.Violation = f.status, f.violation
			// A copy: callers may edit their report, and the samples are shared.
			rr.Evidence = append([]oauth.Exchange(nil), f.evidence...)
			rr.Reason = f.violation
			if f.status == reports.StatusInconclusive {
				rr.Violation = ""
			}
			if f.status == reports.StatusWarned {
				rr.Reason = string(r.Level) + "-level rule: reported, does not fail the run"
			}
		}
		c.Rules = append(c.Rules, rr)
	}
	c.Finalize()
	return c
}

type sampleFailure struct {
	status    reports.Status
	violation string
	evidence  []oauth.Exchange
}

const okBody = `{"access_token":"[REDACTED]","token_type":"Bearer","expires_in":3600,"refresh_token":"[REDACTED]"}`

var (
	noStore = http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}
	cached  = http.Header{"Cache-Control": {"max-age=60"}}
)

var sampleFailures = map[string]sampleFailure{
	"RFC6749-5.1-NO-STORE": {
		status:    reports.StatusFailed,
		violation: `Cache-Control: got "max-age=60", want a value containing no-store`,
		evidence:  []oauth.Exchange{codeExchange(http.StatusOK, okBody, cached)},
	},
	"RFC6749-4.1.2-CODE-SINGLE-USE": {
		status:    reports.StatusFailed,
		violation: "status: got 200, want 400 (the replayed code was redeemed a second time)",
		evidence: []oauth.Exchange{
			codeExchange(http.StatusOK, okBody, noStore),
			withStep(codeExchange(http.StatusOK, okBody, noStore), "replay the same code"),
		},
	},
	"RFC6749-4.1.2-CODE-REPLAY-REVOKES": {
		status:    reports.StatusInconclusive,
		violation: "setup: redeeming a fresh code: got status 500",
		evidence: []oauth.Exchange{withStep(codeExchange(http.StatusInternalServerError,
			`{"error":"server_error"}`, nil), "redeem code")},
	},
	"TH-5.2-ERROR-NO-STORE": {
		status:    reports.StatusWarned,
		violation: `Cache-Control: got "", want a value containing no-store`,
		evidence: []oauth.Exchange{withStep(codeExchange(http.StatusBadRequest,
			`{"error":"invalid_grant","error_description":"unknown code"}`, nil), "redeem an unknown code")},
	},
}

func withStep(x oauth.Exchange, step string) oauth.Exchange {
	x.Step = step
	return x
}

func needs(r rules.Rule, n rules.Need) bool {
	for _, x := range r.Needs {
		if x == n {
			return true
		}
	}
	return false
}

// codeExchange is a redacted authorization-code redemption that got
// status, body and the extra response headers.
func codeExchange(status int, body string, extra http.Header) oauth.Exchange {
	h := http.Header{"Content-Type": {"application/json;charset=UTF-8"}}
	for k, v := range extra {
		h[k] = v
	}
	return oauth.Exchange{
		Step: "redeem code",
		Request: oauth.Request{
			Method: http.MethodPost, URL: TargetURL,
			Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
			Body:   "grant_type=authorization_code&code=" + redact.Mask + "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=demo&client_secret=" + redact.Mask,
		},
		Response: &oauth.Response{Status: status, Header: h, Body: []byte(body)},
		Duration: 2300 * time.Microsecond,
	}
}

// Load returns a rotation-race style load report with buckets one second
// apart, scatter points spread over them, a latency stall in the middle,
// race groups with a few double winners, and one failed threshold.
func Load(buckets, scatter int) *reports.Load {
	rng := rand.New(rand.NewPCG(7, 11))
	const rate = 200.0
	l := &reports.Load{
		APIVersion: reports.APIVersion, Kind: reports.KindLoad,
		Profile: "rotation-race", Target: TargetURL, TargetKind: "container",
		StartedAt: Start, FinishedAt: Start.Add(time.Duration(buckets) * time.Second),
		Valid: true,
		Params: reports.LoadParams{
			Rate: rate, Duration: time.Duration(buckets) * time.Second, Workers: 64, Clients: 500,
			Timeout: 5 * time.Second, Extra: map[string]any{"racers": 4.0, "jitter": "0s"},
			Thresholds: map[string]any{"p99_ms": 100.0, "multi_winner_groups": 0.0},
		},
		StatusCodes:  map[string]uint64{},
		ErrorClasses: map[string]uint64{},
	}
	var all []float64
	for i := range buckets {
		stall := i >= buckets/2 && i < buckets/2+4
		base := 4 + 1.5*math.Sin(float64(i)/6)
		if stall {
			base = 35 + 10*rng.Float64()
		}
		b := reports.Bucket{
			T: float64(i), Requested: rate, Rate: rate - rng.Float64()*3,
			P50:   base,
			P99:   base*2.6 + rng.Float64()*4,
			Codes: map[string]uint64{"200": uint64(rate * 0.93), "400": uint64(rate * 0.07)},
			Errors: map[string]uint64{
				"invalid_grant": uint64(rate * 0.07),
			},
		}
		if stall {
			// The server stalls: fewer requests complete in the interval,
			// some as 503s or timeouts.
			b.Rate = rate * 0.7
			b.Codes = map[string]uint64{"200": 118, "400": 9, "503": 11, "0": 2}
			b.Errors = map[string]uint64{"invalid_grant": 9, "5xx": 11, "timeout": 2}
		}
		for k, v := range b.Codes {
			l.StatusCodes[k] += v
			l.Requests += v
		}
		for k, v := range b.Errors {
			l.ErrorClasses[k] += v
		}
		l.Series = append(l.Series, b)
	}
	for i := range scatter {
		t := float64(i) * float64(buckets) / float64(max(scatter, 1))
		b := l.Series[min(int(t), len(l.Series)-1)]
		ms := b.P50 * math.Exp(rng.NormFloat64()*0.45)
		ok := rng.Float64() > 0.04
		l.Scatter = append(l.Scatter, reports.Point{T: t, LatencyMS: ms, OK: ok})
		all = append(all, ms)
	}
	l.Histogram = histogram(all)
	l.Latency = percentiles(all)
	l.GeneratorLag = reports.Percentiles{P50: 0.04, P90: 0.09, P95: 0.12, P99: 0.31, Max: 2.4, Mean: 0.05}
	ok := l.StatusCodes["200"]
	if l.Requests > 0 {
		l.SuccessRatio = float64(ok) / float64(l.Requests)
	}
	l.Rate = float64(l.Requests) / float64(max(buckets, 1))
	l.Throughput = float64(ok) / float64(max(buckets, 1))
	groups := uint64(buckets * 12)
	l.Correctness = reports.Correctness{
		RaceGroups: groups, MultiWinnerGroups: 3,
		RaceWinners: map[string]uint64{"0": 2, "1": groups - 5, "2": 3},
	}
	l.Thresholds = []reports.Threshold{
		{Name: "p99_ms", Limit: 100, Observed: l.Latency.P99, Passed: l.Latency.P99 <= 100},
		{Name: "multi_winner_groups", Limit: 0, Observed: 3, Passed: false},
	}
	l.Verdict = reports.VerdictFail
	return l
}

// histogram counts latencies into exponentially spaced buckets.
func histogram(ms []float64) []reports.HistBucket {
	bounds := []float64{0.5, 1, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 200}
	h := make([]reports.HistBucket, len(bounds))
	for i, b := range bounds {
		h[i].LeMS = b
	}
	for _, v := range ms {
		for i, b := range bounds {
			if v <= b || i == len(bounds)-1 {
				h[i].Count++
				break
			}
		}
	}
	return h
}

// percentiles computes exact nearest-rank percentiles of ms.
func percentiles(ms []float64) reports.Percentiles {
	if len(ms) == 0 {
		return reports.Percentiles{}
	}
	s := append([]float64(nil), ms...)
	slices.Sort(s)
	at := func(q float64) float64 { return s[int(math.Ceil(q*float64(len(s))))-1] }
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return reports.Percentiles{P50: at(.5), P90: at(.9), P95: at(.95), P99: at(.99), Max: s[len(s)-1], Mean: sum / float64(len(s))}
}

// Sparse returns a minimal valid load report: no series, no scatter, no
// histogram, no thresholds. Renderers must cope with it.
func Sparse() *reports.Load {
	return &reports.Load{
		APIVersion: reports.APIVersion, Kind: reports.KindLoad, Profile: "herd",
		Target: TargetURL, TargetKind: "external", StartedAt: Start, FinishedAt: Start,
		Verdict: reports.VerdictPass, Valid: true,
	}
}
