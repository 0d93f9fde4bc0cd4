package load

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/load/live"
	"tokenharness/load/shard"
	"tokenharness/load/tokenpool"
	"tokenharness/reports"
)

// Config is one load run.
type Config struct {
	Profile Profile
	// Params override the profile's defaults field by field (zero = default).
	Params Params
	// Limits override threshold limits by metric name ("p99_ms": 100).
	// Each one is required (judged, or the run is inconclusive); a metric
	// the profile does not measure is refused by Resolve (CheckLimits).
	Limits   map[string]float64
	Endpoint Endpoint
	// Codes mints the token pool (and the mixed profile's codes) through
	// the suite's code configuration; CodeRequest says for which client
	// (its PKCE and state are filled per code).
	Codes       codes.Source
	CodeRequest codes.Request
	Shard       shard.Shard
	// Dir receives results.bin, report.json, report.html and plot.html;
	// empty writes nothing.
	Dir string
	// Progress receives a status line once a second; nil is silent. TTY
	// makes it one updating line instead of a line per second.
	Progress io.Writer
	TTY      bool
	// MaxLag is the generator lag p99 above which the run is invalid;
	// zero is DefaultMaxLag.
	MaxLag time.Duration
	// TargetKind is reported as is: "in-process" or "external".
	TargetKind string
	// MintWorkers bounds concurrent minting requests; zero is 8.
	MintWorkers int
	// AllowRemote permits a non-loopback token URL (ALLOW_REMOTE=1).
	AllowRemote bool
	// Live, when set, receives every classified result as it arrives, for
	// the metrics endpoint (METRICS_ADDR, see load/live).
	Live *live.Recorder
	// StartAt is when the attack begins once the pool is minted (START_AT,
	// see ParseStartAt): shards given the same time run together. Zero
	// starts at once.
	StartAt time.Time
	// PoolFile, when set, is where the refresh-token pool is saved after
	// the run and loaded from before the next (POOL_FILE, see poolfile.go):
	// a file for this target and client, minted less than PoolMaxAge ago
	// (zero: DefaultPoolMaxAge), saves minting those tokens again.
	PoolFile   string
	PoolMaxAge time.Duration
	// M2MClients are the m2m profile's clients, taken in turn (the first
	// Params.Clients of them when that is set); empty is the endpoint's
	// own client. Other profiles ignore them.
	M2MClients []Credential
	// Signing, when set, signs a client assertion and/or a DPoP proof for
	// every request of the m2m profile (signfeed.go); other profiles refuse it.
	Signing *Signing
}

// DefaultMaxLag is how far behind schedule (p99) the generator may fall
// before its latency figures are not trusted.
const DefaultMaxLag = 100 * time.Millisecond

// Plan is what a run will do, resolved before any request is sent.
type Plan struct {
	Params   Params
	Schedule Schedule // this shard's part
	// Slots is this shard's refresh-token pool; RaceTokens the race
	// groups' tokens; Codes the mixed profile's code exchanges.
	Slots, RaceTokens, Codes int
	Thresholds               []Threshold
	// WholeHits is the whole run's scheduled requests, all shards together.
	WholeHits uint64
	// Measure is set when CLIENTS was left to the run: Slots is then a
	// provisional figure, and the pool is sized from the target's measured
	// refresh latency before minting (poolsize.go).
	Measure bool
	// M2M are the m2m profile's clients, taken in turn.
	M2M []Credential
}

