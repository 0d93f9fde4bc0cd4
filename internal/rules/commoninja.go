package rules

import "tokenharness/internal/oauth"

// What the commoninja token endpoint document states beyond RFC 6749.
// Its deviations from RFC 6749 (GET in the heading, no token_type,
// expires_in as a string) are declared on the RFC rules they touch.

var (
	CommoninjaCodeFields = Rule{
		ID: "COMMONINJA-CODE-RESPONSE-FIELDS", Level: DOC,
		Source:   commoninja("Authorization Code Flow", `Example Response: { "access_token": "ACCESS_TOKEN", "expires_in": "EXPIRATION_DATE", "refresh_token": "REFRESH_TOKEN", "refresh_token_expires_in": "EXPIRATION_DATE" }`),
		Summary:  "the code response carries access_token, expires_in, refresh_token and refresh_token_expires_in",
		Profiles: Only(Commoninja), Needs: []Need{NeedCode}, Send: redeemFresh,
		Expect: []Check{Success(), Field(oauth.ParamExpiresIn, Present()), Field(oauth.ParamRefreshToken, NonEmptyString()),
			Field(oauth.ParamRefreshTokenExpiresIn, Present())},
		Fault: Fault{On: OnCodeSuccess, DropField: oauth.ParamRefreshTokenExpiresIn},
	}
	CommoninjaRefreshFields = Rule{
		ID: "COMMONINJA-REFRESH-RESPONSE-FIELDS", Level: DOC,
		Source:   commoninja("Refresh Token Flow", `Example Response: { "access_token": "NEW_ACCESS_TOKEN", "expires_in": "NEW_EXPIRATION_DATE" }`),
		Summary:  "the refresh response carries access_token and expires_in",
		Profiles: Only(Commoninja), Needs: []Need{NeedCode, NeedGrantRefresh},
		Send:   refreshWith("refresh", func(*Request) {}),
		Expect: []Check{Success(), Field(oauth.ParamExpiresIn, Present())},
		Fault:  Fault{On: OnRefreshSuccess, DropField: oauth.ParamExpiresIn},
	}
	CommoninjaSecretInBody = Rule{
		ID: "COMMONINJA-ANY-SECRET-IN-BODY", Level: DOC,
		Source:   commoninja("Request Parameters", `client_id: The client ID of your application ... client_secret: The client secret of your application`),
		Summary:  "client_id and client_secret in the form body authenticate the client",
		Profiles: Only(Commoninja), Needs: []Need{NeedCode, NeedPassword},
		Send:   redeemWith("redeem with client_secret_post", func(r *Request) { r.Auth = AuthPost }),
		Expect: []Check{Success()},
	}
)

var commoninjaRules = []Rule{CommoninjaCodeFields, CommoninjaRefreshFields, CommoninjaSecretInBody}
