package rules

import (
	"context"
	"net/http"
	"strings"

	"tokenharness/internal/oauth"
)

// DPoP at the token endpoint (RFC 9449 §4.3, §5, §8, §10, §11.1). The rules run
// for a target that declares DPoP (DPOP=true). DPoP "is applicable for all
// access token requests regardless of grant type" (§5): a rule sends its
// proof with a client_credentials request when the target declares that
// grant for a confidential client, and with a fresh code's redemption
// otherwise, so it runs with or without a code source. Env signs every
// proof with the run's key for the request's real method and URL, breaking
// it only in the way the rule asks (DPoPDefect); when the server demands a
// nonce (§8), Env retries once with the nonce supplied, so a nonce-using
// server is judged on the defect and not on the nonce.

const rfc9449URL = "https://www.rfc-editor.org/rfc/rfc9449"

func rfc9449(section, quote string) Source {
	return Source{Doc: "RFC 9449", Section: section, URL: rfc9449URL + "#section-" + section, Quote: quote}
}

// DPoPDefect names how a proof Env signs is broken; "" is a valid proof.
type DPoPDefect string

const (
	DPoPValid DPoPDefect = ""
	// DPoPBadSignature is signed by another key than the jwk it names.
	DPoPBadSignature DPoPDefect = "bad-signature"
	// DPoPWrongHTM names another HTTP method than the request's.
	DPoPWrongHTM DPoPDefect = "wrong-htm"
	// DPoPWrongHTU names another URL than the token endpoint's.
	DPoPWrongHTU DPoPDefect = "wrong-htu"
	// DPoPStaleIAT was issued DPoPStaleAgeHours ago.
	DPoPStaleIAT DPoPDefect = "stale-iat"
	// DPoPWrongTyp has typ "jwt" instead of "dpop+jwt".
	DPoPWrongTyp DPoPDefect = "wrong-typ"
	// DPoPAlgNone is an unsecured JWS (alg "none").
	DPoPAlgNone DPoPDefect = "alg-none"
	// DPoPAlgSymmetric is signed with HS256 and names the run's public key.
	DPoPAlgSymmetric DPoPDefect = "alg-symmetric"
	// DPoPTwoHeaders sends a second, valid proof in a second DPoP header.
	DPoPTwoHeaders DPoPDefect = "two-headers"
	// DPoPNoJTI lacks the jti claim §4.2 requires.
	DPoPNoJTI DPoPDefect = "no-jti"
	// DPoPPrivateJWK names, and is signed by, a key whose private part is
	// in its jwk (a key of the run's own making, never the configured one).
	DPoPPrivateJWK DPoPDefect = "private-jwk"
	// DPoPNoNonce carries no nonce even when the server supplied one, and
	// Env does not retry it with one.
	DPoPNoNonce DPoPDefect = "no-nonce"
	// DPoPWrongNonce carries a nonce the server never supplied (DPoPBogusNonce),
	// and Env does not retry it.
	DPoPWrongNonce DPoPDefect = "wrong-nonce"
)

// DPoPStaleAgeHours is how old a DPoPStaleIAT proof is: a day, far beyond "a
// relatively brief period on the order of seconds or minutes" (§11.1).
const DPoPStaleAgeHours = 24

// DPoPBogusNonce is the nonce a DPoPWrongNonce proof carries.
const DPoPBogusNonce = "tokenharness-nonce-never-supplied"

// DPoPProof asks Env for a DPoP proof on a request.
type DPoPProof struct {
	Defect DPoPDefect
	// OtherKey signs a valid proof with a second key of the run, one the
	// server has never seen: the proof of a different client key.
	OtherKey bool
}

// Retries reports whether Env retries a proof that drew use_dpop_nonce
// with the nonce supplied: every proof but those about the nonce itself.
func (p DPoPProof) Retries() bool { return p.Defect != DPoPNoNonce && p.Defect != DPoPWrongNonce }

// dpopProfiles: RFC 9449 extends RFC 6749; the vendor documents define no DPoP.
var dpopProfiles = Only(RFC6749, OAuth21)

