package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/load/live"
	"tokenharness/load/tokenpool"
	"tokenharness/mockserver"
)

// The generator must not be the bottleneck (load/LOAD.md §2: a token-pool
// targeter with capture reached 0.9× a static target). These benchmarks
// compare the live-token targeter with plain vegeta on a static target,
// per call and end to end against the in-process mock.

func benchRequests() *requests {
	return newRequests(Endpoint{TokenURL: "http://127.0.0.1:1/oauth/token", ClientID: "tokenharness-1",
		ClientSecret: "th-secret-one-5f2c9a1e", Auth: oauth.AuthBasic})
}

func BenchmarkTargeter_TokenPool(b *testing.B) {
	req := benchRequests()
	toks := make([]string, 1024)
	for i := range toks {
		toks[i] = "rt-" + strconv.Itoa(i) + "-0123456789abcdefghijklmnopqrstuvwxyz"
	}
	tg := newTargeter(req, Refresh)
	tg.pool = tokenpool.New(toks)
	tg.slotURLs = urls(req.url, fragSlot, len(toks))
	var tgt vegeta.Target
	b.ReportAllocs()
	for b.Loop() {
		tg.Target(&tgt)
		// What capture does with the slot once the response is in.
		_, id := parseFragment(tgt.URL)
		tg.pool.Put(id, "")
	}
}

func BenchmarkTargeter_Static(b *testing.B) {
	req := benchRequests()
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: req.url, Header: req.header,
		Body: req.refreshBody("rt-0-0123456789abcdefghijklmnopqrstuvwxyz")})
	var tgt vegeta.Target
	b.ReportAllocs()
	for b.Loop() {
		tr(&tgt)
	}
}

