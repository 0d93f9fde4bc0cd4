package target

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
)

// JWT client authentication (RFC 7523 §2.2, OpenID Connect Core §9): the
// signing key and claims a run's client assertions are made with, resolved
// here once so Validate and the conformance run read the same thing.

// usesSecret reports whether every configured client needs its own client
// secret: every method but none and private_key_jwt (whose clients all sign
// with JWT_KEY_FILE).
func (c Config) usesSecret() bool {
	return c.ClientAuth != "" && c.ClientAuth != oauth.AuthNone && c.ClientAuth != oauth.AuthPrivateKeyJWT
}

// Audience is the "aud" of the run's client assertions: JWT_AUDIENCE, or
// the token endpoint URL (TARGET), which RFC 7523 §3 names as a value that
// identifies the authorization server.
func (c Config) Audience() string {
	if c.JWTAudience != "" {
		return c.JWTAudience
	}
	return c.Target
}

// AssertionKey is the key a client assertion is signed with under the
// configured method: the JWT_KEY_FILE key for private_key_jwt, the client's
// secret as an HMAC key for client_secret_jwt; alg from JWT_ALG or the
// key's default, kid from JWT_KID.
func (c Config) AssertionKey(secret string) (jwtsign.Key, error) {
	var k jwtsign.Key
	switch c.ClientAuth {
	case oauth.AuthPrivateKeyJWT:
		p, err := jwtsign.LoadPrivateKey(c.JWTKeyFile)
		if err != nil {
			return k, err
		}
		k.Private = p
	case oauth.AuthSecretJWT:
		k.Private = []byte(secret)
	default:
		return k, fmt.Errorf("CLIENT_AUTH=%s sends no client assertion", c.ClientAuth)
	}
	k.Alg, k.ID = jwtsign.DefaultAlg(k.Private), c.JWTKID
	if c.JWTAlg != "" {
		a, err := jwtsign.ParseAlg(c.JWTAlg)
		if err != nil {
			return k, err
		}
		k.Alg = a
	}
	return k, fitsKey(k)
}

// fitsKey reports whether k's algorithm can sign with k's key.
func fitsKey(k jwtsign.Key) error {
	a := string(k.Alg)
	var ok bool
	var kind string
	switch p := k.Private.(type) {
	case []byte:
		ok, kind = strings.HasPrefix(a, "HS"), "a client secret (client_secret_jwt)"
	case *rsa.PrivateKey:
		ok, kind = strings.HasPrefix(a, "RS") || strings.HasPrefix(a, "PS"), "an RSA key"
	case ed25519.PrivateKey:
		ok, kind = k.Alg == jose.EdDSA, "an Ed25519 key"
	case *ecdsa.PrivateKey:
		kind = "an EC " + p.Curve.Params().Name + " key"
		ok = k.Alg == jwtsign.DefaultAlg(p)
	case crypto.Signer:
		kind = fmt.Sprintf("a %T key", p)
	}
	if b, isSecret := k.Private.([]byte); isSecret && ok {
		// RFC 7518 §3.2: "A key of the same size as the hash output ... or
		// larger MUST be used with this algorithm."
		need := map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}[a]
		if len(b) < need {
			return fmt.Errorf("alg %s needs a MAC key of at least %d bytes (RFC 7518 §3.2), and CLIENT_SECRET has %d", a, need, len(b))
		}
	}
	if !ok {
		return fmt.Errorf("alg %s does not fit %s: leave JWT_ALG unset for %s, or use a key of that type", a, kind, jwtsign.DefaultAlg(k.Private))
	}
	return nil
}

// validateJWT checks the JWT settings: a key file that holds a private key
// the algorithm fits, and no JWT setting a method without assertions would
// silently ignore.
func (c Config) validateJWT() error {
	if !c.ClientAuth.JWT() {
		for _, s := range []struct{ v, env string }{{c.JWTKeyFile, "JWT_KEY_FILE"}, {c.JWTAlg, "JWT_ALG"}, {c.JWTKID, "JWT_KID"}, {c.JWTAudience, "JWT_AUDIENCE"}} {
			if s.v != "" && c.ClientAuth != "" {
				return c.bad("%s is set but CLIENT_AUTH=%s sends no client assertion: set CLIENT_AUTH=private_key_jwt or client_secret_jwt, or unset %s", s.env, c.ClientAuth, s.env)
			}
		}
		return nil
	}
	if c.ClientAuth == oauth.AuthSecretJWT && c.JWTKeyFile != "" {
		return c.bad("JWT_KEY_FILE is set but CLIENT_AUTH=client_secret_jwt MACs with CLIENT_SECRET: set CLIENT_AUTH=private_key_jwt, or unset JWT_KEY_FILE")
	}
	if c.JWTAlg != "" {
		if _, err := jwtsign.ParseAlg(c.JWTAlg); err != nil {
			return c.bad("JWT_ALG%s: %v", c.from("jwt_alg"), err)
		}
	}
	if c.ClientAuth == oauth.AuthPrivateKeyJWT {
		if _, err := jwtsign.LoadPrivateKey(c.JWTKeyFile); err != nil {
			return c.bad("JWT_KEY_FILE %s%s is unusable: %v: point it at a PEM private key (PKCS #8, SEC 1 EC or PKCS #1 RSA)", c.JWTKeyFile, c.from("jwt_key_file"), err)
		}
	}
	if _, err := c.AssertionKey(c.ClientSecret); err != nil {
		return c.bad("JWT_ALG%s: %v", c.from("jwt_alg"), err)
	}
	return nil
}
