package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/plan"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/load"
	"tokenharness/load/live"
	"tokenharness/load/shard"
	"tokenharness/mockserver"
	"tokenharness/reports"
)

// mockProfile is the bundled mock's profile for load runs: oauth21 rotates
// refresh tokens, which is what refresh storms exercise (PROFILE, which
// picks the conformance profile, does not apply here).
const mockProfile = rules.OAuth21

// loadCmd runs one load profile: flags, with the Makefile's variables as
// fallbacks, to load.Config; the target settings come from the suite's own
// configuration (target.Config).
func loadCmd(args []string) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	env := envFlags{fs: fs}
	var (
		list        = fs.Bool("list", false, "list the profiles with their parameters and thresholds, then exit")
		profile     = env.str("profile", "LOAD_PROFILE", "herd", "load profile: "+strings.Join(load.Names(), "|"))
		rate        = env.float("rate", "RATE", "arrival rate, req/s (ramp: peak; spike: baseline; 0: profile default)")
		duration    = env.duration("duration", "DURATION", "how long requests are scheduled (0: profile default)")
		workers     = env.int("workers", "WORKERS", "cap on concurrent requests (0: profile default)")
		clients     = env.int("clients", "CLIENTS", "token pool size (herd: clients refreshing together; 0: sized from the rate and the target's measured refresh latency)")
		poolFile    = env.str("pool-file", "POOL_FILE", "", "save the refresh-token pool here after the run (0600: live refresh tokens) and load it instead of minting on the next run for the same target and client")
		poolMaxAge  = env.duration("pool-max-age", "POOL_MAX_AGE", "oldest POOL_FILE a run loads (0: "+load.DefaultPoolMaxAge.String()+")")
		shardFlag   = env.str("shard", "SHARD", "", "run shard i of n (i/n, 0-based) of the schedule and token pool")
		metricsAddr = env.str("metrics-addr", "METRICS_ADDR", "", "serve live OpenMetrics of the run at http://ADDR/metrics (host:port, e.g. 127.0.0.1:9464; :9464 on every interface)")
		startAt     = env.str("start-at", "START_AT", "", "begin the attack at this RFC 3339 time, or offset such as +30s, once the pool is minted (shards: give all the same time)")
		reportDir   = env.str("report-dir", "REPORT_DIR", target.DefaultReportDir, "reports go to REPORT_DIR/load/<profile>[/shard-i-of-n]")
		limits      = env.str("thresholds", "THRESHOLDS", "", "override threshold limits: name=limit,… (names: "+metricNames()+")")
		maxLag      = env.duration("max-lag", "MAX_LAG", "generator lag p99 above which the run is invalid (0: "+load.DefaultMaxLag.String()+")")
		startRate   = env.float("start-rate", "START_RATE", "ramp: starting rate, req/s")
		groupSize   = env.int("group-size", "GROUP_SIZE", "rotation-race: concurrent refreshes per token")
		racePolicy  = env.str("race-policy", "RACE_POLICY", "", "rotation-race: "+load.RaceStrict+"|"+load.RaceGrace+" (default "+load.RaceStrict+")")
		every       = env.duration("every", "EVERY", "herd: wave period (the access-token lifetime)")
		spikeRate   = env.float("spike-rate", "SPIKE_RATE", "spike: burst rate, req/s")
		spikeAt     = env.duration("spike-at", "SPIKE_AT", "spike: when the burst starts (default DURATION/3)")
		spikeFor    = env.duration("spike-for", "SPIKE_FOR", "spike: how long the burst lasts (default DURATION/6)")
		codeEvery   = env.int("code-every", "CODE_EVERY", "mixed: one request in n is a code exchange")
		sloP99      = env.duration("slo-p99", "SLO_P99", "capacity: p99 latency each step must meet (default 100ms)")
		sloErrors   = env.float("slo-errors", "SLO_ERRORS", "capacity: unexpected-failure ratio each step may reach (default 0.01)")
		m2mFile     = env.str("m2m-clients-file", "M2M_CLIENTS_FILE", "", "m2m: the clients to spread over, one \"client_id [client_secret]\" a line (default: CLIENT_ID; the bundled mock registers CLIENTS of its own)")
		signLead    = env.duration("m2m-sign-lead", "M2M_SIGN_LEAD", "m2m: how far ahead of the schedule requests are signed (0: "+load.DefaultSignLead.String()+")")
		signWorkers = env.int("m2m-sign-workers", "M2M_SIGN_WORKERS", "m2m: concurrent signers (0: one per CPU)")
	)
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if env.err != nil {
		fmt.Fprintln(os.Stderr, "load:", env.err)
		return exitConfig
	}
	if *list {
		printProfiles(os.Stdout)
		return exitOK
	}
	pr, err := load.ByName(*profile)
	if err != nil {
		return configError(err)
	}
	sh, err := shard.Parse(*shardFlag)
	if err != nil {
		return configError(err)
	}
	lim, err := load.ParseLimits(*limits)
	if err != nil {
		return configError(err)
	}
	// Before the mock starts or a token is minted: a limit the profile
	// cannot measure is a configuration mistake, not a verdict.
	if err := load.CheckLimits(pr, lim); err != nil {
		return configError(err)
	}

	isM2M := pr.Workload == load.ClientCredentials
	var m2mClients []load.Credential
	if *m2mFile != "" {
		if !isM2M {
			return configError(fmt.Errorf("load: M2M_CLIENTS_FILE applies to profile %s only", load.M2M.Name))
		}
		f, err := os.Open(*m2mFile)
		if err != nil {
			return configError(fmt.Errorf("load: M2M_CLIENTS_FILE: %w", err))
		}
		m2mClients, err = load.ParseClients(f)
		f.Close()
		if err != nil {
			return configError(fmt.Errorf("load: M2M_CLIENTS_FILE %s: %w", *m2mFile, err))
		}
	}
	// Resolved once, now: an offset counts from the process's start.
	at, err := load.ParseStartAt(*startAt, time.Now())
	if err != nil {
		return configError(err)
	}

	// Listening first: a bad or busy address is one line before any work.
	var rec *live.Recorder
	if *metricsAddr != "" {
		rec = live.New(sh.String())
		url, stopMetrics, err := live.Serve(*metricsAddr, rec)
		if err != nil {
			return configError(err)
		}
		defer stopMetrics()
		fmt.Fprintf(os.Stderr, "load: live metrics at %s\n", url)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// One resolution for every command (internal/plan): the CONFIG file,
	// then the variables, then the profile's defaults (the client
	// authentication method among them). Without a TARGET the bundled mock
	// runs profile oauth21, whatever PROFILE says, so its target file is
	// the one resolved.
	getenv := os.Getenv
	if os.Getenv("TARGET") == "" {
		getenv = func(k string) string {
			if k == "PROFILE" {
				return string(mockProfile)
			}
			return os.Getenv(k)
		}
	}
	tc, err := plan.Resolve(getenv)
	if err != nil {
		return configError(err)
	}
	// The keys the conformance run signs with sign the storm's requests:
	// CLIENT_AUTH=private_key_jwt (JWT_KEY_FILE) and DPOP (DPOP_KEY_FILE).
	signing, err := load.SigningFromTarget(tc)
	if err != nil {
		return configError(err)
	}
	if signing != nil {
		if !isM2M {
			return configError(load.ErrSigningNotM2M)
		}
		signing.Lead, signing.Workers = *signLead, *signWorkers
	}
	targetKind := "external"
	if tc.Target == "" {
		var extra []mockserver.Client
		if isM2M && m2mClients == nil {
			// A storm of many clients: the mock registers CLIENTS
			// client_credentials clients of its own for this run.
			n := *clients
			if n == 0 {
				n = load.DefaultMockM2MClients
			}
			if n > load.MaxM2MClients {
				return configError(fmt.Errorf("load: CLIENTS=%d is over the limit of %d m2m clients", n, load.MaxM2MClients))
			}
			m2mClients = load.SyntheticClients("tokenharness-m2m-", n)
			if extra, err = mockClients(m2mClients, signing); err != nil {
				return configError(err)
			}
		}
		closeMock, err := startMock(&tc, extra...)
		if err != nil {
			return configError(err)
		}
		defer closeMock()
		targetKind = "in-process"
		fmt.Fprintf(os.Stderr, "load: TARGET is empty: started the bundled mock (profile %s, in-process) at %s\n", mockProfile, tc.Target)
	}
	if err := tc.Validate(nil); err != nil {
		return configError(err)
	}
	cfg, err := load.FromTarget(tc, os.Getenv("ALLOW_REMOTE") == "1")
	if err != nil {
		return configError(err)
	}
	cfg.TargetKind = targetKind
	cfg.Profile, cfg.Shard, cfg.Limits, cfg.MaxLag, cfg.StartAt, cfg.Live = pr, sh, lim, *maxLag, at, rec
	cfg.PoolFile, cfg.PoolMaxAge = *poolFile, *poolMaxAge
	cfg.M2MClients, cfg.Signing = m2mClients, signing
	cfg.Params = load.Params{Rate: *rate, Duration: *duration, Workers: uint64(*workers), Clients: *clients,
		Timeout: cfg.Params.Timeout, StartRate: *startRate, GroupSize: *groupSize, RacePolicy: *racePolicy, Every: *every,
		SpikeRate: *spikeRate, SpikeAt: *spikeAt, SpikeFor: *spikeFor, CodeEvery: *codeEvery,
		SLOP99: *sloP99, SLOErrors: *sloErrors}
	if *reportDir == "" {
		*reportDir = tc.ReportDir
	}
	cfg.Dir = load.Dir(*reportDir, pr.Name, sh)
	if err := load.CheckPoolFile(cfg.PoolFile, *reportDir); err != nil {
		return configError(err)
	}
	cfg.Progress, cfg.TTY = os.Stderr, isTerminal(os.Stderr)

	if pl, err := load.Resolve(cfg); err == nil && pr.Search {
		fmt.Fprintf(os.Stderr, "load: %s: steps of %s from %g req/s up to %g req/s, p99 ≤ %s and errors ≤ %g, at up to %d workers, %s\n",
			pr.Name, pl.Params.Duration, pl.Params.StartRate, pl.Params.Rate, pl.Params.SLOP99, pl.Params.SLOErrors, pl.Params.Workers, poolText(pl))
	} else if err == nil {
		fmt.Fprintf(os.Stderr, "load: %s: %d requests over %s at up to %d workers, %s\n",
			pr.Name, pl.Schedule.Hits(), pl.Params.Duration, pl.Params.Workers, poolText(pl))
	}
	l, err := load.Run(ctx, cfg)
	if err != nil {
		return configError(err)
	}
	printLoad(os.Stdout, l, cfg.Dir)
	writeIndex(*reportDir)
	return load.ExitCode(l)
}

