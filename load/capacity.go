package load

import (
	"context"
	"fmt"
	"math"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tokenharness/reports"
)

// Capacity finds the highest arrival rate the server sustains within a
// service level: steps of DURATION at a constant rate, each judged on its
// own p99 latency (from the intended send time) and unexpected-failure
// ratio, doubling from START_RATE until a step breaks the SLO or RATE is
// reached, then halving the interval between the last step that held and
// the first that broke until it is within 10%.
var Capacity = Profile{
	Name: "capacity",
	Doc: "steps of DURATION at constant rates, doubling from START_RATE up to RATE until a step's p99 exceeds " +
		"SLO_P99 or its unexpected-failure ratio SLO_ERRORS, then narrowing between the last step that held and " +
		"the first that broke to within 10%; reports the capacity (capacity_rate) with every step's evidence. " +
		"A server that breaks the SLO at START_RATE is reported as below it.",
	Workload: Refresh,
	Defaults: Params{Rate: 2000, StartRate: 50, Duration: 3 * time.Second, Workers: defaultWorkers, Timeout: defaultTimeout,
		SLOP99: 100 * time.Millisecond, SLOErrors: 0.01},
	Pacer:      func(p Params) Schedule { return Constant(p.StartRate, p.Duration) },
	Thresholds: []Threshold{Min(CapacityRate, 0).Headline(), Max(DeadAfterRefresh, 0), Max(DuplicateAccessTokens, 0)},
	Search:     true,
}

// Bounds of a capacity search: every loop is bounded in count.
const (
	maxCapacitySteps = 12
	capacityNarrow   = 0.10 // stop when the bracket is within 10% of its low end
)

// CapacityRate is the capacity search's figure.
var CapacityRate = Metric{Name: "capacity_rate", Profiles: []string{"capacity"},
	Doc: "highest step rate (req/s) whose p99 and unexpected-failure ratio met the SLO",
	Observe: func(l *reports.Load) Observation {
		c := l.Capacity
		switch {
		case c == nil:
			return inconclusive("the run reported no capacity")
		case c.Bound == reports.CapacityBelow:
			return Observation{Value: exactDecimal(c.Rate), UpperBound: true, Reason: c.Reason}
		case c.Bound == reports.CapacityAtLeast:
			return Observation{Value: exactDecimal(c.Rate), LowerBound: true, Reason: c.Reason}
		}
		return observed(exactDecimal(c.Rate), "%s", c.Reason)
	}}

