package load

import (
	"fmt"
	"strings"
	"time"

	"tokenharness/reports"
)

// Profile is one named, documented load shape, declared as a value the way
// rules are: its name is the same in code, on the command line
// (LOAD_PROFILE=…) and in the report.
type Profile struct {
	// Name is lower-kebab: herd, ramp, rotation-race, spike, soak, mixed.
	Name string
	// Doc says what the profile does and what it catches, for -list.
	Doc string
	// Workload is what each request is: a refresh, a raced refresh, or a
	// code exchange mixed with refreshes.
	Workload Workload
	// Defaults are the parameters used when the run does not set them;
	// they keep a run against the bundled mock under about 20 s.
	Defaults Params
	// Derive fills parameters that default relative to others (the
	// spike's timing follows the duration); nil when none do.
	Derive func(Params) Params
	// Pacer returns the run's schedule for resolved parameters.
	Pacer func(Params) Schedule
	// Thresholds gate the run: any broken one makes the verdict "fail".
	// The Headline ones are what the profile exists to judge: when a run
	// cannot judge them the verdict is "inconclusive", not "pass".
	Thresholds []Threshold
	// StopAtKnee ends the attack once p99 or the error rate has broken its
	// limit for two seconds in a row (the ramp).
	StopAtKnee bool
	// Finish fills the profile's own figures (the ramp's knee, the spike's
	// recovery) from the report's series; nil when it has none. limits
	// holds the run's threshold limits by metric name.
	Finish func(l *reports.Load, p Params, limits map[string]float64)
	// Search makes the run a capacity search (see capacity.go): steps of
	// DURATION at constant rates, chosen one after another from the last
	// step's result, instead of one schedule. Pacer is its first step.
	Search bool
}

// Workload is the kind of request a profile sends.
type Workload string

const (
	// Refresh spends pooled refresh tokens, capturing rotated ones.
	Refresh Workload = "refresh"
	// Race sends groups of concurrent refreshes of one token.
	Race Workload = "race"
	// Mixed interleaves code exchanges with refreshes.
	Mixed Workload = "mixed"
)

// Rotation policies a race is judged by.
const (
	RaceStrict = "strict"
	RaceGrace  = "grace"
)

// Params are a run's parameters. Zero means "use the profile's default";
// fields a profile does not use are ignored and left out of the report.
type Params struct {
	// Rate is the arrival rate in requests per second: the peak for ramp,
	// the baseline for spike, the herd's refresh rate within a wave.
	Rate float64 `json:"rate"`
	// Duration is how long requests are scheduled for.
	Duration time.Duration `json:"duration_ns"`
	// Workers caps vegeta's workers: uncapped workers collapse the
	// generator on a small machine (load/LOAD.md §1). A schedule that needs more
	// concurrency than this falls behind and the run is marked invalid.
	Workers uint64 `json:"workers"`
	// Clients is the size of the token pool (herd: the clients whose tokens
	// expire together). Zero sizes it from the schedule.
	Clients int `json:"clients"`
	// Timeout bounds each request.
	Timeout time.Duration `json:"timeout_ns"`

	// StartRate is where a ramp starts.
	StartRate float64 `json:"start_rate,omitempty"`
	// GroupSize is how many refreshes of one token race (rotation-race).
	GroupSize int `json:"group_size,omitempty"`
	// RacePolicy is the rotation policy the race is judged by (load/LOAD.md §7):
	// RaceStrict, every refresh token works once; RaceGrace, a rotated-out
	// token may be answered again within a grace period with the same new
	// token (a client retrying a lost response), so several winners that
	// all got one new refresh token are one rotation, not a breach.
	RacePolicy string `json:"race_policy,omitempty"`
	// Every is the herd's wave period: the access-token lifetime after
	// which all clients refresh together again.
	Every time.Duration `json:"every_ns,omitempty"`
	// SpikeAt, SpikeFor and SpikeRate shape the spike's burst.
	SpikeAt   time.Duration `json:"spike_at_ns,omitempty"`
	SpikeFor  time.Duration `json:"spike_for_ns,omitempty"`
	SpikeRate float64       `json:"spike_rate,omitempty"`
	// CodeEvery makes every n-th request of the mixed profile a code
	// exchange (a login); the rest are refreshes.
	CodeEvery int `json:"code_every,omitempty"`
	// SLOP99 and SLOErrors are the service level a capacity search holds
	// each step to: p99 latency at most SLOP99 and at most SLOErrors of
	// requests failing unexpectedly.
	SLOP99    time.Duration `json:"slo_p99_ns,omitempty"`
	SLOErrors float64       `json:"slo_errors,omitempty"`

	// PoolSizing says how a pool Clients left at zero was sized: from the
	// target's measured refresh latency (poolsize.go), or why not. Set by
	// the run, never by the user.
	PoolSizing string `json:"pool_sizing,omitempty"`
}

