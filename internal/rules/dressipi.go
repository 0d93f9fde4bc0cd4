package rules

import (
	"tokenharness/internal/oauth"
)

// What the dressipi token endpoint document states beyond RFC 6749. Its
// deviation (redirect_uri required on refresh) is waived on
// RFC6749-6-REFRESH-NO-REDIRECT and checked here instead.

var (
	DressipiJWT = Rule{
		ID: "DRESSIPI-ANY-JWT-ACCESS-TOKEN", Level: DOC,
		// The document says "for a JWT" and nothing more; its example happens
		// to be HS256 with exp, iat and sub, which an example does not oblige.
		// So any signed JWT passes: the algorithm and the claims are the
		// server's choice.
		Source:   dressipi("Post /oauth/token", `exchange a grant code or refresh token for a JWT`),
		Summary:  "the access token is a JWT",
		Profiles: Only(Dressipi), Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), Field(oauth.ParamAccessToken, JWT(""))},
		Fault:  Fault{On: OnCodeSuccess, SetField: oauth.ParamAccessToken, Value: "opaque-access-token-not-a-jwt"},
	}
	DressipiBearer = Rule{
		ID: "DRESSIPI-ANY-TOKEN-TYPE-BEARER", Level: DOC,
		Source:   dressipi("Responses 200", `token_type string The access_token type (this will always be Bearer)`),
		Summary:  "token_type is Bearer",
		Profiles: Only(Dressipi), Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), Field(oauth.ParamTokenType, EqualFold("Bearer"))},
		Fault:  Fault{On: OnCodeSuccess, SetField: oauth.ParamTokenType, Value: "mac"},
	}
	DressipiExpiresInteger = Rule{
		ID: "DRESSIPI-ANY-EXPIRES-IN-INTEGER", Level: DOC,
		Source:   dressipi("Responses 200", `expires_in integer (int32) The lifetime of the token, in seconds`),
		Summary:  "expires_in is a positive integer",
		Profiles: Only(Dressipi), Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), Field(oauth.ParamExpiresIn, PositiveInteger())},
		Fault:  Fault{On: OnCodeSuccess, SetField: oauth.ParamExpiresIn, Value: 86400.5},
	}
	DressipiRefreshRedirectRequired = Rule{
		ID: "DRESSIPI-REFRESH-REDIRECT-REQUIRED", Level: DOC,
		Source:   dressipi("Body parameters", `redirect_uri string Required Valid values [ "urn:ietf:wg:oauth:2.0:oob:auto" ]`),
		Summary:  "a refresh without redirect_uri is rejected",
		Profiles: Only(Dressipi), Needs: []Need{NeedCode, NeedGrantRefresh},
		Send:   refreshWith("refresh without redirect_uri", func(r *Request) { r.Form.Del(oauth.ParamRedirectURI) }),
		Expect: []Check{Rejected(oauth.ErrInvalidRequest, oauth.ErrInvalidGrant)},
	}
	DressipiRefreshRedirectOOB = Rule{
		ID: "DRESSIPI-REFRESH-REDIRECT-OOB", Level: DOC,
		Source:   dressipi("Body parameters", `redirect_uri string Required Valid values [ "urn:ietf:wg:oauth:2.0:oob:auto" ]`),
		Summary:  "a refresh with any other redirect_uri is rejected",
		Profiles: Only(Dressipi), Needs: []Need{NeedCode, NeedGrantRefresh},
		Send: refreshWith("refresh with another redirect_uri", func(r *Request) {
			r.Form.Set(oauth.ParamRedirectURI, "https://tokenharness.invalid/callback")
		}),
		Expect: []Check{Rejected(oauth.ErrInvalidRequest, oauth.ErrInvalidGrant)},
	}
	DressipiAPIKey = Rule{
		ID: "DRESSIPI-ANY-API-KEY", Level: DOC,
		Source:   dressipi("Security", `API Key Header parameter name x-api-key`),
		Summary:  "a request without the x-api-key header issues no tokens",
		Profiles: Only(Dressipi), Needs: []Need{NeedCode, NeedAPIKey},
		Send: redeemWith("redeem without x-api-key", func(r *Request) {
			r.OmitHeaders = []string{"X-Api-Key"}
		}),
		Expect: []Check{NotIssued()},
	}
	DressipiRefreshTokenIssued = Rule{
		ID: "DRESSIPI-CODE-REFRESH-TOKEN", Level: DOC,
		Source:   dressipi("Post /oauth/token", `This allows the client to exchange a previously obtained grant code or refresh token for an access token for immediate use and a refresh token for subsequent requests.`),
		Summary:  "the code exchange issues a refresh_token",
		Profiles: Only(Dressipi), Needs: []Need{NeedCode, NeedGrantRefresh}, Send: redeemFresh,
		Expect: []Check{Success(), Field(oauth.ParamRefreshToken, NonEmptyString())},
		Fault:  Fault{On: OnCodeSuccess, DropField: oauth.ParamRefreshToken},
	}
)

var dressipiRules = []Rule{DressipiJWT, DressipiBearer, DressipiExpiresInteger, DressipiRefreshRedirectRequired, DressipiRefreshRedirectOOB, DressipiAPIKey, DressipiRefreshTokenIssued}
