package rules

import (
	"context"
	"net/url"
	"strings"

	"tokenharness/internal/oauth"
)

// The client_credentials grant (RFC 6749 §4.4) and the password grant's
// removal (RFC 9700 §2.4, OAuth 2.1). The client_credentials rules run only
// for a target that declares the grant (GRANTS) and a confidential client:
// "The client credentials grant type MUST only be used by confidential
// clients" (§4.4). The vendor documents define no client_credentials grant,
// so their profiles do not run these rules.

// ccProfiles are the profiles whose documents define client_credentials.
var ccProfiles = Only(RFC6749, OAuth21)

// ccNeeds: the target declares the grant, and the run's client has a secret.
var ccNeeds = []Need{NeedGrantClientCredentials, NeedSecret}

// CCRequest builds a client_credentials token request (RFC 6749 §4.4.2),
// asking for the configured scope if any.
func CCRequest(e Env, step string) Request {
	f := url.Values{oauth.ParamGrantType: {oauth.GrantClientCredentials}}
	if sc := e.Scope(); sc != "" {
		f.Set(oauth.ParamScope, sc)
	}
	return Request{Step: step, Form: f}
}

func ccWith(step string, edit func(*Request)) *Send {
	return &Send{From: FromNothing, Build: func(s *State) Request {
		r := CCRequest(s.Env, step)
		edit(&r)
		return r
	}}
}

var ccFresh = ccWith("client_credentials request", func(*Request) {})

