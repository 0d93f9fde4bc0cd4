package rules

import (
	"context"

	"tokenharness/internal/oauth"
)

// The authorization_code grant (RFC 6749 §4.1.2, §4.1.3, §10.5).

var (
	CodeSingleUse = Rule{
		ID: "RFC6749-4.1.2-CODE-SINGLE-USE", Level: MUST,
		Source:   rfc6749("4.1.2", `If an authorization code is used more than once, the authorization server MUST deny the request`),
		Summary:  "an authorization code is redeemed at most once",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Send: &Send{From: FromAccess, Build: func(s *State) Request {
			r := Redeem(s.Grant)
			r.Step = "replay the code"
			return r
		}},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
	CodeReplayRevokes = Rule{
		ID: "RFC6749-4.1.2-CODE-REPLAY-REVOKES", Level: SHOULD,
		Source:   rfc6749("4.1.2", `... and SHOULD revoke (when possible) all tokens previously issued based on that authorization code.`),
		Summary:  "replaying a code revokes the refresh token it issued",
		Profiles: Everywhere(), Needs: []Need{NeedCode, NeedGrantRefresh},
		Flow: func(ctx context.Context, e Env) Outcome {
			g, x, rt, err := Tokens(ctx, e, CodeOptions{})
			if err != nil {
				return SetupFailed(x, err)
			}
			if rt == "" {
				return Outcome{Skip: "the code exchange issued no refresh_token, so revocation cannot be observed"}
			}
			replay := Redeem(g)
			replay.Step = "replay the code"
			if Won(e.Do(ctx, replay)) {
				return Violated(nil, "the replayed code was redeemed again (see %s)", CodeSingleUse.ID)
			}
			r := Refresh(e, rt)
			r.Step = "refresh with the replayed code's refresh token"
			return Judge(e.Do(ctx, r))
		},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
	CodeClientBound = Rule{
		ID: "RFC6749-4.1.3-CODE-CLIENT-BOUND", Level: MUST,
		Source:   rfc6749("4.1.3", `ensure that the authorization code was issued to the authenticated confidential client, or if the client is public, ensure that the code was issued to "client_id" in the request`),
		Summary:  "a code issued to one client cannot be redeemed by another",
		Profiles: Everywhere(), Needs: []Need{NeedCode, NeedClient2},
		Send: redeemWith("redeem as the second client", func(r *Request) { r.Client = Client2 }),
		// invalid_client is acceptable only if client 2 itself failed to authenticate,
		// which a correctly configured run rules out; invalid_grant is the RFC's answer.
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
	CodeRedirectMatch = Rule{
		ID: "RFC6749-4.1.3-REDIRECT-URI-MATCH", Level: MUST,
		Source:   rfc6749("4.1.3", `ensure that the "redirect_uri" parameter is present if the "redirect_uri" parameter was included in the initial authorization request as described in Section 4.1.1, and if included ensure that their values are identical.`),
		Summary:  "a code is redeemed only with the redirect_uri it was issued for",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Send: redeemWith("redeem with another redirect_uri", func(r *Request) {
			r.Form.Set(oauth.ParamRedirectURI, "https://tokenharness.invalid/other-callback")
		}),
		Expect: []Check{Rejected(oauth.ErrInvalidGrant, oauth.ErrInvalidRequest)},
	}
	CodeRedirectRequired = Rule{
		ID: "RFC6749-4.1.3-REDIRECT-URI-REQUIRED", Level: MUST,
		Source:   rfc6749("4.1.3", `ensure that the "redirect_uri" parameter is present if the "redirect_uri" parameter was included in the initial authorization request`),
		Summary:  "a code issued with a redirect_uri is not redeemed without it",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Send:   redeemWith("redeem without redirect_uri", func(r *Request) { r.Form.Del(oauth.ParamRedirectURI) }),
		Expect: []Check{Rejected(oauth.ErrInvalidGrant, oauth.ErrInvalidRequest)},
	}
)

var codeGrant = []Rule{CodeSingleUse, CodeReplayRevokes, CodeClientBound, CodeRedirectMatch, CodeRedirectRequired}
