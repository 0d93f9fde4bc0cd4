package rules

import (
	"context"
	"errors"

	"tokenharness/internal/oauth"
)

// PKCE at the token endpoint (RFC 7636 §4.1, §4.5, §4.6; RFC 9700 §2.1.1).

var pkceProfiles = Only(Dressipi, OAuth21)

var (
	PKCEVerified = Rule{
		ID: "RFC7636-4.6-S256-VERIFIED", Level: MUST,
		Source:   rfc7636("4.6", `If the values are not equal, an error response indicating "invalid_grant" as described in Section 5.2 of [RFC6749] MUST be returned.`),
		Summary:  "a code_verifier that does not match the S256 challenge is rejected",
		Profiles: pkceProfiles, Needs: []Need{NeedCode},
		Send: &Send{From: FromCode, Code: CodeOptions{PKCE: oauth.PKCES256}, Build: func(s *State) Request {
			r := Redeem(s.Grant)
			r.Step = "redeem with a wrong code_verifier"
			r.Form.Set(oauth.ParamCodeVerifier, "wrong-verifier-wrong-verifier-wrong-verifier-0123456789")
			return r
		}},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
	PKCEVerifierRequired = Rule{
		ID: "RFC9700-2.1.1-VERIFIER-REQUIRED", Level: MUST,
		Source:   rfc9700("2.1.1", `If a client sends a valid PKCE code_challenge parameter in the authorization request, the authorization server MUST enforce the correct usage of code_verifier at the token endpoint.`),
		Summary:  "a code issued with a challenge is not redeemed without code_verifier",
		Profiles: pkceProfiles, Needs: []Need{NeedCode},
		Send: &Send{From: FromCode, Code: CodeOptions{PKCE: oauth.PKCES256}, Build: func(s *State) Request {
			r := Redeem(s.Grant)
			r.Step = "redeem without code_verifier"
			r.Form.Del(oauth.ParamCodeVerifier)
			return r
		}},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant, oauth.ErrInvalidRequest)},
	}
	// RFC 7636 §4.1 tells the client how to make a verifier; §4.6 only has
	// the server compare. Rejecting a malformed one is good practice: SHOULD.
	PKCEVerifierSyntax = Rule{
		ID: "RFC7636-4.1-VERIFIER-SYNTAX", Level: SHOULD,
		Source:   rfc7636("4.1", `code-verifier = 43*128unreserved`),
		Summary:  "a code_verifier shorter than 43 characters is rejected even if it matches",
		Profiles: pkceProfiles, Needs: []Need{NeedCode},
		// The challenge is computed from the short verifier, so only a server that
		// checks the verifier's syntax tells it apart from a valid one.
		Send: &Send{From: FromCode, Code: CodeOptions{PKCE: oauth.PKCES256, Verifier: "short-verifier-0123456789"}, Build: func(s *State) Request {
			r := Redeem(s.Grant)
			r.Step = "redeem with a 25-character code_verifier"
			return r
		}},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant, oauth.ErrInvalidRequest)},
	}
	// RFC 9700 §2.1.1 obliges public clients to use PKCE and servers only to
	// support it; the server's duty to refuse a code issued without a
	// challenge is OAuth 2.1's. The dressipi document never marks
	// code_verifier required, so its profile reports the rule as a warning.
	PKCERequired = Rule{
		ID: "OAUTH21-4.1.3-PKCE-REQUIRED", Level: MUST,
		Source:  oauth21("4.1.3", `If there was no code_challenge in the authorization request associated with the authorization code in the token request, the authorization server MUST reject the token request.`),
		Summary: "a code obtained without a code_challenge cannot be redeemed",
		Profiles: Only(OAuth21).With(Dressipi,
			Warn("the dressipi document does not mark code_verifier required; OAuth 2.1 §4.1.3 does, and RFC 9700 §2.1.1 asks public clients to use PKCE")),
		Needs: []Need{NeedCode},
		Flow: func(ctx context.Context, e Env) Outcome {
			g, err := e.Code(ctx, CodeOptions{PKCE: PKCENone})
			if err != nil {
				var u *Unavailable
				if asUnavailable(err, &u) {
					return Outcome{Skip: u.Reason}
				}
				// Refusing to issue a code without a challenge enforces the rule
				// at the authorization endpoint, which is as good -- but only the
				// refusal RFC 7636 §4.4.1 names counts: "the authorization
				// endpoint MUST return the authorization error response with the
				// "error" value set to "invalid_request"". Any other refusal (a
				// database error, temporarily_unavailable, access_denied, a bare
				// 4xx page) says nothing about PKCE: the rule is not judged.
				var oe *oauth.Error
				if errors.As(err, &oe) && oe.Code == oauth.ErrInvalidRequest.Code {
					return Outcome{Note: "the authorization endpoint refused a request without code_challenge: " + err.Error()}
				}
				if errors.As(err, &oe) {
					return Inconclusive(nil, "the authorization endpoint refused a request without code_challenge with %q, not the invalid_request RFC 7636 §4.4.1 names for a missing challenge: the refusal may have another cause, so PKCE enforcement was not judged (%v)", oe.Code, err)
				}
				return SetupFailed(nil, err)
			}
			r := Redeem(g)
			r.Step = "redeem a code issued without PKCE"
			return Judge(e.Do(ctx, r))
		},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant, oauth.ErrInvalidRequest)},
	}
)

var pkce = []Rule{PKCEVerified, PKCEVerifierRequired, PKCEVerifierSyntax, PKCERequired}