// search runs the capacity search with the minted pool.
func (pre *prepared) search(ctx context.Context) (*reports.Load, error) {
	cfg, pl := pre.cfg, pre.pl
	p := pl.Params
	var (
		out *sink
		err error
	)
	if cfg.Dir != "" {
		info := RunInfo{Profile: cfg.Profile.Name, Params: p, Limits: limitsOf(pl.Thresholds), Overrides: cfg.Limits,
			Target: PublicURL(cfg.Endpoint.TokenURL), TargetKind: cfg.TargetKind, MaxLag: cfg.MaxLag, StartedAt: pre.startedAt}
		if out, err = newSink(cfg.Dir, attackName(cfg), info); err != nil {
			return nil, err
		}
		defer out.abort()
	}
	if err := waitStart(ctx, cfg.StartAt, cfg.Progress); err != nil {
		return nil, err
	}
	maxLag := cfg.MaxLag
	if maxLag <= 0 {
		maxLag = DefaultMaxLag
	}
	capa := &reports.Capacity{SLOP99MS: ms(p.SLOP99), SLOErrorRate: p.SLOErrors}
	var whole *analyzer
	lo, hi := 0.0, 0.0 // highest rate that held, lowest that broke
	rate := p.StartRate
	for range maxCapacitySteps {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("load: capacity search stopped: %w", ctx.Err())
		}
		sched := Constant(rate, p.Duration)
		stepAn, err := pre.step(ctx, sched, func(began time.Time) *analyzer {
			if whole == nil {
				whole = newAnalyzer(began, time.Duration(maxCapacitySteps)*p.Duration, p.RacePolicy)
			}
			return whole
		}, out)
		if err != nil {
			return nil, err
		}
		st := judgeStep(rate, stepAn, sched.Hits(), p, maxLag)
		capa.Steps = append(capa.Steps, st)
		if st.Passed {
			lo = rate
		} else {
			hi = rate
		}
		switch {
		case hi == 0 && rate >= p.Rate:
			capa.Rate, capa.Bound = lo, reports.CapacityAtLeast
			capa.Reason = fmt.Sprintf("every step met the SLO up to RATE=%g req/s: the capacity is at least that (raise RATE to search higher)", p.Rate)
		case hi == 0:
			rate = math.Min(rate*2, p.Rate)
			continue
		case lo == 0:
			capa.Rate, capa.Bound = rate, reports.CapacityBelow
			capa.Reason = fmt.Sprintf("capacity below %g req/s at this SLO: the first step broke it (%s)", rate, st.Why)
		case hi-lo <= math.Max(capacityNarrow*lo, 1):
			capa.Rate, capa.Bound = lo, reports.CapacityExact
			capa.Reason = fmt.Sprintf("%g req/s met the SLO, %g req/s did not (%s)", lo, hi, brokeWhy(capa.Steps, hi))
		default:
			rate = math.Round((lo + hi) / 2)
			continue
		}
		break
	}
	if capa.Bound == "" { // out of steps while narrowing
		capa.Rate, capa.Bound = lo, reports.CapacityExact
		capa.Reason = fmt.Sprintf("%g req/s met the SLO, %g req/s did not (%s); the search stopped after %d steps", lo, hi, brokeWhy(capa.Steps, hi), maxCapacitySteps)
	}
	if whole == nil {
		return nil, fmt.Errorf("load: capacity search: no step sent a request")
	}
	l := &reports.Load{
		APIVersion: reports.APIVersion, Kind: reports.KindLoad, Profile: cfg.Profile.Name,
		Target: PublicURL(cfg.Endpoint.TokenURL), TargetKind: cfg.TargetKind,
		StartedAt: pre.startedAt, FinishedAt: time.Now(), Valid: true, Capacity: capa,
		Params: reportParams(cfg.Profile, p, pl.Thresholds, cfg.Shard),
	}
	whole.fill(l)
	finish(l, cfg.Profile, p, pl.Thresholds, cfg.MaxLag)
	if out != nil {
		if err := out.close(l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func brokeWhy(steps []reports.CapacityStep, rate float64) string {
	for _, s := range steps {
		if s.Rate == rate && !s.Passed {
			return s.Why
		}
	}
	return ""
}

// judgeStep holds one step to the SLO. Latency runs from each request's
// intended send time, so a generator that fell behind (workers tied up by
// a slow server) shows as latency; its lag is recorded, and named when it
// is over MAX_LAG, since the figure may then be the generator's limit.
func judgeStep(rate float64, an *analyzer, scheduled uint64, p Params, maxLag time.Duration) reports.CapacityStep {
	var l reports.Load
	an.fill(&l)
	st := reports.CapacityStep{Rate: rate, Requests: l.Requests, P99MS: l.Latency.P99, LagP99MS: l.GeneratorLag.P99,
		UnexpectedFailures: l.Outcomes.UnexpectedFailures}
	n := sent(&l)
	if n > 0 {
		st.ErrorRate = round3(float64(st.UnexpectedFailures) / float64(n))
	}
	unsent := tooManyUnsent(l.Outcomes.Unsent, l.Requests, p.Clients)
	switch {
	case l.Requests < scheduled:
		st.Why = fmt.Sprintf("only %d of %d scheduled requests were accounted for", l.Requests, scheduled)
	case unsent != "":
		// Not a measurement of the server at this rate: the pool, sized
		// for the top rate at the probe's latency, ran dry because the
		// server's latency grew. The rate is not shown to be sustained.
		st.Why = unsent + ", the server's latency having outgrown it (raise CLIENTS to measure this rate)"
	case st.P99MS > ms(p.SLOP99):
		st.Why = fmt.Sprintf("p99 %.1f ms > %s", st.P99MS, p.SLOP99)
	case ratioOver(st.UnexpectedFailures, n, p.SLOErrors):
		st.Why = fmt.Sprintf("unexpected failures %d of %d sent > %g", st.UnexpectedFailures, n, p.SLOErrors)
	default:
		st.Passed = true
	}
	if !st.Passed && st.LagP99MS > ms(maxLag) {
		st.Why += fmt.Sprintf("; the generator lagged (p99 %.1f ms > %s): with a fast server this may be the generator's limit (raise WORKERS)", st.LagP99MS, maxLag)
	}
	return st
}

// step runs one constant-rate schedule with the minted pool, feeding each
// result to its own analyzer and to the run's (made by whole on the first
// result, from the attack's start), and to out. It returns the step's.
func (pre *prepared) step(ctx context.Context, sched *Segments, whole func(time.Time) *analyzer, out *sink) (*analyzer, error) {
	cfg, tg := pre.cfg, pre.tg
	p := pre.pl.Params
	atk := newAttacker(cfg, p)
	pc := newPacer(sched)
	defer bounded(ctx, atk, sched, p.Timeout)()

	capt := newCapture(tg, pc, sched)
	rec := cfg.Live
	startLive(rec, cfg, sched, pc, tg)
	prog := newProgress(cfg.Progress, cfg.TTY, fmt.Sprintf("%s %g req/s", cfg.Profile.Name, sched.Rate(0)), sched)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var stepAn, wholeAn *analyzer
	take := func(js []judged) error {
		for _, j := range js {
			stepAn.add(j.r, j.a)
			wholeAn.add(j.r, j.a)
			prog.add(j.r, j.a)
			observe(rec, j)
			if out != nil {
				if err := out.add(j.r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	results := atk.Attack(vegeta.Targeter(tg.Target), pc, 0, attackName(cfg))
	for done := false; !done; {
		select {
		case r, ok := <-results:
			if !ok {
				done = true
				break
			}
			if stepAn == nil {
				stepAn = newAnalyzer(pc.Began(), sched.Span(), p.RacePolicy)
				wholeAn = whole(pc.Began())
			}
			if err := take(capt.take(r)); err != nil {
				atk.Stop()
				return nil, err
			}
		case <-tick.C:
			prog.tick(time.Since(pc.Began()))
		}
	}
	if stepAn == nil {
		stepAn = newAnalyzer(pc.Began(), sched.Span(), p.RacePolicy)
		wholeAn = whole(pc.Began())
	}
	if err := take(capt.flush()); err != nil {
		return nil, err
	}
	prog.finish()
	return stepAn, nil
}
