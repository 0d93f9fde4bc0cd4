package rules

import "tokenharness/internal/oauth"

// Variation is a legal way for a server to differ from the mock's defaults.
// Each is a mock quirk named by its ID; the self-check proves none of them
// makes an enforced rule fail. A zero Fault is behavioural: the mock
// switches it at the line that implements it.
type Variation struct {
	ID       ID
	Summary  string
	Why      string // the text that makes it legal
	Profiles []Profile
	Fault    Fault
	// Client marks a variation of the harness's own requests (how a JWT
	// client builds its assertion): the run's Env applies it when it is
	// among the quirks, and the mock has nothing to switch.
	Client bool
}

var allProfiles = []Profile{RFC6749, Commoninja, Dressipi, OAuth21}

var (
	VarTokenTypeLowercase = Variation{
		ID: "VAR-TOKEN-TYPE-LOWERCASE", Summary: `token_type is "bearer"`,
		Why:      "RFC 6749 §5.1: token_type ... Value is case insensitive.",
		Profiles: []Profile{RFC6749, Dressipi, OAuth21},
		Fault:    Fault{On: OnSuccess, SetField: oauth.ParamTokenType, Value: "bearer"},
	}
	VarExtraFields = Variation{
		ID: "VAR-EXTRA-FIELDS", Summary: "responses carry members the RFC does not define",
		Why:      "RFC 6749 §5.1: The client MUST ignore unrecognized value names in the response.",
		Profiles: allProfiles,
		Fault:    Fault{On: OnAny, SetField: "tokenharness_extra", Value: map[string]any{"nested": []int{1, 2}, "id_token": nil}},
	}
	VarNoCharset = Variation{
		ID: "VAR-NO-CHARSET", Summary: "Content-Type is application/json without charset",
		Why:      "RFC 8259 §11: no charset parameter is defined for application/json.",
		Profiles: allProfiles,
		Fault:    Fault{On: OnAny, SetHeader: [2]string{oauth.HeaderContentType, "application/json"}},
	}
	VarCharsetUppercase = Variation{
		ID: "VAR-CHARSET-UPPERCASE", Summary: "Content-Type is application/json; charset=UTF-8",
		Why:      "Media type parameters are case-insensitive (RFC 9110 §8.3.1).",
		Profiles: allProfiles,
		Fault:    Fault{On: OnAny, SetHeader: [2]string{oauth.HeaderContentType, "Application/JSON; charset=UTF-8"}},
	}
	VarCacheControlExtra = Variation{
		ID: "VAR-CACHE-CONTROL-EXTRA", Summary: "Cache-Control lists no-store among other directives",
		Why:      "RFC 6749 §5.1 requires the no-store value; other directives may accompany it.",
		Profiles: allProfiles,
		Fault:    Fault{On: OnAny, SetHeader: [2]string{oauth.HeaderCacheControl, "private, No-Store, max-age=0"}},
	}
	VarInvalidClient401 = Variation{
		ID: "VAR-INVALID-CLIENT-401", Summary: "invalid_client is answered with 401 even without Basic",
		Why:      "RFC 6749 §5.2: The authorization server MAY return an HTTP 401 (Unauthorized) status code",
		Profiles: []Profile{RFC6749, Commoninja, OAuth21},
	}
	VarNoExpiresIn = Variation{
		ID: "VAR-NO-EXPIRES-IN", Summary: "responses omit expires_in",
		Why:      "RFC 6749 §5.1: expires_in is RECOMMENDED, not REQUIRED.",
		Profiles: []Profile{RFC6749, OAuth21},
		Fault:    Fault{On: OnSuccess, DropField: oauth.ParamExpiresIn},
	}
	VarScopeOmitted = Variation{
		ID: "VAR-SCOPE-OMITTED", Summary: "responses omit scope when it equals the requested one",
		Why:      "RFC 6749 §5.1: scope OPTIONAL, if identical to the scope requested by the client",
		Profiles: allProfiles,
		Fault:    Fault{On: OnSuccess, DropField: oauth.ParamScope},
	}
	VarErrorURI = Variation{
		ID: "VAR-ERROR-URI", Summary: "error responses carry error_uri",
		Why:      "RFC 6749 §5.2: error_uri OPTIONAL.",
		Profiles: allProfiles,
		Fault:    Fault{On: OnError, SetField: oauth.ParamErrorURI, Value: "https://tokenharness.invalid/errors"},
	}
	VarRefreshRotation = Variation{
		ID: "VAR-REFRESH-ROTATION", Summary: "refresh responses rotate the refresh token",
		Why:      "RFC 6749 §6: The authorization server MAY issue a new refresh token",
		Profiles: []Profile{RFC6749, Commoninja},
	}
	VarUpscopeIgnored = Variation{
		ID: "VAR-UPSCOPE-IGNORED", Summary: "a refresh asking for a wider scope gets the originally granted scope, said in scope",
		Why:      "RFC 6749 §3.3: The authorization server MAY fully or partially ignore the scope requested by the client; §5.1 then requires scope in the response.",
		Profiles: allProfiles,
	}
	VarNoPragma = Variation{
		ID: "VAR-NO-PRAGMA", Summary: "token responses carry Cache-Control: no-store and no Pragma",
		Why:      "draft-ietf-oauth-v2-1 §3.2.3 requires only Cache-Control: no-store on token responses.",
		Profiles: []Profile{OAuth21},
		Fault:    Fault{On: OnAny, DropHeader: oauth.HeaderPragma},
	}
	VarJWTOtherAlg = Variation{
		ID: "VAR-JWT-OTHER-ALG", Summary: "the JWT access token is signed with ES256 and carries other claims",
		Why:      "dressipi: the document says the endpoint issues \"a JWT\"; the HS256 algorithm and the claims appear only in an example.",
		Profiles: []Profile{Dressipi},
		Fault: Fault{On: OnSuccess, SetField: oauth.ParamAccessToken,
			Value: "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJqdGkiOiJ0b2tlbmhhcm5lc3MtdmFyaWF0aW9uIn0.c2lnbmF0dXJlLW5vdC1jaGVja2Vk"},
	}
	VarCCRefreshToken = Variation{
		ID: "VAR-CC-REFRESH-TOKEN", Summary: "client_credentials responses include a refresh token",
		Why:      "RFC 6749 §4.4.3: A refresh token SHOULD NOT be included (SHOULD NOT, not MUST NOT: RFC6749-4.4.3-CC-NO-REFRESH warns, the run stays green).",
		Profiles: []Profile{RFC6749, OAuth21},
		Fault:    Fault{On: OnCCSuccess, SetField: oauth.ParamRefreshToken, Value: "tokenharness-variation-refresh-token"},
	}
	VarNoRotation = Variation{
		ID: "VAR-NO-ROTATION", Summary: "refresh responses keep the refresh token",
		Why:      "dressipi: It may return an updated refresh token (may, not must).",
		Profiles: []Profile{Dressipi},
	}
)

