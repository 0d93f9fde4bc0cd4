package html

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"tokenharness/reports"
)

// loadView is the load page's data, every text redacted.
type loadView struct {
	page
	Profile, Target, TargetKind, Started, Duration string
	Shards                                         int
	Verdict                                        reports.Verdict
	VerdictText, HarnessError                      string
	Valid                                          bool
	InvalidWhy, LagP99                             string
	Tiles                                          []tile
	Thresholds                                     []thresholdView
	Percentiles                                    []percentileRow
	LatencyOverTime, Histogram, Throughput         template.HTML
	StatusOverTime, ErrorsOverTime, RaceWinners    template.HTML
	StatusCodes, ErrorClasses                      []countRow
	Correctness                                    []countRow
	HasRace                                        bool
	RaceText                                       string
	Knee                                           *reports.Knee
	KneeRate                                       string
	Recovery                                       *reports.Recovery
	RecoverySeconds                                string
	Params                                         []paramRow
	Capacity                                       *capacityView
}

// capacityView is a capacity search's finding and its steps.
type capacityView struct {
	Headline, Reason, SLO string
	Steps                 []capacityStepRow
}

type capacityStepRow struct {
	Rate, Requests, P99, Failures, Lag, Why string
	Passed                                  bool
}

func capacity(c *reports.Capacity) *capacityView {
	if c == nil {
		return nil
	}
	head := fmtNum(c.Rate) + " req/s"
	switch c.Bound {
	case reports.CapacityBelow:
		head = "below " + head
	case reports.CapacityAtLeast:
		head = "at least " + head
	}
	v := &capacityView{Headline: head, Reason: clean(c.Reason),
		SLO: fmt.Sprintf("p99 ≤ %s, unexpected failures ≤ %s", fmtMS(c.SLOP99MS), fmtNum(c.SLOErrorRate))}
	for _, s := range c.Steps {
		v.Steps = append(v.Steps, capacityStepRow{Rate: fmtNum(s.Rate), Requests: fmtCount(s.Requests), P99: fmtMS(s.P99MS),
			Failures: fmtCount(s.UnexpectedFailures), Lag: fmtMS(s.LagP99MS), Why: clean(s.Why), Passed: s.Passed})
	}
	return v
}

type tile struct {
	Value, Label, Note, Class string
}

type thresholdView struct {
	Name, Limit, Observed string
	// Status is report.json's word (passed, failed, not_applicable,
	// inconclusive); Reason its evidence.
	Status, Reason string
	Required       bool
}

type percentileRow struct {
	Name                          string
	P50, P90, P95, P99, Max, Mean string
}

type countRow struct {
	Key, Count, Share, Note string
	Bad                     bool
}

type paramRow struct {
	Name, Value string
}