// startMock serves the bundled mock on 127.0.0.1:0 and points tc at it.
// QUIRKS switch faults on for the whole mock, so
// QUIRKS=RFC9700-4.14.2-REFRESH-RACE shows what rotation-race catches.
func startMock(tc *target.Config, extra ...mockserver.Client) (func(), error) {
	quirks := make([]rules.ID, len(tc.Quirks))
	for i, q := range tc.Quirks {
		quirks[i] = rules.ID(q)
	}
	base, closeMock, err := startLocal(mockserver.WithQuirks(quirks...), extra)
	if err != nil {
		return nil, fmt.Errorf("load: start the mock: %w", err)
	}
	// The client, redirect URI and scope come from the mock's target file,
	// resolved by plan.Resolve like every other run.
	tc.Target = base + mockserver.PathToken
	if tc.CodeCmd == "" && tc.AuthorizeURL == "" {
		tc.AuthorizeURL = base + mockserver.PathAuthorize
	}
	return closeMock, nil
}

// startLocal is mockserver.StartLocal with extra clients registered beside
// the fixture ones (the m2m profile's): the mock's configuration, served on
// 127.0.0.1:<free port> with the production server's timeouts.
func startLocal(opt mockserver.Option, extra []mockserver.Client) (base string, closeMock func(), err error) {
	if len(extra) == 0 {
		m, err := mockserver.StartLocal(mockProfile, opt)
		if err != nil {
			return "", nil, err
		}
		return m.Base, m.Close, nil
	}
	mc, err := mockserver.LoadConfig(mockProfile, "")
	if err != nil {
		return "", nil, err
	}
	mc.Clients = append(mc.Clients, extra...)
	srv, err := mockserver.New(mc, opt)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return "", nil, fmt.Errorf("listen on loopback: %w", err)
	}
	hs := mockserver.NewHTTPServer(ln.Addr().String(), srv, nil)
	go func() { _ = hs.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = hs.Close(); srv.Close() }, nil
}

