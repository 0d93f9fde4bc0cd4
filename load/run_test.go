package load

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tokenharness/internal/codes"
	"tokenharness/load/shard"
	"tokenharness/reports"
)

// tiny are parameters that keep each profile's run near a second; the
// spike's runs on to give a loaded machine time to settle after it. The
// spike and the soak get a token per request: sized from latency measured
// while minting, their pools ran dry when a loaded CI machine slowed the
// mock to 400 ms mid-run (pool sizing has its own tests).
var tiny = map[string]Params{
	"herd":          {Clients: 20, Rate: 200, Every: 500 * time.Millisecond, Duration: time.Second},
	"ramp":          {StartRate: 20, Rate: 200, Duration: 1500 * time.Millisecond},
	"rotation-race": {Rate: 200, GroupSize: 4, Duration: time.Second},
	"spike":         {Rate: 50, SpikeRate: 300, SpikeAt: 400 * time.Millisecond, SpikeFor: 300 * time.Millisecond, Duration: 2500 * time.Millisecond, Clients: 200},
	"soak":          {Rate: 100, Duration: 1500 * time.Millisecond, Clients: 150},
	"mixed":         {Rate: 100, CodeEvery: 5, Duration: time.Second},
	"capacity":      {StartRate: 50, Rate: 200, Duration: 300 * time.Millisecond, SLOP99: time.Second},
	"m2m":           {Rate: 200, Duration: time.Second},
}

// testConfig is a run against base with a lag limit loose enough for the
// race detector on a two-core machine; lag has its own test.
func testConfig(t testing.TB, pr Profile, p Params, base string) Config {
	return Config{Profile: pr, Params: p, Endpoint: fakeEndpoint(base),
		Codes: codes.Authorize(base+"/oauth/authorize", nil), CodeRequest: codes.Request{ClientID: fakeClientID, RedirectURI: fakeRedirect},
		Dir: t.TempDir(), MaxLag: 2 * time.Second, TargetKind: "in-process", Limits: correctnessOnly(pr)}
}

// correctnessOnly are the limits of tests about what a run judges rather
// than how fast the target is: p99 and its drift over the run bounded only
// against a stall, since a loaded machine or -race puts them over the
// profiles' defaults (a soak's drift of 52 ms over 50 ms failed a CI run).
// Latency is measured by make bench.
func correctnessOnly(pr Profile) map[string]float64 {
	l := map[string]float64{P99.Name: 5000}
	if LatencyDrift.AppliesTo(pr.Name) {
		l[LatencyDrift.Name] = 5000
	}
	return l
}

func mustRun(t testing.TB, cfg Config) *reports.Load {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run(%s): %v", cfg.Profile.Name, err)
	}
	return l
}

func scheduled(t testing.TB, cfg Config) uint64 {
	t.Helper()
	pl, err := Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return pl.Schedule.Hits()
}

func TestRun_RotationRace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		as          *fakeAS
		wantVerdict reports.Verdict
		wantKey     string // the RaceWinners key every group should have
	}{
		{"strict rotation: one winner per group", &fakeAS{rotate: true}, reports.VerdictPass, "1"},
		{"concurrent reuse honoured: caught", &fakeAS{rotate: true, racy: true}, reports.VerdictFail, "4"},
		{"server does not rotate: not judged", &fakeAS{rotate: false}, reports.VerdictInconclusive, "4-not-rotated"},
		{"grace period, strict policy: caught", &fakeAS{rotate: true, grace: true}, reports.VerdictFail, "4"},
		{"grace period, grace policy: one rotation", &fakeAS{rotate: true, grace: true, policy: RaceGrace}, reports.VerdictPass, "4-one-rotation"},
		{"concurrent reuse honoured, grace policy: still caught", &fakeAS{rotate: true, racy: true, policy: RaceGrace}, reports.VerdictFail, "4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeAS(t, tt.as)
			p := tiny["rotation-race"]
			p.RacePolicy = tt.as.policy
			cfg := testConfig(t, RotationRace, p, srv.URL)
			l := mustRun(t, cfg)
			if l.Verdict != tt.wantVerdict {
				t.Errorf("verdict = %s, want %s; thresholds %+v", l.Verdict, tt.wantVerdict, l.Thresholds)
			}
			c := l.Correctness
			if c.RaceGroups == 0 || c.RaceWinners[tt.wantKey] < c.RaceGroups*9/10 {
				t.Errorf("race winners %v over %d groups; want most groups under %q", c.RaceWinners, c.RaceGroups, tt.wantKey)
			}
			// Losers' invalid_grant is expected: not an error class.
			if n := l.ErrorClasses[ClassInvalidGrant]; n > 0 {
				t.Errorf("race losers counted as errors: %d invalid_grant", n)
			}
		})
	}
}