// withDefaults fills zero fields of p from d.
func (p Params) withDefaults(d Params) Params {
	setF := func(v *float64, dv float64) {
		if *v == 0 {
			*v = dv
		}
	}
	setD := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	setF(&p.Rate, d.Rate)
	setD(&p.Duration, d.Duration)
	if p.Workers == 0 {
		p.Workers = d.Workers
	}
	if p.Clients == 0 {
		p.Clients = d.Clients
	}
	setD(&p.Timeout, d.Timeout)
	setF(&p.StartRate, d.StartRate)
	if p.GroupSize == 0 {
		p.GroupSize = d.GroupSize
	}
	if p.RacePolicy == "" {
		p.RacePolicy = d.RacePolicy
	}
	setD(&p.Every, d.Every)
	setD(&p.SpikeAt, d.SpikeAt)
	setD(&p.SpikeFor, d.SpikeFor)
	setF(&p.SpikeRate, d.SpikeRate)
	if p.CodeEvery == 0 {
		p.CodeEvery = d.CodeEvery
	}
	setD(&p.SLOP99, d.SLOP99)
	setF(&p.SLOErrors, d.SLOErrors)
	return p
}

// Limits on parameters: every loop of a run is bounded in count and time.
const (
	MaxDuration = 24 * time.Hour
	MaxRate     = 100_000
	MaxWorkers  = 4096
	MaxClients  = 1_000_000
)

func (p Params) validate(w Workload) error {
	var errs []string
	if p.Rate <= 0 || p.Rate > MaxRate {
		errs = append(errs, fmt.Sprintf("rate %g is not in (0, %d] req/s", p.Rate, MaxRate))
	}
	if p.Duration <= 0 || p.Duration > MaxDuration {
		errs = append(errs, fmt.Sprintf("duration %s is not in (0, %s]", p.Duration, MaxDuration))
	}
	if p.Workers == 0 || p.Workers > MaxWorkers {
		errs = append(errs, fmt.Sprintf("workers %d is not in [1, %d]", p.Workers, MaxWorkers))
	}
	if p.Clients < 0 || p.Clients > MaxClients {
		errs = append(errs, fmt.Sprintf("clients %d is not in [0, %d]", p.Clients, MaxClients))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"every", p.Every}, {"spike-at", p.SpikeAt}, {"spike-for", p.SpikeFor}} {
		if d.v < 0 {
			errs = append(errs, fmt.Sprintf("%s %s is negative", d.name, d.v))
		}
	}
	if p.StartRate < 0 || p.SpikeRate < 0 || p.SpikeRate > MaxRate || p.StartRate > MaxRate {
		errs = append(errs, fmt.Sprintf("start rate %g and spike rate %g must be in [0, %d] req/s", p.StartRate, p.SpikeRate, MaxRate))
	}
	if p.Timeout <= 0 {
		errs = append(errs, fmt.Sprintf("timeout %s is not positive", p.Timeout))
	}
	if w == Race && (p.GroupSize < 2 || uint64(p.GroupSize) > p.Workers) {
		errs = append(errs, fmt.Sprintf("group size %d is not in [2, workers=%d]", p.GroupSize, p.Workers))
	}
	if w == Race && p.RacePolicy != RaceStrict && p.RacePolicy != RaceGrace {
		errs = append(errs, fmt.Sprintf("race policy %q is not one of %s|%s", p.RacePolicy, RaceStrict, RaceGrace))
	}
	if p.SLOP99 < 0 || p.SLOErrors < 0 || p.SLOErrors > 1 {
		errs = append(errs, fmt.Sprintf("SLO p99 %s must be ≥ 0 and SLO errors %g in [0, 1]", p.SLOP99, p.SLOErrors))
	}
	if w == Mixed && p.CodeEvery < 1 {
		errs = append(errs, fmt.Sprintf("code-every %d is not ≥ 1", p.CodeEvery))
	}
	if len(errs) > 0 {
		return fmt.Errorf("load: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ByName returns the registered profile with that name.
func ByName(name string) (Profile, error) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, nil
		}
	}
	return Profile{}, fmt.Errorf("load: profile %q is not one of %s", name, strings.Join(Names(), "|"))
}

// Names lists the registered profile names in registry order.
func Names() []string {
	ps := Profiles()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}