// mockClients are cs as client_credentials clients of the bundled mock.
func mockClients(cs []load.Credential, s *load.Signing) ([]mockserver.Client, error) {
	methods, keys := []oauth.AuthMethod{oauth.AuthBasic, oauth.AuthPost}, []string(nil)
	if s != nil && s.Assertion != nil {
		// The clients sign with JWT_KEY_FILE: the mock verifies with its
		// public half.
		pub, err := s.Assertion.PublicPEM()
		if err != nil {
			return nil, fmt.Errorf("load: JWT_KEY_FILE: %w", err)
		}
		methods, keys = []oauth.AuthMethod{oauth.AuthPrivateKeyJWT}, []string{pub}
	}
	out := make([]mockserver.Client, len(cs))
	for i, c := range cs {
		out[i] = mockserver.Client{ID: c.ID, Secret: c.Secret, AuthMethods: methods, JWTKeys: keys,
			Scope: "read write", GrantTypes: []string{oauth.GrantClientCredentials}}
	}
	return out, nil
}

func poolText(pl load.Plan) string {
	switch {
	case len(pl.M2M) > 0:
		return fmt.Sprintf("%d clients in turn, no token pool", len(pl.M2M))
	case pl.RaceTokens > 0:
		return fmt.Sprintf("%d race groups of %d, one minted token each", pl.RaceTokens, pl.Params.GroupSize)
	case pl.Codes > 0:
		return fmt.Sprintf("a pool of %s and %d codes", slotsText(pl), pl.Codes)
	}
	return "a pool of " + slotsText(pl)
}