// Load writes r as a self-contained HTML page: verdict and thresholds, key
// figures, latency over time, histogram, throughput against the requested
// rate, status and error classes over time, the rotation-race outcome and
// the run's parameters. A run whose generator fell behind is flagged at the
// top, since its latency understates the truth.
func Load(w io.Writer, r *reports.Load, opts ...Option) error {
	if r == nil {
		return fmt.Errorf("html: load report is nil")
	}
	o := collect(opts)
	v := loadView{
		page: page{
			Title: "Load · " + orDash(r.Profile), Kind: reports.KindLoad,
			Subtitle: "token endpoint load report", Links: o.links,
		},
		Profile: clean(r.Profile), Target: clean(r.Target), TargetKind: clean(r.TargetKind),
		Started: fmtTime(r.StartedAt), Duration: fmtDuration(r.FinishedAt.Sub(r.StartedAt)), Shards: r.Shards,
		Verdict: r.Verdict, HarnessError: clean(r.HarnessError),
		Valid: r.Valid, InvalidWhy: strings.TrimSuffix(clean(r.InvalidWhy), "."), LagP99: fmtMS(r.GeneratorLag.P99),
		LatencyOverTime: latencyOverTime(r.Series, r.Scatter),
		Histogram:       latencyHistogram(r.Histogram),
		Throughput:      throughputChart(r.Series),
		StatusOverTime:  statusOverTime(r.Series),
		ErrorsOverTime:  errorsOverTime(r.Series),
		Knee:            r.Knee,
		Recovery:        r.Recovery,
	}
	failed, unjudged := []string{}, []string{}
	for _, t := range r.Thresholds {
		status := t.Judged()
		observed := fmtObserved(t.Observed, t.Limit)
		switch {
		case status != reports.StatusPassed && status != reports.StatusFailed:
			observed = "—" // not_applicable or inconclusive: there is no figure
		case t.Observed < 0 && status == reports.StatusFailed && t.Status == "":
			observed = "not measured" // reports before status: -1 for a figure the run could not produce
		}
		op := "≤ "
		if t.AtLeast {
			op = "≥ "
		}
		v.Thresholds = append(v.Thresholds, thresholdView{
			Name: clean(t.Name), Limit: op + strconv.FormatFloat(finite(t.Limit), 'f', -1, 64), Observed: observed,
			Status: string(status), Reason: clean(t.Reason), Required: t.Required,
		})
		switch {
		case status == reports.StatusFailed:
			failed = append(failed, clean(t.Name))
		case status != reports.StatusPassed && t.Required:
			unjudged = append(unjudged, clean(t.Name)+" ("+string(status)+")")
		}
	}
	v.VerdictText = loadVerdictText(r.Verdict, len(r.Thresholds), failed, unjudged)
	if r.Verdict == reports.VerdictError && r.HarnessError == "" && !r.Valid {
		v.VerdictText = "The run is not a valid measurement, so it was not judged: " + clean(r.InvalidWhy)
	}
	v.Tiles = loadTiles(r)
	v.Percentiles = []percentileRow{
		percentiles("latency (from scheduled send)", r.Latency),
		percentiles("generator lag (scheduled → sent)", r.GeneratorLag),
	}
	v.StatusCodes = countRows(r.StatusCodes, r.Requests, true, func(k string) bool { return !strings.HasPrefix(k, "2") })
	v.ErrorClasses = countRows(r.ErrorClasses, r.Requests, false, func(string) bool { return true })
	v.Correctness, v.HasRace, v.RaceText = correctness(r.Correctness)
	if v.HasRace {
		v.RaceWinners = raceWinners(r.Correctness)
	}
	if r.Knee != nil {
		v.KneeRate = fmtNum(r.Knee.Rate) + " req/s"
	}
	if r.Recovery != nil {
		v.RecoverySeconds = fmtNum(r.Recovery.Seconds) + " s"
	}
	v.Params = params(r)
	v.Capacity = capacity(r.Capacity)
	return render(w, "load", v)
}

func loadVerdictText(verdict reports.Verdict, thresholds int, failed, unjudged []string) string {
	switch verdict {
	case reports.VerdictPass:
		if thresholds == 0 {
			return "The run completed; this profile declares no thresholds."
		}
		return fmt.Sprintf("No threshold failed; every check the run was asked for was judged (%d %s).",
			thresholds, plural(thresholds, "threshold", "thresholds"))
	case reports.VerdictInconclusive:
		return fmt.Sprintf("Nothing failed, but the run could not judge what it was asked for: %s. See the evidence below.",
			strings.Join(unjudged, ", "))
	case reports.VerdictFail:
		if len(failed) == 0 {
			return "The run failed its gate."
		}
		return fmt.Sprintf("%d of %d thresholds failed: %s.", len(failed), thresholds, strings.Join(failed, ", "))
	case reports.VerdictError:
		return "The harness could not complete the run; no figure below is a measurement of the target."
	}
	return fmt.Sprintf("Unknown verdict %q.", verdict)
}

