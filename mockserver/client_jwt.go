package mockserver

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// JWT client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core
// §9): private_key_jwt for clients that registered public keys (jwt_keys),
// client_secret_jwt for clients with a secret. This is the mock's own
// verification, on go-jose; it shares nothing with the harness's signing
// (internal/jwtsign) beyond the wire vocabulary (internal/oauth).

// assertionSkew is the clock skew allowed on exp (RFC 7523 §3 item 4).
const assertionSkew = 30 * time.Second

var (
	asymmetricAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA}
	hmacAlgs       = []jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512}
)

// confidential reports whether c has a credential: a secret or keys.
func (c *Client) confidential() bool { return c.Secret != "" || len(c.JWTKeys) > 0 }

// publicKeys parses c's registered jwt_keys (PEM SubjectPublicKeyInfo).
func (c *Client) publicKeys() ([]any, error) {
	var out []any
	for i, p := range c.JWTKeys {
		blk, _ := pem.Decode([]byte(p))
		if blk == nil || blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("jwt_keys[%d] is not a PEM PUBLIC KEY block", i)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("jwt_keys[%d]: %w", i, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// jtiSet remembers the jti of every accepted assertion until it expires
// (RFC 7523 §3 item 7), per client.
type jtiSet struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// use records jti for client until exp; false when it was already used.
func (j *jtiSet) use(client, jti string, exp, now time.Time) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.seen == nil {
		j.seen = map[string]time.Time{}
	}
	if len(j.seen) > 4096 {
		for k, until := range j.seen {
			if now.After(until) {
				delete(j.seen, k)
			}
		}
	}
	key := client + "\x00" + jti
	if until, ok := j.seen[key]; ok && !now.After(until) {
		return false
	}
	j.seen[key] = exp.Add(assertionSkew)
	return true
}

// assertionClaims are the claims the mock reads; aud is a string or an
// array of strings (RFC 7519 §4.1.3).
type assertionClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
	Jti string          `json:"jti"`
}

func (c assertionClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many
}

// hasAssertion reports whether a request authenticates with an assertion.
func hasAssertion(form map[string]string) bool {
	_, t := form[oauth.ParamClientAssertionType]
	_, a := form[oauth.ParamClientAssertion]
	return t || a
}

// authenticateJWT authenticates the client of a request carrying a client
// assertion. Every refusal is invalid_client (RFC 7523 §3.2: "The value of
// the "error" parameter MUST be the "invalid_client" error code"), except
// a request that also authenticates another way (RFC 6749 §5.2
// invalid_request: "utilizes more than one mechanism").
func (s *Server) authenticateJWT(r *http.Request, form map[string]string, q quirkSet) (*Client, *reply) {
	grant := form[oauth.ParamGrantType]
	if r.Header.Get(oauth.HeaderAuthorization) != "" || hasKey(form, oauth.ParamClientSecret) {
		if !q.On(rules.OneAuthMethod.ID) {
			return nil, fail(oauth.ErrInvalidRequest, "more than one authentication method: send the client assertion alone, without Authorization or client_secret")
		}
	}
	bad := func(desc string) (*Client, *reply) { return nil, s.invalidClient(false, q, desc) }
	if form[oauth.ParamClientAssertionType] != oauth.ClientAssertionTypeJWT {
		return bad("client_assertion_type must be " + oauth.ClientAssertionTypeJWT)
	}
	tok := form[oauth.ParamClientAssertion]
	// The fault takes an unsecured JWT (alg "none") as it comes; go-jose
	// refuses to parse one, so the mock reads it by hand then.
	var claims assertionClaims
	var jws *jose.JSONWebSignature
	if q.On(rules.JWTAlgNone.ID) && unsecured(tok) {
		if err := unsecuredClaims(tok, &claims); err != nil {
			return bad("client_assertion is not a JWT: " + err.Error())
		}
	} else {
		var err error
		if jws, err = jose.ParseSigned(tok, append(append([]jose.SignatureAlgorithm(nil), asymmetricAlgs...), hmacAlgs...)); err != nil {
			return bad("client_assertion is not a JWS with a supported algorithm: " + err.Error())
		}
		if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
			return bad("client_assertion claims are not a JSON object")
		}
	}
	// RFC 7523 §3 item 2.B: "For client authentication, the subject MUST be
	// the "client_id" of the OAuth client"; RFC 7521 §4.2: a client_id
	// parameter "MUST identify the same client". The fault identifies the
	// client by client_id (or iss) and ignores sub.
	id := claims.Sub
	bodyID, hasID := form[oauth.ParamClientID]
	if q.On(rules.JWTWrongSubject.ID) {
		id = claims.Iss
		if hasID {
			id = bodyID
		}
	} else if hasID && bodyID != id {
		return bad("client_id differs from the assertion's sub")
	}
	c, ok := s.clients[id]
	if !ok {
		return bad("unknown client")
	}
	// OpenID Connect Core §9: iss "MUST contain the client_id of the OAuth
	// Client". The fault takes any iss.
	if claims.Iss != c.ID && !q.On(rules.JWTWrongIssuer.ID) {
		return bad("the assertion's iss is not the client_id")
	}
	// RFC 7523 §3 item 9: "The authorization server MUST reject JWTs with an
	// invalid signature or MAC." The faults (this rule's, and the wrong
	// secret rules', whose wrong secret is a wrong key here) skip it.
	skipSig := q.On(rules.JWTWrongKey.ID) || grant == oauth.GrantAuthorizationCode && q.On(rules.WrongSecret.ID) ||
		grant == oauth.GrantRefreshToken && q.On(rules.RefreshWrongSecret.ID) ||
		grant == oauth.GrantClientCredentials && q.On(rules.CCWrongSecret.ID)
	method := oauth.AuthSecretJWT
	if jws == nil && c.accepts(oauth.AuthPrivateKeyJWT) {
		method = oauth.AuthPrivateKeyJWT // unsecured, under the fault
	}
	if jws != nil {
		alg := jose.SignatureAlgorithm(jws.Signatures[0].Header.Algorithm)
		if !slices.Contains(hmacAlgs, alg) {
			method = oauth.AuthPrivateKeyJWT
		}
		if !skipSig {
			if err := s.verifyWith(c, jws, method); err != nil {
				return bad(err.Error())
			}
		}
	}
	if !c.accepts(method) {
		return bad("client " + c.ID + " is not registered for " + string(method))
	}
	// RFC 7523 §3 item 3: "The authorization server MUST reject any JWT that
	// does not contain its own identity as the intended audience": its
	// token endpoint URL or its issuer identifier. The fault takes any aud.
	if !q.On(rules.JWTWrongAudience.ID) && !slices.ContainsFunc(claims.audiences(), func(a string) bool { return ownIdentity(r, a) }) {
		return bad("the assertion's aud is neither this token endpoint nor this issuer")
	}
	// RFC 7523 §3 item 4: "The authorization server MUST reject any JWT with
	// an expiration time that has passed". The fault takes any exp.
	now := s.now()
	if claims.Exp == nil {
		return bad("the assertion has no exp")
	}
	exp := time.Unix(int64(*claims.Exp), 0)
	if !q.On(rules.JWTExpired.ID) && now.After(exp.Add(assertionSkew)) {
		return bad("the assertion has expired")
	}
	// RFC 7523 §3 item 7: "The authorization server MAY ensure that JWTs are
	// not replayed". The mock does; the fault lets a used jti through.
	if claims.Jti != "" && !q.On(rules.JWTReplay.ID) && !s.jtis.use(c.ID, claims.Jti, exp, now) {
		return bad("the assertion's jti was already used")
	}
	// The fault refuses every assertion, valid ones included.
	if q.On(rules.JWTAccepted.ID) {
		return bad("client assertions are not accepted")
	}
	return c, nil
}

