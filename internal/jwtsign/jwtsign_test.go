package jwtsign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func ecKey(t *testing.T) Key {
	t.Helper()
	p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Alg: jose.ES256, Private: p, ID: "k1"}
}

func header(t *testing.T, tok string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSignAssertion_VerifiesWithThePublicKey(t *testing.T) {
	t.Parallel()
	k := ecKey(t)
	tok, err := SignAssertion(k, Assertion{ClientID: "c1", Audience: "https://as/token", Lifetime: -time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := k.Public()
	payload, err := jws.Verify(pub)
	if err != nil {
		t.Fatalf("does not verify: %v", err)
	}
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	if c["iss"] != "c1" || c["sub"] != "c1" || c["aud"] != "https://as/token" || c["jti"] == "" || c["exp"].(float64) >= c["iat"].(float64) {
		t.Errorf("claims %v: want iss=sub=c1, the audience, a jti and an expiry before iat", c)
	}
	if h := header(t, tok); h["kid"] != "k1" {
		t.Errorf("header %v: want kid k1", h)
	}
}

func TestSignProof_Shapes(t *testing.T) {
	t.Parallel()
	k, other := ecKey(t), ecKey(t)
	otherPub, _ := other.Public()
	tests := []struct {
		name     string
		key      Key
		jwk      *jose.JSONWebKey
		wantAlg  string
		verifies bool
	}{
		{"valid", k, nil, "ES256", true},
		{"signed by another key than it names", other, func() *jose.JSONWebKey { p, _ := k.Public(); return &p }(), "ES256", false},
		{"symmetric", Key{Alg: jose.HS256, Private: []byte("0123456789abcdef0123456789abcdef")}, &otherPub, "HS256", false},
		{"none", Key{Alg: AlgNone, Private: k.Private}, nil, "none", false},
	}
	for _, tt := range tests {
		tok, err := SignProof(tt.key, Proof{Method: "POST", URL: "https://as/token", Nonce: "n1"})
		if tt.jwk != nil {
			tok, err = SignProofNaming(tt.key, tt.jwk, Proof{Method: "POST", URL: "https://as/token", Nonce: "n1"})
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		h := header(t, tok)
		if h["typ"] != ProofType || h["alg"] != tt.wantAlg || h["jwk"] == nil {
			t.Errorf("%s: header %v, want typ %s, alg %s and a jwk", tt.name, h, ProofType, tt.wantAlg)
		}
		jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
		ok := err == nil && jws.Signatures[0].Protected.JSONWebKey != nil
		if ok {
			_, err = jws.Verify(jws.Signatures[0].Protected.JSONWebKey)
			ok = err == nil
		}
		if ok != tt.verifies {
			t.Errorf("%s: verifies against its own jwk = %v, want %v", tt.name, ok, tt.verifies)
		}
	}
}

func TestThumbprint_IsStable(t *testing.T) {
	t.Parallel()
	k := ecKey(t)
	a, err := k.Thumbprint()
	b, _ := k.Thumbprint()
	if err != nil || a != b || len(a) != 43 {
		t.Errorf("thumbprint %q, %q (%v): want one 43-character base64url SHA-256", a, b, err)
	}
}

func TestParsePrivateKey_RoundTrip(t *testing.T) {
	t.Parallel()
	k := ecKey(t)
	pemb, err := EncodePrivateKey(k.Private.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePrivateKey(pemb)
	if err != nil || !got.(*ecdsa.PrivateKey).Equal(k.Private) {
		t.Errorf("round trip: %v", err)
	}
	if _, err := ParsePrivateKey([]byte("not pem")); err == nil {
		t.Error("garbage parsed as a key")
	}
	if a, err := ParseAlg("ES256"); err != nil || a != jose.ES256 {
		t.Errorf("ParseAlg(ES256) = %v, %v", a, err)
	}
	if _, err := ParseAlg("none"); err == nil {
		t.Error("ParseAlg accepted none as a key's algorithm")
	}
}
