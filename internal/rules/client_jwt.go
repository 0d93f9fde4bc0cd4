package rules

import (
	"context"
	"net/url"

	"tokenharness/internal/oauth"
)

// JWT client authentication at the token endpoint: private_key_jwt and
// client_secret_jwt (RFC 7523 §2.2 and §3, OpenID Connect Core §9). These
// rules run for a target whose client authenticates with a JWT assertion
// (CLIENT_AUTH=private_key_jwt|client_secret_jwt). The vendor documents
// define no JWT client authentication, so only rfc6749 and oauth21 run them.
//
// Each refusal rule first sends a valid assertion as a control: a server
// that refuses that one too proves nothing by refusing a broken one, so the
// rule is inconclusive rather than passed or failed. Requests use the
// client_credentials grant when the target declares it, else a fresh
// authorization code.

// jwtProfiles are the profiles whose documents take in RFC 7523.
var jwtProfiles = Only(RFC6749, OAuth21)

// Client assertion variants a rule can ask Env for (Request.Auth). For a
// JWT client, AuthWrongSecret too signs with a key that is not the
// client's (a MAC with a wrong secret for client_secret_jwt).
const (
	AuthJWTWrongKey  Auth = "jwt-wrong-key" // signed with a key the target never saw
	AuthJWTAlgNone   Auth = "jwt-alg-none"  // unsecured: alg "none", no signature
	AuthJWTExpired   Auth = "jwt-expired"   // exp an hour in the past
	AuthJWTWrongAud  Auth = "jwt-wrong-aud" // aud names another server
	AuthJWTWrongSub  Auth = "jwt-wrong-sub" // sub is not the client_id (iss is)
	AuthJWTWrongIss  Auth = "jwt-wrong-iss" // iss is not the client_id (sub is)
	AuthJWTClientID  Auth = "jwt-client-id" // a valid assertion plus client_id in the body
	AuthJWTAssertion Auth = "jwt-assertion" // Request.Assertion verbatim, plus client_id
)

// NotTheClient is the iss or sub of an assertion that names someone else.
const NotTheClient = "tokenharness-not-the-client"

// OtherAudience is the aud of an assertion meant for another server.
const OtherAudience = "https://tokenharness.invalid/oauth/token"

// jwtBase is a valid token request for the run's client to authenticate:
// client_credentials if the target declares it, else a fresh code's
// redemption; a skip outcome when the run has neither.
func jwtBase(ctx context.Context, e Env, step string) (Request, *Outcome) {
	switch {
	case e.Has(NeedGrantClientCredentials):
		return CCRequest(e, step), nil
	case e.Has(NeedCode):
		g, err := e.Code(ctx, CodeOptions{})
		if err != nil {
			o := SetupFailed(nil, err)
			return Request{}, &o
		}
		r := Redeem(g)
		r.Step = step
		return r, nil
	}
	return Request{}, &Outcome{Skip: "needs a grant to authenticate the client for: declare client_credentials in GRANTS, or set CODE_CMD or AUTHORIZE_URL for fresh codes"}
}

// jwtControl sends a valid assertion; an outcome when it was not accepted.
func jwtControl(ctx context.Context, e Env) (*oauth.Exchange, *Outcome) {
	r, o := jwtBase(ctx, e, "control: the same request with a valid client assertion")
	if o != nil {
		return nil, o
	}
	x := e.Do(ctx, r)
	if !Won(x) {
		o := Inconclusive(x, "a valid client assertion was not accepted either (%s), so a refusal of a broken one proves nothing (see RFC6749-5.1-JWT-ACCEPTED)", answerOf(x))
		return x, &o
	}
	return x, nil
}

// jwtRefused sends a valid assertion as a control, then one broken as auth
// says; the rule's checks judge the second.
func jwtRefused(step string, auth Auth) Flow {
	return func(ctx context.Context, e Env) Outcome {
		if _, o := jwtControl(ctx, e); o != nil {
			return *o
		}
		r, o := jwtBase(ctx, e, step)
		if o != nil {
			return *o
		}
		r.Auth = auth
		return Judge(e.Do(ctx, r))
	}
}

