package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/load/tokenpool"
	"tokenharness/mockserver"
)

// The generator must not be the bottleneck (LOAD.md §2: a token-pool
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
// refresh tokens, so one static refresh token stays valid and both sides of
// the comparison ask the server for exactly the same work.
func benchMock(b *testing.B) (Config, string) {
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
	code, err := freshCode(context.Background(), cfg.Codes, cfg.CodeRequest)
	if err != nil {
		b.Fatal(err)
	}
	rt, err := mintRefresh(context.Background(), http.DefaultClient, newRequests(cfg.Endpoint), code)
	if err != nil {
		b.Fatal(err)
	}
	return cfg, rt
}

// staticAttack is plain vegeta on one static target, paced and re-timed
// like a run so its latency is measured the same way (from the intended
// send time). It returns the achieved rate and latency percentiles (ms).
func staticAttack(cfg Config, token string, s Schedule, workers uint64) (rate, p50, p99 float64) {
	req := newRequests(cfg.Endpoint)
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodPost, URL: req.url, Header: req.header, Body: req.refreshBody(token)})
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
// The two alternate for three rounds and each keeps its best, so a burst of
// noise from elsewhere on the machine does not decide the ratio.
func BenchmarkAttack_MaxRate(b *testing.B) {
	const workers, rounds = 64, 3
	cfg, token := benchMock(b)
	dur := 50 * time.Millisecond
	for b.Loop() {
		var static, pool float64
		for range rounds {
			r, _, _ := staticAttack(cfg, token, Constant(MaxRate, dur), workers)
			static = max(static, r)
			c := cfg
			c.Params = Params{Rate: MaxRate, Duration: dur, Workers: workers, Clients: 4 * workers}
			l, err := Run(context.Background(), c)
			if err != nil {
				b.Fatal(err)
			}
			pool = max(pool, l.Rate)
		}
		b.ReportMetric(static, "static_rps")
		b.ReportMetric(pool, "tokenpool_rps")
		b.ReportMetric(pool/static, "ratio")
	}
}

// BenchmarkAttack_FixedRate runs both at a rate both can keep and reports
// latency percentiles from the intended send time: the harness's capture
// must not add latency of its own.
func BenchmarkAttack_FixedRate(b *testing.B) {
	const workers, rate = 64, 2000
	cfg, token := benchMock(b)
	dur := time.Second
	for b.Loop() {
		_, sp50, sp99 := staticAttack(cfg, token, Constant(rate, dur), workers)
		c := cfg
		c.Params = Params{Rate: rate, Duration: dur, Workers: workers, Clients: 4 * workers}
		l, err := Run(context.Background(), c)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(sp50, "static_p50_ms")
		b.ReportMetric(sp99, "static_p99_ms")
		b.ReportMetric(l.Latency.P50, "tokenpool_p50_ms")
		b.ReportMetric(l.Latency.P99, "tokenpool_p99_ms")
		b.ReportMetric(l.GeneratorLag.P99, "tokenpool_lag_p99_ms")
	}
}
