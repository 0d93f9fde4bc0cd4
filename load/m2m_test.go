package load

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/reports"
)

// fakeCC is a client_credentials endpoint for the m2m tests: it checks
// each request's client (a secret from its list, or a client assertion
// verified with assertionKey), its DPoP proof when dpopKey is set, and that
// no jti comes twice, and counts requests per client. The bundled mock does
// not verify assertions or proofs on this branch, so the signing path is
// tested here; the plain path also runs against the mock (mock_test.go).
type fakeCC struct {
	secrets      map[string]string // client_id → secret
	assertionKey *ecdsa.PublicKey  // nil: secret authentication
	dpop         bool              // require a DPoP proof
	scope        string            // required scope parameter
	// halfBound issues every other DPoP-proofed token as Bearer: a server
	// whose binding fails under load.
	halfBound bool

	mu       sync.Mutex
	perID    map[string]int
	jtis     map[string]bool
	rejected []string // why, for the test's message
	url      string
}

func newFakeCC(t testing.TB, f *fakeCC) *httptest.Server {
	f.perID, f.jtis = map[string]int{}, map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", f.token)
	srv := httptest.NewServer(mux)
	f.url = srv.URL + "/oauth/token"
	t.Cleanup(srv.Close)
	return srv
}

func (f *fakeCC) reject(w http.ResponseWriter, status int, code, why string) {
	f.mu.Lock()
	if len(f.rejected) < 5 {
		f.rejected = append(f.rejected, why)
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

// verify parses a compact JWS signed with ES256 by pub (nil: by the key in
// its own jwk header, as a DPoP proof is) and returns its claims.
func verify(s string, pub *ecdsa.PublicKey) (map[string]any, string, error) {
	obj, err := jose.ParseSigned(s, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, "", err
	}
	h := obj.Signatures[0].Protected
	var key any = pub
	if pub == nil {
		if h.JSONWebKey == nil {
			return nil, "", fmt.Errorf("no jwk header")
		}
		key = h.JSONWebKey.Key
	}
	payload, err := obj.Verify(key)
	if err != nil {
		return nil, "", err
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, "", err
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return c, typ, nil
}

func (f *fakeCC) fresh(c map[string]any) error {
	jti, _ := c["jti"].(string)
	iat, _ := c["iat"].(float64)
	if jti == "" {
		return fmt.Errorf("no jti")
	}
	if d := time.Since(time.Unix(int64(iat), 0)); d > 30*time.Second || d < -5*time.Second {
		return fmt.Errorf("iat %v is %s old", iat, d)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jtis[jti] {
		return fmt.Errorf("jti %s replayed", jti)
	}
	f.jtis[jti] = true
	return nil
}

func (f *fakeCC) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.reject(w, 400, "invalid_request", err.Error())
		return
	}
	form := r.PostForm
	if g := form.Get(oauth.ParamGrantType); g != oauth.GrantClientCredentials {
		f.reject(w, 400, "unsupported_grant_type", "grant_type "+g)
		return
	}
	if f.scope != "" && form.Get(oauth.ParamScope) != f.scope {
		f.reject(w, 400, "invalid_scope", "scope "+form.Get(oauth.ParamScope))
		return
	}
	var id string
	if f.assertionKey != nil {
		id = form.Get(oauth.ParamClientID)
		if form.Get(oauth.ParamClientAssertionType) != jwtsign.AssertionType || r.Header.Get(oauth.HeaderAuthorization) != "" {
			f.reject(w, 401, "invalid_client", "not a private_key_jwt request")
			return
		}
		c, _, err := verify(form.Get(oauth.ParamClientAssertion), f.assertionKey)
		if err == nil && (c["iss"] != id || c["sub"] != id || c["aud"] != f.url) {
			err = fmt.Errorf("iss %v sub %v aud %v for client %s", c["iss"], c["sub"], c["aud"], id)
		}
		if err == nil {
			err = f.fresh(c)
		}
		if err != nil {
			f.reject(w, 401, "invalid_client", "assertion: "+err.Error())
			return
		}
	} else {
		var secret string
		var ok bool
		if id, secret, ok = r.BasicAuth(); !ok || f.secrets[id] == "" || f.secrets[id] != secret {
			f.reject(w, 401, "invalid_client", "basic auth of "+id)
			return
		}
	}
	if _, known := f.secrets[id]; !known {
		f.reject(w, 401, "invalid_client", "unknown client "+id)
		return
	}
	tokenType := "Bearer"
	if f.dpop {
		proofs := r.Header.Values("DPoP")
		if len(proofs) != 1 {
			f.reject(w, 400, "invalid_dpop_proof", fmt.Sprintf("%d DPoP headers", len(proofs)))
			return
		}
		c, typ, err := verify(proofs[0], nil)
		if err == nil && (typ != jwtsign.ProofType || c["htm"] != http.MethodPost || c["htu"] != f.url) {
			err = fmt.Errorf("typ %q htm %v htu %v", typ, c["htm"], c["htu"])
		}
		if err == nil {
			err = f.fresh(c)
		}
		if err != nil {
			f.reject(w, 400, "invalid_dpop_proof", "proof: "+err.Error())
			return
		}
		tokenType = "DPoP"
	}
	f.mu.Lock()
	f.perID[id]++
	if f.halfBound && len(f.jtis)%2 == 0 {
		tokenType = "Bearer"
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":%q,"expires_in":60}`, randToken(), tokenType)
}

func testClients(n int) ([]Credential, map[string]string) {
	cs := SyntheticClients("m2m-test-", n)
	m := map[string]string{}
	for _, c := range cs {
		m[c.ID] = c.Secret
	}
	return cs, m
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func m2mConfig(t testing.TB, base string, cs []Credential, p Params) Config {
	cfg := Config{Profile: M2M, Params: p, Endpoint: fakeEndpoint(base), M2MClients: cs,
		Dir: t.TempDir(), MaxLag: 2 * time.Second, TargetKind: "in-process", Limits: correctnessOnly(M2M)}
	cfg.Endpoint.Scope = "read"
	return cfg
}

// Every scheduled request is one client_credentials grant, the clients
// taken in turn, each with fresh, verifiable JWTs when signing is on: the
// request count and statuses are exact and the report says how it signed.
func TestRun_M2M(t *testing.T) {
	// Not parallel with the package's other tests: it signs and verifies
	// ES256 under -race, and their timing tests share the machine.
	tests := []struct {
		name             string
		assertion, dpop  bool
		wantAuth, wantDP string
	}{
		{"client secrets", false, false, "client secret", ""},
		{"client secrets and DPoP proofs", false, true, "client secret", "ES256"},
		{"ES256 client assertions", true, false, "private_key_jwt ES256", ""},
		{"ES256 client assertions and DPoP proofs", true, true, "private_key_jwt ES256", "ES256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const n = 7
			cs, secrets := testClients(n)
			ak := ecKey(t)
			f := &fakeCC{secrets: secrets, dpop: tt.dpop, scope: "read"}
			var sg Signing
			if tt.assertion {
				f.assertionKey = &ak.PublicKey
				sg.Assertion = &jwtsign.Key{Alg: jose.ES256, Private: ak}
			}
			if tt.dpop {
				sg.DPoP = &jwtsign.Key{Alg: jose.ES256, Private: ecKey(t)}
			}
			srv := newFakeCC(t, f)
			cfg := m2mConfig(t, srv.URL, cs, Params{Rate: 140, Duration: time.Second})
			if tt.assertion || tt.dpop {
				cfg.Signing = &sg
			}
			l := mustRun(t, cfg)
			want := scheduled(t, cfg)
			if l.Verdict != reports.VerdictPass || l.Requests != want || l.StatusCodes["200"] != want || len(l.StatusCodes) != 1 {
				t.Fatalf("verdict %s (%s), %d requests, status %v; want pass with %d requests all 200; server rejected %v; thresholds %+v",
					l.Verdict, l.InvalidWhy, l.Requests, l.StatusCodes, want, f.rejected, l.Thresholds)
			}
			// In turn: every client within one request of the others.
			for _, c := range cs {
				if got := f.perID[c.ID]; got < int(want)/n || got > int(want)/n+1 {
					t.Errorf("client %s sent %d of %d requests; want %d or %d", c.ID, got, want, want/n, want/n+1)
				}
			}
			x := l.Params.Extra
			if x["client_auth"] != tt.wantAuth || x["m2m_clients"] != n || l.Params.Clients != n {
				t.Errorf("report params %+v; want client_auth %q over %d clients", l.Params, tt.wantAuth, n)
			}
			if dp, _ := x["dpop"].(string); dp != tt.wantDP {
				t.Errorf("dpop = %q, want %q", dp, tt.wantDP)
			}
			// Every proofed request got a DPoP-bound token, and the check
			// says so; without proofs it does not apply.
			th := threshold(t, l, DPoPUnbound.Name)
			c := l.Correctness
			switch {
			case tt.dpop && (c.DPoPBound != want || c.DPoPNotBound != 0 || th.Status != reports.StatusPassed):
				t.Errorf("DPoP bound %d, not bound %d, %s = %+v; want all %d bound, passed", c.DPoPBound, c.DPoPNotBound, th.Name, th, want)
			case !tt.dpop && (c.DPoPBound+c.DPoPNotBound != 0 || th.Status != reports.StatusNotApplicable):
				t.Errorf("DPoP bound %d, not bound %d, %s = %+v; want none, not_applicable", c.DPoPBound, c.DPoPNotBound, th.Name, th)
			}
			if tt.assertion || tt.dpop {
				if x["signed_ahead"] == nil {
					t.Errorf("no signed_ahead in %+v", x)
				}
			}
			// The report on disk is the same, and validates.
			got, err := reports.ReadLoad(filepath.Join(cfg.Dir, ReportJSON))
			if err != nil {
				t.Fatalf("report.json: %v", err)
			}
			if got.Profile != M2M.Name || got.Requests != want {
				t.Errorf("report.json profile %s, %d requests", got.Profile, got.Requests)
			}
			for _, fn := range []string{ResultsFile, ReportHTML, PlotHTML, RunFile} {
				if _, err := os.Stat(filepath.Join(cfg.Dir, fn)); err != nil {
					t.Errorf("missing output: %v", err)
				}
			}
		})
	}
}

// A server that hands the same access token to two clients is caught, and
// one that refuses the clients fails the run on its error rate.
func TestRun_M2MFailures(t *testing.T) {
	t.Parallel()
	t.Run("one access token for everybody", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(sameAccessCC(http.NotFoundHandler()))
		t.Cleanup(srv.Close)
		cfg := m2mConfig(t, srv.URL, nil, Params{Rate: 100, Duration: 500 * time.Millisecond})
		l := mustRun(t, cfg)
		if l.Verdict != reports.VerdictFail || l.Correctness.DuplicateAccessTokens != l.Requests-1 {
			t.Errorf("verdict %s, %d duplicates over %d requests; want fail with every token after the first a duplicate",
				l.Verdict, l.Correctness.DuplicateAccessTokens, l.Requests)
		}
	})
	t.Run("unknown clients", func(t *testing.T) {
		t.Parallel()
		_, secrets := testClients(2)
		srv := newFakeCC(t, &fakeCC{secrets: secrets})
		cs := SyntheticClients("stranger-", 3)
		l := mustRun(t, m2mConfig(t, srv.URL, cs, Params{Rate: 100, Duration: 500 * time.Millisecond}))
		if l.Verdict != reports.VerdictFail || l.ErrorClasses[ClassInvalidClient] != l.Requests {
			t.Errorf("verdict %s, errors %v over %d requests; want every request invalid_client", l.Verdict, l.ErrorClasses, l.Requests)
		}
		th := threshold(t, l, DuplicateAccessTokens.Name)
		if th.Status != reports.StatusInconclusive {
			t.Errorf("duplicate_access_tokens = %+v; want inconclusive: no token was issued", th)
		}
	})
}

// threshold is l's threshold named name.
func threshold(t testing.TB, l *reports.Load, name string) reports.Threshold {
	t.Helper()
	for _, th := range l.Thresholds {
		if th.Name == name {
			return th
		}
	}
	t.Fatalf("no threshold %s in %+v", name, l.Thresholds)
	return reports.Threshold{}
}

// A server that binds some DPoP-proofed tokens and not others under load
// fails the run, as a correctness failure; one that binds none does not
// support DPoP, and the check does not apply.
func TestRun_M2MDPoPBinding(t *testing.T) {
	// Not parallel with the package's other tests: it signs and verifies
	// ES256 under -race, and their timing tests share the machine.
	dk := &jwtsign.Key{Alg: jose.ES256, Private: ecKey(t)}
	t.Run("half bound", func(t *testing.T) {
		t.Parallel()
		cs, secrets := testClients(3)
		srv := newFakeCC(t, &fakeCC{secrets: secrets, dpop: true, halfBound: true})
		cfg := m2mConfig(t, srv.URL, cs, Params{Rate: 100, Duration: 500 * time.Millisecond})
		cfg.Signing = &Signing{DPoP: dk}
		l := mustRun(t, cfg)
		th, c := threshold(t, l, DPoPUnbound.Name), l.Correctness
		if l.Verdict != reports.VerdictFail || th.Status != reports.StatusFailed || c.DPoPNotBound == 0 || c.DPoPBound == 0 ||
			c.DPoPBound+c.DPoPNotBound != l.Requests {
			t.Errorf("verdict %s, %s = %+v, bound %d not bound %d of %d", l.Verdict, th.Name, th, c.DPoPBound, c.DPoPNotBound, l.Requests)
		}
	})
	t.Run("none bound", func(t *testing.T) {
		t.Parallel()
		cs, secrets := testClients(3)
		srv := newFakeCC(t, &fakeCC{secrets: secrets}) // ignores the DPoP header
		cfg := m2mConfig(t, srv.URL, cs, Params{Rate: 100, Duration: 500 * time.Millisecond})
		cfg.Signing = &Signing{DPoP: dk}
		l := mustRun(t, cfg)
		th := threshold(t, l, DPoPUnbound.Name)
		if l.Verdict != reports.VerdictPass || th.Status != reports.StatusNotApplicable || !strings.Contains(th.Reason, "does not support DPoP") ||
			l.Correctness.DPoPNotBound != l.Requests {
			t.Errorf("verdict %s, %s = %+v, not bound %d of %d", l.Verdict, th.Name, th, l.Correctness.DPoPNotBound, l.Requests)
		}
	})
}

// sameAccessCC answers every client_credentials grant with one token.
func sameAccessCC(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue(oauth.ParamGrantType) != oauth.GrantClientCredentials {
			next.ServeHTTP(w, r)
			return
		}
		if id, secret, ok := r.BasicAuth(); !ok || id != fakeClientID || secret != fakeClientSecret {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"the-one-access-token","token_type":"Bearer","expires_in":60}`)
	})
}

func TestResolve_M2M(t *testing.T) {
	t.Parallel()
	cs, _ := testClients(5)
	base := Config{Profile: M2M, Endpoint: fakeEndpoint("http://127.0.0.1:1"), Params: Params{Rate: 100, Duration: time.Second}}
	tests := []struct {
		name        string
		mod         func(*Config)
		wantClients int
		wantErr     string
	}{
		{"the endpoint's client", func(*Config) {}, 1, ""},
		{"the whole list", func(c *Config) { c.M2MClients = cs }, 5, ""},
		{"the first CLIENTS", func(c *Config) { c.M2MClients, c.Params.Clients = cs, 3 }, 3, ""},
		{"more CLIENTS than configured", func(c *Config) { c.M2MClients, c.Params.Clients = cs, 6 }, 0, "CLIENTS=6, but the clients configured (CLIENT_ID, or one a line in M2M_CLIENTS_FILE) number 5"},
		{"no client", func(c *Config) { c.Endpoint.ClientID = "" }, 0, "no client"},
		{"POOL_FILE", func(c *Config) { c.PoolFile = "/tmp/x" }, 0, "POOL_FILE does not apply"},
		{"signing another profile", func(c *Config) {
			c.Profile = Soak
			c.Signing = &Signing{DPoP: &jwtsign.Key{Alg: jose.ES256, Private: ecKey(t)}}
		}, 0, "profile m2m only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mod(&cfg)
			pl, err := Resolve(cfg)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case len(pl.M2M) != tt.wantClients || pl.Params.Clients != tt.wantClients || pl.Slots != 0:
				t.Errorf("%d clients (params %d), %d slots; want %d clients and no pool", len(pl.M2M), pl.Params.Clients, pl.Slots, tt.wantClients)
			}
		})
	}
}

func TestParseClients(t *testing.T) {
	t.Parallel()
	got, err := ParseClients(strings.NewReader("# clients\n\nsvc-a secret-a\n  svc-b\tsecret-b \nsvc-jwt\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Credential{{"svc-a", "secret-a"}, {"svc-b", "secret-b"}, {"svc-jwt", ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "# nothing\n", "a b c\n"} {
		if _, err := ParseClients(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseClients(%q) accepted", bad)
		}
	}
}

// A key that cannot sign is refused before any request; a signer too slow
// for the schedule is refused before the attack, with what to change.
func TestSignFeed_Errors(t *testing.T) {
	t.Parallel()
	cs, _ := testClients(2)
	hmac := &jwtsign.Key{Alg: jose.HS256, Private: []byte("0123456789abcdef0123456789abcdef")}
	if _, err := newSignFeed(&Signing{DPoP: hmac}, "http://127.0.0.1:1/t", cs, 10, 10, nil); err == nil || !strings.Contains(err.Error(), "DPoP") {
		t.Errorf("an HMAC DPoP key: err = %v", err)
	}
	es := &jwtsign.Key{Alg: jose.ES256, Private: ecKey(t)}
	f, err := newSignFeed(&Signing{Assertion: es, DPoP: es, Workers: 1}, "http://127.0.0.1:1/t", cs, 100_000, 50_000, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = f.start(context.Background(), 50_000, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "cannot keep up") {
		t.Errorf("a lead that cannot be signed in time: err = %v", err)
	}
	f, err = newSignFeed(&Signing{DPoP: es, Workers: 1, Lead: time.Millisecond}, "http://127.0.0.1:1/t", cs, 100_000, 100_000, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = f.start(context.Background(), 100_000, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "run dry") {
		t.Errorf("a signer slower than the rate: err = %v", err)
	}
}

// The signed feed hands out each request once, its clients in turn, and
// the workers stop at the run's count.
func TestSignFeed_Order(t *testing.T) {
	t.Parallel()
	cs, _ := testClients(3)
	es := &jwtsign.Key{Alg: jose.ES256, Private: ecKey(t)}
	f, err := newSignFeed(&Signing{DPoP: es, Workers: 2}, "http://127.0.0.1:1/t?q=1#x", cs, 300, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.start(context.Background(), 100, time.Minute); err != nil {
		t.Fatal(err)
	}
	defer f.stop()
	perClient, proofs := map[int]int{}, map[string]bool{}
	for range 300 {
		it, ok := f.next()
		if !ok {
			t.Fatal(f.failed())
		}
		perClient[it.client]++
		proofs[it.proof] = true
		if c, _, err := verify(it.proof, nil); err != nil || c["htu"] != "http://127.0.0.1:1/t" {
			t.Fatalf("proof %v, claims %v: want htu without query and fragment", err, c)
		}
	}
	if len(proofs) != 300 || perClient[0] != 100 || perClient[1] != 100 || perClient[2] != 100 {
		t.Errorf("%d distinct proofs, per client %v", len(proofs), perClient)
	}
	if n := f.k.Load(); n < 300 || n > 300+uint64(f.workers) {
		t.Errorf("signed %d, want the run's 300 (workers overshoot the counter by one each at most)", n)
	}
}