// AssertionOf is the client_assertion a request carried, or "".
func AssertionOf(x *oauth.Exchange) string {
	if x == nil {
		return ""
	}
	f, err := url.ParseQuery(x.Request.Body)
	if err != nil {
		return ""
	}
	return f.Get(oauth.ParamClientAssertion)
}

// jwtReplay sends a valid request, then a second one carrying the very
// same client assertion (same jti, same signature).
func jwtReplay(ctx context.Context, e Env) Outcome {
	first, o := jwtControl(ctx, e)
	if o != nil {
		return *o
	}
	a := AssertionOf(first)
	if a == "" {
		return Inconclusive(first, "the first request carried no client_assertion to replay")
	}
	r, o := jwtBase(ctx, e, "the same client assertion again (a replayed jti)")
	if o != nil {
		return *o
	}
	r.Auth, r.Assertion = AuthJWTAssertion, a
	return Judge(e.Do(ctx, r))
}

// jwtRefusal are the checks of a refused assertion: RFC 7523 §3.2 "The
// value of the "error" parameter MUST be the "invalid_client" error code",
// with 400 or 401 (RFC 6749 §5.2 allows either without Basic).
var jwtRefusal = []Check{Rejected(oauth.ErrInvalidClient), Status(400, 401)}

var (
	JWTAccepted = Rule{
		ID: "RFC6749-5.1-JWT-ACCEPTED", Level: MUST,
		Source:   rfc6749("5.1", `The authorization server issues an access token and optional refresh token, and constructs the response by adding the following parameters to the entity-body of the HTTP response with a 200 (OK) status code`),
		Summary:  "a token request authenticated with a valid client assertion (private_key_jwt or client_secret_jwt) yields an access_token",
		Profiles: jwtProfiles, Needs: []Need{NeedJWT},
		Flow: func(ctx context.Context, e Env) Outcome {
			r, o := jwtBase(ctx, e, "token request with a valid client assertion")
			if o != nil {
				return *o
			}
			return Judge(e.Do(ctx, r))
		},
		Expect: []Check{Success()},
	}
	JWTWrongKey = Rule{
		ID: "RFC7523-3-JWT-WRONG-KEY", Level: MUST,
		Source:   rfc7523("3", `The authorization server MUST reject JWTs with an invalid signature or MAC.`),
		Summary:  "a client assertion signed with a key that is not the client's is rejected with invalid_client",
		Profiles: jwtProfiles, Needs: []Need{NeedJWT},
		Flow:   jwtRefused("client assertion signed with another key", AuthJWTWrongKey),
		Expect: jwtRefusal,
	}
	JWTAlgNone = Rule{
		ID: "RFC7523-3-JWT-ALG-NONE", Level: MUST,
		Source:   rfc7523("3", `The JWT MUST be digitally signed or have a Message Authentication Code (MAC) applied by the issuer. The authorization server MUST reject JWTs with an invalid signature or MAC.`),
		Summary:  `an unsecured client assertion (alg "none") is rejected with invalid_client`,
		Profiles: jwtProfiles, Needs: []Need{NeedJWT},
		Flow:   jwtRefused(`unsecured client assertion (alg "none")`, AuthJWTAlgNone),
		Expect: jwtRefusal,
	}
	JWTExpired = Rule{
		ID: "RFC7523-3-JWT-EXPIRED", Level: MUST,
		Source:   rfc7523("3", `The authorization server MUST reject any JWT with an expiration time that has passed, subject to allowable clock skew between systems.`),
		Summary:  "a client assertion that expired an hour ago is rejected with invalid_client",
		Profiles: jwtProfiles, Needs: []Need{NeedJWT},
		Flow:   jwtRefused("client assertion that expired an hour ago", AuthJWTExpired),
		Expect: jwtRefusal,
	}
	JWTWrongAudience = Rule{
		ID: "RFC7523-3-JWT-WRONG-AUD", Level: MUST,
		Source:   rfc7523("3", `The authorization server MUST reject any JWT that does not contain its own identity as the intended audience.`),
		Summary:  "a client assertion whose aud names another server is rejected with invalid_client",
		Profiles: jwtProfiles, Needs: []Need{NeedJWT},
		Flow:   jwtRefused("client assertion for another audience", AuthJWTWrongAud),
		Expect: jwtRefusal,
	}
	JWTWrongSubject = Rule{
		ID: "RFC7523-3-JWT-WRONG-SUB", Level: MUST,
		Source:   rfc7523("3", `For client authentication, the subject MUST be the "client_id" of the OAuth client.`),
		Summary:  "a client assertion whose sub is not the client_id is rejected with invalid_client",
		Profiles: jwtProfiles, Needs: []Need{NeedJWT},
		Flow:   jwtRefused("client assertion whose sub is another client", AuthJWTWrongSub),
		Expect: jwtRefusal,
	}
	// RFC 7523 asks only that iss identify the JWT's issuer; OpenID
	// Connect Core §9 says it "MUST contain the client_id", a sentence on
	// what the client puts there. No sentence makes the server's check a
	// MUST, so the rule warns.
	JWTWrongIssuer = Rule{
		ID: "OIDC-9-JWT-WRONG-ISS", Level: SHOULD,
		Source:   oidcCore("9", `iss REQUIRED. Issuer. This MUST contain the client_id of the OAuth Client.`),
		Summary:  "a client assertion whose iss is not the client_id is rejected with invalid_client",
		Profiles: jwtProfiles, Needs: []Need{NeedJWT},
		Flow:   jwtRefused("client assertion whose iss is another client", AuthJWTWrongIss),
		Expect: jwtRefusal,
	}
	// RFC 7523 §3 item 7 makes replay protection a MAY: the rule reports a
	// server that accepts a replayed assertion, and never fails the run.
	JWTReplay = Rule{
		ID: "RFC7523-3-JWT-REPLAY", Level: MAY,
		Source:   rfc7523("3", `The authorization server MAY ensure that JWTs are not replayed by maintaining the set of used "jti" values for the length of time for which the JWT would be considered valid based on the applicable "exp" instant.`),
		Summary:  "a client assertion already used once (same jti) is rejected with invalid_client",
		Profiles: jwtProfiles, Needs: []Need{NeedJWT},
		Flow:   jwtReplay,
		Expect: jwtRefusal,
	}
)

