package mockserver

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// DPoP at the token endpoint (RFC 9449). The mock verifies proofs with its
// own code -- go-jose for the signature, nothing from the rules or the
// harness's signer -- so the checker and the server never share a reading.
// A request without a DPoP header is a plain Bearer request, as before.

// DPoP verification parameters.
const (
	// dpopMaxAge is how long after its iat a proof is accepted; dpopSkew
	// how far in the future its iat may be (§11.1: "on the order of seconds
	// or minutes").
	dpopMaxAge = 5 * time.Minute
	dpopSkew   = time.Minute
	// dpopNonceTTL is how long a supplied nonce stays "recently supplied" (§8).
	dpopNonceTTL = 5 * time.Minute
	// dpopMaxJTI bounds a jti (§11.1: "reject DPoP proof JWTs with
	// unnecessarily large jti values"); dpopMaxSeen bounds the replay cache.
	dpopMaxJTI  = 256
	dpopMaxSeen = 1 << 20
	dpopMaxLen  = 8 << 10
)

// dpopAsymmetric are the algorithms a proof may use (§4.3 check 5: "a
// registered asymmetric digital signature algorithm").
var dpopAsymmetric = []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA}

// dpopState is the server's DPoP memory: the jti values of accepted proofs
// for the window they would be accepted in, and the key nonces are
// authenticated with (nonces are stateless: issue time, random, MAC).
type dpopState struct {
	nonceKey []byte

	mu        sync.Mutex
	seen      map[string]time.Time // htu + jti hash → forget after
	lastSweep time.Time
}

func newDPoPState() *dpopState {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &dpopState{nonceKey: k, seen: map[string]time.Time{}}
}

// dpopProof is a verified proof: the thumbprint of its key.
type dpopProof struct{ jkt string }

type dpopHeader struct {
	Alg string          `json:"alg"`
	Typ string          `json:"typ"`
	JWK json.RawMessage `json:"jwk"`
}

type dpopClaims struct {
	HTM   string  `json:"htm"`
	HTU   string  `json:"htu"`
	IAT   float64 `json:"iat"`
	JTI   string  `json:"jti"`
	Nonce *string `json:"nonce"`
}

func badProof(desc string) *reply { return fail(oauth.ErrInvalidDPoPProof, desc) }

// nonceMode reports whether the server demands nonces for this request.
func nonceMode(q quirkSet) bool {
	return q.On(rules.VarDPoPNonce.ID) || q.On(rules.DPoPNonce.ID) || q.On(rules.DPoPNonceMismatch.ID)
}