func slotsText(pl load.Plan) string {
	if pl.Measure {
		return "refresh tokens sized from the target's measured refresh latency"
	}
	return fmt.Sprintf("%d refresh tokens", pl.Slots)
}

func configError(err error) int {
	fmt.Fprintln(os.Stderr, err)
	return exitConfig
}

// printLoad is the run's summary on stdout: the verdict, then what every
// request came to (expected failures apart from unexpected ones), then each
// threshold with its status in report.json's words and its evidence.
func printLoad(w io.Writer, l *reports.Load, dir string) {
	fmt.Fprintf(w, "%s: %s", l.Profile, strings.ToUpper(string(l.Verdict)))
	if !l.Valid {
		fmt.Fprintf(w, " (invalid run: %s)", l.InvalidWhy)
	}
	if l.Verdict == reports.VerdictInconclusive {
		var names []string
		for _, t := range l.Thresholds {
			if st := t.Judged(); t.Required && st != reports.StatusPassed && st != reports.StatusFailed {
				names = append(names, t.Name+" "+string(st))
			}
		}
		fmt.Fprintf(w, " (could not judge: %s)", strings.Join(names, ", "))
	}
	fmt.Fprintf(w, "\n  %d requests, %.0f req/s sent, latency p50 %.2f ms p99 %.2f ms max %.2f ms, generator lag p99 %.2f ms\n",
		l.Requests, l.Rate, l.Latency.P50, l.Latency.P99, l.Latency.Max, l.GeneratorLag.P99)
	o := l.Outcomes
	fmt.Fprintf(w, "  outcomes: %d succeeded, %d expected failures", o.Succeeded, o.ExpectedFailures)
	if o.ExpectedFailures > 0 {
		fmt.Fprintf(w, " (race losers: %s)", countText(o.ExpectedClasses))
	}
	fmt.Fprintf(w, ", %d unexpected failures (%s of requests)\n", o.UnexpectedFailures, pct(o.UnexpectedFailures, l.Requests))
	if len(l.ErrorClasses) > 0 {
		fmt.Fprintf(w, "  unexpected failures by class: %s\n", countText(l.ErrorClasses))
	}
	c := l.Correctness
	if n := c.RefreshesRotated + c.RefreshesSameToken + c.RefreshesNoNewToken; n > 0 {
		fmt.Fprintf(w, "  successful refreshes: %d rotated the refresh token, %d returned the same one, %d returned none\n",
			c.RefreshesRotated, c.RefreshesSameToken, c.RefreshesNoNewToken)
	}
	if c.RaceGroups > 0 {
		fmt.Fprintf(w, "  race groups: %d, winners %s, multi-winner groups %d\n", c.RaceGroups, countText(c.RaceWinners), c.MultiWinnerGroups)
	}
	if s := l.ShardSkew; s != nil {
		fmt.Fprintf(w, "  shards began within %.1f ms of each other (tolerance %.1f ms)", s.SkewMS, s.ToleranceMS)
		if s.Allowed {
			fmt.Fprint(w, ": merged with -allow-skew, so the rates understate what was asked for")
		}
		fmt.Fprintln(w)
	}
	if c := l.Capacity; c != nil {
		fmt.Fprintf(w, "  capacity: %s %g req/s at p99 ≤ %g ms and errors ≤ %g (%s)\n", c.Bound, c.Rate, c.SLOP99MS, c.SLOErrorRate, c.Reason)
		for _, s := range c.Steps {
			verdict := "held"
			if !s.Passed {
				verdict = "broke: " + s.Why
			}
			fmt.Fprintf(w, "    step %g req/s: %d requests, p99 %.2f ms, %d unexpected failures, lag p99 %.2f ms — %s\n",
				s.Rate, s.Requests, s.P99MS, s.UnexpectedFailures, s.LagP99MS, verdict)
		}
	}
	if l.Knee != nil {
		fmt.Fprintf(w, "  knee: %.0f req/s (%s)\n", l.Knee.Rate, l.Knee.Reason)
	}
	if l.Recovery != nil {
		fmt.Fprintf(w, "  recovery: %.2fs (recovered %v)\n", l.Recovery.Seconds, l.Recovery.Recovered)
	}
	for _, t := range l.Thresholds {
		op := "<="
		if t.AtLeast {
			op = ">="
		}
		st := t.Judged()
		fmt.Fprintf(w, "  %s %s %g: %s", t.Name, op, t.Limit, st)
		if st == reports.StatusPassed || st == reports.StatusFailed {
			fmt.Fprintf(w, ", observed %g", t.Observed)
		}
		if t.Reason != "" {
			fmt.Fprintf(w, " — %s", t.Reason)
		}
		fmt.Fprintln(w)
	}
	if dir != "" {
		fmt.Fprintf(w, "  report: %s/report.html (results.bin, report.json, plot.html beside it)\n", dir)
	}
}

