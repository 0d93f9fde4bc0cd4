package jwtsign

import (
	"time"

	"tokenharness/internal/oauth"
)

// AssertionType is client_assertion_type for a JWT client assertion
// (RFC 7523 §2.2).
const AssertionType = oauth.ClientAssertionTypeJWT

// DefaultLifetime is how long a client assertion is valid for: short, as
// RFC 7523 §3 lets a server reject long-lived assertions.
const DefaultLifetime = 2 * time.Minute

// Assertion are the claims of a client assertion (RFC 7523 §3): iss and sub
// are the client_id, aud the token endpoint.
type Assertion struct {
	ClientID string
	Audience string
	// IssuedAt defaults to now; Lifetime to DefaultLifetime (negative
	// gives an expired assertion).
	IssuedAt time.Time
	Lifetime time.Duration
	// Issuer and Subject override the client_id in iss and sub.
	Issuer, Subject string
	// ID is the jti; empty draws a fresh one.
	ID string
	// Extra claims are added as they are (a server must ignore claims it
	// does not understand, RFC 7519 §4).
	Extra map[string]any
}

// Claims is a's claim set.
func (a Assertion) Claims() map[string]any {
	iat := a.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	life := a.Lifetime
	if life == 0 {
		life = DefaultLifetime
	}
	iss, sub, jti := a.Issuer, a.Subject, a.ID
	if iss == "" {
		iss = a.ClientID
	}
	if sub == "" {
		sub = a.ClientID
	}
	if jti == "" {
		jti = NewID()
	}
	c := map[string]any{"iss": iss, "sub": sub, "aud": a.Audience, "jti": jti, "iat": iat.Unix(), "exp": iat.Add(life).Unix()}
	for k, v := range a.Extra {
		c[k] = v
	}
	return c
}

// SignAssertion signs a with k, naming k's kid when it has one.
func SignAssertion(k Key, a Assertion) (string, error) {
	return Sign(k, Header{KeyID: true}, a.Claims())
}