// Resolve applies defaults, validates and sizes the run.
func Resolve(cfg Config) (Plan, error) {
	pr := cfg.Profile
	p := cfg.Params.withDefaults(pr.Defaults)
	if pr.Derive != nil {
		p = pr.Derive(p)
	}
	if err := p.validate(pr.Workload); err != nil {
		return Plan{}, err
	}
	if pr.Search {
		switch {
		case cfg.Shard.Sharded():
			return Plan{}, fmt.Errorf("load: profile %s chooses each step from the last one's result and cannot be split into shards: unset SHARD", pr.Name)
		case p.StartRate <= 0 || p.StartRate > p.Rate:
			return Plan{}, fmt.Errorf("load: profile %s: START_RATE %g must be in (0, RATE=%g]", pr.Name, p.StartRate, p.Rate)
		case p.SLOP99 <= 0:
			return Plan{}, fmt.Errorf("load: profile %s: SLO_P99 %s must be positive", pr.Name, p.SLOP99)
		}
	}
	group := uint64(1)
	if pr.Workload == Race {
		group = uint64(p.GroupSize)
	}
	whole := pr.Pacer(p)
	if whole.Hits() == 0 {
		return Plan{}, fmt.Errorf("load: profile %s schedules no requests at rate %g for %s", pr.Name, p.Rate, p.Duration)
	}
	if cfg.Signing.on() && pr.Workload != ClientCredentials {
		return Plan{}, ErrSigningNotM2M
	}
	if cfg.PoolFile != "" {
		switch {
		case pr.Workload == ClientCredentials:
			return Plan{}, fmt.Errorf("load: profile %s mints no token pool: POOL_FILE does not apply (unset it)", pr.Name)
		case pr.Workload == Race:
			return Plan{}, fmt.Errorf("load: profile %s spends each minted token once, in a race: POOL_FILE does not apply (unset it)", pr.Name)
		case cfg.Shard.Sharded():
			return Plan{}, errors.New("load: POOL_FILE holds one pool, and shards would overwrite each other's: unset it or SHARD")
		}
	}
	ths, err := resolve(pr, cfg.Limits)
	if err != nil {
		return Plan{}, err
	}
	pl := Plan{Schedule: cfg.Shard.Split(whole, group), Thresholds: ths, WholeHits: whole.Hits()}
	hits := pl.Schedule.Hits()
	switch pr.Workload {
	case ClientCredentials:
		if pl.M2M, err = m2mClients(cfg, p.Clients); err != nil {
			return Plan{}, err
		}
		p.Clients = len(pl.M2M)
	case Race:
		pl.RaceTokens = int(hits / group)
		p.Clients = int(whole.Hits() / group)
	case Mixed:
		pl.Codes = int((hits + uint64(p.CodeEvery) - 1) / uint64(p.CodeEvery))
		fallthrough
	default:
		if p.Clients == 0 {
			p.Clients, pl.Measure = autoClients(p), true
		}
		pl.Slots = max(cfg.Shard.Part(p.Clients), 1)
	}
	pl.Params = p
	return pl, nil
}

// Run mints the token pool, runs the profile's schedule against the
// endpoint, and returns the report; with cfg.Dir set it also writes it.
// An error means nothing was judged (bad configuration, minting failed).
func Run(ctx context.Context, cfg Config) (*reports.Load, error) {
	r, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.feed.stop()
	var l *reports.Load
	if cfg.Profile.Search {
		l, err = r.search(ctx)
	} else {
		l, err = r.attack(ctx)
	}
	// Saved whatever became of the attack: a rotating server has spent
	// the tokens it began with, and the file must hold the rotated ones.
	if serr := r.savePool(); serr != nil && err == nil {
		return nil, serr
	}
	return l, err
}

// prepared is a run whose token pool is minted: everything before the
// first scheduled request.
type prepared struct {
	cfg       Config
	pl        Plan
	tg        *targeter
	feed      *signFeed // m2m with Signing: stopped when the attack ends
	startedAt time.Time
	// pool is what POOL_FILE saves after the run: spare holds loaded
	// tokens the run did not need, kept for the next one.
	pool  *savedPool
	spare []string
}