// DPoP variations (RFC 9449) are behavioural: the mock switches them where
// it answers a proof.
var (
	VarDPoPTokenTypeCase = Variation{
		ID: "VAR-DPOP-TOKEN-TYPE-CASE", Summary: `a DPoP-bound token's token_type is "dpop"`,
		Why:      "RFC 6749 §5.1: token_type ... Value is case insensitive.",
		Profiles: []Profile{RFC6749, OAuth21},
	}
	VarDPoPNonce = Variation{
		ID: "VAR-DPOP-NONCE", Summary: "the server demands a DPoP nonce: use_dpop_nonce with a DPoP-Nonce header, then the retry with it succeeds",
		Why:      "RFC 9449 §8: An authorization server MAY supply a nonce value to be included by the client in DPoP proofs sent.",
		Profiles: []Profile{RFC6749, OAuth21},
	}
	VarDPoPBearer = Variation{
		ID: "VAR-DPOP-BEARER", Summary: "a valid DPoP proof gets an unbound access token with token_type Bearer (a public client's refresh token stays bound)",
		Why:      "RFC 9449 §5: An authorization server MAY elect to issue access tokens that are not DPoP bound, which is signaled to the client with a value of Bearer in the token_type parameter of the access token response per [RFC6750].",
		Profiles: []Profile{RFC6749, OAuth21},
	}
)

// The device grant's variations (RFC 8628), behavioural: the mock's device
// codes live 8 s longer under both, so the longer polling interval fits.
var (
	VarDeviceSlowDown = Variation{
		ID: "VAR-DEVICE-SLOW-DOWN", Summary: "device polls are answered slow_down at first and whenever they come sooner than the interval",
		Why:      `RFC 8628 §3.5: slow_down A variant of "authorization_pending", the authorization request is still pending and polling should continue, but the interval MUST be increased by 5 seconds for this and all subsequent requests.`,
		Profiles: []Profile{RFC6749, OAuth21},
	}
	VarDeviceNoInterval = Variation{
		ID: "VAR-DEVICE-NO-INTERVAL", Summary: "the device authorization response carries no interval",
		Why:      "RFC 8628 §3.2: interval OPTIONAL. ... If no value is provided, clients MUST use 5 as the default.",
		Profiles: []Profile{RFC6749, OAuth21},
	}
	VarDeviceExpiredInvalidGrant = Variation{
		ID: "VAR-DEVICE-EXPIRED-INVALID-GRANT", Summary: "an expired device code is answered invalid_grant rather than expired_token",
		Why: `RFC 8628 §3.5 adds expired_token "in addition to the error codes defined in Section 5.2 of [RFC6749]" without requiring it, and RFC 6749 §5.2 defines ` +
			`invalid_grant for a grant that is "invalid, expired, revoked"; either stops the client's polling ("If the client receives an error response with any other error code, it MUST stop polling").`,
		Profiles: []Profile{RFC6749, OAuth21},
	}
)

// Variations lists every legal variation.
func Variations() []Variation {
	return []Variation{VarTokenTypeLowercase, VarExtraFields, VarNoCharset, VarCharsetUppercase, VarCacheControlExtra,
		VarInvalidClient401, VarNoExpiresIn, VarScopeOmitted, VarErrorURI, VarRefreshRotation, VarNoRotation, VarUpscopeIgnored, VarNoPragma, VarJWTOtherAlg, VarCCRefreshToken,
		VarDPoPTokenTypeCase, VarDPoPNonce, VarDPoPBearer,
		VarAssertionExtraClaims, VarAssertionAudIssuer, VarAssertionOtherAlg, VarAssertionClientID,
		VarDeviceSlowDown, VarDeviceNoInterval, VarDeviceExpiredInvalidGrant}
}
