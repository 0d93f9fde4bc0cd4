package load

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/jwtsign"
)

// The m2m generator with per-request ES256 client assertions and DPoP
// proofs against the same generator with client secrets, both against a
// static local endpoint (httptest on 127.0.0.1, a fixed-shape answer and
// no verification), so what is compared is the generator alone: the goal
// is signed ≥ 0.9 × secret (the signing kept off the critical path).

// staticCC answers every request with a fresh access token and nothing else.
func staticCC(b *testing.B) string {
	b.Helper()
	var n atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"at-` + strconv.FormatUint(n.Add(1), 10) + `","token_type":"DPoP","expires_in":60}`))
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func benchSigning(b *testing.B, lead time.Duration) *Signing {
	b.Helper()
	ak, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	dk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return &Signing{Assertion: &jwtsign.Key{Alg: jose.ES256, Private: ak}, DPoP: &jwtsign.Key{Alg: jose.ES256, Private: dk}, Lead: lead}
}

func benchM2MConfig(base string, s *Signing, p Params) Config {
	p.Workers = benchWorkers
	return Config{Profile: M2M, Params: p, Endpoint: fakeEndpoint(base), M2MClients: SyntheticClients("bench-", 64),
		Signing: s, MaxLag: time.Hour}
}

// BenchmarkM2M_MaxRate asks for 10,000 requests due within 100 ms, more
// than either generator can send, and reports the rate each sustained and
// the process CPU time per request during the attack (the static endpoint
// included, the signing before the attack not): secret authentication
// (every request prepared before the attack) and ES256 assertions + DPoP
// proofs signed ahead (the run fits in the signer's lead, so it is signed
// whole before the attack: the pre-signed pool). Rounds alternate which
// goes first, and the medians are reported: the machine is shared, and a
// burst of noise skews one round, not the figure.
func BenchmarkM2M_MaxRate(b *testing.B) {
	const rounds = 7
	base := staticCC(b)
	sg := benchSigning(b, 0)
	p := Params{Rate: MaxRate, Duration: 100 * time.Millisecond}
	run := func(s *Signing) (rate, cpuPerReq float64) {
		pre, err := prepare(context.Background(), benchM2MConfig(base, s, p))
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		l, err := pre.attack(context.Background())
		cpu := cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		if l.StatusCodes["200"] != l.Requests {
			b.Fatalf("status %v over %d requests", l.StatusCodes, l.Requests)
		}
		return l.Rate, float64(cpu.Microseconds()) / float64(l.Requests)
	}
	for b.Loop() {
		var plains, signeds, ratios, plainCPU, signedCPU []float64
		for i := range rounds {
			var pl, sd, pc, sc float64
			if i%2 == 0 {
				pl, pc = run(nil)
				sd, sc = run(sg)
			} else {
				sd, sc = run(sg)
				pl, pc = run(nil)
			}
			plains, signeds, ratios = append(plains, pl), append(signeds, sd), append(ratios, sd/pl)
			plainCPU, signedCPU = append(plainCPU, pc), append(signedCPU, sc)
		}
		b.ReportMetric(median(plains), "secret_rps")
		b.ReportMetric(median(signeds), "es256_rps")
		b.ReportMetric(median(ratios), "ratio")
		b.ReportMetric(median(plainCPU), "secret_cpu_us/req")
		b.ReportMetric(median(signedCPU), "es256_cpu_us/req")
	}
}

// BenchmarkM2M_Streaming runs 2 s at 2000 req/s with a 200 ms lead, so the
// signer keeps signing while the attack runs (the concurrent minter, not a
// pre-signed pool), and reports the rate each generator sustained, its
// generator lag p99, and the requests the feed did not have ready
// (signed_inline, on the critical path).
func BenchmarkM2M_Streaming(b *testing.B) {
	base := staticCC(b)
	sg := benchSigning(b, 200*time.Millisecond)
	p := Params{Rate: 2000, Duration: 2 * time.Second}
	for b.Loop() {
		pl, err := Run(context.Background(), benchM2MConfig(base, nil, p))
		if err != nil {
			b.Fatal(err)
		}
		sd, err := Run(context.Background(), benchM2MConfig(base, sg, p))
		if err != nil && strings.Contains(err.Error(), "run dry") {
			b.Skipf("the machine is too busy to sign 2000 requests/s while the attack runs: %v", err)
		}
		if err != nil {
			b.Fatal(err)
		}
		if sd.StatusCodes["200"] != sd.Requests {
			b.Fatalf("status %v over %d requests", sd.StatusCodes, sd.Requests)
		}
		b.ReportMetric(pl.Rate, "secret_rps")
		b.ReportMetric(sd.Rate, "es256_rps")
		b.ReportMetric(sd.Rate/pl.Rate, "ratio")
		b.ReportMetric(pl.GeneratorLag.P99, "secret_lag_p99_ms")
		b.ReportMetric(sd.GeneratorLag.P99, "es256_lag_p99_ms")
		b.ReportMetric(float64(sd.Params.Extra["signed_inline"].(uint64)), "signed_inline")
	}
}

// BenchmarkSign_ES256 is one request's signing: an ES256 client assertion
// and an ES256 DPoP proof.
func BenchmarkSign_ES256(b *testing.B) {
	sg := benchSigning(b, 0)
	f, err := newSignFeed(sg, "http://127.0.0.1:1/oauth/token", SyntheticClients("bench-", 1), 1, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.sign(0); err != nil {
			b.Fatal(fmt.Errorf("sign: %w", err))
		}
	}
}
