package oauth

// DPoP at the token endpoint (RFC 9449): the header names, the token type a
// bound token is issued with, the authorization request parameter that
// binds a code to a key, and the two error codes a token endpoint answers
// proofs with.
const (
	// HeaderDPoP carries the proof JWT (RFC 9449 §4.1).
	HeaderDPoP = "DPoP"
	// HeaderDPoPNonce carries a server-provided nonce (RFC 9449 §8).
	HeaderDPoPNonce = "DPoP-Nonce"
	// TokenTypeDPoP is the token_type of a DPoP-bound access token (§5);
	// token_type is case insensitive (RFC 6749 §5.1).
	TokenTypeDPoP = "DPoP"
	// DPoPProofType is a proof's "typ" header (§4.2).
	DPoPProofType = "dpop+jwt"
	// ParamDPoPJKT is the authorization request parameter binding the code
	// to the thumbprint of a DPoP key (§10).
	ParamDPoPJKT = "dpop_jkt"
)

// The RFC 9449 error codes of the token endpoint.
var (
	// ErrInvalidDPoPProof: "If the DPoP proof is invalid, the authorization
	// server issues an error response per Section 5.2 of [RFC6749] with
	// invalid_dpop_proof as the value of the error parameter" (§5).
	ErrInvalidDPoPProof = &Error{Code: "invalid_dpop_proof", Status: 400}
	// ErrUseDPoPNonce: the server demands a nonce it supplies in the
	// DPoP-Nonce header (§8).
	ErrUseDPoPNonce = &Error{Code: "use_dpop_nonce", Status: 400}
)
