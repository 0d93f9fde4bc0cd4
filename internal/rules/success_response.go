package rules

import "tokenharness/internal/oauth"

// §5.1 successful response, judged on the response to a fresh code exchange.

var redeemFresh = &Send{From: FromCode, Build: func(s *State) Request { return Redeem(s.Grant) }}

var (
	SuccessContentType = Rule{
		ID: "RFC6749-5.1-CONTENT-TYPE-JSON", Level: MUST,
		Source:   rfc6749("5.1", `The parameters are included in the entity-body of the HTTP response using the "application/json" media type as defined by [RFC4627].`),
		Summary:  "token responses use the application/json media type",
		Profiles: Everywhere(), Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), MediaType(oauth.MediaJSON)},
		Fault:  Fault{On: OnCodeSuccess, SetHeader: [2]string{oauth.HeaderContentType, "text/plain;charset=UTF-8"}},
	}
	AccessTokenPresent = Rule{
		ID: "RFC6749-5.1-ACCESS-TOKEN", Level: MUST,
		Source:   rfc6749("5.1", `access_token REQUIRED. The access token issued by the authorization server.`),
		Summary:  "a redeemed code yields a non-empty string access_token",
		Profiles: Everywhere(), Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Status(200), Field(oauth.ParamAccessToken, NonEmptyString())},
		Fault:  Fault{On: OnCodeSuccess, DropField: oauth.ParamAccessToken},
	}
	TokenTypePresent = Rule{
		ID: "RFC6749-5.1-TOKEN-TYPE", Level: MUST,
		Source:  rfc6749("5.1", `token_type REQUIRED. The type of the token issued as described in Section 7.1. Value is case insensitive.`),
		Summary: "token responses carry a token_type",
		Profiles: Everywhere().With(Commoninja,
			Warn("the commoninja example responses carry no token_type, for either grant")),
		Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), Field(oauth.ParamTokenType, NonEmptyString())},
		Fault:  Fault{On: OnCodeSuccess, DropField: oauth.ParamTokenType},
	}
	ExpiresInNumber = Rule{
		ID: "RFC6749-5.1-EXPIRES-IN-NUMBER", Level: MUST,
		Source:  rfc6749("5.1", `Numerical values are included as JSON numbers.`),
		Summary: "expires_in, when present, is a JSON number",
		Profiles: Everywhere().With(Commoninja,
			Warn(`the commoninja example responses show "expires_in": "EXPIRATION_DATE", a string`)),
		Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), Field(oauth.ParamExpiresIn, NumberIfPresent())},
		Fault:  Fault{On: OnSuccess, StringifyField: oauth.ParamExpiresIn},
	}
	ExpiresInRecommended = Rule{
		ID: "RFC6749-5.1-EXPIRES-IN", Level: SHOULD,
		Source:   rfc6749("5.1", `expires_in RECOMMENDED. The lifetime in seconds of the access token.`),
		Summary:  "token responses state the access token's lifetime in expires_in",
		Profiles: Everywhere(), Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), Field(oauth.ParamExpiresIn, Present())},
		Fault:  Fault{On: OnCodeSuccess, DropField: oauth.ParamExpiresIn},
	}
	NoStore = Rule{
		ID: "RFC6749-5.1-NO-STORE", Level: MUST,
		Source:   rfc6749("5.1", `The authorization server MUST include the HTTP "Cache-Control" response header field [RFC2616] with a value of "no-store" in any response containing tokens, credentials, or other sensitive information`),
		Summary:  "token responses carry Cache-Control: no-store",
		Profiles: Everywhere(), Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), HeaderToken(oauth.HeaderCacheControl, "no-store")},
		Fault:  Fault{On: OnCodeSuccess, DropHeader: oauth.HeaderCacheControl},
	}
	PragmaNoCache = Rule{
		ID: "RFC6749-5.1-PRAGMA-NO-CACHE", Level: MUST,
		Source:  rfc6749("5.1", `... as well as the "Pragma" response header field [RFC2616] with a value of "no-cache".`),
		Summary: "token responses carry Pragma: no-cache",
		Profiles: Everywhere().With(OAuth21,
			Waive("OAuth 2.1 (draft-ietf-oauth-v2-1 §3.2.3) requires only Cache-Control: no-store on token responses; Pragma, an HTTP/1.0 header, is no longer required")),
		Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), HeaderToken(oauth.HeaderPragma, "no-cache")},
		Fault:  Fault{On: OnCodeSuccess, DropHeader: oauth.HeaderPragma},
	}
	// The sentence covers request and response parameters; this is its
	// response half, which binds the server alone.
	NoDuplicateResponseParams = Rule{
		ID: "RFC6749-3.2-NO-DUPLICATE-RESPONSE-PARAMS", Level: MUST,
		Source:   rfc6749("3.2", `Request and response parameters MUST NOT be included more than once.`),
		Summary:  "a token response names each member once",
		Profiles: Everywhere(), Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), NoDuplicateMembers()},
		Fault: Fault{On: OnCodeSuccess,
			Body: `{"access_token":"tokenharness-first","token_type":"Bearer","expires_in":3600,"access_token":"tokenharness-second"}`},
	}
)

var successResponse = []Rule{SuccessContentType, AccessTokenPresent, TokenTypePresent, ExpiresInNumber, ExpiresInRecommended, NoStore, PragmaNoCache, NoDuplicateResponseParams}
