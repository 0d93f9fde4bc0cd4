package rules

import (
	"context"
	"errors"

	"tokenharness/internal/oauth"
)

// PKCE bindings beyond verification (RFC 7636 §4.5; RFC 9700 §2.1.1): the
// challenge method is fixed when the code is issued, and a verifier is
// accepted only for a code that was issued with a challenge.

var (
	PKCEMethodBound = Rule{
		ID: "RFC7636-4.5-METHOD-BOUND", Level: MUST,
		Source:   rfc7636("4.5", `The "code_challenge_method" is bound to the Authorization Code when the Authorization Code is issued. That is the method that the token endpoint MUST use to verify the "code_verifier".`),
		Summary:  "a code issued for an S256 challenge is not redeemed with the challenge itself as verifier",
		Profiles: pkceProfiles, Needs: []Need{NeedCode},
		// The challenge is 43 base64url characters, a well-formed verifier:
		// only a server that compares it as "plain" accepts it.
		Send: &Send{From: FromCode, Code: CodeOptions{PKCE: oauth.PKCES256}, Build: func(s *State) Request {
			r := Redeem(s.Grant)
			r.Step = "redeem with the S256 challenge as code_verifier"
			r.Form.Set(oauth.ParamCodeVerifier, s.Grant.Challenge)
			return r
		}},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
	PKCEDowngrade = Rule{
		ID: "RFC9700-2.1.1-PKCE-DOWNGRADE", Level: MUST,
		Source:   rfc9700("2.1.1", `Authorization servers MUST mitigate PKCE downgrade attacks by ensuring that a token request containing a code_verifier parameter is accepted only if a code_challenge parameter was present in the authorization request`),
		Summary:  "a code issued without a code_challenge is not redeemed with a code_verifier",
		Profiles: pkceProfiles, Needs: []Need{NeedCode},
		Flow: func(ctx context.Context, e Env) Outcome {
			g, o, ok := codeWithoutChallenge(ctx, e)
			if !ok {
				return o
			}
			r := Redeem(g)
			r.Step = "redeem a code issued without PKCE, adding a code_verifier"
			r.Form.Set(oauth.ParamCodeVerifier, unknownVerifier)
			return Judge(e.Do(ctx, r))
		},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant, oauth.ErrInvalidRequest)},
	}
)

var pkceBinding = []Rule{PKCEMethodBound, PKCEDowngrade}

// codeWithoutChallenge asks for a code without code_challenge. When none is
// issued it returns ok false and the outcome to report: a refusal at the
// authorization endpoint (an OAuth error or a 4xx, not a crash or a hang)
// requires PKCE there, which implies the downgrade defence (RFC 9700 §4.8.2:
// servers that mandate PKCE "implicitly implement this security measure").
func codeWithoutChallenge(ctx context.Context, e Env) (*Grant, Outcome, bool) {
	g, err := e.Code(ctx, CodeOptions{PKCE: PKCENone})
	if err == nil {
		return g, Outcome{}, true
	}
	var u *Unavailable
	if asUnavailable(err, &u) {
		return nil, Outcome{Skip: u.Reason}, false
	}
	var oe *oauth.Error
	var se *oauth.HTTPStatusError
	if errors.As(err, &oe) || errors.As(err, &se) && se.Status >= 400 && se.Status < 500 {
		return nil, Outcome{Note: "the authorization endpoint refused a request without code_challenge: " + err.Error()}, false
	}
	return nil, SetupFailed(nil, err), false
}