// benchMock serves the mock with profile rfc6749, which does not rotate
// refresh tokens, so static refresh tokens stay valid and both sides of the
// comparison ask the server for the same work. It returns benchSlots
// tokens: the static targets cycle through as many tokens as the pool
// holds, or they would all queue on one token family's lock in the mock
// and the baseline would measure that instead of the generator.
func benchMock(b *testing.B) (Config, []string) {
	b.Helper()
	mc, err := mockserver.LoadConfig(rules.RFC6749, "")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := mockserver.New(mc, mockserver.WithJanitorInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(func() { hs.Close(); srv.Close() })
	c := mc.Clients[0]
	cfg := Config{
		Profile:     Soak,
		Endpoint:    Endpoint{TokenURL: hs.URL + mockserver.PathToken, ClientID: c.ID, ClientSecret: c.Secret, Auth: oauth.AuthBasic, RedirectURI: c.RedirectURIs[0]},
		Codes:       codes.Authorize(hs.URL+mockserver.PathAuthorize, nil),
		CodeRequest: codes.Request{ClientID: c.ID, RedirectURI: c.RedirectURIs[0], Scope: "read"},
		MaxLag:      time.Hour, // the point is to fall behind
	}
	req := newRequests(cfg.Endpoint)
	toks, err := tokenpool.Mint(context.Background(), benchSlots, 8, func(ctx context.Context, _ int) (string, error) {
		code, err := freshCode(ctx, cfg.Codes, cfg.CodeRequest)
		if err != nil {
			return "", err
		}
		return mintRefresh(ctx, http.DefaultClient, req, code)
	})
	if err != nil {
		b.Fatal(err)
	}
	return cfg, toks
}

const benchWorkers, benchSlots = 64, 4 * 64

// staticAttack is plain vegeta on static targets (vegeta cycles through
// them), paced and re-timed like a run so its latency is measured the same
// way (from the intended send time). It returns the achieved rate and
// latency percentiles (ms).
func staticAttack(cfg Config, tokens []string, s Schedule, workers uint64) (rate, p50, p99 float64) {
	req := newRequests(cfg.Endpoint)
	tgts := make([]vegeta.Target, len(tokens))
	for i, tok := range tokens {
		tgts[i] = vegeta.Target{Method: http.MethodPost, URL: req.url, Header: req.header, Body: req.refreshBody(tok)}
	}
	tr := vegeta.NewStaticTargeter(tgts...)
	atk := vegeta.NewAttacker(vegeta.Workers(min(workers, 16)), vegeta.MaxWorkers(workers), vegeta.Connections(int(workers)),
		vegeta.MaxBody(maxMintBody), vegeta.KeepAlive(true))
	pc := newPacer(s)
	var lat []float64
	var first, last time.Time
	for r := range atk.Attack(tr, pc, 0, "static") {
		if at, ok := s.At(r.Seq); ok {
			intended := pc.Began().Add(at)
			lat = append(lat, ms(r.Timestamp.Add(r.Latency).Sub(intended)))
		}
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if r.Timestamp.After(last) {
			last = r.Timestamp
		}
	}
	slices.Sort(lat)
	if n := len(lat); n > 1 {
		rate = float64(n-1) / last.Sub(first).Seconds()
		p50, p99 = lat[(n-1)/2], lat[n*99/100]
	}
	return rate, p50, p99
}

// BenchmarkAttack_MaxRate asks both generators for 5000 requests due
// within 50 ms, far more than either can send, and reports the rate each
// sustained while catching up; ratio is token pool over static (goal ≥ 0.9).
// The machine is shared, so the two run back to back in five rounds,
// alternating which goes first, and the median of the rounds' ratios is
// reported: a burst of noise elsewhere skews one round, not the figure.
func BenchmarkAttack_MaxRate(b *testing.B) {
	const workers, rounds = benchWorkers, 5
	cfg, tokens := benchMock(b)
	dur := 50 * time.Millisecond
	pool := func() float64 {
		c := cfg
		c.Params = Params{Rate: MaxRate, Duration: dur, Workers: workers, Clients: benchSlots}
		l, err := Run(context.Background(), c)
		if err != nil {
			b.Fatal(err)
		}
		return l.Rate
	}
	static := func() float64 {
		r, _, _ := staticAttack(cfg, tokens, Constant(MaxRate, dur), workers)
		return r
	}
	for b.Loop() {
		var ratios, statics, pools []float64
		for i := range rounds {
			var s, p float64
			if i%2 == 0 {
				s, p = static(), pool()
			} else {
				p, s = pool(), static()
			}
			statics, pools, ratios = append(statics, s), append(pools, p), append(ratios, p/s)
		}
		b.ReportMetric(median(statics), "static_rps")
		b.ReportMetric(median(pools), "tokenpool_rps")
		b.ReportMetric(median(ratios), "ratio")
	}
}

// BenchmarkAttack_FixedRate runs both at a rate both can keep and reports
// latency percentiles from the intended send time, and the process CPU
// time per request (server included, minting excluded): the harness's
// capture must add neither latency nor much work of its own.
func BenchmarkAttack_FixedRate(b *testing.B) {
	const workers, rate = benchWorkers, 2000
	cfg, tokens := benchMock(b)
	dur := time.Second
	n := float64(Constant(rate, dur).Hits())
	for b.Loop() {
		c0 := cpuTime()
		_, sp50, sp99 := staticAttack(cfg, tokens, Constant(rate, dur), workers)
		staticCPU := cpuTime() - c0

		c := cfg
		c.Params = Params{Rate: rate, Duration: dur, Workers: workers, Clients: benchSlots}
		pre, err := prepare(context.Background(), c)
		if err != nil {
			b.Fatal(err)
		}
		c0 = cpuTime()
		l, err := pre.attack(context.Background())
		poolCPU := cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(sp50, "static_p50_ms")
		b.ReportMetric(sp99, "static_p99_ms")
		b.ReportMetric(l.Latency.P50, "tokenpool_p50_ms")
		b.ReportMetric(l.Latency.P99, "tokenpool_p99_ms")
		b.ReportMetric(l.GeneratorLag.P99, "tokenpool_lag_p99_ms")
		b.ReportMetric(float64(staticCPU.Microseconds())/n, "static_cpu_us/req")
		b.ReportMetric(float64(poolCPU.Microseconds())/n, "tokenpool_cpu_us/req")
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCapture is the per-result work of a run's consumer: re-timing,
// classification, token capture, annotation and analysis (no file I/O).
// It runs on one goroutine for every response, so it bounds the rate one
// process can judge.
func BenchmarkCapture(b *testing.B) { benchCapture(b, nil) }

// BenchmarkCapture_Live is BenchmarkCapture with the live metrics on
// (METRICS_ADDR): what counting each result into the Prometheus
// collectors adds to the per-result work.
func BenchmarkCapture_Live(b *testing.B) { benchCapture(b, live.New("0/1")) }

func benchCapture(b *testing.B, rec *live.Recorder) {
	req := benchRequests()
	toks := make([]string, 1024)
	for i := range toks {
		toks[i] = "rt-" + strconv.Itoa(i) + "-0123456789abcdefghijklmnopqrstuvwxyz"
	}
	tg := newTargeter(req, Refresh)
	tg.pool = tokenpool.New(toks)
	tg.slotURLs = urls(req.url, fragSlot, len(toks))
	s := Constant(MaxRate, time.Hour)
	pc := newPacer(s)
	pc.Pace(0, 0)
	c := newCapture(tg, pc, s)
	an := newAnalyzer(pc.Began(), s.Span(), RaceStrict)
	body := []byte(`{"access_token":"at-0123456789abcdefghijklmnopqrstuvwxyz0123456789","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-new-0123456789abcdefghijklmnopqrstuvwxyz","scope":"read"}`)
	var tgt vegeta.Target
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tg.Target(&tgt)
		r := &vegeta.Result{Seq: uint64(i), Code: 200, Timestamp: pc.Began().Add(time.Duration(i) * 10 * time.Microsecond),
			Latency: time.Millisecond, URL: tgt.URL, Method: tgt.Method, Body: body}
		body[20] = byte('a' + i%26) // a fresh access token each time, as a server issues
		body[21] = byte('a' + (i/26)%26)
		body[22] = byte('a' + (i/676)%26)
		for _, j := range c.take(r) {
			an.add(j.r, j.a)
			observe(rec, j)
		}
		i++
	}
}