// loadTiles leads with what the requests came to: successes, failures the
// profile expects (race losers) and failures it does not, each with its
// share, rather than one success ratio that hides the expected ones.
func loadTiles(r *reports.Load) []tile {
	rateNote := ""
	if r.Params.Rate > 0 {
		rateNote = "requested " + fmtNum(r.Params.Rate)
	}
	o := r.Outcomes
	if o.Succeeded+o.ExpectedFailures+o.UnexpectedFailures == 0 && r.Requests > 0 {
		// A report from before outcomes were recorded: its success ratio
		// is all it has (expected race losers counted as successes).
		return []tile{
			{Value: fmtCount(r.Requests), Label: "requests"},
			{Value: fmtNum(r.Rate), Label: "req/s sent", Note: rateNote},
			{Value: fmtNum(r.Throughput), Label: "req/s succeeded"},
			{Value: fmtPct(r.SuccessRatio), Label: "success ratio", Note: "expected failures included"},
			{Value: fmtMS(r.Latency.P50), Label: "p50 latency"},
			{Value: fmtMS(r.Latency.P99), Label: "p99 latency"},
		}
	}
	share := func(n uint64) string {
		if r.Requests == 0 {
			return ""
		}
		return fmtPct(float64(n)/float64(r.Requests)) + " of requests"
	}
	unexpectedClass := ""
	if o.UnexpectedFailures > 0 {
		unexpectedClass = "t-failed"
	}
	expectedNote := share(o.ExpectedFailures)
	if o.ExpectedFailures > 0 {
		expectedNote = "race losers' invalid_grant · " + expectedNote
	}
	tiles := []tile{
		{Value: fmtCount(r.Requests), Label: "requests"},
		{Value: fmtNum(r.Rate), Label: "req/s sent", Note: rateNote},
		{Value: fmtCount(o.Succeeded), Label: "succeeded", Note: share(o.Succeeded)},
		{Value: fmtCount(o.ExpectedFailures), Label: "expected failures", Note: expectedNote},
		{Value: fmtCount(o.UnexpectedFailures), Label: "unexpected failures", Note: share(o.UnexpectedFailures), Class: unexpectedClass},
	}
	if o.Unsent > 0 {
		// The harness's shortfall, shown beside the server's outcomes but
		// never as one of them.
		tiles = append(tiles, tile{Value: fmtCount(o.Unsent), Label: "never sent", Note: "no idle refresh token · " + share(o.Unsent)})
	}
	return append(tiles,
		tile{Value: fmtMS(r.Latency.P50), Label: "p50 latency"},
		tile{Value: fmtMS(r.Latency.P99), Label: "p99 latency"})
}

func percentiles(name string, p reports.Percentiles) percentileRow {
	return percentileRow{Name: name, P50: fmtMS(p.P50), P90: fmtMS(p.P90), P95: fmtMS(p.P95),
		P99: fmtMS(p.P99), Max: fmtMS(p.Max), Mean: fmtMS(p.Mean)}
}

// countRows lists a count map with each entry's share of all requests,
// ordered by key (status codes) or by count (error classes).
func countRows(m map[string]uint64, total uint64, byKey bool, bad func(string) bool) []countRow {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if byKey {
		sortNumeric(keys)
	} else {
		sort.Slice(keys, func(i, j int) bool {
			if m[keys[i]] != m[keys[j]] {
				return m[keys[i]] > m[keys[j]]
			}
			return keys[i] < keys[j]
		})
	}
	rows := make([]countRow, 0, len(keys))
	for _, k := range keys {
		share := "—"
		if total > 0 {
			share = fmtPct(float64(m[k]) / float64(total))
		}
		note := ""
		if k == "0" {
			note = "transport failure: no HTTP response"
		}
		rows = append(rows, countRow{Key: clean(k), Count: fmtCount(m[k]), Share: share, Note: note, Bad: bad(k) && m[k] > 0})
	}
	return rows
}