// verifyWith checks jws's signature with c's keys or MAC secret.
func (s *Server) verifyWith(c *Client, jws *jose.JSONWebSignature, m oauth.AuthMethod) error {
	if m == oauth.AuthSecretJWT {
		if c.Secret == "" {
			return errors.New("client " + c.ID + " has no secret to check a MAC with")
		}
		if _, err := jws.Verify([]byte(c.Secret)); err != nil {
			return errors.New("the assertion's MAC does not verify with the client's secret")
		}
		return nil
	}
	for _, k := range s.jwtKeys[c.ID] {
		if _, err := jws.Verify(k); err == nil {
			return nil
		}
	}
	return errors.New("the assertion's signature does not verify with any key registered for the client")
}

// ownIdentity reports whether aud names this server: the token endpoint
// URL the request reached, or the issuer identifier (its origin).
func ownIdentity(r *http.Request, aud string) bool {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	origin := scheme + "://" + r.Host
	return aud == origin+r.URL.Path || aud == origin || aud == origin+"/"
}

// unsecured reports whether tok is a compact JWT with alg "none".
func unsecured(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return decodeSegment(parts[0], &h) == nil && h.Alg == "none"
}

func unsecuredClaims(tok string, c *assertionClaims) error {
	return decodeSegment(strings.Split(tok, ".")[1], c)
}

func hasKey(form map[string]string, k string) bool { _, ok := form[k]; return ok }

// decodeSegment decodes one base64url JWT segment as JSON into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