var (
	CCAccessToken = Rule{
		ID: "RFC6749-4.4.3-CC-ACCESS-TOKEN", Level: MUST,
		Source:   rfc6749("4.4.3", `If the access token request is valid and authorized, the authorization server issues an access token as described in Section 5.1.`),
		Summary:  "a client_credentials request with client authentication yields a non-empty string access_token",
		Profiles: ccProfiles, Needs: ccNeeds, Send: ccFresh,
		Expect: []Check{Status(200), MediaType(oauth.MediaJSON), Field(oauth.ParamAccessToken, NonEmptyString())},
		Fault:  Fault{On: OnCCSuccess, DropField: oauth.ParamAccessToken},
	}
	CCTokenType = Rule{
		ID: "RFC6749-5.1-CC-TOKEN-TYPE", Level: MUST,
		Source:   rfc6749("5.1", `token_type REQUIRED. The type of the token issued as described in Section 7.1. Value is case insensitive.`),
		Summary:  "client_credentials token responses carry a token_type",
		Profiles: ccProfiles, Needs: ccNeeds, Send: ccFresh,
		Expect: []Check{Success(), Field(oauth.ParamTokenType, NonEmptyString())},
		Fault:  Fault{On: OnCCSuccess, DropField: oauth.ParamTokenType},
	}
	CCNoStore = Rule{
		ID: "RFC6749-5.1-CC-NO-STORE", Level: MUST,
		Source:   rfc6749("5.1", `The authorization server MUST include the HTTP "Cache-Control" response header field [RFC2616] with a value of "no-store" in any response containing tokens, credentials, or other sensitive information`),
		Summary:  "client_credentials token responses carry Cache-Control: no-store",
		Profiles: ccProfiles, Needs: ccNeeds, Send: ccFresh,
		Expect: []Check{Success(), HeaderToken(oauth.HeaderCacheControl, "no-store")},
		Fault:  Fault{On: OnCCSuccess, DropHeader: oauth.HeaderCacheControl},
	}
	CCNoRefresh = Rule{
		ID: "RFC6749-4.4.3-CC-NO-REFRESH", Level: SHOULD,
		Source:   rfc6749("4.4.3", `A refresh token SHOULD NOT be included.`),
		Summary:  "a client_credentials response carries no refresh_token",
		Profiles: ccProfiles, Needs: ccNeeds, Send: ccFresh,
		Expect: []Check{Success(), Field(oauth.ParamRefreshToken, Absent())},
		Fault:  Fault{On: OnCCSuccess, SetField: oauth.ParamRefreshToken, Value: "tokenharness-cc-refresh-token"},
	}
	// §4.4.2's "The client MUST authenticate" binds the client; the
	// server's side is §4.4.3's: a request that failed client
	// authentication gets a §5.2 error, whose invalid_client lists "no
	// client authentication included". invalid_request ("missing a
	// required parameter") is an allowed answer too. OAuth 2.1 §4.2.1 says
	// it outright: "The authorization server MUST authenticate the client."
	CCClientAuth = Rule{
		ID: "RFC6749-4.4.3-CC-CLIENT-AUTH", Level: MUST,
		Source:   rfc6749("4.4.3", `If the request failed client authentication or is invalid, the authorization server returns an error response as described in Section 5.2.`),
		Summary:  "a client_credentials request without client authentication issues no tokens",
		Profiles: ccProfiles, Needs: ccNeeds,
		Send:   ccWith("client_credentials request without client authentication", func(r *Request) { r.Auth = AuthOmit }),
		Expect: []Check{Rejected(oauth.ErrInvalidClient, oauth.ErrInvalidRequest)},
	}
	CCWrongSecret = Rule{
		ID: "RFC6749-4.4.3-CC-WRONG-SECRET", Level: MUST,
		Source:   rfc6749("4.4.3", `If the request failed client authentication or is invalid, the authorization server returns an error response as described in Section 5.2.`),
		Summary:  "a client_credentials request with a wrong client secret is rejected with invalid_client",
		Profiles: ccProfiles, Needs: ccNeeds,
		Send:   ccWith("client_credentials request with a wrong secret", func(r *Request) { r.Auth = AuthWrongSecret }),
		Expect: []Check{Rejected(oauth.ErrInvalidClient), Status(400, 401)},
	}
	// §3.3 leaves the server two answers to a scope beyond the client's:
	// refuse it (invalid_scope, §5.2) or "fully or partially ignore the
	// scope requested" and then say what it issued in "scope". Only a token
	// issued with the extra scope, or without saying its scope, breaks it.
	CCNoUpscope = Rule{
		ID: "RFC6749-3.3-CC-NO-UPSCOPE", Level: MUST,
		Source:   rfc6749("3.3", `If the issued access token scope is different from the one requested by the client, the authorization server MUST include the "scope" response parameter to inform the client of the actual scope granted.`),
		Summary:  "a client_credentials request for a scope beyond the client's is refused with invalid_scope, or narrowed and the issued scope said",
		Profiles: ccProfiles, Needs: ccNeeds,
		Flow: func(ctx context.Context, e Env) Outcome {
			r := CCRequest(e, "client_credentials request asking for a scope beyond the client's")
			asked := strings.TrimSpace(e.Scope() + " " + upscope)
			r.Form.Set(oauth.ParamScope, asked)
			return scopeNotGranted(e.Do(ctx, r), asked, upscope)
		},
		Expect: []Check{Rejected(oauth.ErrInvalidScope)},
	}
	CCUnauthorizedClient = Rule{
		ID: "RFC6749-5.2-CC-UNAUTHORIZED-CLIENT", Level: MUST,
		Source:   rfc6749("5.2", `unauthorized_client The authenticated client is not authorized to use this authorization grant type.`),
		Summary:  "a client not allowed the client_credentials grant is rejected with unauthorized_client",
		Profiles: ccProfiles, Needs: append(append([]Need(nil), ccNeeds...), NeedRestricted),
		Send: ccWith("client_credentials request as the restricted client", func(r *Request) {
			r.Client = ClientRestricted
			r.Form.Del(oauth.ParamScope)
		}),
		Expect: []Check{Rejected(oauth.ErrUnauthorizedClient)},
	}
	// OAuth 2.1 omits the grant, following RFC 9700 §2.4. Evidence that a
	// server uses it: tokens, or a refusal that judged the resource owner's
	// credentials (invalid_grant, access_denied). unsupported_grant_type, or
	// unauthorized_client for this client, shows it does not let it be used;
	// any other refusal says neither.
	PasswordGrantRemoved = Rule{
		ID: "RFC9700-2.4-NO-PASSWORD-GRANT", Level: MUST,
		Source:   rfc9700("2.4", `The resource owner password credentials grant [RFC6749] MUST NOT be used.`),
		Summary:  "a password grant request is refused as a grant the server does not serve",
		Profiles: Only(OAuth21),
		Flow: func(ctx context.Context, e Env) Outcome {
			x := e.Do(ctx, Request{Step: "password grant request", Form: url.Values{
				oauth.ParamGrantType: {oauth.GrantPassword},
				oauth.ParamUsername:  {"tokenharness-user"},
				oauth.ParamPassword:  {"tokenharness-password"},
			}})
			resp, err := x.Got()
			switch {
			case err != nil || resp.Status >= 500:
				return Inconclusive(x, "the password grant request got %s", answerOf(x))
			case Won(x):
				return Violated(x, "the password grant issued tokens")
			}
			switch code := resp.ErrorCode(); code {
			case oauth.ErrUnsupportedGrantType.Code, oauth.ErrUnauthorizedClient.Code:
				return Outcome{Note: "refused with " + code}
			case oauth.ErrInvalidGrant.Code, "access_denied":
				return Violated(x, "the server runs the password grant: it judged the resource owner's credentials and refused with %s (status %d), where a server without the grant answers unsupported_grant_type", code, resp.Status)
			}
			return Inconclusive(x, "refused with %s: that does not say whether the server serves the password grant", answerOf(x))
		},
	}
)

var clientCredentials = []Rule{CCAccessToken, CCTokenType, CCNoStore, CCNoRefresh, CCClientAuth, CCWrongSecret, CCNoUpscope, CCUnauthorizedClient, PasswordGrantRemoved}