// correctness lists the protocol-level counters and says what the rotation
// races showed.
func correctness(c reports.Correctness) (rows []countRow, hasRace bool, text string) {
	row := func(name string, n uint64, note string) countRow {
		return countRow{Key: name, Count: fmtCount(n), Note: note, Bad: n > 0}
	}
	rows = []countRow{
		row("duplicate access tokens", c.DuplicateAccessTokens, "the same access token issued twice"),
		row("dead after refresh", c.DeadAfterRefresh, "a refresh token returned by a successful refresh, then rejected on first use"),
		row("multi-winner race groups", c.MultiWinnerGroups, "one refresh token honoured by more than one concurrent request"),
		row("token pool exhausted", c.PoolExhausted, "a request found no refresh token to use"),
	}
	if c.DPoPBound+c.DPoPNotBound > 0 {
		// Counted for runs that sent DPoP proofs (m2m with DPOP=true);
		// an unbound token is a fault only beside bound ones (RFC 9449 §5
		// lets a server ignore DPoP), which dpop_unbound_tokens judges.
		bound := row("DPoP-bound access tokens", c.DPoPBound, "token_type DPoP for a proofed request")
		bound.Bad = false
		unbound := row("DPoP proofs answered unbound", c.DPoPNotBound, "a proofed request answered with another token_type")
		unbound.Bad = c.DPoPNotBound > 0 && c.DPoPBound > 0
		rows = append(rows, bound, unbound)
	}
	hasRace = c.RaceGroups > 0 || len(c.RaceWinners) > 0
	if hasRace {
		text = fmt.Sprintf("%s race %s: concurrent refreshes of one refresh token. Exactly one winner per group is correct; %s had more than one.",
			fmtCount(c.RaceGroups), plural(int(min(c.RaceGroups, 2)), "group", "groups"), fmtCount(c.MultiWinnerGroups))
		for k := range c.RaceWinners {
			if _, rotated := raceKey(k); !rotated {
				text += " Groups marked \"not rotated\" got no new refresh token from the server, so several winners there are not a rotation failure."
				break
			}
		}
	}
	return rows, hasRace, text
}

func params(r *reports.Load) []paramRow {
	p := r.Params
	rows := []paramRow{
		{"requested rate", fmtNum(p.Rate) + " req/s"},
		{"duration", fmtDuration(p.Duration)},
		{"workers", strconv.FormatUint(p.Workers, 10)},
		{"clients (token pool)", strconv.Itoa(p.Clients)},
		{"request timeout", fmtDuration(p.Timeout)},
		{"target", clean(r.Target)},
		{"target kind", clean(r.TargetKind)},
		{"started", fmtTime(r.StartedAt)},
		{"finished", fmtTime(r.FinishedAt)},
	}
	if p.Shard != "" {
		rows = append(rows, paramRow{"shard", clean(p.Shard)})
	}
	if r.Shards > 0 {
		rows = append(rows, paramRow{"shards merged", strconv.Itoa(r.Shards)})
	}
	if sk := r.ShardSkew; sk != nil {
		v := fmt.Sprintf("%s (tolerance %s)", fmtMS(sk.SkewMS), fmtMS(sk.ToleranceMS))
		if sk.Allowed {
			v += ": merged with -allow-skew; the shards did not run together, so the rates understate what was asked for"
		}
		rows = append(rows, paramRow{"shard start skew", v})
	}
	for _, k := range sortedKeys(p.Extra) {
		rows = append(rows, paramRow{clean(k), clean(anyText(p.Extra[k]))})
	}
	for _, k := range sortedKeys(p.Thresholds) {
		rows = append(rows, paramRow{"threshold " + clean(k), clean(anyText(p.Thresholds[k]))})
	}
	return rows
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// anyText formats a decoded JSON parameter: numbers without exponents,
// durations as durations, everything else as Go prints it.
func anyText(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Duration:
		return x.String()
	case string:
		return x
	}
	return fmt.Sprint(v)
}
