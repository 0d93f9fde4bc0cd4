// Package reports owns the machine-readable results of tokenharness runs:
// one documented, versioned schema (APIVersion) for conformance and load
// reports, their JSON encoding, and the exit status a report implies.
// Renderers (reports/html) and the baseline gate (reports/compare) read only
// these types, so they change without touching the suite or the load side.
package reports

import (
	"time"

	"tokenharness/internal/oauth"
)

// APIVersion is written into every report; bump it on incompatible changes.
const APIVersion = "tokenharness/v1"

// Report kinds.
const (
	KindConformance = "conformance"
	KindLoad        = "load"
)

// Conformance is the result of checking one target against one profile.
type Conformance struct {
	APIVersion string `json:"api_version"`
	Kind       string `json:"kind"`
	Profile    string `json:"profile"`
	Target     string `json:"target"`                // URL, credentials removed
	TargetKind string `json:"target_kind"`           // "external", "container" or "in-process"
	TargetNote string `json:"target_note,omitempty"` // why that target kind was used
	ClientAuth string `json:"client_auth"`
	// Capabilities are the grants the target declared and which of them the
	// run exercised; absent in reports written before GRANTS existed.
	Capabilities *Capabilities `json:"capabilities,omitempty"`
	StartedAt    time.Time     `json:"started_at"`
	FinishedAt   time.Time     `json:"finished_at"`
	Verdict      Verdict       `json:"verdict"`
	// HarnessError is set when Verdict is "error": what went wrong and how to fix it.
	HarnessError string       `json:"harness_error,omitempty"`
	Summary      Summary      `json:"summary"`
	Rules        []RuleResult `json:"rules"`
	// ServerLog holds the bundled mock's log lines when a rule failed (redacted).
	ServerLog string `json:"server_log,omitempty"`
}

// Capabilities is what a target declared it serves and what the run
// exercised of it, so a report says what it did not check.
type Capabilities struct {
	// Grants are the grant types the target declares (GRANTS).
	Grants []string `json:"grants"`
	// ClientAuth is the client authentication method the run used.
	ClientAuth string `json:"client_auth"`
	// Exercised are the declared grants at least one rule judged.
	Exercised []string `json:"exercised"`
	// NotExercised is every other grant the harness knows, with why.
	NotExercised []NotExercised `json:"not_exercised"`
	// DPoP says whether the target declared DPoP (RFC 9449) and whether
	// the run exercised it; absent in reports written before DPOP existed.
	DPoP *Binding `json:"dpop,omitempty"`
}

// Binding is a token binding a target may declare (DPoP) and what the run
// did with it.
type Binding struct {
	Declared bool `json:"declared"`
	// Exercised is true when at least one of its rules was judged.
	Exercised bool `json:"exercised"`
	// Reason says why it was not exercised; empty when it was.
	Reason string `json:"reason,omitempty"`
}

// NotExercised is a grant the run did not exercise.
type NotExercised struct {
	Grant  string `json:"grant"`
	Reason string `json:"reason"`
}

// Summary counts rules by status.
type Summary struct {
	Total   int `json:"total"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Warned  int `json:"warned"`
	Waived  int `json:"waived"`
	Skipped int `json:"skipped"`
	// Inconclusive counts rules that ran but could not be judged;
	// InconclusiveGating those among them that would have gated the run
	// (MUST or DOC under an enforce policy).
	Inconclusive       int `json:"inconclusive"`
	InconclusiveGating int `json:"inconclusive_gating"`
}

// RuleResult is one rule's verdict with its evidence.
type RuleResult struct {
	ID            string `json:"id"`
	Level         Level  `json:"level"`
	Status        Status `json:"status"`
	Summary       string `json:"summary"`
	SourceDoc     string `json:"source_doc"`
	SourceSection string `json:"source_section"`
	SourceURL     string `json:"source_url,omitempty"`
	Quote         string `json:"quote,omitempty"`
	// PolicyMode is the profile's stance: enforce, warn or waive; PolicyReason why.
	PolicyMode   PolicyMode `json:"policy_mode"`
	PolicyReason string     `json:"policy_reason,omitempty"`
	Expects      []string   `json:"expects,omitempty"`
	// Reason explains a non-passed status (skip reason, violation, policy).
	Reason string `json:"reason,omitempty"`
	// Violation says what differed, when the rule's checks failed.
	Violation string `json:"violation,omitempty"`
	// Class is the failure class of a transport failure (timeout, not_json, ...).
	Class      string  `json:"class,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	// Evidence is every exchange the rule made, secrets redacted; kept for
	// non-passed rules only.
	Evidence []oauth.Exchange `json:"evidence,omitempty"`
}

