package rules

import (
	"net/url"

	"tokenharness/internal/oauth"
)

// §5.2 error responses, provoked with a request for an unknown code.

// unknownVerifier is a well-formed code_verifier (RFC 7636 §4.1: 43-128
// unreserved characters).
const unknownVerifier = "tokenharness-unknown-verifier-0123456789abcdefghij"

// unknownCode differs from a real redemption only in the code: it carries
// a verifier too, so a server that checks for PKCE parameters before it
// looks the code up still answers about the code.
func unknownCode(s *State) Request {
	r := Request{Step: "redeem an unknown code", Form: url.Values{
		oauth.ParamGrantType:    {oauth.GrantAuthorizationCode},
		oauth.ParamCode:         {"tokenharness-unknown-code-0000000000"},
		oauth.ParamCodeVerifier: {unknownVerifier},
	}}
	if u := s.Env.RedirectURI(); u != "" {
		r.Form.Set(oauth.ParamRedirectURI, u)
	}
	return r
}

var sendUnknownCode = &Send{From: FromNothing, Build: unknownCode}

var (
	ErrorJSON = Rule{
		ID: "RFC6749-5.2-ERROR-JSON", Level: MUST,
		Source:   rfc6749("5.2", `The parameters are included in the entity-body of the HTTP response using the "application/json" media type`),
		Summary:  "error responses are JSON objects with a string error member",
		Profiles: Everywhere(), Send: sendUnknownCode,
		Expect: []Check{MediaType(oauth.MediaJSON), JSONObject(), Field(oauth.ParamError, NonEmptyString())},
		Fault:  Fault{On: OnError, SetHeader: [2]string{oauth.HeaderContentType, "text/html; charset=utf-8"}},
	}
	ErrorStatus = Rule{
		ID: "RFC6749-5.2-ERROR-STATUS-400", Level: MUST,
		Source:   rfc6749("5.2", `The authorization server responds with an HTTP 400 (Bad Request) status code (unless specified otherwise)`),
		Summary:  "error responses use status 400",
		Profiles: Everywhere(), Send: sendUnknownCode,
		Expect: []Check{Status(400)},
		Fault:  Fault{On: OnError, Status: 200},
	}
	ErrorCharset = Rule{
		ID: "RFC6749-5.2-ERROR-CHARSET", Level: MUST,
		Source:   rfc6749("5.2", `Values for the "error" parameter MUST NOT include characters outside the set %x20-21 / %x23-5B / %x5D-7E.`),
		Summary:  "error and error_description use only the allowed ASCII characters",
		Profiles: Everywhere(), Send: sendUnknownCode,
		Expect: []Check{JSONObject(), ErrorChars()},
		Fault:  Fault{On: OnError, SetField: oauth.ParamErrorDescription, Value: "code \"unknown\" – not found"},
	}
	ErrorNoStore = Rule{
		ID: "TH-5.2-ERROR-NO-STORE", Level: SHOULD,
		Source:   harness("5.2", `Error responses are not cacheable either: a cached invalid_grant would outlive the condition that caused it.`),
		Summary:  "error responses carry Cache-Control: no-store",
		Profiles: Everywhere(), Send: sendUnknownCode,
		Expect: []Check{HeaderToken(oauth.HeaderCacheControl, "no-store")},
		Fault:  Fault{On: OnError, DropHeader: oauth.HeaderCacheControl},
	}
	UnsupportedGrantType = Rule{
		ID: "RFC6749-5.2-UNSUPPORTED-GRANT-TYPE", Level: MUST,
		Source:   rfc6749("5.2", `unsupported_grant_type The authorization grant type is not supported by the authorization server.`),
		Summary:  "an unknown grant_type is rejected with unsupported_grant_type",
		Profiles: Everywhere(),
		Send: &Send{From: FromNothing, Build: func(s *State) Request {
			return Request{Step: "unknown grant type", Form: url.Values{oauth.ParamGrantType: {"urn:tokenharness:unknown-grant"}}}
		}},
		Expect: []Check{Rejected(oauth.ErrUnsupportedGrantType)},
	}
	MissingGrantType = Rule{
		ID: "RFC6749-5.2-MISSING-GRANT-TYPE", Level: MUST,
		Source:   rfc6749("5.2", `invalid_request The request is missing a required parameter ...`),
		Summary:  "a request without grant_type is rejected with invalid_request",
		Profiles: Everywhere(),
		Send: &Send{From: FromCode, Build: func(s *State) Request {
			r := Redeem(s.Grant)
			r.Step = "redeem without grant_type"
			r.Form.Del(oauth.ParamGrantType)
			return r
		}},
		Needs:  []Need{NeedCode},
		Expect: []Check{Rejected(oauth.ErrInvalidRequest)},
	}
	InvalidGrant = Rule{
		ID: "RFC6749-5.2-INVALID-GRANT", Level: MUST,
		Source:   rfc6749("5.2", `invalid_grant The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked ...`),
		Summary:  "an unknown authorization code is rejected with invalid_grant",
		Profiles: Everywhere(), Send: sendUnknownCode, Needs: []Need{NeedGrantCode},
		Expect: []Check{Rejected(oauth.ErrInvalidGrant)},
	}
	ErrorURICharset = Rule{
		ID: "RFC6749-5.2-ERROR-URI-CHARSET", Level: MUST,
		Source:   rfc6749("5.2", `Values for the "error_uri" parameter MUST conform to the URI-reference syntax and thus MUST NOT include characters outside the set %x21 / %x23-5B / %x5D-7E.`),
		Summary:  "error_uri, when present, uses only the allowed characters",
		Profiles: Everywhere(), Send: sendUnknownCode,
		Expect: []Check{JSONObject(), ErrorURIChars()},
		Fault:  Fault{On: OnError, SetField: oauth.ParamErrorURI, Value: "https://tokenharness.invalid/errors/unknown code"},
	}
)

var errorResponse = []Rule{ErrorJSON, ErrorStatus, ErrorCharset, ErrorNoStore, UnsupportedGrantType, MissingGrantType, InvalidGrant, ErrorURICharset}