// A race group nobody won lost no race: the server refused a freshly
// minted token, and its invalid_grants are unexpected failures, not the
// expected losers they were counted as before.
func TestRun_RotationRaceNobodyWins(t *testing.T) {
	t.Parallel()
	srv := newFakeAS(t, &fakeAS{rotate: true, refuseRefresh: true})
	cfg := testConfig(t, RotationRace, tiny["rotation-race"], srv.URL)
	l := mustRun(t, cfg)
	o := l.Outcomes
	if o.ExpectedFailures != 0 || o.UnexpectedFailures != l.Requests || l.ErrorClasses[ClassInvalidGrant] != l.Requests {
		t.Errorf("outcomes %+v, error classes %v over %d requests: want every invalid_grant unexpected", o, l.ErrorClasses, l.Requests)
	}
	if l.Verdict != reports.VerdictFail || l.Thresholds[0].Status != reports.StatusInconclusive {
		t.Errorf("verdict %s, thresholds %+v: want fail (error_rate) with race_winners inconclusive", l.Verdict, l.Thresholds)
	}
	// results.bin carries the settled reading, so a merge agrees.
	m, err := Merge(t.TempDir(), cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Outcomes.UnexpectedFailures != o.UnexpectedFailures || m.Verdict != l.Verdict {
		t.Errorf("merged outcomes %+v verdict %s; run %+v %s", m.Outcomes, m.Verdict, o, l.Verdict)
	}
}

func TestRun_CorrectnessFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		as     *fakeAS
		metric Metric
	}{
		{"rotated tokens are dead", &fakeAS{rotate: true, deadRotation: true}, DeadAfterRefresh},
		{"one access token for everybody", &fakeAS{rotate: true, sameAccess: true}, DuplicateAccessTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeAS(t, tt.as)
			l := mustRun(t, testConfig(t, Herd, tiny["herd"], srv.URL))
			if l.Verdict != reports.VerdictFail {
				t.Errorf("verdict = %s, want fail", l.Verdict)
			}
			for _, th := range l.Thresholds {
				if th.Name == tt.metric.Name && (th.Passed || th.Observed == 0) {
					t.Errorf("threshold %s passed with %v observed", th.Name, th.Observed)
				}
			}
		})
	}
}

// A pool too small for the server's latency is the harness's shortfall:
// the requests it could not send are counted as unsent, never as the
// server's failures, and the run is invalid (exit 2), not failed.
func TestRun_PoolExhaustionIsCountedNotSilent(t *testing.T) {
	t.Parallel()
	srv := newFakeAS(t, &fakeAS{rotate: true, delay: 30 * time.Millisecond})
	cfg := testConfig(t, Soak, Params{Rate: 100, Duration: 500 * time.Millisecond, Clients: 1}, srv.URL)
	l := mustRun(t, cfg)
	want := scheduled(t, cfg)
	if l.Requests != want {
		t.Errorf("requests = %d, want all %d scheduled (exhaustion must not stop the attack)", l.Requests, want)
	}
	c := l.Correctness.PoolExhausted
	if c == 0 || l.Outcomes.Unsent != c {
		t.Errorf("pool_exhausted = %d, outcomes.unsent = %d; want equal and > 0", c, l.Outcomes.Unsent)
	}
	if n := l.ErrorClasses[ClassPoolExhausted]; n != 0 || l.Outcomes.UnexpectedFailures != 0 {
		t.Errorf("unsent requests counted as the server's failures: class %d, unexpected %d", n, l.Outcomes.UnexpectedFailures)
	}
	if o := l.Outcomes; o.Succeeded+o.ExpectedFailures+o.UnexpectedFailures+o.Unsent != l.Requests {
		t.Errorf("outcomes %+v do not add up to %d requests", o, l.Requests)
	}
	if l.Valid || l.Verdict != reports.VerdictError || !strings.Contains(l.InvalidWhy, "raise CLIENTS") {
		t.Errorf("valid %v, verdict %s (%q); want an invalid run (error) that says to raise CLIENTS", l.Valid, l.Verdict, l.InvalidWhy)
	}
}

// Up to maxUnsentShare of the schedule may go unsent, exactly at the
// limit included; one request more makes the run unjudgeable.
func TestUnsentWhy_LimitIsExact(t *testing.T) {
	for _, tt := range []struct {
		unsent uint64
		want   bool
	}{{0, false}, {10, false}, {11, true}} {
		l := &reports.Load{Requests: 1000, Outcomes: reports.Outcomes{Unsent: tt.unsent}}
		if got := unsentWhy(l) != ""; got != tt.want {
			t.Errorf("%d of 1000 unsent: invalid %v, want %v (%q)", tt.unsent, got, tt.want, unsentWhy(l))
		}
	}
}

