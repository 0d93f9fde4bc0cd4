package mockserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// The tests sign proofs as a client would, with internal/jwtsign; the
// server verifies them with its own code (dpop.go).

// dpopHTU is the token endpoint's URL as httptest.NewRequest addresses it.
const dpopHTU = "http://example.com" + PathToken

var (
	dpopKeyOnce sync.Once
	dpopKeyA    jwtsign.Key
	dpopKeyB    jwtsign.Key
)

// dpopKeys are two client keys: A, the one proofs are signed with, and B.
func dpopKeys() (a, b jwtsign.Key) {
	dpopKeyOnce.Do(func() {
		ka, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		kb, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		dpopKeyA = jwtsign.Key{Alg: jose.ES256, Private: ka}
		dpopKeyB = jwtsign.Key{Alg: jose.ES256, Private: kb}
	})
	return dpopKeyA, dpopKeyB
}

// proof signs a proof for POST to the token endpoint at the harness's
// time with key A, edited by edit.
func (h *harness) proof(edit func(p *jwtsign.Proof)) string {
	h.t.Helper()
	a, _ := dpopKeys()
	p := jwtsign.Proof{Method: http.MethodPost, URL: dpopHTU, IssuedAt: h.clock.Now()}
	if edit != nil {
		edit(&p)
	}
	s, err := jwtsign.SignProof(a, p)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// thumbprintA is dpop_jkt for key A.
func thumbprintA(t testing.TB) string {
	a, _ := dpopKeys()
	jkt, err := a.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}

func (h *harness) ccDPoP(proof string) *result {
	h.t.Helper()
	return h.post(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, proof)
}

func publicJWK(t testing.TB, k jwtsign.Key) *jose.JSONWebKey {
	j, err := k.Public()
	if err != nil {
		t.Fatal(err)
	}
	return &j
}

// withNonce reports the summary and whether a DPoP-Nonce header came.
func withNonce(r *result) string {
	return r.summary() + " nonce:" + map[bool]string{true: "yes", false: "no"}[r.header.Get(oauth.HeaderDPoPNonce) != ""]
}

// dpopCases are the behavioural quirk cases of the DPoP rules and
// variations; init adds them to behaviouralCases.
var dpopCases = map[rules.ID]quirkCase{
	rules.DPoPSignature.ID: {rules.RFC6749, nil, func(h *harness) string {
		a, b := dpopKeys()
		s, err := jwtsign.SignProofNaming(b, publicJWK(h.t, a), jwtsign.Proof{Method: "POST", URL: dpopHTU, IssuedAt: h.clock.Now()})
		if err != nil {
			h.t.Fatal(err)
		}
		return h.ccDPoP(s).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPHTM.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.ccDPoP(h.proof(func(p *jwtsign.Proof) { p.Method = http.MethodGet })).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPHTU.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.ccDPoP(h.proof(func(p *jwtsign.Proof) { p.URL = "http://example.com/elsewhere" })).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPIAT.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.ccDPoP(h.proof(func(p *jwtsign.Proof) { p.IssuedAt = h.clock.Now().Add(-24 * time.Hour) })).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPTyp.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.ccDPoP(h.proof(func(p *jwtsign.Proof) { p.Typ = "jwt" })).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPAlgNoneRefused.ID: {rules.RFC6749, nil, func(h *harness) string {
		a, _ := dpopKeys()
		a.Alg = jwtsign.AlgNone
		s, err := jwtsign.SignProof(a, jwtsign.Proof{Method: "POST", URL: dpopHTU, IssuedAt: h.clock.Now()})
		if err != nil {
			h.t.Fatal(err)
		}
		return h.ccDPoP(s).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPAlgSymmetricRefused.ID: {rules.RFC6749, nil, func(h *harness) string {
		a, _ := dpopKeys()
		hs := jwtsign.Key{Alg: jose.HS256, Private: []byte("tokenharness-dpop-hmac-secret-0123456789")}
		s, err := jwtsign.SignProofNaming(hs, publicJWK(h.t, a), jwtsign.Proof{Method: "POST", URL: dpopHTU, IssuedAt: h.clock.Now()})
		if err != nil {
			h.t.Fatal(err)
		}
		return h.ccDPoP(s).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPOneHeader.ID: {rules.RFC6749, nil, func(h *harness) string {
		req := tokenReq(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, h.proof(nil))
		req.Header.Add(oauth.HeaderDPoP, h.proof(nil))
		return h.serve(req).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPClaims.ID: {rules.RFC6749, nil, func(h *harness) string {
		a, _ := dpopKeys()
		s, err := jwtsign.Sign(a, jwtsign.Header{Typ: jwtsign.ProofType, JWK: true}, map[string]any{"htm": "POST", "htu": dpopHTU, "iat": h.clock.Now().Unix()})
		if err != nil {
			h.t.Fatal(err)
		}
		return h.ccDPoP(s).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPPrivateKey.ID: {rules.RFC6749, nil, func(h *harness) string {
		_, b := dpopKeys()
		s, err := jwtsign.SignProofNaming(b, &jose.JSONWebKey{Key: b.Private, Algorithm: "ES256"}, jwtsign.Proof{Method: "POST", URL: dpopHTU, IssuedAt: h.clock.Now()})
		if err != nil {
			h.t.Fatal(err)
		}
		return h.ccDPoP(s).summary()
	}, "400 invalid_dpop_proof"},
	rules.DPoPJTIReplay.ID: {rules.RFC6749, nil, func(h *harness) string {
		p := h.proof(nil)
		first := h.ccDPoP(p).summary()
		return first + ", then " + h.ccDPoP(p).summary()
	}, "200 tokens, then 400 invalid_dpop_proof"},
	rules.DPoPNonce.ID: {rules.RFC6749, nil, func(h *harness) string {
		return withNonce(h.ccDPoP(h.proof(nil)))
	}, "200 tokens nonce:no"},
	rules.DPoPNonceMismatch.ID: {rules.RFC6749, nil, func(h *harness) string {
		return withNonce(h.ccDPoP(h.proof(nil)))
	}, "200 tokens nonce:no"},
	rules.DPoPRefreshBound.ID: {rules.OAuth21, nil, func(h *harness) string {
		_, b := dpopKeys()
		g := h.code(codeOpts{clientID: clientP})
		r := h.post(h.redeemForm(g), public(clientP), oauth.HeaderDPoP, h.proof(nil))
		if r.status != http.StatusOK || r.str(oauth.ParamRefreshToken) == "" {
			h.t.Fatalf("redeeming with a proof: %d %s", r.status, r.body)
		}
		other, err := jwtsign.SignProof(b, jwtsign.Proof{Method: "POST", URL: dpopHTU, IssuedAt: h.clock.Now()})
		if err != nil {
			h.t.Fatal(err)
		}
		return h.post(h.refreshForm(r.str(oauth.ParamRefreshToken)), public(clientP), oauth.HeaderDPoP, other).summary()
	}, "400 invalid_grant"},
	rules.DPoPJKT.ID: {rules.RFC6749, nil, func(h *harness) string {
		_, b := dpopKeys()
		other, err := jwtsign.SignProof(b, jwtsign.Proof{Method: "POST", URL: dpopHTU, IssuedAt: h.clock.Now()})
		if err != nil {
			h.t.Fatal(err)
		}
		return h.redeem(h.code(codeOpts{dpopJKT: thumbprintA(h.t)}), oauth.HeaderDPoP, other).summary()
	}, "400 invalid_grant"},
	rules.VarDPoPNonce.ID: {rules.RFC6749, nil, func(h *harness) string {
		return withNonce(h.ccDPoP(h.proof(nil)))
	}, "200 tokens nonce:no"},
	rules.VarDPoPTokenTypeCase.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.ccDPoP(h.proof(nil)).str(oauth.ParamTokenType)
	}, "DPoP"},
	rules.VarDPoPBearer.ID: {rules.OAuth21, nil, func(h *harness) string {
		return h.ccDPoP(h.proof(nil)).str(oauth.ParamTokenType)
	}, "DPoP"},
}

func init() {
	for id, c := range dpopCases {
		behaviouralCases[id] = c
	}
}

// TestDPoPValidProofBindsToken: a valid proof gets token_type DPoP on every
// grant; a request without one stays Bearer.
func TestDPoPValidProofBindsToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	if r := h.ccDPoP(h.proof(nil)); r.summary() != "200 tokens" || r.str(oauth.ParamTokenType) != "DPoP" {
		t.Errorf("client_credentials with a proof: %s token_type %q", r.summary(), r.str(oauth.ParamTokenType))
	}
	r := h.redeem(h.code(codeOpts{}), oauth.HeaderDPoP, h.proof(nil))
	if r.summary() != "200 tokens" || r.str(oauth.ParamTokenType) != "DPoP" {
		t.Fatalf("code with a proof: %s token_type %q", r.summary(), r.str(oauth.ParamTokenType))
	}
	// A confidential client's refresh token is not bound to the key (§5):
	// a refresh without a proof is a plain Bearer refresh.
	if r := h.refresh(r.str(oauth.ParamRefreshToken)); r.summary() != "200 tokens" || r.str(oauth.ParamTokenType) != "Bearer" {
		t.Errorf("confidential refresh without a proof: %s token_type %q", r.summary(), r.str(oauth.ParamTokenType))
	}
	if r := h.post(ccForm(""), basic(client1, secret1)); r.str(oauth.ParamTokenType) != "Bearer" {
		t.Errorf("client_credentials without a proof: token_type %q", r.str(oauth.ParamTokenType))
	}
}

// TestDPoPProofChecks: what §4.3 lets a server accept is accepted, what it
// does not is refused with invalid_dpop_proof.
func TestDPoPProofChecks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	a, _ := dpopKeys()
	priv, err := json.Marshal(jose.JSONWebKey{Key: a.Private})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"iat four minutes old", func() *http.Request {
			return tokenReq(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, h.proof(func(p *jwtsign.Proof) { p.IssuedAt = h.clock.Now().Add(-4 * time.Minute) }))
		}, "200 tokens"},
		{"iat in the near future", func() *http.Request {
			return tokenReq(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, h.proof(func(p *jwtsign.Proof) { p.IssuedAt = h.clock.Now().Add(30 * time.Second) }))
		}, "200 tokens"},
		{"iat ten minutes ahead", func() *http.Request {
			return tokenReq(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, h.proof(func(p *jwtsign.Proof) { p.IssuedAt = h.clock.Now().Add(10 * time.Minute) }))
		}, "400 invalid_dpop_proof"},
		{"htu with upper-case host, default port and a query", func() *http.Request {
			return tokenReq(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, h.proof(func(p *jwtsign.Proof) { p.URL = "HTTP://Example.COM:80" + PathToken + "?x=1" }))
		}, "200 tokens"},
		{"two DPoP headers", func() *http.Request {
			req := tokenReq(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, h.proof(nil))
			req.Header.Add(oauth.HeaderDPoP, h.proof(nil))
			return req
		}, "400 invalid_dpop_proof"},
		{"not a JWT", func() *http.Request {
			return tokenReq(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, "not-a-jwt")
		}, "400 invalid_dpop_proof"},
		{"a private key in jwk", func() *http.Request {
			hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(priv) + `}`))
			valid := strings.Split(h.proof(nil), ".")
			return tokenReq(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, hdr+"."+valid[1]+"."+valid[2])
		}, "400 invalid_dpop_proof"},
		{"no jti", func() *http.Request {
			s, err := jwtsign.Sign(a, jwtsign.Header{Typ: jwtsign.ProofType, JWK: true}, map[string]any{"htm": "POST", "htu": dpopHTU, "iat": h.clock.Now().Unix()})
			if err != nil {
				t.Fatal(err)
			}
			return tokenReq(ccForm(""), basic(client1, secret1), oauth.HeaderDPoP, s)
		}, "400 invalid_dpop_proof"},
	} {
		if got := h.serve(tc.req()).summary(); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestDPoPNonceRoundTrip: a server demanding nonces answers use_dpop_nonce
// with one DPoP-Nonce header; the retry with it succeeds; a nonce it never
// supplied, or one that has aged out, is refused with a new one.
func TestDPoPNonceRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749, WithQuirks(rules.VarDPoPNonce.ID))
	first := h.ccDPoP(h.proof(nil))
	nonces := first.header.Values(oauth.HeaderDPoPNonce)
	if first.summary() != "400 use_dpop_nonce" || len(nonces) != 1 || nonces[0] == "" {
		t.Fatalf("proof without nonce: %s, DPoP-Nonce %q", first.summary(), nonces)
	}
	n := nonces[0]
	if r := h.ccDPoP(h.proof(func(p *jwtsign.Proof) { p.Nonce = n })); r.summary() != "200 tokens" || r.str(oauth.ParamTokenType) != "DPoP" {
		t.Errorf("retry with the nonce: %s %s", r.summary(), r.body)
	}
	if r := h.ccDPoP(h.proof(func(p *jwtsign.Proof) { p.Nonce = n[:len(n)-2] + "AA" })); r.summary() != "400 use_dpop_nonce" || r.header.Get(oauth.HeaderDPoPNonce) == "" {
		t.Errorf("forged nonce: %s, DPoP-Nonce %q", r.summary(), r.header.Get(oauth.HeaderDPoPNonce))
	}
	h.clock.Advance(dpopNonceTTL + time.Second)
	if r := h.ccDPoP(h.proof(func(p *jwtsign.Proof) { p.Nonce = n })); r.summary() != "400 use_dpop_nonce" {
		t.Errorf("aged-out nonce: %s", r.summary())
	}
}

// TestDPoPPublicRefreshBound: a public client's refresh token obtained with
// a proof refreshes with a proof of the same key, across rotation, and not
// with another key's or without one.
func TestDPoPPublicRefreshBound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.OAuth21)
	_, b := dpopKeys()
	g := h.code(codeOpts{clientID: clientP})
	r := h.post(h.redeemForm(g), public(clientP), oauth.HeaderDPoP, h.proof(nil))
	rt := r.str(oauth.ParamRefreshToken)
	if r.status != http.StatusOK || rt == "" {
		t.Fatalf("redeem: %d %s", r.status, r.body)
	}
	if r := h.post(h.refreshForm(rt), public(clientP)); r.summary() != "400 invalid_grant" {
		t.Errorf("refresh without a proof: %s", r.summary())
	}
	other := func() string {
		s, err := jwtsign.SignProof(b, jwtsign.Proof{Method: "POST", URL: dpopHTU, IssuedAt: h.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if r := h.post(h.refreshForm(rt), public(clientP), oauth.HeaderDPoP, other()); r.summary() != "400 invalid_grant" {
		t.Errorf("refresh with another key: %s", r.summary())
	}
	same := h.post(h.refreshForm(rt), public(clientP), oauth.HeaderDPoP, h.proof(nil))
	if same.summary() != "200 tokens" || same.str(oauth.ParamRefreshToken) == "" {
		t.Fatalf("refresh with the same key: %s %s", same.summary(), same.body)
	}
	if r := h.post(h.refreshForm(same.str(oauth.ParamRefreshToken)), public(clientP), oauth.HeaderDPoP, other()); r.summary() != "400 invalid_grant" {
		t.Errorf("the rotated token with another key: %s", r.summary())
	}
}

// TestDPoPCodeBoundByJKT: a code requested with dpop_jkt (RFC 9449 §10) is
// redeemed only with a proof of that key: not with another key's, nor
// without a proof; a refusal leaves the code redeemable by its key. A
// dpop_jkt that is no SHA-256 thumbprint is refused at the authorization
// endpoint.
func TestDPoPCodeBoundByJKT(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	_, b := dpopKeys()
	// A fresh proof each time: the server remembers a proof's jti.
	other := func() string {
		s, err := jwtsign.SignProof(b, jwtsign.Proof{Method: "POST", URL: dpopHTU, IssuedAt: h.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	g := h.code(codeOpts{dpopJKT: thumbprintA(t)})
	if r := h.redeem(g, oauth.HeaderDPoP, other()); r.summary() != "400 invalid_grant" {
		t.Errorf("a bound code with another key's proof: %s", r.summary())
	}
	if r := h.redeem(g); r.summary() != "400 invalid_grant" {
		t.Errorf("a bound code without a proof: %s", r.summary())
	}
	if r := h.redeem(g, oauth.HeaderDPoP, h.proof(nil)); r.summary() != "200 tokens" {
		t.Errorf("a bound code with its key's proof: %s %s", r.summary(), r.body)
	}
	if r := h.redeem(h.code(codeOpts{}), oauth.HeaderDPoP, other()); r.summary() != "200 tokens" {
		t.Errorf("an unbound code with any key's proof: %s %s", r.summary(), r.body)
	}
	v := location(t, h.serve(h.authorizeReq(codeOpts{dpopJKT: "not-a-thumbprint"})))
	if v.Get(oauth.ParamError) != oauth.ErrInvalidRequest.Code || v.Get(oauth.ParamCode) != "" {
		t.Errorf("a malformed dpop_jkt: redirect %v, want error invalid_request", v)
	}
}

// TestDPoPReplayWindowIsBounded: a jti is remembered while its proof could
// be accepted, and forgotten after.
func TestDPoPReplayWindowIsBounded(t *testing.T) {
	t.Parallel()
	d := newDPoPState()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if rep := d.remember(dpopHTU, "j1", now, now); rep != nil {
		t.Fatal("a fresh jti was refused")
	}
	if rep := d.remember(dpopHTU, "j1", now, now.Add(time.Minute)); rep == nil {
		t.Error("a replayed jti was accepted within the window")
	}
	if rep := d.remember("http://example.com/other", "j1", now, now); rep != nil {
		t.Error("the same jti at another URI was refused")
	}
	later := now.Add(dpopMaxAge + time.Minute)
	if rep := d.remember(dpopHTU, "j1", later, later); rep != nil {
		t.Error("a jti was still remembered after its window")
	}
	d.mu.Lock()
	n := len(d.seen)
	d.mu.Unlock()
	if n != 1 {
		t.Errorf("%d jti values remembered after the sweep, want 1", n)
	}
}

// sameURI normalises what RFC 3986 §6.2.2-6.2.3 normalise, nothing more.
func TestSameURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://AS.example.com/token", "https://as.example.com:443/token", true},
		{"http://as.example.com/token?x#y", "http://as.example.com/token", true},
		{"https://as.example.com/token", "http://as.example.com/token", false},
		{"https://as.example.com/token", "https://as.example.com/Token", false},
		{"https://as.example.com", "https://as.example.com/", true},
		{"::", "https://as.example.com/", false},
	} {
		if got := sameURI(tc.a, tc.b); got != tc.same {
			t.Errorf("sameURI(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
