package rules

import (
	"net/url"

	"tokenharness/internal/oauth"
)

// Client authentication at the token endpoint (RFC 6749 §2.3, §3.2.1).

func redeemWith(step string, edit func(*Request)) *Send {
	return &Send{From: FromCode, Build: func(s *State) Request {
		r := Redeem(s.Grant)
		r.Step = step
		edit(&r)
		return r
	}}
}

// confidential is for rules about client secrets: dressipi clients are
// public, so the profile waives them rather than pretending to check them.
func confidential() Profiles {
	return Everywhere().With(Dressipi, Waive("dressipi clients are public (client_id only): there is no secret to check"))
}

var (
	BasicSupported = Rule{
		ID: "RFC6749-2.3.1-BASIC-SUPPORTED", Level: MUST,
		Source:  rfc6749("2.3.1", `The authorization server MUST support the HTTP Basic authentication scheme for authenticating clients that were issued a client password.`),
		Summary: "a confidential client can authenticate with HTTP Basic",
		Profiles: Everywhere().With(Commoninja,
			Warn("the commoninja document shows client_secret in the body only")).With(Dressipi,
			Waive("dressipi clients are public: they have no client password")).With(OAuth21,
			Waive("OAuth 2.1 §2.4.1: the authorization server MAY support HTTP Basic; client_secret_post is its MUST (OAUTH21-2.4.1-SECRET-POST)")),
		Needs:  []Need{NeedCode, NeedPassword},
		Send:   redeemWith("redeem with client_secret_basic", func(r *Request) { r.Auth = AuthBasic }),
		Expect: []Check{Success()},
	}
	WrongSecret = Rule{
		ID: "RFC6749-2.3.1-WRONG-SECRET", Level: MUST,
		Source:   rfc6749("4.1.3", `authenticate the client if client authentication is included`),
		Summary:  "a wrong client secret is rejected with invalid_client",
		Profiles: confidential(), Needs: []Need{NeedCode, NeedSecret},
		Send:   redeemWith("redeem with a wrong secret", func(r *Request) { r.Auth = AuthWrongSecret }),
		Expect: []Check{Rejected(oauth.ErrInvalidClient), Status(400, 401)},
	}
	InvalidClientBasic401 = Rule{
		ID: "RFC6749-5.2-INVALID-CLIENT-BASIC-401", Level: MUST,
		Source:   rfc6749("5.2", `If the client attempted to authenticate via the "Authorization" request header field, the authorization server MUST respond with an HTTP 401 (Unauthorized) status code and include the "WWW-Authenticate" response header field matching the authentication scheme used by the client.`),
		Summary:  "a failed Basic authentication gets 401 with WWW-Authenticate",
		Profiles: confidential(), Needs: []Need{NeedCode, NeedSecret},
		Send: redeemWith("redeem with a wrong Basic secret", func(r *Request) {
			r.Auth = AuthBasicWrongSecret
		}),
		Expect: []Check{Rejected(oauth.ErrInvalidClient), Status(401), HeaderPresent(oauth.HeaderWWWAuthenticate)},
		Fault:  Fault{On: OnError, DropHeader: oauth.HeaderWWWAuthenticate},
	}
	// RFC 6749 puts the MUST on the client (§2.3); the server side is the
	// invalid_request definition of §5.2, which states no MUST: SHOULD.
	OneAuthMethod = Rule{
		ID: "RFC6749-5.2-ONE-AUTH-METHOD", Level: SHOULD,
		Source:   rfc6749("5.2", `invalid_request The request is missing a required parameter, ... utilizes more than one mechanism for authenticating the client, or is otherwise malformed.`),
		Summary:  "a request using both Basic and body credentials is rejected",
		Profiles: confidential(), Needs: []Need{NeedCode, NeedSecret},
		Send:   redeemWith("redeem with Basic and client_secret", func(r *Request) { r.Auth = AuthBoth }),
		Expect: []Check{Rejected(oauth.ErrInvalidRequest, oauth.ErrInvalidClient)},
	}
	UnknownClient = Rule{
		ID: "RFC6749-3.2.1-UNKNOWN-CLIENT", Level: MUST,
		Source:   rfc6749("5.2", `invalid_client Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).`),
		Summary:  "an unknown client_id is rejected with invalid_client",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Send: redeemWith("redeem as an unknown client", func(r *Request) {
			r.Auth = AuthOmit
			r.Form.Set(oauth.ParamClientID, "tokenharness-unknown-client")
			r.Form.Set(oauth.ParamClientSecret, "tokenharness-unknown-secret")
		}),
		Expect: []Check{Rejected(oauth.ErrInvalidClient)},
	}
	ClientIdentified = Rule{
		ID: "RFC6749-4.1.3-CLIENT-IDENTIFIED", Level: MUST,
		Source:   rfc6749("4.1.3", `require client authentication for confidential clients or for any client that was issued client credentials ... if the client is public, ensure that the code was issued to "client_id" in the request`),
		Summary:  "a code exchange without any client identification is rejected",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Send:   redeemWith("redeem without client identification", func(r *Request) { r.Auth = AuthOmit }),
		Expect: []Check{Rejected(oauth.ErrInvalidClient, oauth.ErrInvalidRequest, oauth.ErrInvalidGrant)},
	}
	// The sentence binds the sender of the parameters, the client; RFC 6749
	// states no server duty to refuse them in the URI: SHOULD.
	NoSecretInURI = Rule{
		ID: "RFC6749-2.3.1-NO-SECRET-IN-URI", Level: SHOULD,
		Source:   rfc6749("2.3.1", `The parameters can only be transmitted in the request-body and MUST NOT be included in the request URI.`),
		Summary:  "client credentials in the URL query are not accepted",
		Profiles: confidential(), Needs: []Need{NeedCode, NeedSecret},
		Send:   redeemWith("redeem with credentials in the query", func(r *Request) { r.Auth = AuthQuery }),
		Expect: []Check{NotIssued()},
	}
	RefreshClientAuth = Rule{
		ID: "RFC6749-6-REFRESH-CLIENT-AUTH", Level: MUST,
		Source:   rfc6749("6", `require client authentication for confidential clients or for any client that was issued client credentials (or with other authentication requirements)`),
		Summary:  "a refresh without any client authentication is rejected",
		Profiles: confidential(), Needs: []Need{NeedCode, NeedGrantRefresh, NeedSecret},
		Send:   refreshWith("refresh without client authentication", func(r *Request) { r.Auth = AuthOmit }),
		Expect: []Check{Rejected(oauth.ErrInvalidClient, oauth.ErrInvalidRequest, oauth.ErrInvalidGrant)},
	}
)

var clientAuth = []Rule{BasicSupported, WrongSecret, InvalidClientBasic401, OneAuthMethod, UnknownClient, ClientIdentified, NoSecretInURI, RefreshClientAuth}

// unknownForm is a form naming nothing the server issued.
func unknownForm(grant, param, value string) url.Values {
	return url.Values{oauth.ParamGrantType: {grant}, param: {value}}
}
