package jwtsign

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/oauth"
)

// ProofType is the "typ" header of a DPoP proof (RFC 9449 §4.2).
const ProofType = oauth.DPoPProofType

// ProofURL is a proof's htu for requests to target: the URL without its
// query and fragment (RFC 9449 §4.2).
func ProofURL(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	return u.String(), nil
}

// Proof are the claims of a DPoP proof (RFC 9449 §4.2).
type Proof struct {
	Method string // htm
	URL    string // htu, without query and fragment
	// IssuedAt defaults to now.
	IssuedAt time.Time
	// ID is the jti; empty draws a fresh one.
	ID string
	// Nonce is a server-provided DPoP-Nonce (§8), if any.
	Nonce string
	// AccessToken, when set, is hashed into "ath" (§4.2, for resource
	// requests).
	AccessToken string
	// Typ overrides ProofType (a rule sends a wrong one on purpose).
	Typ string
}

// Claims is p's claim set.
func (p Proof) Claims() map[string]any {
	iat := p.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	jti := p.ID
	if jti == "" {
		jti = NewID()
	}
	c := map[string]any{"htm": p.Method, "htu": p.URL, "iat": iat.Unix(), "jti": jti}
	if p.Nonce != "" {
		c["nonce"] = p.Nonce
	}
	if p.AccessToken != "" {
		h := sha256.Sum256([]byte(p.AccessToken))
		c["ath"] = base64.RawURLEncoding.EncodeToString(h[:])
	}
	return c
}

// SignProof signs p with k, embedding k's public JWK as §4.2 requires.
func SignProof(k Key, p Proof) (string, error) {
	return SignProofNaming(k, nil, p)
}

// SignProofNaming signs p with k but embeds jwk (when not nil) as the
// proof's key: the shape of a forged or symmetric proof.
func SignProofNaming(k Key, jwk *jose.JSONWebKey, p Proof) (string, error) {
	typ := p.Typ
	if typ == "" {
		typ = ProofType
	}
	return Sign(k, Header{Typ: typ, JWK: jwk == nil, ForeignJWK: jwk}, p.Claims())
}