// prepare validates cfg and mints the pool (and codes) the run spends.
func prepare(ctx context.Context, cfg Config) (_ *prepared, err error) {
	pl, err := Resolve(cfg)
	if err != nil {
		return nil, err
	}
	p := pl.Params
	if cfg.Codes == nil && cfg.Profile.Workload != ClientCredentials {
		return nil, errNoCodeSource
	}
	u, err := url.Parse(cfg.Endpoint.TokenURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("load: token URL %q is not an absolute http(s) URL", PublicURL(cfg.Endpoint.TokenURL))
	}
	if err := CheckLoopback("TARGET", cfg.Endpoint.TokenURL, cfg.AllowRemote); err != nil {
		return nil, err
	}

	req := newRequests(cfg.Endpoint)
	if cfg.Profile.Workload == ClientCredentials {
		return prepareM2M(ctx, cfg, pl, req)
	}
	client := &http.Client{Timeout: p.Timeout, Transport: transport(cfg.Endpoint, p)}
	defer client.CloseIdleConnections()

	startedAt := time.Now()
	tg := newTargeter(req, cfg.Profile.Workload)
	mintWorkers := cfg.MintWorkers
	if mintWorkers <= 0 {
		mintWorkers = 8
	}
	// A saved pool is read before anything is minted: a file for another
	// target or client, or too old, is refused before any work.
	var saved *savedPool
	if cfg.PoolFile != "" {
		if st, err := os.Stat(filepath.Dir(cfg.PoolFile)); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("load: POOL_FILE %s: its directory does not exist, so the pool could not be saved", cfg.PoolFile)
		}
		if saved, err = readPool(cfg.PoolFile, PublicURL(cfg.Endpoint.TokenURL), cfg.Endpoint.ClientID, cfg.PoolMaxAge, startedAt); err != nil {
			return nil, err
		}
	}
	var have []string // live tokens in hand: a saved pool's
	if saved != nil {
		have = saved.RefreshTokens
		// The tokens are in memory now and the probe and the attack may
		// spend them: a run that dies leaves no file of spent tokens. One
		// that fails before the attack puts back the tokens in hand.
		if err := os.Remove(cfg.PoolFile); err != nil {
			return nil, fmt.Errorf("load: POOL_FILE: %w", err)
		}
		defer func() {
			if err != nil {
				sp := *saved
				sp.SavedAt, sp.RefreshTokens = time.Now(), have
				if werr := writePool(cfg.PoolFile, &sp); werr != nil {
					err = fmt.Errorf("%w; and the loaded pool could not be put back: %w", err, werr)
				}
			}
		}()
	}
	if pl.Measure {
		inHand, err := pl.measure(ctx, cfg, client, req, have, mintWorkers, mintToken0(cfg, client, req))
		if err != nil {
			return nil, err
		}
		have = inHand
		p = pl.Params
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "load: token pool: %d slots (%s)\n", pl.Slots, p.PoolSizing)
		}
	}
	var loaded, spare []string
	n := min(len(have), pl.Slots)
	loaded, spare = have[:n:n], have[n:]
	mp := startMintProgress(cfg.Progress, "the token pool", pl.RaceTokens+pl.Codes+pl.Slots-len(loaded))
	defer mp.end()
	newCode := func(ctx context.Context, _ int) (Code, error) {
		c, err := freshCode(ctx, cfg.Codes, cfg.CodeRequest)
		if err == nil {
			mp.add()
		}
		return c, err
	}
	mintToken := func(ctx context.Context, i int) (string, error) {
		c, err := freshCode(ctx, cfg.Codes, cfg.CodeRequest)
		if err != nil {
			return "", err
		}
		rt, err := mintRefresh(ctx, client, req, c)
		if err == nil {
			mp.add()
		}
		return rt, err
	}
	switch cfg.Profile.Workload {
	case Race:
		toks, err := tokenpool.Mint(ctx, pl.RaceTokens, mintWorkers, mintToken)
		if err != nil {
			return nil, err
		}
		tg.races, tg.group = tokenpool.NewSealed(toks), uint64(p.GroupSize)
		tg.slotURLs = urls(req.url, fragRace, len(toks))
	case Mixed:
		cs, err := tokenpool.Mint(ctx, pl.Codes, mintWorkers, newCode)
		if err != nil {
			return nil, err
		}
		tg.codes, tg.codeEvery = tokenpool.NewSealed(cs), uint64(p.CodeEvery)
		fallthrough
	default:
		toks, err := tokenpool.Mint(ctx, pl.Slots-len(loaded), mintWorkers, mintToken)
		if err != nil {
			return nil, err
		}
		toks = append(loaded, toks...)
		tg.pool = tokenpool.New(toks)
		tg.slotURLs = urls(req.url, fragSlot, len(toks))
	}
	pre := &prepared{cfg: cfg, pl: pl, tg: tg, startedAt: startedAt, spare: spare}
	if cfg.PoolFile != "" && tg.pool != nil {
		pre.pool = &savedPool{Target: PublicURL(cfg.Endpoint.TokenURL), ClientID: cfg.Endpoint.ClientID, MintedAt: startedAt}
		switch {
		case saved != nil:
			pre.pool.MintedAt = saved.MintedAt
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "load: token pool: %d refresh tokens loaded from POOL_FILE %s (minted %s ago), %d minted\n",
					len(loaded), cfg.PoolFile, startedAt.Sub(pre.pool.MintedAt).Round(time.Second), pl.Slots-len(loaded))
			}
		case cfg.Progress != nil:
			fmt.Fprintf(cfg.Progress, "load: token pool: no POOL_FILE %s yet: minted, and saved there after the run\n", cfg.PoolFile)
		}
	}
	return pre, nil
}

// mintToken0 mints one refresh token without counting progress: the
// probe's, before the pool's size (and so its progress total) is known.
func mintToken0(cfg Config, client *http.Client, req *requests) func(context.Context, int) (string, error) {
	return func(ctx context.Context, _ int) (string, error) {
		c, err := freshCode(ctx, cfg.Codes, cfg.CodeRequest)
		if err != nil {
			return "", err
		}
		return mintRefresh(ctx, client, req, c)
	}
}