// pct is n of total as a percentage; "-" when total is 0.
func pct(n, total uint64) string {
	if total == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 2, 64) + "%"
}

func countText(m map[string]uint64) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func printProfiles(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range load.Profiles() {
		d := p.Defaults
		if p.Derive != nil {
			d = p.Derive(d)
		}
		fmt.Fprintf(tw, "%s\t%s\n", p.Name, p.Doc)
		fmt.Fprintf(tw, "\tdefaults: rate %g req/s, duration %s, workers %d", d.Rate, d.Duration, d.Workers)
		if d.Clients > 0 {
			fmt.Fprintf(tw, ", clients %d", d.Clients)
		}
		for _, x := range []struct {
			name string
			set  bool
			v    any
		}{{"start-rate", d.StartRate > 0, d.StartRate}, {"group-size", d.GroupSize > 0, d.GroupSize},
			{"every", d.Every > 0, d.Every}, {"spike-rate", d.SpikeRate > 0, d.SpikeRate},
			{"spike-at", d.SpikeAt > 0, d.SpikeAt}, {"spike-for", d.SpikeFor > 0, d.SpikeFor},
			{"code-every", d.CodeEvery > 0, d.CodeEvery}, {"slo-p99", d.SLOP99 > 0, d.SLOP99},
			{"slo-errors", d.SLOP99 > 0, d.SLOErrors}} {
			if x.set {
				fmt.Fprintf(tw, ", %s %v", x.name, x.v)
			}
		}
		fmt.Fprintln(tw)
		ths := make([]string, len(p.Thresholds))
		for i, t := range p.Thresholds {
			ths[i] = t.String()
			if t.Required {
				ths[i] += " (headline)"
			}
		}
		fmt.Fprintf(tw, "\tthresholds: %s\n\n", strings.Join(ths, ", "))
	}
	tw.Flush()
	fmt.Fprintln(w, "A headline threshold, or one set in THRESHOLDS, that a run cannot judge makes it inconclusive (exit 3).")
	fmt.Fprintln(w, "metrics:")
	for _, m := range load.Metrics() {
		only := ""
		if m.Profiles != nil {
			only = " (profiles: " + strings.Join(m.Profiles, ", ") + ")"
		}
		fmt.Fprintf(w, "  %-24s %s%s\n", m.Name, m.Doc, only)
	}
}

