package rules

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"tokenharness/internal/oauth"
)

// The refresh_token grant (RFC 6749 §6) and refresh token protection
// (RFC 9700 §4.14.2).

func refreshWith(step string, edit func(*Request)) *Send {
	return &Send{From: FromTokens, Build: func(s *State) Request {
		r := Refresh(s.Env, s.Refresh)
		r.Step = step
		edit(&r)
		return r
	}}
}

var rotationProfiles = Only(OAuth21)

// rotationNeeds: RFC 9700 §4.14.2 makes replay detection a duty "for public
// clients" ("Authorization servers MUST utilize one of these methods to
// detect refresh token replay by malicious actors for public clients"); for
// a confidential client RFC 6749 §6 leaves both a new refresh token and
// revoking the old one to the server ("MAY"). A refresh token the harness
// uses without any proof of possession is not sender-constrained, so for a
// public client rotation is the method left.
var rotationNeeds = []Need{NeedCode, NeedGrantRefresh, NeedPublic}

// upscope is a scope no authorization server granted the harness.
const upscope = "tokenharness.upscope"

var (
	RefreshIssuesAccess = Rule{
		ID: "RFC6749-6-REFRESH-ACCESS-TOKEN", Level: MUST,
		Source:   rfc6749("6", `If valid and authorized, the authorization server issues an access token as described in Section 5.1.`),
		Summary:  "a valid refresh token yields a new access token",
		Profiles: Everywhere(), Needs: []Need{NeedCode, NeedGrantRefresh},
		Send:   refreshWith("refresh", func(*Request) {}),
		Expect: []Check{Status(200), Field(oauth.ParamAccessToken, NonEmptyString()), HeaderToken(oauth.HeaderCacheControl, "no-store")},
		Fault:  Fault{On: OnRefreshSuccess, DropField: oauth.ParamAccessToken},
	}
	RefreshWrongSecret = Rule{
		ID: "RFC6749-6-REFRESH-WRONG-SECRET", Level: MUST,
		Source:   rfc6749("6", `authenticate the client if client authentication is included`),
		Summary:  "a refresh with a wrong client secret is rejected with invalid_client",
		Profiles: confidential(), Needs: []Need{NeedCode, NeedGrantRefresh, NeedSecret},
		Send:   refreshWith("refresh with a wrong secret", func(r *Request) { r.Auth = AuthWrongSecret }),
		Expect: []Check{Rejected(oauth.ErrInvalidClient)},
	}
	RefreshClientBound = Rule{
		ID: "RFC6749-6-REFRESH-CLIENT-BOUND", Level: MUST,
		Source:   rfc6749("6", `ensure that the refresh token was issued to the authenticated client`),
		Summary:  "a refresh token issued to one client cannot be used by another",
		Profiles: Everywhere(), Needs: []Need{NeedCode, NeedGrantRefresh, NeedClient2},
		Send:   refreshWith("refresh as the second client", func(r *Request) { r.Client = Client2 }),
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
	// §6 leaves the server two answers to a wider scope: refuse it
	// (invalid_scope, §5.2) or, as §3.3 allows ("The authorization server MAY
	// fully or partially ignore the scope requested by the client"), issue
	// the originally granted scope and say so in "scope" (§5.1). Only a token
	// issued with the extra scope breaks the sentence.
	RefreshNoUpscope = Rule{
		ID: "RFC6749-6-REFRESH-NO-UPSCOPE", Level: MUST,
		Source:   rfc6749("6", `The requested scope MUST NOT include any scope not originally granted by the resource owner`),
		Summary:  "a refresh cannot widen the scope originally granted: refused, or the extra scope ignored",
		Profiles: Everywhere(), Needs: []Need{NeedCode, NeedGrantRefresh, NeedScope},
		Flow: func(ctx context.Context, e Env) Outcome {
			_, x, rt, err := Tokens(ctx, e, CodeOptions{})
			if err != nil || rt == "" {
				return setupNoRefresh(x, err)
			}
			r := Refresh(e, rt)
			r.Step = "refresh asking for a wider scope"
			r.Form.Set(oauth.ParamScope, strings.TrimSpace(e.Scope()+" "+upscope))
			return scopeNotGranted(e.Do(ctx, r), r.Form.Get(oauth.ParamScope), upscope)
		},
		Expect: []Check{Rejected(oauth.ErrInvalidScope)},
	}
	RefreshInvalid = Rule{
		ID: "RFC6749-6-REFRESH-INVALID", Level: MUST,
		Source:   rfc6749("5.2", `invalid_grant The provided authorization grant ... or refresh token is invalid, expired, revoked`),
		Summary:  "an unknown refresh token is rejected with invalid_grant",
		Profiles: Everywhere(), Needs: []Need{NeedGrantRefresh},
		Send: &Send{From: FromNothing, Build: func(s *State) Request {
			return Refresh(s.Env, "tokenharness-unknown-refresh-token-000000")
		}},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
	RefreshWithoutRedirect = Rule{
		ID: "RFC6749-6-REFRESH-NO-REDIRECT", Level: MUST,
		// §6 defines grant_type, refresh_token and scope; a request with
		// just those is valid.
		Source:  rfc6749("6", `If valid and authorized, the authorization server issues an access token as described in Section 5.1.`),
		Summary: "a refresh request needs no redirect_uri",
		Profiles: Everywhere().With(Dressipi,
			Waive("the dressipi document requires redirect_uri on refresh; DRESSIPI-REFRESH-REDIRECT-REQUIRED checks that instead")),
		Needs:  []Need{NeedCode, NeedGrantRefresh},
		Send:   refreshWith("refresh without redirect_uri", func(r *Request) { r.Form.Del(oauth.ParamRedirectURI) }),
		Expect: []Check{Success()},
	}
	RefreshRotation = Rule{
		ID: "RFC9700-4.14.2-REFRESH-ROTATION", Level: MUST,
		Source:   rfc9700("4.14.2", `Refresh token rotation: the authorization server issues a new refresh token with every access token refresh response.`),
		Summary:  "every refresh response carries a new refresh token",
		Profiles: rotationProfiles, Needs: rotationNeeds,
		Send: refreshWith("refresh", func(*Request) {}),
		Expect: []Check{Success(), {Desc: "refresh_token differs from the one presented", Fn: func(x *oauth.Exchange) error {
			return rotated(x)
		}}},
	}
	RefreshReuseRejected = Rule{
		ID: "RFC9700-4.14.2-REUSE-REJECTED", Level: MUST,
		Source:   rfc9700("4.14.2", `The previous refresh token is invalidated but information about the relationship is retained by the authorization server.`),
		Summary:  "a rotated-out refresh token is rejected",
		Profiles: rotationProfiles, Needs: rotationNeeds,
		Flow: func(ctx context.Context, e Env) Outcome {
			_, x, rt, err := Tokens(ctx, e, CodeOptions{})
			if err != nil || rt == "" {
				return setupNoRefresh(x, err)
			}
			if x, _, err := RefreshOK(ctx, e, rt, "refresh (rotates)"); err != nil {
				return SetupFailed(x, err)
			}
			r := Refresh(e, rt)
			r.Step = "reuse the rotated-out refresh token"
			return Judge(e.Do(ctx, r))
		},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
	RefreshReuseRevokesFamily = Rule{
		ID: "RFC9700-4.14.2-REUSE-REVOKES-FAMILY", Level: MUST,
		Source:   rfc9700("4.14.2", `If a refresh token is compromised and subsequently used by both the attacker and the legitimate client, one of them will present an invalidated refresh token, which will inform the authorization server of the breach. ... it will revoke the active refresh token.`),
		Summary:  "reusing a rotated-out refresh token revokes the active one",
		Profiles: rotationProfiles, Needs: rotationNeeds,
		Flow: func(ctx context.Context, e Env) Outcome {
			_, x, rt, err := Tokens(ctx, e, CodeOptions{})
			if err != nil || rt == "" {
				return setupNoRefresh(x, err)
			}
			x, next, err := RefreshOK(ctx, e, rt, "refresh (rotates)")
			if err != nil {
				return SetupFailed(x, err)
			}
			reuse := Refresh(e, rt)
			reuse.Step = "reuse the rotated-out refresh token"
			e.Do(ctx, reuse)
			r := Refresh(e, next)
			r.Step = "refresh with the active token after the reuse"
			return Judge(e.Do(ctx, r))
		},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
)

var refresh = []Rule{RefreshIssuesAccess, RefreshWrongSecret, RefreshClientBound, RefreshNoUpscope, RefreshInvalid, RefreshWithoutRedirect, RefreshRotation, RefreshReuseRejected, RefreshReuseRevokesFamily}

func rotated(x *oauth.Exchange) error {
	got := Str(x, oauth.ParamRefreshToken)
	presented, _ := url.ParseQuery(x.Request.Body)
	if got == "" {
		return errors.New("no refresh_token in the response")
	}
	if got == presented.Get(oauth.ParamRefreshToken) {
		return errors.New("the response returned the presented refresh token again")
	}
	return nil
}

func setupNoRefresh(x *oauth.Exchange, err error) Outcome {
	if err != nil {
		return SetupFailed(x, err)
	}
	return Outcome{Skip: "the code exchange issued no refresh_token, so refresh behaviour cannot be checked"}
}