// DPoPRequest builds a fresh token request carrying a valid proof: a
// client_credentials request when the target declares that grant for a
// confidential client, else the redemption of a fresh code. A run with
// neither is reported as *Unavailable.
func DPoPRequest(ctx context.Context, e Env, step string) (Request, error) {
	if e.Has(NeedGrantClientCredentials) && e.Has(NeedSecret) {
		r := CCRequest(e, step)
		r.DPoP = &DPoPProof{}
		return r, nil
	}
	if !e.Has(NeedCode) {
		return Request{}, &Unavailable{Reason: "a DPoP token request needs a grant to ride on: declare client_credentials in GRANTS for a confidential client, or set CODE_CMD or AUTHORIZE_URL"}
	}
	g, err := e.Code(ctx, CodeOptions{})
	if err != nil {
		return Request{}, err
	}
	r := Redeem(g)
	r.Step = step
	r.DPoP = &DPoPProof{}
	return r, nil
}

// proofOf is the DPoP proof request x carried, or "".
func proofOf(x *oauth.Exchange) string {
	if x == nil {
		return ""
	}
	return x.Request.Header.Get(oauth.HeaderDPoP)
}

// proofClaims decodes the claims of the proof x carried (nil if none).
func proofClaims(x *oauth.Exchange) map[string]any {
	parts := strings.Split(proofOf(x), ".")
	if len(parts) != 3 {
		return nil
	}
	var c map[string]any
	if decodeSegment(parts[1], &c) != nil {
		return nil
	}
	return c
}

// dpopRefused sends a fresh DPoP request whose proof is broken as d says
// and judges the answer with invalid_dpop_proof in mind (§5): a refusal
// with another error, or a server error, is a violation only when the same
// request with a valid proof succeeds (a control); otherwise the refusal
// says nothing about the proof.
func dpopRefused(d DPoPDefect, step string) Flow {
	return func(ctx context.Context, e Env) Outcome {
		r, err := DPoPRequest(ctx, e, step)
		if err != nil {
			return SetupFailed(nil, err)
		}
		r.DPoP.Defect = d
		x := e.Do(ctx, r)
		return judgeRefusal(ctx, e, x)
	}
}

// judgeRefusal judges x, the answer to a broken proof.
func judgeRefusal(ctx context.Context, e Env, x *oauth.Exchange) Outcome {
	if Won(x) {
		return Judge(x)
	}
	switch errorCode(x) {
	case oauth.ErrInvalidDPoPProof.Code:
		return Judge(x)
	case oauth.ErrUseDPoPNonce.Code:
		return Inconclusive(x, "the server still demanded a nonce after the retry with the nonce it supplied, so the proof's defect was not judged")
	}
	c, err := DPoPRequest(ctx, e, "control: the same request with a valid proof")
	if err != nil {
		return SetupFailed(x, err)
	}
	cx := e.Do(ctx, c)
	if !Won(cx) {
		return Inconclusive(x, "the broken proof got %s, but a valid proof is refused too (%s): the refusal says nothing about the proof", answerOf(x), answerOf(cx))
	}
	return Judge(x)
}

var dpopRefusedCheck = []Check{Rejected(oauth.ErrInvalidDPoPProof)}