// Load is the result of one load profile run (or of merged shards).
type Load struct {
	APIVersion string    `json:"api_version"`
	Kind       string    `json:"kind"`
	Profile    string    `json:"profile"` // herd, ramp, rotation-race, spike, soak, mixed
	Target     string    `json:"target"`
	TargetKind string    `json:"target_kind"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Verdict    Verdict   `json:"verdict"`
	// Valid is false when the generator could not keep its schedule
	// (see GeneratorLag), so latency figures understate the truth.
	Valid        bool   `json:"valid"`
	InvalidWhy   string `json:"invalid_why,omitempty"`
	HarnessError string `json:"harness_error,omitempty"`

	Params       LoadParams `json:"params"`
	Requests     uint64     `json:"requests"`
	Rate         float64    `json:"rate"`       // achieved request rate, req/s
	Throughput   float64    `json:"throughput"` // successful req/s
	SuccessRatio float64    `json:"success_ratio"`
	// Outcomes splits Requests into successes, failures the profile expects
	// and failures it does not, so expected failures are shown as neither.
	Outcomes Outcomes `json:"outcomes"`
	// Latency is measured from each request's scheduled send time, so a
	// stalled server or generator shows (no coordinated omission).
	Latency      Percentiles `json:"latency_ms"`
	GeneratorLag Percentiles `json:"generator_lag_ms"`
	// StatusCodes by HTTP status ("0" is a transport failure); ErrorClasses by
	// harness classification: invalid_grant, invalid_client, other_oauth, 5xx,
	// 429, timeout, conn, not_json, ...
	StatusCodes  map[string]uint64 `json:"status_codes"`
	ErrorClasses map[string]uint64 `json:"error_classes"`
	Correctness  Correctness       `json:"correctness"`
	Knee         *Knee             `json:"knee,omitempty"` // ramp only
	Recovery     *Recovery         `json:"recovery,omitempty"`
	Thresholds   []Threshold       `json:"thresholds"`
	Series       []Bucket          `json:"series"`    // per-interval figures for charts
	Histogram    []HistBucket      `json:"histogram"` // latency histogram
	Scatter      []Point           `json:"scatter"`   // downsampled individual latencies
	Shards       int               `json:"shards,omitempty"`
	// Capacity is the capacity profile's finding, with every step's
	// evidence.
	Capacity *Capacity `json:"capacity,omitempty"`
	// ShardSkew is set on a merged report: how far apart the shards'
	// attacks began.
	ShardSkew *ShardSkew `json:"shard_skew,omitempty"`
}

// Capacity bounds: the figure is the capacity, or only an upper or lower
// bound on it.
const (
	CapacityExact   = "exact"    // Rate held the SLO, the next step up (within 10%) did not
	CapacityBelow   = "below"    // the first step, at Rate, broke the SLO: capacity < Rate
	CapacityAtLeast = "at_least" // every step up to Rate held: capacity ≥ Rate
)

// Capacity is the highest arrival rate that met the SLO in a capacity search.
type Capacity struct {
	Rate         float64        `json:"rate"`
	Bound        string         `json:"bound"`
	Reason       string         `json:"reason"`
	SLOP99MS     float64        `json:"slo_p99_ms"`
	SLOErrorRate float64        `json:"slo_error_rate"`
	Steps        []CapacityStep `json:"steps"`
}

// CapacityStep is one constant-rate step of a capacity search.
type CapacityStep struct {
	Rate               float64 `json:"rate"`
	Requests           uint64  `json:"requests"`
	P99MS              float64 `json:"p99_ms"`
	UnexpectedFailures uint64  `json:"unexpected_failures"`
	ErrorRate          float64 `json:"error_rate"`
	LagP99MS           float64 `json:"lag_p99_ms"`
	Passed             bool    `json:"passed"`
	Why                string  `json:"why,omitempty"` // what broke the SLO
}

// ShardSkew is how far apart the shards of a merged run began sending.
type ShardSkew struct {
	// SkewMS is the largest difference between two shards' attack starts.
	SkewMS float64 `json:"skew_ms"`
	// ToleranceMS is the skew up to which shards count as run together.
	ToleranceMS float64 `json:"tolerance_ms"`
	// Overlap is false when some shard began after another had finished
	// its schedule: they ran one after the other.
	Overlap bool `json:"overlap"`
	// Allowed is true when the skew exceeded the tolerance and the shards
	// were merged anyway (merge --allow-skew): the rates understate what
	// was asked for and latencies are not those of the whole load.
	Allowed bool `json:"allowed"`
}

// LoadParams are the run's parameters as resolved (defaults applied).
type LoadParams struct {
	Rate       float64        `json:"rate"`
	Duration   time.Duration  `json:"duration_ns"`
	Workers    uint64         `json:"workers"`
	Clients    int            `json:"clients"` // size of the token pool
	Timeout    time.Duration  `json:"timeout_ns"`
	Shard      string         `json:"shard,omitempty"` // "i/n"
	Extra      map[string]any `json:"extra,omitempty"` // profile-specific parameters
	Thresholds map[string]any `json:"thresholds,omitempty"`
}

// Percentiles in milliseconds.
type Percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Correctness counts protocol-level failures seen under load.
type Correctness struct {
	DuplicateAccessTokens uint64 `json:"duplicate_access_tokens"`
	// DeadAfterRefresh counts refresh tokens that a successful refresh
	// returned but that the server then rejected on their first use.
	DeadAfterRefresh uint64 `json:"dead_after_refresh"`
	RaceGroups       uint64 `json:"race_groups"`
	// RaceWinners maps "number of winners in a group" to how many groups had it.
	RaceWinners       map[string]uint64 `json:"race_winners,omitempty"`
	MultiWinnerGroups uint64            `json:"multi_winner_groups"`
	PoolExhausted     uint64            `json:"pool_exhausted"`
	// Successful refreshes by what they did to the refresh token: returned
	// a new one (rotated), returned the one sent (same), or none (omitted).
	// A server whose refreshes are never rotated gives the race and
	// dead-token checks nothing to judge.
	RefreshesRotated    uint64 `json:"refreshes_rotated"`
	RefreshesSameToken  uint64 `json:"refreshes_same_token"`
	RefreshesNoNewToken uint64 `json:"refreshes_no_token"`
	// RotatedTokensSpent counts rotated refresh tokens the run spent on
	// their first use and got an answer about: what dead_after_refresh is
	// out of.
	RotatedTokensSpent uint64 `json:"rotated_tokens_spent"`
	// DPoPBound and DPoPNotBound count the access tokens issued for
	// requests that carried a DPoP proof (the m2m profile with M2M_DPOP)
	// by their token_type: DPoP, or anything else (RFC 9449 §5).
	DPoPBound    uint64 `json:"dpop_bound,omitempty"`
	DPoPNotBound uint64 `json:"dpop_not_bound,omitempty"`
}

// Outcomes counts every request once: Succeeded + ExpectedFailures +
// UnexpectedFailures = Requests.
type Outcomes struct {
	// Succeeded are 2xx responses with a usable token response.
	Succeeded uint64 `json:"succeeded"`
	// ExpectedFailures are failures the profile predicts: in rotation-race
	// the invalid_grant of a group member whose token another member spent
	// (a race loser). ExpectedClasses breaks them down by failure class.
	ExpectedFailures uint64            `json:"expected_failures"`
	ExpectedClasses  map[string]uint64 `json:"expected_classes,omitempty"`
	// UnexpectedFailures are all other failures; ErrorClasses breaks them
	// down. error_rate is UnexpectedFailures over the requests sent.
	UnexpectedFailures uint64 `json:"unexpected_failures"`
	// Unsent are scheduled requests that never left the harness: the
	// token pool had no idle token when they were due (pool_exhausted).
	// They judge the harness's pool, not the server.
	Unsent uint64 `json:"unsent"`
}

// Knee is the highest rate that met the SLO in a ramp.
type Knee struct {
	Rate   float64 `json:"rate"`
	Reason string  `json:"reason"` // what broke above it
}

// Recovery is how long a spike took to return to baseline latency.
type Recovery struct {
	Seconds   float64 `json:"seconds"`
	Recovered bool    `json:"recovered"`
	// Reason says why there was nothing to recover to (no baseline before
	// the spike); empty when the recovery was measured.
	Reason string `json:"reason,omitempty"`
}

// Threshold is one declared limit and what the run showed about it.
type Threshold struct {
	Name  string  `json:"name"` // e.g. "p99_ms", "error_rate", "race_winners"
	Limit float64 `json:"limit"`
	// AtLeast makes Limit a minimum (knee_rate); otherwise it is a maximum.
	AtLeast bool `json:"at_least,omitempty"`
	// Observed is the figure compared with Limit (exactly: see SCHEMA.md);
	// -1 when Status is not_applicable or inconclusive.
	Observed float64 `json:"observed"`
	// Passed is Status == "passed", kept for readers of earlier reports.
	Passed bool `json:"passed"`
	// Status is passed, failed, not_applicable or inconclusive.
	Status Status `json:"status,omitempty"`
	// Reason is the evidence: the counts behind the figure, or why the run
	// could not produce it.
	Reason string `json:"reason,omitempty"`
	// Required is set when the run was asked for this threshold (the
	// profile's headline check, or a limit given in THRESHOLDS): if it is
	// not judged, the verdict is inconclusive rather than pass.
	Required bool `json:"required,omitempty"`
}

// Bucket is one interval of a run.
type Bucket struct {
	T         float64           `json:"t"` // seconds since start
	Requested float64           `json:"requested_rate"`
	Rate      float64           `json:"rate"`
	P50       float64           `json:"p50_ms"`
	P99       float64           `json:"p99_ms"`
	Errors    map[string]uint64 `json:"errors,omitempty"`
	Codes     map[string]uint64 `json:"codes,omitempty"`
}

// HistBucket counts latencies up to LeMS.
type HistBucket struct {
	LeMS  float64 `json:"le_ms"`
	Count uint64  `json:"count"`
}

// Point is one request in the scatter plot.
type Point struct {
	T         float64 `json:"t"`
	LatencyMS float64 `json:"ms"`
	OK        bool    `json:"ok"`
}
