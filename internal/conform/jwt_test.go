package conform

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
)

func jwtRunner(t *testing.T, auth oauth.AuthMethod) *Runner {
	t.Helper()
	c := target.Default()
	c.Target, c.Profile, c.ClientID, c.ClientAuth = "https://as.example/oauth/token", "rfc6749", "c1", auth
	if auth == oauth.AuthPrivateKeyJWT {
		c.JWTKeyFile = "../../fixtures/keys/jwt-client-es256.pem"
	} else {
		c.ClientSecret = strings.Repeat("k", 64)
	}
	if err := c.Validate(nil); err != nil {
		t.Fatal(err)
	}
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func claimsOf(t *testing.T, body string) (hdr, claims map[string]any, form url.Values) {
	t.Helper()
	form, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	if form.Get(oauth.ParamClientAssertionType) != jwtsign.AssertionType {
		t.Fatalf("body %s: no client_assertion_type", body)
	}
	parts := strings.Split(form.Get(oauth.ParamClientAssertion), ".")
	if len(parts) != 3 {
		t.Fatalf("client_assertion %q is not a compact JWS", form.Get(oauth.ParamClientAssertion))
	}
	dec := func(s string) map[string]any {
		b, _ := base64.RawURLEncoding.DecodeString(s)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	return dec(parts[0]), dec(parts[1]), form
}

// TestJWTRequests: a JWT client's requests carry a fresh assertion each
// (new jti), addressed to TARGET, with iss = sub = client_id, and the
// broken variants the rules ask for.
func TestJWTRequests(t *testing.T) {
	t.Parallel()
	for _, auth := range []oauth.AuthMethod{oauth.AuthPrivateKeyJWT, oauth.AuthSecretJWT} {
		e := &env{r: jwtRunner(t, auth)}
		f := url.Values{oauth.ParamGrantType: {oauth.GrantClientCredentials}}
		h1, c1, form := claimsOf(t, e.build(rules.Request{Form: f}).Body)
		_, c2, _ := claimsOf(t, e.build(rules.Request{Form: f}).Body)
		if c1["jti"] == c2["jti"] || c1["jti"] == "" {
			t.Errorf("%s: jti %v then %v: want a fresh one per request", auth, c1["jti"], c2["jti"])
		}
		if c1["iss"] != "c1" || c1["sub"] != "c1" || c1["aud"] != "https://as.example/oauth/token" {
			t.Errorf("%s: claims %v", auth, c1)
		}
		if form.Has(oauth.ParamClientID) || form.Has(oauth.ParamClientSecret) {
			t.Errorf("%s: body %v: want the assertion alone", auth, form)
		}
		want := map[oauth.AuthMethod]string{oauth.AuthPrivateKeyJWT: "ES256", oauth.AuthSecretJWT: "HS256"}[auth]
		if h1["alg"] != want {
			t.Errorf("%s: alg %v, want %s", auth, h1["alg"], want)
		}
		for a, check := range map[rules.Auth]func(h, c map[string]any, f url.Values) bool{
			rules.AuthJWTAlgNone:  func(h, _ map[string]any, _ url.Values) bool { return h["alg"] == "none" },
			rules.AuthJWTWrongAud: func(_, c map[string]any, _ url.Values) bool { return c["aud"] == rules.OtherAudience },
			rules.AuthJWTWrongSub: func(_, c map[string]any, f url.Values) bool {
				return c["sub"] == rules.NotTheClient && c["iss"] == "c1" && f.Get("client_id") == "c1"
			},
			rules.AuthJWTWrongIss: func(_, c map[string]any, _ url.Values) bool {
				return c["iss"] == rules.NotTheClient && c["sub"] == "c1"
			},
			rules.AuthJWTExpired: func(_, c map[string]any, _ url.Values) bool {
				return c["exp"].(float64) < c1["iat"].(float64)-3000
			},
		} {
			h, c, f := claimsOf(t, e.build(rules.Request{Form: f, Auth: a}).Body)
			if !check(h, c, f) {
				t.Errorf("%s %s: header %v claims %v form %v", auth, a, h, c, f)
			}
		}
		// A replay sends the very assertion it is given.
		first := e.build(rules.Request{Form: f}).Body
		tok, _ := url.ParseQuery(first)
		again := e.build(rules.Request{Form: f, Auth: rules.AuthJWTAssertion, Assertion: tok.Get(oauth.ParamClientAssertion)}).Body
		if again != first {
			t.Errorf("%s: replay body %q, want %q", auth, again, first)
		}
	}
}

// TestJWTClientVariations: the client-side legal variations change what is
// sent, so the self-check's "stays green" is not vacuous.
func TestJWTClientVariations(t *testing.T) {
	t.Parallel()
	f := url.Values{oauth.ParamGrantType: {oauth.GrantClientCredentials}}
	r := jwtRunner(t, oauth.AuthSecretJWT)
	with := func(v rules.Variation) (map[string]any, map[string]any, url.Values) {
		e := &env{r: r}
		saved := r.cfg.Quirks
		r.cfg.Quirks = []string{string(v.ID)}
		defer func() { r.cfg.Quirks = saved }()
		return claimsOf(t, e.build(rules.Request{Form: f}).Body)
	}
	if _, c, _ := with(rules.VarAssertionAudIssuer); c["aud"] != "https://as.example" {
		t.Errorf("%s: aud %v, want the origin of TARGET", rules.VarAssertionAudIssuer.ID, c["aud"])
	}
	if _, c, _ := with(rules.VarAssertionExtraClaims); c["tokenharness_extra"] == nil {
		t.Errorf("%s: claims %v, want an extra claim", rules.VarAssertionExtraClaims.ID, c)
	}
	if h, _, _ := with(rules.VarAssertionOtherAlg); h["alg"] != "HS512" {
		t.Errorf("%s: alg %v, want HS512", rules.VarAssertionOtherAlg.ID, h["alg"])
	}
	if _, _, form := with(rules.VarAssertionClientID); form.Get(oauth.ParamClientID) != "c1" {
		t.Errorf("%s: body %v, want client_id too", rules.VarAssertionClientID.ID, form)
	}
	for _, v := range []rules.Variation{rules.VarAssertionExtraClaims, rules.VarAssertionAudIssuer, rules.VarAssertionOtherAlg, rules.VarAssertionClientID} {
		if !v.Client || v.Fault.Wire() {
			t.Errorf("%s: want a client variation without a wire fault", v.ID)
		}
	}
}