var (
	DPoPTokenType = Rule{
		ID: "RFC9449-5-DPOP-TOKEN-TYPE", Level: MUST,
		Source:   rfc9449("5", `A token_type of DPoP MUST be included in the access token response to signal to the client that the access token was bound to its DPoP key and can be used as described in Section 7.1.`),
		Summary:  "a token request with a valid DPoP proof gets tokens with token_type DPoP (any case), or Bearer when the server chose not to bind the access token",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow: func(ctx context.Context, e Env) Outcome {
			r, err := DPoPRequest(ctx, e, "token request with a valid DPoP proof")
			if err != nil {
				return SetupFailed(nil, err)
			}
			x := e.Do(ctx, r)
			if !Won(x) {
				if errorCode(x) == oauth.ErrInvalidDPoPProof.Code {
					return Violated(x, "a proof valid by every §4.3 check was refused with invalid_dpop_proof")
				}
				return Inconclusive(x, "the token request with a valid proof got %s", answerOf(x))
			}
			switch tt := Str(x, oauth.ParamTokenType); {
			case strings.EqualFold(tt, oauth.TokenTypeDPoP):
				return Judge(x)
			case strings.EqualFold(tt, "Bearer"):
				// §5: "An authorization server MAY elect to issue access
				// tokens that are not DPoP bound, which is signaled to the
				// client with a value of Bearer in the token_type parameter".
				return Outcome{Judged: x, Note: "token_type Bearer: the server chose not to bind the access token (RFC 9449 §5 MAY)"}
			default:
				return Violated(x, "token_type is %q: a bound access token says DPoP, an unbound one Bearer (token_type is case insensitive)", tt)
			}
		},
		Fault: Fault{On: OnSuccess, SetField: oauth.ParamTokenType, Value: "N_A"},
	}
	DPoPSignature = Rule{
		ID: "RFC9449-4.3-DPOP-SIGNATURE", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: The JWT signature verifies with the public key contained in the jwk JOSE Header Parameter.`),
		Summary:  "a DPoP proof whose signature does not verify with its jwk is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow:   dpopRefused(DPoPBadSignature, "token request with a proof signed by another key than its jwk"),
		Expect: dpopRefusedCheck,
	}
	DPoPHTM = Rule{
		ID: "RFC9449-4.3-DPOP-HTM", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: The htm claim matches the HTTP method of the current request.`),
		Summary:  "a DPoP proof whose htm is not the request's method is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow:   dpopRefused(DPoPWrongHTM, "token request with a proof for method GET"),
		Expect: dpopRefusedCheck,
	}
	DPoPHTU = Rule{
		ID: "RFC9449-4.3-DPOP-HTU", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: The htu claim matches the HTTP URI value for the HTTP request in which the JWT was received, ignoring any query and fragment parts.`),
		Summary:  "a DPoP proof whose htu is another URL than the token endpoint's is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow:   dpopRefused(DPoPWrongHTU, "token request with a proof for another URL"),
		Expect: dpopRefusedCheck,
	}
	// §4.3 lets the creation time be "determined by either the iat claim or
	// a server managed timestamp via the nonce claim", and leaves the window
	// to the server (§11.1). A day-old iat is outside any window "on the
	// order of seconds or minutes"; a server that judges time by its nonce
	// may accept it, so acceptance of a proof that carried a nonce is
	// inconclusive.
	DPoPIAT = Rule{
		ID: "RFC9449-4.3-DPOP-IAT", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: The creation time of the JWT, as determined by either the iat claim or a server managed timestamp via the nonce claim, is within an acceptable window (see Section 11.1).`),
		Summary:  "a DPoP proof issued a day ago is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow: func(ctx context.Context, e Env) Outcome {
			o := dpopRefused(DPoPStaleIAT, "token request with a proof issued a day ago")(ctx, e)
			if o.Judged != nil && Won(o.Judged) {
				if n, ok := proofClaims(o.Judged)["nonce"].(string); ok && n != "" {
					return Inconclusive(o.Judged, "the day-old proof was accepted, but it carried the server's nonce, by which §4.3 lets the server judge its creation time")
				}
			}
			return o
		},
		Expect: dpopRefusedCheck,
	}
	DPoPTyp = Rule{
		ID: "RFC9449-4.3-DPOP-TYP", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: The typ JOSE Header Parameter has the value dpop+jwt.`),
		Summary:  "a DPoP proof whose typ is not dpop+jwt is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow:   dpopRefused(DPoPWrongTyp, "token request with a proof of typ jwt"),
		Expect: dpopRefusedCheck,
	}
	DPoPAlgNoneRefused = Rule{
		ID: "RFC9449-4.3-DPOP-ALG-NONE", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: The alg JOSE Header Parameter indicates a registered asymmetric digital signature algorithm [IANA.JOSE.ALGS], is not none, is supported by the application, and is acceptable per local policy.`),
		Summary:  "an unsecured DPoP proof (alg none) is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow:   dpopRefused(DPoPAlgNone, "token request with an unsecured proof (alg none)"),
		Expect: dpopRefusedCheck,
	}
	DPoPAlgSymmetricRefused = Rule{
		ID: "RFC9449-4.3-DPOP-ALG-SYMMETRIC", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: The alg JOSE Header Parameter indicates a registered asymmetric digital signature algorithm [IANA.JOSE.ALGS], is not none, is supported by the application, and is acceptable per local policy.`),
		Summary:  "a DPoP proof signed with a symmetric algorithm (HS256) is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow:   dpopRefused(DPoPAlgSymmetric, "token request with a proof signed with HS256"),
		Expect: dpopRefusedCheck,
	}
	DPoPOneHeader = Rule{
		ID: "RFC9449-4.3-DPOP-ONE-HEADER", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: There is not more than one DPoP HTTP request header field.`),
		Summary:  "a token request with two DPoP header fields is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow:   dpopRefused(DPoPTwoHeaders, "token request with two DPoP headers"),
		Expect: dpopRefusedCheck,
	}
	DPoPClaims = Rule{
		ID: "RFC9449-4.3-DPOP-CLAIMS", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: All required claims per Section 4.2 are contained in the JWT.`),
		Summary:  "a DPoP proof without its jti claim is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow:   dpopRefused(DPoPNoJTI, "token request with a proof lacking jti"),
		Expect: dpopRefusedCheck,
	}
	DPoPPrivateKey = Rule{
		ID: "RFC9449-4.3-DPOP-JWK-PRIVATE", Level: MUST,
		Source:   rfc9449("4.3", `To validate a DPoP proof, the receiving server MUST ensure the following: The jwk JOSE Header Parameter does not contain a private key.`),
		Summary:  "a DPoP proof whose jwk holds a private key is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow:   dpopRefused(DPoPPrivateJWK, "token request with a proof whose jwk holds its private key"),
		Expect: dpopRefusedCheck,
	}
	// §11.1 lets a server track jti values ("servers can store the jti
	// value ... it may not always be feasible in practice"): a server that
	// does not is allowed, so the rule is MAY and warns.
	DPoPJTIReplay = Rule{
		ID: "RFC9449-11.1-DPOP-JTI-REPLAY", Level: MAY,
		Source:   rfc9449("11.1", `In the context of the target URI, servers can store the jti value of each DPoP proof for the time window in which the respective DPoP proof JWT would be accepted to prevent multiple uses of the same DPoP proof.`),
		Summary:  "a DPoP proof sent a second time (same jti) is refused with invalid_dpop_proof",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow: func(ctx context.Context, e Env) Outcome {
			r, err := DPoPRequest(ctx, e, "token request with a valid proof")
			if err != nil {
				return SetupFailed(nil, err)
			}
			x := e.Do(ctx, r)
			if !Won(x) || proofOf(x) == "" {
				return Inconclusive(x, "the token request with a valid proof got %s", answerOf(x))
			}
			again, err := DPoPRequest(ctx, e, "a fresh token request replaying that proof")
			if err != nil {
				return SetupFailed(nil, err)
			}
			again.DPoP = nil
			again.Header = http.Header{oauth.HeaderDPoP: {proofOf(x)}}
			return judgeRefusal(ctx, e, e.Do(ctx, again))
		},
		Expect: dpopRefusedCheck,
	}
	DPoPNonce = Rule{
		ID: "RFC9449-8-DPOP-NONCE", Level: MUST,
		Source:   rfc9449("8", `The authorization server includes a DPoP-Nonce HTTP header in the response supplying a nonce value to be used when sending the subsequent request.`),
		Summary:  "a server that demands a nonce answers use_dpop_nonce with one DPoP-Nonce header, and a retry with that nonce gets tokens",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow: func(ctx context.Context, e Env) Outcome {
			x, o, ok := demandNonce(ctx, e)
			if !ok {
				return o
			}
			r, err := DPoPRequest(ctx, e, "retry with the nonce supplied")
			if err != nil {
				return SetupFailed(x, err)
			}
			y := e.Do(ctx, r)
			switch {
			case Won(y):
				return Judge(y)
			case errorCode(y) == oauth.ErrInvalidDPoPProof.Code:
				return Violated(y, "the proof carrying the nonce the server supplied was refused with invalid_dpop_proof")
			}
			return Inconclusive(y, "the retry with the nonce supplied got %s", answerOf(y))
		},
	}
	DPoPNonceMismatch = Rule{
		ID: "RFC9449-8-DPOP-NONCE-MISMATCH", Level: MUST,
		Source:   rfc9449("8", `If the nonce claim in the DPoP proof does not exactly match a nonce recently supplied by the authorization server to the client, the authorization server MUST reject the request.`),
		Summary:  "a server that demands a nonce refuses a proof carrying a nonce it never supplied",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP},
		Flow: func(ctx context.Context, e Env) Outcome {
			x, o, ok := demandNonce(ctx, e)
			if !ok {
				if o.Violation != nil {
					return Inconclusive(x, "the nonce demand itself is wrong (RFC9449-8-DPOP-NONCE judges it): %v", o.Violation)
				}
				return o
			}
			r, err := DPoPRequest(ctx, e, "token request with a nonce the server never supplied")
			if err != nil {
				return SetupFailed(x, err)
			}
			r.DPoP.Defect = DPoPWrongNonce
			return Judge(e.Do(ctx, r))
		},
		Expect: []Check{Rejected(oauth.ErrUseDPoPNonce, oauth.ErrInvalidDPoPProof)},
	}
	// §5 binds refresh tokens of public clients only; those of confidential
	// clients are sender-constrained by client authentication.
	DPoPRefreshBound = Rule{
		ID: "RFC9449-5-DPOP-REFRESH-BOUND", Level: MUST,
		Source:   rfc9449("5", `The binding MUST be validated when the refresh token is later presented to get new access tokens.`),
		Summary:  "a public client's refresh token obtained with a DPoP proof cannot be refreshed with a proof of another key",
		Profiles: dpopProfiles, Needs: []Need{NeedDPoP, NeedPublic, NeedCode, NeedGrantRefresh},
		Flow: func(ctx context.Context, e Env) Outcome {
			g, err := e.Code(ctx, CodeOptions{})
			if err != nil {
				return SetupFailed(nil, err)
			}
			r := Redeem(g)
			r.Step = "redeem code with a valid proof"
			r.DPoP = &DPoPProof{}
			x := e.Do(ctx, r)
			if !Won(x) {
				return Inconclusive(x, "redeeming a fresh code with a valid proof got %s", answerOf(x))
			}
			rt := Str(x, oauth.ParamRefreshToken)
			if rt == "" {
				return Outcome{Skip: "the code exchange issued no refresh_token, so the refresh token's binding cannot be checked"}
			}
			c := Refresh(e, rt)
			c.Step = "control: refresh with a proof of the same key"
			c.DPoP = &DPoPProof{}
			cx := e.Do(ctx, c)
			if !Won(cx) {
				return Inconclusive(cx, "refreshing with a proof of the key the token was obtained with got %s", answerOf(cx))
			}
			if next := Str(cx, oauth.ParamRefreshToken); next != "" {
				rt = next
			}
			w := Refresh(e, rt)
			w.Step = "refresh with a proof of another key"
			w.DPoP = &DPoPProof{OtherKey: true}
			return Judge(e.Do(ctx, w))
		},
		Expect: []Check{NotIssued()},
	}
)

// §10 binds a code to a DPoP key at the authorization endpoint: the
// authorization request's dpop_jkt is the key's thumbprint, and the token
// request must carry a proof of that key. The rule runs only for a target
// declaring DPOP_JKT=true: a code source that drops dpop_jkt yields
// unbound codes, which a compliant server redeems with any key. A control
// first redeems a bound code with a proof of the key it names, so a server
// that refuses dpop_jkt, or a code source that mangles it, leaves the rule
// inconclusive rather than failed or falsely passed.
var DPoPJKT = Rule{
	ID: "RFC9449-10-DPOP-JKT", Level: MUST,
	Source:   rfc9449("10", `When a token request is received, the authorization server computes the JWK Thumbprint of the proof-of-possession public key in the DPoP proof and verifies that it matches the dpop_jkt parameter value in the authorization request. If they do not match, it MUST reject the request.`),
	Summary:  "a code requested with dpop_jkt, the thumbprint of the run's DPoP key, is not redeemed with a proof of another key",
	Profiles: dpopProfiles, Needs: []Need{NeedDPoP, NeedCode, NeedDPoPJKT},
	Flow: func(ctx context.Context, e Env) Outcome {
		g, err := e.Code(ctx, CodeOptions{DPoPJKT: true})
		if err != nil {
			return SetupFailed(nil, err)
		}
		c := Redeem(g)
		c.Step = "control: redeem a code requested with dpop_jkt with a proof of that key"
		c.DPoP = &DPoPProof{}
		cx := e.Do(ctx, c)
		if !Won(cx) {
			return Inconclusive(cx, "redeeming a code requested with dpop_jkt with a proof of the very key it names got %s: "+
				"the server does not redeem bound codes (or the code source did not forward dpop_jkt as DPOP_JKT declares), so another key's refusal would prove nothing", answerOf(cx))
		}
		g, err = e.Code(ctx, CodeOptions{DPoPJKT: true})
		if err != nil {
			return SetupFailed(nil, err)
		}
		r := Redeem(g)
		r.Step = "redeem a code requested with dpop_jkt with a proof of another key"
		r.DPoP = &DPoPProof{OtherKey: true}
		x := e.Do(ctx, r)
		if why := unjudgeable(x); why != "" {
			return Inconclusive(x, "the redemption with another key's proof got %s", why)
		}
		if !Won(x) && errorCode(x) == oauth.ErrUseDPoPNonce.Code {
			return Inconclusive(x, "the server still demanded a nonce after the retry with the nonce it supplied, so the key binding was not judged")
		}
		// Any other refusal passes: §10 names no error code.
		return Judge(x)
	},
	Expect: []Check{NotIssued()},
}

// demandNonce sends a proof without a nonce. ok is true when the server
// demanded one as §8 says: use_dpop_nonce with exactly one DPoP-Nonce
// header of nonce syntax (§8.1). Otherwise o is the rule's outcome: skipped
// when the server did not demand a nonce (§8: it MAY), violated when the
// demand lacks its nonce, inconclusive when the answer is something else.
func demandNonce(ctx context.Context, e Env) (x *oauth.Exchange, o Outcome, ok bool) {
	r, err := DPoPRequest(ctx, e, "token request with a proof without nonce")
	if err != nil {
		return nil, SetupFailed(nil, err), false
	}
	r.DPoP.Defect = DPoPNoNonce
	x = e.Do(ctx, r)
	if Won(x) {
		return x, Outcome{Skip: "the server does not demand a DPoP nonce: a proof without one got tokens (RFC 9449 §8: a server MAY supply nonces), so the use_dpop_nonce round trip does not apply"}, false
	}
	if errorCode(x) != oauth.ErrUseDPoPNonce.Code {
		return x, Inconclusive(x, "a valid proof without nonce got %s, neither tokens nor use_dpop_nonce", answerOf(x)), false
	}
	vs := x.Response.Header.Values(oauth.HeaderDPoPNonce)
	switch {
	case len(vs) == 0:
		return x, Violated(x, "use_dpop_nonce came without a DPoP-Nonce header supplying the nonce"), false
	case len(vs) > 1:
		return x, Violated(x, "use_dpop_nonce came with %d DPoP-Nonce headers: \"there MUST NOT be more than one DPoP-Nonce header\" (§8)", len(vs)), false
	case !nonceSyntax(vs[0]):
		return x, Violated(x, "the DPoP-Nonce %q is not 1*NQCHAR (§8.1)", vs[0]), false
	}
	return x, Outcome{}, true
}

// nonceSyntax reports whether s is 1*NQCHAR (%x21 / %x23-5B / %x5D-7E).
func nonceSyntax(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

var dpopRules = []Rule{DPoPTokenType, DPoPSignature, DPoPHTM, DPoPHTU, DPoPIAT, DPoPTyp, DPoPAlgNoneRefused, DPoPAlgSymmetricRefused,
	DPoPOneHeader, DPoPClaims, DPoPPrivateKey, DPoPJTIReplay, DPoPNonce, DPoPNonceMismatch, DPoPRefreshBound, DPoPJKT}
