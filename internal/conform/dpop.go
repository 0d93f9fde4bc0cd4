package conform

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
)

// dpopKeys are the run's DPoP keys: the configured one every proof is
// signed with, another the server has never seen (a different client key,
// and the signer of proofs whose signature must not verify), and an HMAC
// secret for the symmetric proof.
type dpopKeys struct {
	key, other jwtsign.Key
	hmac       jwtsign.Key
	jwk        jose.JSONWebKey // key's public JWK, named by forged proofs
}

func newDPoPKeys(cfg target.Config) (*dpopKeys, error) {
	k, err := cfg.DPoPKey()
	if err != nil {
		return nil, err
	}
	// Another key of the same type (jwt.go's wrongKey): a proof it signs
	// fails on its signature alone, not on an algorithm that does not fit
	// the jwk it names.
	o, err := wrongKey(k.Private)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	jwk, err := k.Public()
	if err != nil {
		return nil, err
	}
	return &dpopKeys{key: k, other: jwtsign.Key{Alg: k.Alg, Private: o},
		hmac: jwtsign.Key{Alg: jose.HS256, Private: secret}, jwk: jwk}, nil
}

// proofURL is htu for the target: its URL without query and fragment
// (RFC 9449 §4.2).
func proofURL(target string) string {
	htu, err := jwtsign.ProofURL(target)
	if err != nil {
		return target
	}
	return htu
}

// wrongURL is htu naming another endpoint of the same server.
func wrongURL(target string) string {
	u, err := url.Parse(proofURL(target))
	if err != nil {
		return target + "/tokenharness-other-endpoint"
	}
	u.Path = "/tokenharness-other-endpoint"
	u.RawPath = ""
	return u.String()
}

// proof signs the DPoP proof p asks for on a request with the given method,
// with the nonce the server last supplied unless p is about the nonce.
func (e *env) proof(p *rules.DPoPProof, method string) (string, error) {
	ks := e.r.dpop
	if ks == nil {
		return "", fmt.Errorf("the run has no DPoP key: set DPOP=true")
	}
	pr := jwtsign.Proof{Method: method, URL: proofURL(e.r.cfg.Target), Nonce: e.dpopNonce()}
	key := ks.key
	if p.OtherKey {
		key = ks.other
	}
	switch p.Defect {
	case rules.DPoPValid:
	case rules.DPoPBadSignature:
		return jwtsign.SignProofNaming(ks.other, &ks.jwk, pr)
	case rules.DPoPWrongHTM:
		pr.Method = http.MethodGet
		if method == http.MethodGet {
			pr.Method = http.MethodPut
		}
	case rules.DPoPWrongHTU:
		pr.URL = wrongURL(e.r.cfg.Target)
	case rules.DPoPStaleIAT:
		pr.IssuedAt = time.Now().Add(-rules.DPoPStaleAgeHours * time.Hour)
	case rules.DPoPWrongTyp:
		pr.Typ = "jwt"
	case rules.DPoPAlgNone:
		key.Alg = jwtsign.AlgNone
	case rules.DPoPAlgSymmetric:
		return jwtsign.SignProofNaming(ks.hmac, &ks.jwk, pr)
	case rules.DPoPTwoHeaders:
		// Valid: buildChecked adds the second header.
	case rules.DPoPNoJTI:
		c := pr.Claims()
		delete(c, "jti")
		return jwtsign.Sign(key, jwtsign.Header{Typ: jwtsign.ProofType, JWK: true}, c)
	case rules.DPoPPrivateJWK:
		// The run's other key, never the configured one: the proof hands
		// the server the private key it names.
		priv := jose.JSONWebKey{Key: ks.other.Private, Algorithm: string(ks.other.Alg)}
		return jwtsign.SignProofNaming(ks.other, &priv, pr)
	case rules.DPoPNoNonce:
		pr.Nonce = ""
	case rules.DPoPWrongNonce:
		pr.Nonce = rules.DPoPBogusNonce
	default:
		return "", fmt.Errorf("unknown DPoP defect %q", p.Defect)
	}
	return jwtsign.SignProof(key, pr)
}

// dpopJKT is dpop_jkt for the run's key: its SHA-256 JWK thumbprint (RFC
// 9449 §10, RFC 7638), the key every valid proof is signed with.
func (e *env) dpopJKT() (string, error) {
	if e.r.dpop == nil {
		return "", fmt.Errorf("the run has no DPoP key to bind a code to: set DPOP=true")
	}
	return e.r.dpop.key.Thumbprint()
}

// dpopNonce is the nonce the server last supplied in this rule's run.
func (e *env) dpopNonce() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nonce
}

// learnNonce keeps a DPoP-Nonce the server supplied (RFC 9449 §8, and on
// 200 responses §8.2) for the proofs that follow.
func (e *env) learnNonce(x *oauth.Exchange) {
	if x.Response == nil {
		return
	}
	if n := x.Response.Header.Get(oauth.HeaderDPoPNonce); n != "" {
		e.mu.Lock()
		e.nonce = n
		e.mu.Unlock()
	}
}

// nonceDemanded reports whether x is a use_dpop_nonce error supplying a
// nonce, which a proof of r is retried with once.
func nonceDemanded(r rules.Request, x *oauth.Exchange) bool {
	if r.DPoP == nil || !r.DPoP.Retries() || x.Response == nil {
		return false
	}
	return x.Response.ErrorCode() == oauth.ErrUseDPoPNonce.Code && x.Response.Header.Get(oauth.HeaderDPoPNonce) != ""
}