func TestRun_ResultsFileHoldsNoToken(t *testing.T) {
	t.Parallel()
	as := &fakeAS{rotate: true}
	srv := newFakeAS(t, as)
	for _, pr := range []Profile{Herd, MixedTraffic} {
		cfg := testConfig(t, pr, tiny[pr.Name], srv.URL)
		mustRun(t, cfg)
		raw, err := os.ReadFile(filepath.Join(cfg.Dir, ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		toks := as.tokens()
		if len(toks) == 0 {
			t.Fatal("the server issued no tokens")
		}
		for _, dir := range []string{cfg.Dir} {
			for _, f := range []string{ResultsFile, ReportJSON, ReportHTML, PlotHTML, RunFile} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				for _, tok := range toks {
					if bytes.Contains(b, []byte(tok)) {
						t.Fatalf("%s/%s holds a live token", pr.Name, f)
					}
				}
			}
		}
		// And vegeta can still read it.
		n := 0
		if err := shard.Decode(bytes.NewReader(raw), func(r *vegeta.Result) error {
			n++
			if len(r.Body) != 0 {
				t.Errorf("result %d has a body", r.Seq)
			}
			return nil
		}); err != nil || n == 0 {
			t.Errorf("decoded %d results, err %v", n, err)
		}
	}
}

// runShards runs every shard of cfg concurrently, as separate processes
// would, starting their attacks together (START_AT), and returns their
// directories.
func runShards(t *testing.T, cfg Config, n uint64) []string {
	t.Helper()
	dirs := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	startAt := time.Now().Add(time.Second) // time enough to mint each shard's pool
	for i := range n {
		c := cfg
		c.StartAt = startAt
		c.Shard = shard.Shard{I: i, N: n}
		c.Dir = filepath.Join(t.TempDir(), c.Shard.Name())
		dirs[i] = c.Dir
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, errs[i] = Run(ctx, c)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

func TestMerge_ShardsAddUpToOneRun(t *testing.T) {
	t.Parallel()
	for _, pr := range []Profile{RotationRace, Herd} {
		t.Run(pr.Name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeAS(t, &fakeAS{rotate: true})
			p := tiny[pr.Name]
			p.Rate = 150 // not a multiple of the shard count
			single := mustRun(t, testConfig(t, pr, p, srv.URL))

			dirs := runShards(t, testConfig(t, pr, p, srv.URL), 3)
			out := t.TempDir()
			// Totals are the point here; how far apart shards in one busy
			// test process begin is TestMerge_ReportsTheSkewOfShardsRunTogether's.
			merged, err := MergeWith(out, MergeOptions{AllowSkew: true}, dirs...)
			if err != nil {
				t.Fatal(err)
			}
			if merged.Requests != single.Requests {
				t.Errorf("merged requests = %d, single run = %d", merged.Requests, single.Requests)
			}
			if !reflect.DeepEqual(merged.StatusCodes, single.StatusCodes) {
				t.Errorf("merged status codes %v, single run %v", merged.StatusCodes, single.StatusCodes)
			}
			if merged.Correctness.RaceGroups != single.Correctness.RaceGroups ||
				!reflect.DeepEqual(merged.Correctness.RaceWinners, single.Correctness.RaceWinners) {
				t.Errorf("merged races %d %v, single run %d %v", merged.Correctness.RaceGroups, merged.Correctness.RaceWinners,
					single.Correctness.RaceGroups, single.Correctness.RaceWinners)
			}
			if merged.Shards != 3 || merged.Verdict != single.Verdict {
				t.Errorf("merged shards %d verdict %s; single verdict %s", merged.Shards, merged.Verdict, single.Verdict)
			}
			if _, err := reports.ReadLoad(filepath.Join(out, ReportJSON)); err != nil {
				t.Error(err)
			}
		})
	}
}

// Shards run one after the other sent their requests at half the rate asked
// for; merging them as one run would report that rate as the run's.
func TestMerge_RefusesShardsThatDidNotRunTogether(t *testing.T) {
	t.Parallel()
	srv := newFakeAS(t, &fakeAS{rotate: true})
	cfg := testConfig(t, Soak, Params{Rate: 100, Duration: 500 * time.Millisecond}, srv.URL)
	var dirs []string
	for i := range uint64(2) {
		c := cfg
		c.Shard = shard.Shard{I: i, N: 2}
		c.Dir = filepath.Join(t.TempDir(), c.Shard.Name())
		mustRun(t, c)
		dirs = append(dirs, c.Dir)
	}
	_, err := Merge(t.TempDir(), dirs...)
	if err == nil || !strings.Contains(err.Error(), "did not run together") || !strings.Contains(err.Error(), "one after the other") {
		t.Fatalf("merging shards run one after the other: err = %v, want a refusal", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("refusal is more than one line: %q", err)
	}
	l, err := MergeWith(t.TempDir(), MergeOptions{AllowSkew: true}, dirs...)
	if err != nil {
		t.Fatal(err)
	}
	sk := l.ShardSkew
	if sk == nil || !sk.Allowed || sk.Overlap || sk.SkewMS < 450 { // shard 0 sends its last request at 480 ms
		t.Fatalf("shard_skew = %+v, want allowed, no overlap, skew ≥ 450 ms", sk)
	}
	if l.Rate > 75 {
		t.Errorf("rate %g req/s: shards one after the other cannot have sent at the 100 req/s asked for", l.Rate)
	}
}

func TestMerge_ReportsTheSkewOfShardsRunTogether(t *testing.T) {
	t.Parallel()
	srv := newFakeAS(t, &fakeAS{rotate: true})
	// Two seconds: a 100 ms tolerance, room for two shards in one busy
	// test process to be scheduled a few tens of milliseconds apart.
	dirs := runShards(t, testConfig(t, Soak, Params{Rate: 100, Duration: 2 * time.Second}, srv.URL), 2)
	l, err := Merge(t.TempDir(), dirs...)
	if err != nil {
		t.Fatal(err)
	}
	if sk := l.ShardSkew; sk == nil || sk.Allowed || !sk.Overlap || sk.SkewMS > sk.ToleranceMS || sk.ToleranceMS != 100 {
		t.Errorf("shard_skew = %+v; want within a 100 ms tolerance, overlapping, not allowed-over", sk)
	}
}

func TestMerge_RefusesAnIncompleteSet(t *testing.T) {
	t.Parallel()
	srv := newFakeAS(t, &fakeAS{rotate: true})
	dirs := runShards(t, testConfig(t, Soak, Params{Rate: 40, Duration: 300 * time.Millisecond}, srv.URL), 2)
	tests := []struct {
		name string
		dirs []string
	}{
		{"one of two", dirs[:1]},
		{"the same shard twice", []string{dirs[0], dirs[0]}},
		{"not a run directory", []string{t.TempDir()}},
	}
	for _, tt := range tests {
		if _, err := Merge(t.TempDir(), tt.dirs...); err == nil {
			t.Errorf("%s: merged without error", tt.name)
		}
	}
}

func TestRun_RefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	srv := newFakeAS(t, &fakeAS{rotate: true})
	bad := func(mut func(*Config)) Config {
		c := testConfig(t, Soak, Params{Rate: 10, Duration: 100 * time.Millisecond}, srv.URL)
		mut(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"wrong client secret", bad(func(c *Config) { c.Endpoint.ClientSecret = "nope" })},
		{"no code source", bad(func(c *Config) { c.Codes = nil })},
		{"relative token URL", bad(func(c *Config) { c.Endpoint.TokenURL = "/oauth/token" })},
		{"rate above the limit", bad(func(c *Config) { c.Params.Rate = MaxRate + 1 })},
		{"race group larger than the workers", bad(func(c *Config) {
			c.Profile, c.Params.GroupSize, c.Params.Workers = RotationRace, 8, 4
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if l, err := Run(context.Background(), tt.cfg); err == nil {
				t.Errorf("ran with verdict %s; want a configuration error", l.Verdict)
			}
		})
	}
}

func TestRun_RampStopsAtTheKnee(t *testing.T) {
	t.Parallel()
	srv := newFakeAS(t, &fakeAS{rotate: true, delay: 30 * time.Millisecond})
	cfg := testConfig(t, Ramp, Params{StartRate: 20, Rate: 60, Duration: 4 * time.Second}, srv.URL)
	cfg.Limits = map[string]float64{P99.Name: 10} // every window breaks it
	l := mustRun(t, cfg)
	if want := scheduled(t, cfg); l.Requests >= want {
		t.Errorf("sent all %d requests; want the ramp stopped at its knee", want)
	}
	if _, ok := l.Params.Extra[extraStoppedAt]; !ok || !l.Valid {
		t.Errorf("extra %v, valid %v (%s); want stopped_at recorded and the run valid", l.Params.Extra, l.Valid, l.InvalidWhy)
	}
	if l.Knee == nil || l.Knee.Rate != 0 || !strings.Contains(l.Knee.Reason, "p99") {
		t.Errorf("knee = %+v; want rate 0 broken by p99", l.Knee)
	}
	if l.Verdict != reports.VerdictFail {
		t.Errorf("verdict = %s, want fail (knee below knee_rate)", l.Verdict)
	}
}