// measure sizes the pool from the target's refresh latency (poolsize.go):
// it refreshes probe tokens (taken from have, minted if have is short) and
// sets Clients, Slots and PoolSizing. It returns the tokens in hand, the
// probe's rotated ones first. A probe refresh that fails keeps the
// provisional size and drops the probe tokens; minting that fails is an
// error, as for the pool.
func (pl *Plan) measure(ctx context.Context, cfg Config, client *http.Client, req *requests, have []string, workers int,
	mint func(context.Context, int) (string, error)) ([]string, error) {
	k := min(len(have), probeTokens)
	probe, rest := slices.Clone(have[:k]), have[k:]
	more, err := tokenpool.Mint(ctx, probeTokens-k, workers, mint)
	if err != nil {
		return nil, err
	}
	probe = append(probe, more...)
	p := &pl.Params
	lat, kept, err := probeRefresh(ctx, client, req, probe)
	if err != nil {
		p.PoolSizing = fmt.Sprintf("%d: a quarter second at the peak rate, unmeasured: a probe refresh failed (%v)", p.Clients, err)
		return rest, nil
	}
	var why string
	// The least latency the pool must cover: a capacity search holds the
	// target to SLO_P99, and a ramp stops at its knee, where p99 passes its
	// limit; a pool sized from idle latency would run dry before either and
	// the figure would be the pool's, not the server's.
	var slo time.Duration
	switch {
	case cfg.Profile.Search:
		slo = p.SLOP99
	case KneeRate.AppliesTo(cfg.Profile.Name):
		if ms, ok := limitsOf(pl.Thresholds)[P99.Name]; ok {
			slo = time.Duration(ms * float64(time.Millisecond))
		}
	}
	p.Clients, why = sizeFromLatency(peakRate(*p), lat, slo)
	if cfg.Shard.Sharded() {
		why += ", split between shards"
	}
	p.PoolSizing = why
	pl.Slots = max(cfg.Shard.Part(p.Clients), 1)
	return append(kept, rest...), nil
}

// savePool writes POOL_FILE after the run: the pool's live tokens (rotated
// ones in place of those spent, rejected ones dropped) and the spare ones.
// Only once the attack is over, when no slot is out.
func (pre *prepared) savePool() error {
	if pre.pool == nil {
		return nil
	}
	sp := *pre.pool
	sp.SavedAt = time.Now()
	sp.RefreshTokens = append(pre.tg.pool.Live(), pre.spare...)
	if err := writePool(pre.cfg.PoolFile, &sp); err != nil {
		return err
	}
	if pre.cfg.Progress != nil {
		fmt.Fprintf(pre.cfg.Progress, "load: token pool: %d live refresh tokens saved to POOL_FILE %s (mode 0600: it holds live refresh tokens)\n",
			len(sp.RefreshTokens), pre.cfg.PoolFile)
	}
	return nil
}