// verifyDPoP verifies the request's DPoP proof (RFC 9449 §4.3), if any. It
// returns nil and nil for a request without a proof; a refresh token's
// binding to the key (§5) is checked by refreshToken, which holds the
// token's family.
func (s *Server) verifyDPoP(r *http.Request, q quirkSet) (*dpopProof, *reply) {
	vs := r.Header.Values(oauth.HeaderDPoP)
	if len(vs) == 0 {
		return nil, nil
	}
	// §4.3 checks 1 and 2: one header, one well-formed JWT. The fault
	// reads the first of several.
	if (len(vs) > 1 || strings.Contains(vs[0], ",")) && !q.On(rules.DPoPOneHeader.ID) {
		return nil, badProof("more than one DPoP header")
	}
	proof := strings.TrimSpace(vs[0])
	parts := strings.Split(proof, ".")
	if len(proof) > dpopMaxLen || len(parts) != 3 {
		return nil, badProof("the DPoP header is not a compact JWS")
	}
	var hdr dpopHeader
	if err := decodeB64JSON(parts[0], &hdr); err != nil {
		return nil, badProof("the DPoP proof header is not base64url JSON")
	}
	// §4.3 check 4: typ is dpop+jwt. The fault takes any typ.
	if !strings.EqualFold(hdr.Typ, oauth.DPoPProofType) && !q.On(rules.DPoPTyp.ID) {
		return nil, badProof("typ must be dpop+jwt")
	}
	// §4.3 check 5: an asymmetric algorithm, not none. The faults accept
	// alg none and HMAC proofs unverified.
	alg := jose.SignatureAlgorithm(hdr.Alg)
	verify := true
	switch {
	case strings.EqualFold(hdr.Alg, "none"):
		if !q.On(rules.DPoPAlgNoneRefused.ID) {
			return nil, badProof("alg none is not allowed")
		}
		verify = false
	case strings.HasPrefix(hdr.Alg, "HS"):
		if !q.On(rules.DPoPAlgSymmetricRefused.ID) {
			return nil, badProof("a symmetric alg is not allowed: sign with an asymmetric algorithm")
		}
		verify = false
	case !containsAlg(dpopAsymmetric, alg):
		return nil, badProof("alg " + hdr.Alg + " is not supported")
	}
	// §4.3 check 7: the jwk is a public key. The fault takes the proof
	// unverified (go-jose refuses to parse a JWS embedding a private key).
	var jwk jose.JSONWebKey
	if len(hdr.JWK) == 0 || jwk.UnmarshalJSON(hdr.JWK) != nil || !jwk.Valid() {
		return nil, badProof("the jwk header must be a valid public key")
	}
	if !jwk.IsPublic() {
		if !q.On(rules.DPoPPrivateKey.ID) {
			return nil, badProof("the jwk header holds a private key")
		}
		jwk = jwk.Public()
		verify = false
	}
	// §4.3 check 6: the signature verifies with the jwk. The fault skips it.
	var payload []byte
	if verify {
		obj, err := jose.ParseSigned(proof, []jose.SignatureAlgorithm{alg})
		if err != nil {
			return nil, badProof("the DPoP proof is not a well-formed JWS")
		}
		if q.On(rules.DPoPSignature.ID) {
			payload = obj.UnsafePayloadWithoutVerification()
		} else if payload, err = obj.Verify(jwk.Key); err != nil {
			return nil, badProof("the DPoP proof signature does not verify with its jwk")
		}
	} else if payload, _ = base64.RawURLEncoding.DecodeString(parts[1]); payload == nil {
		return nil, badProof("the DPoP proof payload is not base64url")
	}
	var c dpopClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, badProof("the DPoP proof claims are not a JSON object")
	}
	// §4.3 check 3: the required claims. The fault does without jti.
	if c.HTM == "" || c.HTU == "" || c.IAT == 0 || c.JTI == "" && !q.On(rules.DPoPClaims.ID) {
		return nil, badProof("the DPoP proof lacks htm, htu, iat or jti")
	}
	if len(c.JTI) > dpopMaxJTI {
		return nil, badProof("jti is too long")
	}
	// §4.3 check 8: htm is the request's method. The fault takes any.
	if c.HTM != r.Method && !q.On(rules.DPoPHTM.ID) {
		return nil, badProof("htm does not match the request method")
	}
	// §4.3 check 9: htu is this endpoint's URL, query and fragment aside,
	// after syntax- and scheme-based normalization. The fault takes any.
	if !sameURI(c.HTU, requestURI(r)) && !q.On(rules.DPoPHTU.ID) {
		return nil, badProof("htu does not match the token endpoint URL")
	}
	// §4.3 check 11: iat within the window. The fault takes any iat.
	now := s.now()
	iat := time.Unix(int64(c.IAT), 0)
	if (iat.Before(now.Add(-dpopMaxAge)) || iat.After(now.Add(dpopSkew))) && !q.On(rules.DPoPIAT.ID) {
		return nil, badProof("iat is outside the accepted window")
	}
	// §4.3 check 10 and §8: the nonce, when the server demands one.
	if nonceMode(q) {
		switch {
		case c.Nonce == nil || *c.Nonce == "":
			return nil, s.demandNonce(q, "the authorization server requires a nonce in the DPoP proof")
		case !s.dpop.validNonce(*c.Nonce, now) && !q.On(rules.DPoPNonceMismatch.ID):
			// §8: "If the nonce claim in the DPoP proof does not exactly
			// match a nonce recently supplied ... MUST reject the request."
			// The fault takes any nonce.
			return nil, s.demandNonce(q, "the DPoP nonce is not one this server supplied recently")
		}
	}
	t, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, badProof("the jwk has no thumbprint")
	}
	// §11.1: a jti seen within the window is a replay. The fault forgets.
	if !q.On(rules.DPoPJTIReplay.ID) && c.JTI != "" {
		if rep := s.dpop.remember(c.HTU, c.JTI, iat, now); rep != nil {
			return nil, rep
		}
	}
	return &dpopProof{jkt: base64.RawURLEncoding.EncodeToString(t)}, nil
}