var clientJWT = []Rule{JWTAccepted, JWTWrongKey, JWTAlgNone, JWTExpired, JWTWrongAudience, JWTWrongSubject, JWTWrongIssuer, JWTReplay}

// Legal variations of a JWT client's own requests. They have no wire fault
// and the mock does nothing for them: the run's Env varies the assertions
// it sends when one is among the run's quirks (Variation.Client).
var (
	VarAssertionExtraClaims = Variation{
		ID: "VAR-ASSERTION-EXTRA-CLAIMS", Summary: "client assertions carry claims RFC 7523 does not define",
		Why:      "RFC 7523 §3: The JWT MAY contain other claims.",
		Profiles: []Profile{RFC6749, OAuth21}, Client: true,
	}
	VarAssertionAudIssuer = Variation{
		ID: "VAR-ASSERTION-AUD-ISSUER", Summary: "client assertions name the issuer identifier (the target's origin) as aud instead of the token endpoint URL",
		Why:      "RFC 7523 §3: aud contains a value that identifies the authorization server; the token endpoint URL MAY be used (may, not must).",
		Profiles: []Profile{RFC6749, OAuth21}, Client: true,
	}
	VarAssertionOtherAlg = Variation{
		ID: "VAR-ASSERTION-OTHER-ALG", Summary: "client assertions use another algorithm the key allows (HS512 for a client secret, PS256 for an RSA key, ES256 keys have none)",
		Why:      "RFC 7523 fixes no algorithm: the JWT MUST be digitally signed or have a MAC applied.",
		Profiles: []Profile{RFC6749, OAuth21}, Client: true,
	}
	VarAssertionClientID = Variation{
		ID: "VAR-ASSERTION-CLIENT-ID", Summary: "client_id is sent in the body beside the client assertion",
		Why:      "RFC 7521 §4.2: client_id OPTIONAL ... If present, the value of the client_id parameter MUST identify the same client as is identified by the client assertion.",
		Profiles: []Profile{RFC6749, OAuth21}, Client: true,
	}
)
