package rules

import (
	"context"

	"tokenharness/internal/oauth"
)

// What the OAuth 2.1 draft (draft-ietf-oauth-v2-1) states for the token
// endpoint beyond RFC 6749, RFC 7636 and RFC 9700. Where it relaxes RFC 6749
// (HTTP Basic is a MAY, Pragma is gone) the oauth21 profile waives the RFC
// rule and says so.

var (
	OAuth21SecretPost = Rule{
		ID: "OAUTH21-2.4.1-SECRET-POST", Level: MUST,
		Source:   oauth21("2.4.1", `To support confidential clients in possession of a client secret, the authorization server MUST support the client including the client credentials in the request body content`),
		Summary:  "client_id and client_secret in the form body authenticate a confidential client",
		Profiles: Only(OAuth21), Needs: []Need{NeedCode, NeedPassword},
		Send:   redeemWith("redeem with client_secret_post", func(r *Request) { r.Auth = AuthPost }),
		Expect: []Check{Success()},
	}
	OAuth21ScopeRecommended = Rule{
		ID: "OAUTH21-3.2.3-SCOPE", Level: SHOULD,
		Source:   oauth21("3.2.3", `"scope": RECOMMENDED, if identical to the scope requested by the client; otherwise, REQUIRED.`),
		Summary:  "token responses state the scope granted",
		Profiles: Only(OAuth21), Needs: []Need{NeedCode, NeedScope}, Send: redeemFresh,
		Expect: []Check{Success(), Field(oauth.ParamScope, NonEmptyString())},
		Fault:  Fault{On: OnCodeSuccess, DropField: oauth.ParamScope},
	}
	OAuth21InvalidReplayKeepsTokens = Rule{
		ID: "OAUTH21-7.5.2-INVALID-REPLAY-KEEPS-TOKENS", Level: SHOULD,
		Source:   oauth21("7.5.2", `The authorization server SHOULD NOT revoke any issued tokens when receiving a replayed authorization code that contains invalid parameters.`),
		Summary:  "a replayed code with a wrong code_verifier does not revoke the tokens it issued",
		Profiles: Only(OAuth21), Needs: []Need{NeedCode, NeedGrantRefresh},
		Flow: func(ctx context.Context, e Env) Outcome {
			g, x, rt, err := Tokens(ctx, e, CodeOptions{PKCE: oauth.PKCES256})
			if err != nil || rt == "" {
				return setupNoRefresh(x, err)
			}
			replay := Redeem(g)
			replay.Step = "replay the code with a wrong code_verifier"
			replay.Form.Set(oauth.ParamCodeVerifier, unknownVerifier)
			if Won(e.Do(ctx, replay)) {
				return Violated(nil, "the replayed code was redeemed again (see %s)", CodeSingleUse.ID)
			}
			r := Refresh(e, rt)
			r.Step = "refresh with the refresh token the code issued"
			return Judge(e.Do(ctx, r))
		},
		Expect: []Check{Success()},
	}
)

var oauth21Rules = []Rule{OAuth21SecretPost, OAuth21ScopeRecommended, OAuth21InvalidReplayKeepsTokens}
