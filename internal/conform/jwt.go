package conform

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// JWT client authentication (RFC 7523 §2.2): a client configured with
// CLIENT_AUTH=private_key_jwt or client_secret_jwt sends a freshly signed
// client assertion (fresh jti) with every request, or one of the broken
// assertions the rules ask for. Signing is package jwtsign's (go-jose).

// jwtState holds what the run's assertions are signed with, loaded once.
type jwtState struct {
	once  sync.Once
	err   error
	key   jwtsign.Key // the JWT_KEY_FILE key (private_key_jwt)
	wrong jwtsign.Key // a key of the same type the target never saw
}

// load reads JWT_KEY_FILE and makes the wrong key, once per run.
func (r *Runner) jwtKeys() (*jwtState, error) {
	s := &r.jwt
	s.once.Do(func() {
		if r.cfg.ClientAuth != oauth.AuthPrivateKeyJWT {
			return
		}
		if s.key, s.err = r.cfg.AssertionKey(""); s.err != nil {
			return
		}
		var other crypto.Signer
		other, s.err = wrongKey(s.key.Private)
		s.wrong = jwtsign.Key{Alg: s.key.Alg, Private: other, ID: s.key.ID}
	})
	return s, s.err
}

// wrongKeys caches one generated key per key type and size: any key the
// target never saw will do, and a 2048-bit RSA key costs a noticeable
// fraction of a second to make, once per Runner otherwise.
var wrongKeys sync.Map // string -> crypto.Signer

// wrongKey is a key of the same type and size as p that no target has.
func wrongKey(p any) (crypto.Signer, error) {
	var kind string
	var gen func() (crypto.Signer, error)
	switch p := p.(type) {
	case *ecdsa.PrivateKey:
		kind = "ec-" + p.Curve.Params().Name
		gen = func() (crypto.Signer, error) { return ecdsa.GenerateKey(p.Curve, rand.Reader) }
	case *rsa.PrivateKey:
		kind = fmt.Sprintf("rsa-%d", p.N.BitLen())
		gen = func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, p.N.BitLen()) }
	case ed25519.PrivateKey:
		kind = "ed25519"
		gen = func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err }
	default:
		return nil, fmt.Errorf("no wrong key of type %T", p)
	}
	if k, ok := wrongKeys.Load(kind); ok {
		return k.(crypto.Signer), nil
	}
	k, err := gen()
	if err != nil {
		return nil, err
	}
	actual, _ := wrongKeys.LoadOrStore(kind, k)
	return actual.(crypto.Signer), nil
}

// assertionKey is the key client secret's assertions are signed with, or
// the wrong one.
func (e *env) assertionKey(secret string, wrong bool) (jwtsign.Key, error) {
	if e.r.cfg.ClientAuth == oauth.AuthSecretJWT {
		if wrong {
			secret += "-tokenharness-wrong"
		}
		return e.r.cfg.AssertionKey(secret)
	}
	s, err := e.r.jwtKeys()
	if err != nil {
		return jwtsign.Key{}, err
	}
	if wrong {
		return s.wrong, nil
	}
	return s.key, nil
}

// variation reports whether the client-side legal variation v is on.
func (e *env) variation(v rules.Variation) bool {
	return slices.Contains(e.r.cfg.Quirks, string(v.ID))
}

// assertion mints the client assertion auth asks for, for client id.
func (e *env) assertion(auth rules.Auth, id, secret string) (string, error) {
	k, err := e.assertionKey(secret, auth == rules.AuthWrongSecret || auth == rules.AuthJWTWrongKey)
	if err != nil {
		return "", err
	}
	a := jwtsign.Assertion{ClientID: id, Audience: e.r.cfg.Audience()}
	if e.variation(rules.VarAssertionAudIssuer) {
		if u, err := url.Parse(e.r.cfg.Target); err == nil {
			a.Audience = u.Scheme + "://" + u.Host
		}
	}
	if e.variation(rules.VarAssertionExtraClaims) {
		a.Extra = map[string]any{"tokenharness_extra": map[string]any{"nested": []int{1, 2}}, "client_name": "tokenharness"}
	}
	if e.variation(rules.VarAssertionOtherAlg) {
		switch k.Alg {
		case jose.HS256:
			k.Alg = jose.HS512
		case jose.RS256:
			k.Alg = jose.PS256
		}
	}
	switch auth {
	case rules.AuthJWTAlgNone:
		k.Alg = jwtsign.AlgNone
	case rules.AuthJWTExpired:
		a.IssuedAt, a.Lifetime = time.Now().Add(-2*time.Hour), time.Hour
	case rules.AuthJWTWrongAud:
		a.Audience = rules.OtherAudience
	case rules.AuthJWTWrongSub:
		a.Subject = rules.NotTheClient
	case rules.AuthJWTWrongIss:
		a.Issuer = rules.NotTheClient
	}
	tok, err := jwtsign.SignAssertion(k, a)
	if err != nil {
		return "", err
	}
	// The signature is the secret part: masked, the header and claims
	// stay readable in evidence and the token cannot be replayed from it.
	if i := strings.LastIndexByte(tok, '.'); i >= 0 {
		e.r.red.Add(tok[i+1:])
	}
	return tok, nil
}

// applyJWT adds JWT client authentication to a request for a client whose
// method is private_key_jwt or client_secret_jwt; false when auth is not
// about assertions (Basic, post and omit keep their meaning).
func (e *env) applyJWT(auth rules.Auth, assertion, id, secret string, form, query url.Values, h http.Header) (bool, error) {
	set := func(v url.Values, tok string) {
		v.Set(oauth.ParamClientAssertionType, jwtsign.AssertionType)
		v.Set(oauth.ParamClientAssertion, tok)
	}
	switch auth {
	case rules.AuthBasic, rules.AuthBasicWrongSecret, rules.AuthPost, rules.AuthOmit:
		return false, nil
	case rules.AuthJWTAssertion:
		set(form, assertion)
		return true, nil
	}
	kind := auth
	if auth == rules.AuthBoth || auth == rules.AuthQuery || auth == rules.AuthJWTClientID {
		kind = rules.AuthConfigured
	}
	tok, err := e.assertion(kind, id, secret)
	if err != nil {
		return true, err
	}
	switch auth {
	case rules.AuthQuery:
		query.Set(oauth.ParamClientID, id)
		set(query, tok)
		return true, nil
	case rules.AuthBoth:
		// Two mechanisms: the assertion and HTTP Basic.
		h.Set(oauth.HeaderAuthorization, oauth.BasicAuthorization(id, secret))
	case rules.AuthJWTWrongSub, rules.AuthJWTWrongIss, rules.AuthJWTClientID:
		// Say who claims to be calling: the assertion names someone else.
		form.Set(oauth.ParamClientID, id)
	}
	if e.variation(rules.VarAssertionClientID) {
		form.Set(oauth.ParamClientID, id)
	}
	set(form, tok)
	return true, nil
}