// attack runs the schedule, capturing each result as it arrives, and
// judges the run; with cfg.Dir set it writes the run directory.
func (pre *prepared) attack(ctx context.Context) (*reports.Load, error) {
	cfg, pl, tg, startedAt := pre.cfg, pre.pl, pre.tg, pre.startedAt
	p := pl.Params
	var (
		out *sink
		err error
	)
	if cfg.Dir != "" {
		info := RunInfo{Profile: cfg.Profile.Name, Params: p, Limits: limitsOf(pl.Thresholds), Overrides: cfg.Limits, Shard: cfg.Shard.String(),
			Target: PublicURL(cfg.Endpoint.TokenURL), TargetKind: cfg.TargetKind, MaxLag: cfg.MaxLag, StartedAt: startedAt,
			Hits: pl.Schedule.Hits(), WholeHits: pl.WholeHits}
		if out, err = newSink(cfg.Dir, attackName(cfg), info); err != nil {
			return nil, err
		}
		defer out.abort()
	}

	defer pre.feed.stop()
	atk := newAttacker(cfg, p)
	// As late as possible: files are open and the attacker is built, so
	// shards given one START_AT differ only by what is left.
	if err := waitStart(ctx, cfg.StartAt, cfg.Progress); err != nil {
		return nil, err
	}
	pc := newPacer(pl.Schedule)
	defer bounded(ctx, atk, pl.Schedule, p.Timeout)()

	capt := newCapture(tg, pc, pl.Schedule)
	rec := cfg.Live
	capt.onGroup = rec.RaceGroup
	startLive(rec, cfg, pl.Schedule, pc, tg)
	an := (*analyzer)(nil)
	prog := newProgress(cfg.Progress, cfg.TTY, cfg.Profile.Name, pl.Schedule)
	stopper := newKneeStop(cfg.Profile, limitsOf(pl.Thresholds))
	var stoppedAt time.Duration
	tick := time.NewTicker(time.Second)
	defer tick.Stop()

	results := atk.Attack(vegeta.Targeter(tg.Target), pc, 0, attackName(cfg))
	for done := false; !done; {
		select {
		case r, ok := <-results:
			if !ok {
				done = true
				break
			}
			if an == nil {
				an = newAnalyzer(pc.Began(), pl.Schedule.Span(), p.RacePolicy)
			}
			for _, j := range capt.take(r) {
				an.add(j.r, j.a)
				prog.add(j.r, j.a)
				observe(rec, j)
				if out != nil {
					if err := out.add(j.r); err != nil {
						atk.Stop()
						return nil, err
					}
				}
			}
		case <-tick.C:
			ws := prog.tick(time.Since(pc.Began()))
			if stopper.broken(ws) && stoppedAt == 0 {
				stoppedAt = time.Since(pc.Began()).Round(time.Millisecond)
				atk.Stop()
			}
		}
	}
	if an == nil {
		an = newAnalyzer(pc.Began(), pl.Schedule.Span(), p.RacePolicy)
	}
	// Race groups cut short by the end of the attack.
	for _, j := range capt.flush() {
		an.add(j.r, j.a)
		prog.add(j.r, j.a)
		observe(rec, j)
		if out != nil {
			if err := out.add(j.r); err != nil {
				return nil, err
			}
		}
	}
	prog.finish()

	l := &reports.Load{
		APIVersion: reports.APIVersion, Kind: reports.KindLoad, Profile: cfg.Profile.Name,
		Target: PublicURL(cfg.Endpoint.TokenURL), TargetKind: cfg.TargetKind,
		StartedAt: startedAt, FinishedAt: time.Now(), Valid: true,
		Params: reportParams(cfg.Profile, p, pl.Thresholds, cfg.Shard),
	}
	if cfg.Profile.Workload == ClientCredentials {
		pre.feed.stop() // before its counts are read
		m2mExtra(l.Params.Extra, len(pl.M2M), cfg.Signing, pre.feed)
	}
	an.fill(l)
	if stoppedAt > 0 {
		l.Params.Extra[extraStoppedAt] = stoppedAt.String()
	} else if want := pl.Schedule.Hits(); l.Requests < want {
		l.Valid = false
		l.InvalidWhy = fmt.Sprintf("the attack stopped after %d of %d scheduled requests", l.Requests, want)
	}
	finish(l, cfg.Profile, p, pl.Thresholds, cfg.MaxLag)
	if out != nil {
		if err := out.close(l); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// bounded stops atk when ctx ends or, whatever the schedule does, after its
// span, one request timeout to drain and a margin; call the result when the
// attack is over.
func bounded(ctx context.Context, atk *vegeta.Attacker, s Schedule, timeout time.Duration) (release func()) {
	stopAt := time.AfterFunc(s.Span()+timeout+10*time.Second, func() { atk.Stop() })
	stopCtx := context.AfterFunc(ctx, func() { atk.Stop() })
	return func() {
		stopAt.Stop()
		stopCtx()
	}
}

// startLive starts the live metrics of one attack: what it schedules, the
// rate the pacer is at, and the token pool's state.
func startLive(rec *live.Recorder, cfg Config, s Schedule, pc *pacer, tg *targeter) {
	rec.Start(cfg.Profile.Name, cfg.TargetKind, s.Hits(), func() float64 {
		if b := pc.Began(); !b.IsZero() {
			return pc.Rate(time.Since(b))
		}
		return 0
	}, poolStateOf(tg))
}

// poolStateOf reads the refresh-token pool for the live metrics; nil when
// the run has none (a race spends sealed tokens).
func poolStateOf(tg *targeter) func() live.PoolState {
	pool := tg.pool
	if pool == nil {
		return nil
	}
	return func() live.PoolState {
		st := pool.Stats()
		return live.PoolState{Slots: st.Slots, Idle: st.Idle, Retired: int(st.Retired), Exhausted: st.Exhausted, Rotated: st.Rotated}
	}
}

// observe hands a classified result to the live metrics, counted by
// outcome as the report's outcomes count it.
func observe(rec *live.Recorder, j judged) {
	if rec == nil {
		return
	}
	outcome := live.Succeeded
	switch {
	case j.a.Class == ClassPoolExhausted:
		outcome = live.Unsent
	case j.a.failed():
		outcome = live.UnexpectedFailure
	case j.a.Class != ClassOK:
		outcome = live.ExpectedFailure
	}
	rec.Observe(outcome, j.r.Code, j.a.Class, j.r.Latency, j.a.Lag)
}

func newAttacker(cfg Config, p Params) *vegeta.Attacker {
	return vegeta.NewAttacker(
		vegeta.Timeout(p.Timeout),
		vegeta.Workers(min(p.Workers, 16)),
		vegeta.MaxWorkers(p.Workers),
		vegeta.Connections(int(p.Workers)),
		vegeta.MaxBody(maxMintBody),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.KeepAlive(true),
		vegeta.TLSConfig(cfg.Endpoint.TLS),
		vegeta.Proxy(noProxy), // load goes to the target only
	)
}

// attackName names a run's results: the profile, and the shard when split,
// since vegeta's plot loses points when two shards share a name (load/LOAD.md §5)
// and merge tells race groups of different shards apart by it.
func attackName(cfg Config) string {
	if cfg.Shard.Sharded() {
		return cfg.Profile.Name + " " + cfg.Shard.Name()
	}
	return cfg.Profile.Name
}

// extraStoppedAt records in the report's parameters when a ramp stopped at
// its knee, so a short run is not mistaken for a generator that gave up.
const extraStoppedAt = "stopped_at"

// kneeStop decides when a profile with StopAtKnee has seen enough: p99 or
// the error rate over its limit for two one-second windows in a row.
// Loading far past the knee tells nothing new and only hurts the target.
type kneeStop struct {
	on               bool
	p99Limit, errLim float64
	run              int
}

func newKneeStop(pr Profile, limits map[string]float64) *kneeStop {
	k := &kneeStop{on: pr.StopAtKnee, p99Limit: math.Inf(1), errLim: 1}
	if v, ok := limits[P99.Name]; ok {
		k.p99Limit = v
	}
	if v, ok := limits[ErrorRate.Name]; ok {
		k.errLim = v
	}
	return k
}

func (k *kneeStop) broken(ws windowStats) bool {
	if !k.on || ws.n < minBucketRequests {
		return false
	}
	if ws.p99 > k.p99Limit || ratioOver(uint64(ws.failed), uint64(ws.n), k.errLim) {
		k.run++
	} else {
		k.run = 0
	}
	return k.run >= 2
}

// maxUnsentShare is the share of its schedule a run may leave unsent (no
// idle refresh token when a request was due) and still be judged. It
// matches the generator-lag check, which is judged at p99 and so also
// lets 1% of requests go off schedule unseen.
const maxUnsentShare = 0.01

// unsentWhy says why a run that left more than maxUnsentShare of its
// schedule unsent cannot be judged: the requests it did not send are the
// slowest part of the run (their tokens were all still in flight), so its
// latency would understate the truth and its error rate would be over
// what was left. "" when the run sent enough.
func unsentWhy(l *reports.Load) string {
	why := tooManyUnsent(l.Outcomes.Unsent, l.Requests, l.Params.Clients)
	if why == "" {
		return ""
	}
	return why + ", as refreshes took longer under load than when it was sized; their latency is unmeasured, so the run cannot be judged (raise CLIENTS)"
}

// tooManyUnsent states, for a run or a capacity step, that more than
// maxUnsentShare of its requests found no idle token in the pool of
// clients; "" when they were few enough.
func tooManyUnsent(unsent, requests uint64, clients int) string {
	if requests == 0 || !ratioOver(unsent, requests, maxUnsentShare) {
		return ""
	}
	return fmt.Sprintf("%d of %d scheduled requests (%.1f%%) were never sent: the pool of %d refresh tokens had none idle when they were due",
		unsent, requests, 100*float64(unsent)/float64(requests), clients)
}

// finish computes the profile's own figures, checks the harness sent its
// schedule and the generator kept it, and judges the thresholds.
func finish(l *reports.Load, pr Profile, p Params, ths []Threshold, maxLag time.Duration) {
	if maxLag <= 0 {
		maxLag = DefaultMaxLag
	}
	// A capacity search judges each step on its latency from the intended
	// send time, lag included, and records each step's lag as evidence.
	// A capacity search judges each step on what it left unsent too
	// (judgeStep): a step whose pool ran dry is a rate not sustained.
	if why := unsentWhy(l); why != "" && l.Valid && !pr.Search {
		l.Valid = false
		l.InvalidWhy = why
	}
	if lag := l.GeneratorLag.P99; l.Valid && !pr.Search && lag > ms(maxLag) {
		l.Valid = false
		l.InvalidWhy = fmt.Sprintf("generator lag p99 %.1f ms > %s: the generator could not keep the schedule, so latency understates the truth (lower RATE, raise WORKERS, or split with SHARD=i/n)", lag, maxLag)
	}
	if pr.Finish != nil {
		pr.Finish(l, p, limitsOf(ths))
	}
	judge(l, ths)
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

func transport(e Endpoint, p Params) *http.Transport {
	return &http.Transport{
		Proxy:               noProxy, // load goes to the target only, never through a proxy
		TLSClientConfig:     e.TLS,
		MaxIdleConnsPerHost: int(p.Workers),
		IdleConnTimeout:     30 * time.Second,
	}
}

// reportParams records the resolved parameters, with only the fields the
// profile uses in Extra.
func reportParams(pr Profile, p Params, ths []Threshold, s shard.Shard) reports.LoadParams {
	lp := reports.LoadParams{Rate: p.Rate, Duration: p.Duration, Workers: p.Workers, Clients: p.Clients,
		Timeout: p.Timeout, Shard: s.String(), Extra: map[string]any{}, Thresholds: map[string]any{}}
	d := pr.Defaults
	if pr.Derive != nil {
		d = pr.Derive(d)
	}
	if d.StartRate != 0 {
		lp.Extra["start_rate"] = p.StartRate
	}
	if d.GroupSize != 0 {
		lp.Extra["group_size"] = p.GroupSize
		lp.Extra["race_policy"] = p.RacePolicy
	}
	if d.Every != 0 {
		lp.Extra["every"] = p.Every.String()
	}
	if d.SpikeRate != 0 {
		lp.Extra["spike_rate"] = p.SpikeRate
		lp.Extra["spike_at"] = p.SpikeAt.String()
		lp.Extra["spike_for"] = p.SpikeFor.String()
	}
	if d.CodeEvery != 0 {
		lp.Extra["code_every"] = p.CodeEvery
	}
	if d.SLOP99 != 0 {
		lp.Extra["slo_p99"] = p.SLOP99.String()
		lp.Extra["slo_errors"] = p.SLOErrors
	}
	lp.Extra["workload"] = string(pr.Workload)
	if p.PoolSizing != "" {
		lp.Extra["pool_sizing"] = p.PoolSizing
	}
	for _, t := range ths {
		lp.Thresholds[t.Metric.Name] = t.String()
	}
	return lp
}

// capture reads each result as it arrives: re-times it from its intended
// send time, classifies it, hands rotated tokens back to the pool, and
// strips the body (live tokens) before anything is written.
type capture struct {
	tg    *targeter
	pc    *pacer
	sched Schedule
	seen  recentSet // access tokens issued, by hash
	// groups tracks each open race group: results so far and the hash of
	// the first new refresh token a winner received. Entries go when the
	// group's last result is in, so the map holds only groups in flight.
	groups    map[int]*groupSeen
	publicURL string // the token URL as results.bin shows it
	one       []judged
	// onGroup, when set, is told each race group's winners as it settles.
	onGroup func(winners int)
}

type groupSeen struct {
	first uint64
	// pending holds the group's results until its last is in: whether a
	// loser's invalid_grant was expected depends on whether anyone won.
	pending []judged
	won     bool
}

// judged is a result with the harness's reading, ready for the analyzer
// and results.bin.
type judged struct {
	r *vegeta.Result
	a annotation
}

func newCapture(tg *targeter, pc *pacer, s Schedule) *capture {
	return &capture{tg: tg, pc: pc, sched: s, seen: newRecentSet(1 << 20), groups: map[int]*groupSeen{},
		publicURL: PublicURL(tg.req.url)}
}

func (c *capture) group(id int) *groupSeen {
	g := c.groups[id]
	if g == nil {
		g = &groupSeen{}
		c.groups[id] = g
	}
	return g
}

// sameRotation reports whether an earlier winner of group id received the
// same new refresh token.
func (c *capture) sameRotation(id int, next string) bool {
	g, h := c.group(id), maphash.String(c.seen.seed, next)
	if g.first == 0 {
		g.first = h
		return false
	}
	return g.first == h
}

// take reads r (see process) and returns what is ready to record: r
// itself, or, for a member of a race group, nothing until the group's last
// result is in and then the whole group (see settle).
// The returned slice is valid until the next call.
func (c *capture) take(r *vegeta.Result) []judged {
	a, kind, id := c.read(r)
	if kind != kindRace {
		c.one = append(c.one[:0], judged{r, a}) // reused: no allocation per result
		return c.one
	}
	g := c.group(id)
	g.pending = append(g.pending, judged{r, a})
	g.won = g.won || a.Class == ClassOK
	if uint64(len(g.pending)) < c.tg.group {
		return nil
	}
	delete(c.groups, id)
	return c.settle(g)
}

// flush settles the race groups whose results did not all arrive (the
// attack stopped), in group order.
func (c *capture) flush() []judged {
	ids := make([]int, 0, len(c.groups))
	for id, g := range c.groups {
		if len(g.pending) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	var out []judged
	for _, id := range ids {
		out = append(out, c.settle(c.groups[id])...)
	}
	clear(c.groups)
	return out
}

// settle settles g (below), telling onGroup its winners.
func (c *capture) settle(g *groupSeen) []judged {
	if c.onGroup != nil {
		winners := 0
		for _, j := range g.pending {
			if j.a.Class == ClassOK {
				winners++
			}
		}
		c.onGroup(winners)
	}
	return g.settle()
}

// settle decides the group's losers: an invalid_grant is a lost race, and
// expected, only if another member won. In a group nobody won, no
// concurrent refresh spent the freshly minted token first, so the server
// refused a valid token: an unexpected failure.
func (g *groupSeen) settle() []judged {
	if !g.won {
		for i := range g.pending {
			j := &g.pending[i]
			if j.a.Notes.Has(NoteRaceLoser) {
				j.a.Notes &^= NoteRaceLoser
				j.r.Headers.Set(AnnotationHeader, j.a.encode())
			}
		}
	}
	return g.pending
}

// recentSet remembers hashes of the last size to 2×size access tokens in two
// generations, so a soak of hours does not grow without bound. A server that
// issues one token twice does it to requests close in time (a shared
// counter, a racy cache), well within that window.
type recentSet struct {
	seed      maphash.Seed
	size      int
	cur, prev map[uint64]struct{}
}

func newRecentSet(size int) recentSet {
	return recentSet{seed: maphash.MakeSeed(), size: size, cur: map[uint64]struct{}{}}
}

// seenBefore records s and reports whether it was already there.
func (r *recentSet) seenBefore(s string) bool {
	h := maphash.String(r.seed, s)
	if _, ok := r.cur[h]; ok {
		return true
	}
	if _, ok := r.prev[h]; ok {
		return true
	}
	if len(r.cur) >= r.size {
		r.prev, r.cur = r.cur, make(map[uint64]struct{}, r.size)
	}
	r.cur[h] = struct{}{}
	return false
}

// read re-times r from its intended send time, classifies it, hands a
// rotated token back to the pool, strips the body and annotates it.
func (c *capture) read(r *vegeta.Result) (annotation, requestKind, int) {
	var an annotation
	// Latency from the intended send time (no coordinated omission,
	// load/LOAD.md §1): hit r.Seq was due at began + At(seq). Seq is handed out
	// in the order workers pick hits up, which is the order they were due.
	if at, ok := c.sched.At(r.Seq); ok {
		intended := c.pc.Began().Add(at)
		end := r.Timestamp.Add(r.Latency)
		an.Lag = max(r.Timestamp.Sub(intended), 0)
		r.Timestamp, r.Latency = intended, max(end.Sub(intended), 0)
	}

	kind, id := parseFragment(r.URL)
	var tr tokenResponse
	switch {
	case kind == kindExhausted:
		an.Class = ClassPoolExhausted
		r.Error = "token pool exhausted: no idle refresh token when this request was due (raise CLIENTS)"
	case r.Code == 0:
		an.Class = classifyTransport(r.Error)
	default:
		an.Class, tr = classifyResponse(r.Code, r.Body)
	}

	switch kind {
	case kindSlot:
		pool := c.tg.pool
		if pool.Fresh(id) && (an.Class == ClassOK || an.Class == ClassInvalidGrant) {
			an.Notes |= NoteSpentRotated
		}
		switch an.Class {
		case ClassOK:
			sent := pool.Token(id)
			switch {
			case pool.Put(id, tr.RefreshToken):
				an.Notes |= NoteRotated
			case tr.RefreshToken != "" && tr.RefreshToken == sent:
				an.Notes |= NoteSameRefreshToken
			}
		case ClassInvalidGrant:
			// The token is dead. If a successful rotation issued it and
			// this was its first use, the server broke its own rotation.
			if pool.Fresh(id) {
				an.Notes |= NoteDeadAfterRefresh
			}
			pool.Retire(id)
		default:
			pool.Put(id, "") // keep the token; the failure was not about it
		}
	case kindRace:
		switch an.Class {
		case ClassOK:
			sent, _ := c.tg.races.Get(uint64(id))
			switch {
			case tr.RefreshToken != "" && tr.RefreshToken != sent:
				an.Notes |= NoteRotated
				if c.sameRotation(id, tr.RefreshToken) {
					an.Notes |= NoteSameRotation
				}
			case tr.RefreshToken != "":
				an.Notes |= NoteSameRefreshToken
			}
		case ClassInvalidGrant:
			an.Notes |= NoteRaceLoser // provisional: settle decides
		}
	}
	if kind == kindClient && an.Class == ClassOK && c.tg.dpop {
		if tt, _ := jsonString(r.Body, oauth.ParamTokenType); strings.EqualFold(tt, oauth.TokenTypeDPoP) {
			an.Notes |= NoteDPoPBound
		} else {
			an.Notes |= NoteDPoPNotBound
		}
	}
	if an.Class == ClassOK && c.seen.seenBefore(tr.AccessToken) {
		an.Notes |= NoteDuplicateAccessToken
	}

	// Bodies hold live tokens (load/LOAD.md §6) and headers are the server's;
	// results.bin keeps the harness's reading instead. The URL loses
	// credentials and query values, as in the reports.
	if c.publicURL != c.tg.req.url && strings.HasPrefix(r.URL, c.tg.req.url) {
		r.URL = c.publicURL + r.URL[len(c.tg.req.url):]
	}
	r.Body = nil
	r.Headers = http.Header{AnnotationHeader: {an.encode()}}
	return an, kind, id
}