func metricNames() string {
	var names []string
	for _, m := range load.Metrics() {
		names = append(names, m.Name)
	}
	return strings.Join(names, "|")
}

// isTerminal reports whether f is a character device (a terminal), where
// the progress line may rewrite itself.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// envFlags defines flags whose defaults come from environment variables
// (the Makefile's), remembering the first variable that does not parse.
type envFlags struct {
	fs  *flag.FlagSet
	err error
}

func (e *envFlags) bad(name, v, want string) {
	if e.err == nil {
		e.err = fmt.Errorf("%s=%q is not %s", name, v, want)
	}
}

func (e *envFlags) str(flagName, envName, def, usage string) *string {
	if v := os.Getenv(envName); v != "" {
		def = v
	}
	return e.fs.String(flagName, def, usage+" ($"+envName+")")
}

func (e *envFlags) float(flagName, envName, usage string) *float64 {
	var def float64
	if v := os.Getenv(envName); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			e.bad(envName, v, "a number, e.g. 500")
		}
		def = f
	}
	return e.fs.Float64(flagName, def, usage+" ($"+envName+")")
}

func (e *envFlags) int(flagName, envName, usage string) *int {
	var def int
	if v := os.Getenv(envName); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			e.bad(envName, v, "a whole number ≥ 0")
		}
		def = n
	}
	return e.fs.Int(flagName, def, usage+" ($"+envName+")")
}

func (e *envFlags) duration(flagName, envName, usage string) *time.Duration {
	var def time.Duration
	if v := os.Getenv(envName); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			e.bad(envName, v, "a duration, e.g. 10s")
		}
		def = d
	}
	return e.fs.Duration(flagName, def, usage+" ($"+envName+")")
}