// demandNonce is the use_dpop_nonce error with a fresh nonce (§8). The
// DPoPNonce fault leaves the DPoP-Nonce header out.
func (s *Server) demandNonce(q quirkSet, desc string) *reply {
	rep := fail(oauth.ErrUseDPoPNonce, desc)
	if q.On(rules.DPoPNonce.ID) {
		return rep
	}
	return rep.withHeader(oauth.HeaderDPoPNonce, s.dpop.newNonce(s.now()))
}

// dpopIssued finishes a successful token response to a request with a
// verified proof: token_type DPoP (§5), and a public client's refresh token
// bound to the proof's key.
func (s *Server) dpopIssued(dp *dpopProof, c *Client, rep *reply, q quirkSet) {
	if dp == nil || rep.status != http.StatusOK {
		return
	}
	if _, has := rep.get(oauth.ParamTokenType); has && !q.On(rules.VarDPoPBearer.ID) {
		// The variations: token_type is case insensitive (RFC 6749 §5.1);
		// a server MAY issue an unbound Bearer token (§5).
		tt := oauth.TokenTypeDPoP
		if q.On(rules.VarDPoPTokenTypeCase.ID) {
			tt = strings.ToLower(tt)
		}
		rep.set(oauth.ParamTokenType, tt)
	}
	if c == nil || c.Secret != "" {
		// §5: refresh tokens of confidential clients are sender-constrained
		// by client authentication, not bound to the key.
		return
	}
	v, _ := rep.get(oauth.ParamRefreshToken)
	if rt, ok := v.(string); ok && rt != "" {
		if rg, ok := s.store.refresh.get(rt); ok {
			rg.fam.jkt.CompareAndSwap(nil, &dp.jkt)
		}
	}
}

// remember records jti for htu until the proof could no longer be
// accepted; a jti already there is a replay.
func (d *dpopState) remember(htu, jti string, iat, now time.Time) *reply {
	sum := sha256.Sum256([]byte(htu + "\x00" + jti))
	key := string(sum[:])
	until := iat.Add(dpopMaxAge)
	if now.After(iat) {
		until = now.Add(dpopMaxAge)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.lastSweep) > 10*time.Second || len(d.seen) >= dpopMaxSeen {
		for k, t := range d.seen {
			if now.After(t) {
				delete(d.seen, k)
			}
		}
		d.lastSweep = now
	}
	if t, ok := d.seen[key]; ok && !now.After(t) {
		return badProof("the DPoP proof was used before (jti seen)")
	}
	if len(d.seen) >= dpopMaxSeen {
		return badProof("too many DPoP proofs in the replay window: retry later")
	}
	d.seen[key] = until
	return nil
}

// newNonce is issue time, 16 random bytes and a MAC over both, base64url:
// unpredictable (§8) and 1*NQCHAR (§8.1).
func (d *dpopState) newNonce(now time.Time) string {
	b := make([]byte, 8+16, 8+16+sha256.Size)
	binary.BigEndian.PutUint64(b, uint64(now.Unix()))
	_, _ = rand.Read(b[8:])
	m := hmac.New(sha256.New, d.nonceKey)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b))
}

// validNonce reports whether n is a nonce this server supplied within
// dpopNonceTTL.
func (d *dpopState) validNonce(n string, now time.Time) bool {
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil || len(b) != 8+16+sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, d.nonceKey)
	m.Write(b[:24])
	if !hmac.Equal(m.Sum(nil), b[24:]) {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
	return !now.Before(issued.Add(-dpopSkew)) && now.Before(issued.Add(dpopNonceTTL))
}

func containsAlg(list []jose.SignatureAlgorithm, a jose.SignatureAlgorithm) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

func decodeB64JSON(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// requestURI is the URL the request was sent to, as the client saw it.
func requestURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

// sameURI compares two http(s) URIs after syntax- and scheme-based
// normalization (RFC 3986 §6.2.2, §6.2.3; RFC 9449 §4.3 "SHOULD"), ignoring
// query and fragment.
func sameURI(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return false
	}
	return normURI(ua) == normURI(ub)
}

func normURI(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}
