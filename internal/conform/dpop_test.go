package conform

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/codes"
	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// dpopStandIn records the DPoP proofs it gets; with nonce set it demands
// that nonce (use_dpop_nonce) of every proof that lacks it.
type dpopStandIn struct {
	nonce  string
	mu     sync.Mutex
	proofs []string
}

func (s *dpopStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.Header.Get(oauth.HeaderDPoP)
	s.mu.Lock()
	s.proofs = append(s.proofs, p)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if s.nonce != "" {
		var c map[string]any
		parts := strings.Split(p, ".")
		b, _ := base64.RawURLEncoding.DecodeString(parts[len(parts)/2])
		_ = json.Unmarshal(b, &c)
		if c["nonce"] != s.nonce {
			w.Header().Set(oauth.HeaderDPoPNonce, s.nonce)
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"use_dpop_nonce"}`))
			return
		}
	}
	_, _ = w.Write([]byte(`{"access_token":"at","token_type":"DPoP"}`))
}

func dpopRunner(t *testing.T, s *dpopStandIn, edit func(*target.Config)) (*Runner, string) {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := target.Default()
	cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientSecret, cfg.ClientAuth = "rfc6749", srv.URL+"/oauth/token?tenant=a", "c", "s-123456", oauth.AuthBasic
	cfg.DPoP = true
	if edit != nil {
		edit(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, srv.URL + "/oauth/token"
}

// parsedProof is what a server reads from a proof.
type parsedProof struct {
	alg, typ string
	jwk      jose.JSONWebKey
	verified bool
	claims   map[string]any
}

func parseProof(t *testing.T, p string) parsedProof {
	t.Helper()
	parts := strings.Split(p, ".")
	if len(parts) != 3 {
		t.Fatalf("proof %q is not a compact JWS", p)
	}
	var hdr struct {
		Alg string          `json:"alg"`
		Typ string          `json:"typ"`
		JWK json.RawMessage `json:"jwk"`
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(b, &hdr); err != nil {
		t.Fatal(err)
	}
	out := parsedProof{alg: hdr.Alg, typ: hdr.Typ}
	if err := out.jwk.UnmarshalJSON(hdr.JWK); err != nil {
		t.Fatalf("jwk: %v", err)
	}
	b, _ = base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(b, &out.claims); err != nil {
		t.Fatal(err)
	}
	if obj, err := jose.ParseSigned(p, []jose.SignatureAlgorithm{jose.ES256, jose.RS256}); err == nil {
		_, err = obj.Verify(out.jwk.Key)
		out.verified = err == nil
	}
	return out
}

// TestDPoPProofs: Env signs each proof with the run's key for the real
// method and URL (query dropped), broken only as the rule asks.
func TestDPoPProofs(t *testing.T) {
	t.Parallel()
	s := &dpopStandIn{}
	r, htu := dpopRunner(t, s, nil)
	e := &env{r: r}
	jkt := func(j jose.JSONWebKey) string {
		b, _ := j.Thumbprint(crypto256)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	want, err := r.dpop.key.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	for _, tc := range []struct {
		p     rules.DPoPProof
		check func(p parsedProof) string
	}{
		{rules.DPoPProof{}, func(p parsedProof) string {
			if p.alg != "ES256" || p.typ != jwtsign.ProofType || !p.verified || jkt(p.jwk) != want || p.claims["htm"] != "POST" || p.claims["htu"] != htu || p.claims["jti"] == "" {
				return "not a valid proof of the run's key"
			}
			if iat, _ := p.claims["iat"].(float64); int64(iat) < now-5 || int64(iat) > now+5 {
				return "iat is not now"
			}
			return ""
		}},
		{rules.DPoPProof{OtherKey: true}, func(p parsedProof) string {
			if !p.verified || jkt(p.jwk) == want {
				return "not a valid proof of another key"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPBadSignature}, func(p parsedProof) string {
			if p.verified || jkt(p.jwk) != want {
				return "names the run's key but should not verify with it"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPWrongHTM}, func(p parsedProof) string {
			if p.claims["htm"] != "GET" || !p.verified {
				return "htm is not GET"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPWrongHTU}, func(p parsedProof) string {
			u, _ := url.Parse(p.claims["htu"].(string))
			if p.claims["htu"] == htu || u == nil || u.Path != "/tokenharness-other-endpoint" || !p.verified {
				return "htu is not another path of the same origin"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPStaleIAT}, func(p parsedProof) string {
			if iat, _ := p.claims["iat"].(float64); int64(iat) > now-rules.DPoPStaleAgeHours*3600+5 || !p.verified {
				return "iat is not a day old"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPWrongTyp}, func(p parsedProof) string {
			if p.typ != "jwt" || !p.verified {
				return "typ is not jwt"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPAlgNone}, func(p parsedProof) string {
			if p.alg != "none" || jkt(p.jwk) != want {
				return "not an unsecured proof naming the run's key"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPAlgSymmetric}, func(p parsedProof) string {
			if p.alg != "HS256" || jkt(p.jwk) != want {
				return "not an HS256 proof naming the run's key"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPNoJTI}, func(p parsedProof) string {
			if _, has := p.claims["jti"]; has || !p.verified || jkt(p.jwk) != want {
				return "not a valid proof without jti"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPPrivateJWK}, func(p parsedProof) string {
			if p.jwk.IsPublic() || p.alg != "ES256" || jkt(p.jwk) == want {
				return "not a proof of another key whose jwk holds the private key"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPTwoHeaders}, func(p parsedProof) string {
			if !p.verified || jkt(p.jwk) != want {
				return "the first header is not a valid proof"
			}
			return ""
		}},
		{rules.DPoPProof{Defect: rules.DPoPWrongNonce}, func(p parsedProof) string {
			if p.claims["nonce"] != rules.DPoPBogusNonce {
				return "no bogus nonce"
			}
			return ""
		}},
	} {
		x := e.Do(context.Background(), rules.Request{Step: string(tc.p.Defect), DPoP: &tc.p, Form: url.Values{"grant_type": {"client_credentials"}}})
		if !rules.Won(x) {
			t.Fatalf("%s: %s", tc.p.Defect, x.Summary())
		}
		if n := len(x.Request.Header.Values(oauth.HeaderDPoP)); n != 1 && tc.p.Defect != rules.DPoPTwoHeaders || n != 2 && tc.p.Defect == rules.DPoPTwoHeaders {
			t.Errorf("proof %q: %d DPoP headers", tc.p.Defect, n)
		}
		if msg := tc.check(parseProof(t, x.Request.Header.Get(oauth.HeaderDPoP))); msg != "" {
			t.Errorf("proof %q (other key %v): %s", tc.p.Defect, tc.p.OtherKey, msg)
		}
	}
}

// TestDPoPNonceRetry: a use_dpop_nonce answer supplying a nonce is retried
// once with a fresh proof carrying it, except for the nonce rules' proofs.
func TestDPoPNonceRetry(t *testing.T) {
	t.Parallel()
	s := &dpopStandIn{nonce: "n-123"}
	r, _ := dpopRunner(t, s, nil)
	e := &env{r: r}
	x := e.Do(context.Background(), rules.Request{Step: "valid", DPoP: &rules.DPoPProof{}, Form: url.Values{"grant_type": {"client_credentials"}}})
	if !rules.Won(x) || len(e.trail) != 2 || !strings.Contains(x.Step, "retried") {
		t.Fatalf("got %s after %d exchanges, want tokens after a retry", x.Summary(), len(e.trail))
	}
	if p := parseProof(t, x.Request.Header.Get(oauth.HeaderDPoP)); p.claims["nonce"] != "n-123" {
		t.Errorf("the retry's proof carries nonce %v", p.claims["nonce"])
	}
	if s.proofs[0] == s.proofs[1] {
		t.Error("the retry reused the first proof")
	}
	x = e.Do(context.Background(), rules.Request{Step: "no nonce", DPoP: &rules.DPoPProof{Defect: rules.DPoPNoNonce}, Form: url.Values{"grant_type": {"client_credentials"}}})
	if rules.Won(x) || len(e.trail) != 3 {
		t.Errorf("a no-nonce proof: got %s after %d exchanges, want use_dpop_nonce, not retried", x.Summary(), len(e.trail))
	}
	// The nonce learnt is used from then on, without a round trip.
	x = e.Do(context.Background(), rules.Request{Step: "valid again", DPoP: &rules.DPoPProof{}, Form: url.Values{"grant_type": {"client_credentials"}}})
	if !rules.Won(x) || len(e.trail) != 4 {
		t.Errorf("a proof after the nonce was learnt: %s after %d exchanges", x.Summary(), len(e.trail))
	}
}

// TestDPoPKeyFile: DPOP_KEY_FILE signs the proofs; the need follows DPOP.
func TestDPoPKeyFile(t *testing.T) {
	t.Parallel()
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pemKey, err := jwtsign.EncodePrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dpop.pem")
	if err := os.WriteFile(file, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &dpopStandIn{}
	r, _ := dpopRunner(t, s, func(c *target.Config) { c.DPoPKeyFile = file })
	if !r.has(rules.NeedDPoP) {
		t.Error("DPOP=true does not satisfy NeedDPoP")
	}
	e := &env{r: r}
	x := e.Do(context.Background(), rules.Request{DPoP: &rules.DPoPProof{}, Form: url.Values{"grant_type": {"client_credentials"}}})
	p := parseProof(t, x.Request.Header.Get(oauth.HeaderDPoP))
	want := jwtsign.Key{Alg: jose.ES384, Private: k}
	wt, _ := want.Thumbprint()
	got, _ := p.jwk.Thumbprint(crypto256)
	if p.alg != "ES384" || base64.RawURLEncoding.EncodeToString(got) != wt {
		t.Errorf("proof alg %s, key %x: not the key file's", p.alg, got)
	}
	r2, _ := dpopRunner(t, s, func(c *target.Config) { c.DPoP = false })
	if r2.has(rules.NeedDPoP) {
		t.Error("a target without DPOP satisfies NeedDPoP")
	}
	x = (&env{r: r2}).Do(context.Background(), rules.Request{DPoP: &rules.DPoPProof{}})
	if x.Err == "" || !strings.Contains(x.Err, "DPOP=true") {
		t.Errorf("a proof without a DPoP key: err %q, want one naming DPOP=true", x.Err)
	}
}

const crypto256 = crypto.SHA256

// TestDPoPJKTCode: a code asked for with DPoPJKT carries the thumbprint of
// the run's DPoP key to the code source, and only then; NeedDPoPJKT
// follows DPOP_JKT, and without it RFC9449-10-DPOP-JKT is skipped naming it.
func TestDPoPJKTCode(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []codes.Request
	src := codeFunc(func(_ context.Context, req codes.Request) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, req)
		return "code-1", nil
	})
	srv := httptest.NewServer(&dpopStandIn{})
	t.Cleanup(srv.Close)
	runner := func(jkt bool) *Runner {
		cfg := target.Default()
		cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientSecret, cfg.ClientAuth = "rfc6749", srv.URL+"/oauth/token", "c", "s-123456", oauth.AuthBasic
		cfg.DPoP, cfg.DPoPJKT = true, jkt
		r, err := New(cfg, WithCodeSource(src))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	r := runner(true)
	if !r.has(rules.NeedDPoPJKT) {
		t.Error("DPOP_JKT=true does not satisfy NeedDPoPJKT")
	}
	e := &env{r: r}
	for _, bind := range []bool{true, false} {
		if _, err := e.Code(context.Background(), rules.CodeOptions{DPoPJKT: bind}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := r.dpop.key.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].DPoPJKT != want || got[1].DPoPJKT != "" {
		t.Errorf("dpop_jkt sent %q, want %q for a bound code and nothing for another", []string{got[0].DPoPJKT, got[1].DPoPJKT}, want)
	}
	unbound := runner(false)
	if unbound.has(rules.NeedDPoPJKT) {
		t.Error("a target without DPOP_JKT satisfies NeedDPoPJKT")
	}
	v := unbound.Run(context.Background(), rules.DPoPJKT)
	if v.Status != reports.StatusSkipped || !strings.Contains(v.Reason, "DPOP_JKT=true") {
		t.Errorf("RFC9449-10-DPOP-JKT without DPOP_JKT: %s %q, want skipped naming DPOP_JKT", v.Status, v.Reason)
	}
}

// TestDPoPJKTVerdicts: RFC9449-10-DPOP-JKT fails only when a code bound to
// the run's key is redeemed with another key's proof; every refusal passes
// (§10 names no error code); a control that fails, or a 5xx, proves
// nothing and leaves it inconclusive.
func TestDPoPJKTVerdicts(t *testing.T) {
	t.Parallel()
	tokens := map[string]any{"access_token": "at-1", "token_type": "DPoP", "expires_in": 3600}
	for _, tc := range []struct {
		name           string
		control, other int
		otherBody      map[string]any
		want           reports.Status
	}{
		{"refused with invalid_grant", 200, 400, oauthError("invalid_grant"), reports.StatusPassed},
		{"refused with invalid_dpop_proof", 200, 400, oauthError("invalid_dpop_proof"), reports.StatusPassed},
		{"refused with another code", 200, 401, oauthError("invalid_client"), reports.StatusPassed},
		{"tokens for another key", 200, 200, tokens, reports.StatusFailed},
		{"server error for another key", 200, 500, oauthError("server_error"), reports.StatusInconclusive},
		{"the control is refused", 400, 400, oauthError("invalid_grant"), reports.StatusInconclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			calls := 0
			url := scripted(t, func(map[string]string) (int, map[string]any) {
				mu.Lock()
				defer mu.Unlock()
				calls++
				if calls == 1 {
					if tc.control != 200 {
						return tc.control, oauthError("invalid_grant")
					}
					return 200, tokens
				}
				return tc.other, tc.otherBody
			})
			cfg := target.Default()
			cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientAuth = "rfc6749", url, "c1", oauth.AuthNone
			cfg.DPoP, cfg.DPoPJKT = true, true
			r, err := New(cfg, WithCodeSource(freshCodes))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(r.Close)
			v := r.Run(context.Background(), rules.DPoPJKT)
			if v.Status != tc.want {
				t.Errorf("got %s (%s), want %s", v.Status, v.Reason, tc.want)
			}
		})
	}
}
