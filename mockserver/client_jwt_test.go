package mockserver

import (
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// The JWT clients of fixtures/clients (rfc6749: private_key_jwt with the
// public test keys of fixtures/keys; oauth21: client_secret_jwt).
const (
	jwtClient       = "tokenharness-jwt"
	jwtSecretClient = "tokenharness-jwt-secret"
	jwtSecret       = "th-secret-jwt-6a0e21c9d4-for-hs512-the-mac-key-is-at-least-64-bytes"
	// testEndpoint is what httptest requests reach: aud of a valid assertion.
	testEndpoint = "http://example.com" + PathToken
)

func fixtureKey(t testing.TB, file string) jwtsign.Key {
	t.Helper()
	p, err := jwtsign.LoadPrivateKey("../fixtures/keys/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return jwtsign.Key{Alg: jwtsign.DefaultAlg(p), Private: p}
}

// assertionForm is a client_credentials request authenticated with an
// assertion signed by k, its claims edited by edit.
func (h *harness) assertionForm(k jwtsign.Key, client string, edit func(*jwtsign.Assertion)) url.Values {
	h.t.Helper()
	a := jwtsign.Assertion{ClientID: client, Audience: testEndpoint, IssuedAt: h.clock.Now()}
	if edit != nil {
		edit(&a)
	}
	tok, err := jwtsign.SignAssertion(k, a)
	if err != nil {
		h.t.Fatal(err)
	}
	f := ccForm("")
	f.Set(oauth.ParamClientAssertionType, jwtsign.AssertionType)
	f.Set(oauth.ParamClientAssertion, tok)
	return f
}

func jwtCase(edit func(*jwtsign.Assertion), key func(t testing.TB) jwtsign.Key, clean string) quirkCase {
	return quirkCase{rules.RFC6749, nil, func(h *harness) string {
		k := fixtureKey(h.t, "jwt-client-es256.pem")
		if key != nil {
			k = key(h.t)
		}
		return h.post(h.assertionForm(k, jwtClient, edit), noAuth).summary()
	}, clean}
}

func init() {
	wrongKey := func(t testing.TB) jwtsign.Key {
		other := fixtureKey(t, "jwt-client-es256.pem")
		// An EC key of the same curve the client never registered.
		p, err := jwtsign.ParsePrivateKey(testOtherECKey)
		if err != nil {
			t.Fatal(err)
		}
		other.Private = p
		return other
	}
	none := func(t testing.TB) jwtsign.Key {
		k := fixtureKey(t, "jwt-client-es256.pem")
		k.Alg = jwtsign.AlgNone
		return k
	}
	behaviouralCases[rules.JWTAccepted.ID] = jwtCase(nil, nil, "200 tokens")
	behaviouralCases[rules.JWTWrongKey.ID] = jwtCase(nil, wrongKey, "400 invalid_client")
	behaviouralCases[rules.JWTAlgNone.ID] = jwtCase(nil, none, "400 invalid_client")
	behaviouralCases[rules.JWTExpired.ID] = jwtCase(func(a *jwtsign.Assertion) {
		a.IssuedAt, a.Lifetime = a.IssuedAt.Add(-2*time.Hour), time.Hour
	}, nil, "400 invalid_client")
	behaviouralCases[rules.JWTWrongAudience.ID] = jwtCase(func(a *jwtsign.Assertion) { a.Audience = rules.OtherAudience }, nil, "400 invalid_client")
	behaviouralCases[rules.JWTWrongSubject.ID] = quirkCase{rules.RFC6749, nil, func(h *harness) string {
		f := h.assertionForm(fixtureKey(h.t, "jwt-client-es256.pem"), jwtClient, func(a *jwtsign.Assertion) { a.Subject = rules.NotTheClient })
		f.Set(oauth.ParamClientID, jwtClient)
		return h.post(f, noAuth).summary()
	}, "400 invalid_client"}
	behaviouralCases[rules.JWTWrongIssuer.ID] = jwtCase(func(a *jwtsign.Assertion) { a.Issuer = rules.NotTheClient }, nil, "400 invalid_client")
	behaviouralCases[rules.JWTReplay.ID] = quirkCase{rules.RFC6749, nil, func(h *harness) string {
		f := h.assertionForm(fixtureKey(h.t, "jwt-client-es256.pem"), jwtClient, nil)
		first := h.post(f, noAuth).summary()
		return first + ", " + h.post(f, noAuth).summary()
	}, "200 tokens, 400 invalid_client"}
}

// testOtherECKey is a P-256 key no fixture client registered.
var testOtherECKey = []byte(`-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIHgEfI7znLwMG+sZqauSCNCq6WJOqbDLROPhrEf6yFYyoAoGCCqGSM49
AwEHoUQDQgAEHWIm8Qj9zy8idf7nx1a3brX4Co0u5W8tDavpr1JWBfSlZdH7n+cu
Oi/YCb7JcmKhjlwRdrA7bEA/N0KZZPpNxA==
-----END EC PRIVATE KEY-----
`)

// TestJWTClientAuthentication: the mock accepts what RFC 7523 allows and
// refuses what it does not, for both methods.
func TestJWTClientAuthentication(t *testing.T) {
	t.Parallel()
	es := func(t testing.TB) jwtsign.Key { return fixtureKey(t, "jwt-client-es256.pem") }
	rs := func(t testing.TB) jwtsign.Key { return fixtureKey(t, "jwt-client-rs256.pem") }
	hs := func(alg jose.SignatureAlgorithm, secret string) func(testing.TB) jwtsign.Key {
		return func(testing.TB) jwtsign.Key { return jwtsign.Key{Alg: alg, Private: []byte(secret)} }
	}
	tests := []struct {
		name    string
		profile rules.Profile
		client  string
		key     func(testing.TB) jwtsign.Key
		edit    func(*jwtsign.Assertion)
		form    func(url.Values)
		want    string
	}{
		{"ES256", rules.RFC6749, jwtClient, es, nil, nil, "200 tokens"},
		{"RS256 with the other registered key", rules.RFC6749, jwtClient, rs, nil, nil, "200 tokens"},
		{"PS256 with the RSA key", rules.RFC6749, jwtClient, func(t testing.TB) jwtsign.Key { k := rs(t); k.Alg = jose.PS256; return k }, nil, nil, "200 tokens"},
		{"aud is the issuer identifier", rules.RFC6749, jwtClient, es, func(a *jwtsign.Assertion) { a.Audience = "http://example.com" }, nil, "200 tokens"},
		{"extra claims", rules.RFC6749, jwtClient, es, func(a *jwtsign.Assertion) { a.Extra = map[string]any{"x": []int{1}} }, nil, "200 tokens"},
		{"client_id too", rules.RFC6749, jwtClient, es, nil, func(f url.Values) { f.Set("client_id", jwtClient) }, "200 tokens"},
		{"client_id of another client", rules.RFC6749, jwtClient, es, nil, func(f url.Values) { f.Set("client_id", "tokenharness-jwt-2") }, "400 invalid_client"},
		{"client_secret too", rules.RFC6749, jwtClient, es, nil, func(f url.Values) { f.Set("client_secret", "x") }, "400 invalid_request"},
		{"wrong assertion type", rules.RFC6749, jwtClient, es, nil, func(f url.Values) { f.Set(oauth.ParamClientAssertionType, "urn:x") }, "400 invalid_client"},
		{"HMAC for a key client", rules.RFC6749, jwtClient, hs(jose.HS256, "a-guessed-secret-of-thirty-two-bytes"), nil, nil, "400 invalid_client"},
		{"unknown client", rules.RFC6749, "nobody", es, nil, nil, "400 invalid_client"},
		{"not a JWT", rules.RFC6749, jwtClient, es, nil, func(f url.Values) { f.Set(oauth.ParamClientAssertion, "a.b.c") }, "400 invalid_client"},
		{"HS256", rules.OAuth21, jwtSecretClient, hs(jose.HS256, jwtSecret), nil, nil, "200 tokens"},
		{"HS512", rules.OAuth21, jwtSecretClient, hs(jose.HS512, jwtSecret), nil, nil, "200 tokens"},
		{"HS256 wrong secret", rules.OAuth21, jwtSecretClient, hs(jose.HS256, jwtSecret+"x"), nil, nil, "400 invalid_client"},
		{"a key for a secret client", rules.OAuth21, jwtSecretClient, es, nil, nil, "400 invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.profile)
			f := h.assertionForm(tc.key(t), tc.client, tc.edit)
			if tc.form != nil {
				tc.form(f)
			}
			if got := h.post(f, noAuth).summary(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// Basic and an assertion are two mechanisms.
	h := newHarness(t, rules.RFC6749)
	if got := h.post(h.assertionForm(es(t), jwtClient, nil), basic(jwtClient, "x")).summary(); got != "400 invalid_request" {
		t.Errorf("Basic and an assertion: got %q, want 400 invalid_request", got)
	}
	// A used jti may come back once it has expired (and is refused for that).
	f := h.assertionForm(es(t), jwtClient, nil)
	if got := h.post(f, noAuth).summary(); got != "200 tokens" {
		t.Fatalf("first use: %q", got)
	}
	h.clock.Advance(time.Hour)
	if got := h.post(f, noAuth).summary(); got != "400 invalid_client" {
		t.Errorf("expired: %q", got)
	}
}
