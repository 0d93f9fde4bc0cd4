// Package oauth is the protocol vocabulary shared by the checker and the mock
// server: parameter names, grant types, client authentication methods and the
// RFC 6749 §5.2 error codes (https://www.rfc-editor.org/rfc/rfc6749#section-5.2).
//
// It holds names and wire data only, never the logic that decides whether a
// request is valid: the mock server and the conformance checker must not share
// validation code, or a shared bug would hide itself.
package oauth

import (
	"encoding/base64"
	"net/url"
)

// Request and response parameter names (RFC 6749 §4.1.3, §5.1, §6; RFC 7636 §4).
const (
	ParamGrantType             = "grant_type"
	ParamCode                  = "code"
	ParamRedirectURI           = "redirect_uri"
	ParamClientID              = "client_id"
	ParamClientSecret          = "client_secret"
	ParamRefreshToken          = "refresh_token"
	ParamScope                 = "scope"
	ParamUsername              = "username"
	ParamPassword              = "password"
	ParamState                 = "state"
	ParamResponseType          = "response_type"
	ParamCodeVerifier          = "code_verifier"
	ParamCodeChallenge         = "code_challenge"
	ParamCodeChallengeMethod   = "code_challenge_method"
	ParamAccessToken           = "access_token"
	ParamTokenType             = "token_type"
	ParamExpiresIn             = "expires_in"
	ParamRefreshTokenExpiresIn = "refresh_token_expires_in"
	ParamError                 = "error"
	ParamErrorDescription      = "error_description"
	ParamErrorURI              = "error_uri"
	// RFC 7521 §4.2: a client assertion and its format.
	ParamClientAssertion     = "client_assertion"
	ParamClientAssertionType = "client_assertion_type"
)

// ClientAssertionTypeJWT is client_assertion_type for a JWT client
// assertion (RFC 7523 §2.2).
const ClientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Grant types this harness knows (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
)

// Grants lists the grant types a target can declare (GRANTS), in
// documentation order.
var Grants = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword, GrantDeviceCode}

// DefaultGrants are the grants a target serves when it declares none.
var DefaultGrants = []string{GrantAuthorizationCode, GrantRefreshToken}

// PKCE code challenge methods (RFC 7636 §4.2).
const (
	PKCES256  = "S256"
	PKCEPlain = "plain"
)

// AuthMethod is a client authentication method, named as in the OAuth
// dynamic client registration registry (RFC 7591 §2).
type AuthMethod string

const (
	AuthBasic AuthMethod = "client_secret_basic"
	AuthPost  AuthMethod = "client_secret_post"
	AuthNone  AuthMethod = "none"
	// AuthPrivateKeyJWT and AuthSecretJWT authenticate with a signed JWT
	// client assertion (RFC 7523 §2.2; OpenID Connect Core §9): signed with
	// the client's private key, or MACed with its client secret.
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	AuthSecretJWT     AuthMethod = "client_secret_jwt"
)

// AuthMethods lists the methods in the order they are documented.
var AuthMethods = []AuthMethod{AuthBasic, AuthPost, AuthNone, AuthPrivateKeyJWT, AuthSecretJWT}

// JWT reports whether m authenticates with a JWT client assertion.
func (m AuthMethod) JWT() bool { return m == AuthPrivateKeyJWT || m == AuthSecretJWT }

// Valid reports whether m is one of AuthMethods.
func (m AuthMethod) Valid() bool {
	for _, k := range AuthMethods {
		if m == k {
			return true
		}
	}
	return false
}

// Header names used on the wire.
const (
	HeaderContentType     = "Content-Type"
	HeaderCacheControl    = "Cache-Control"
	HeaderPragma          = "Pragma"
	HeaderWWWAuthenticate = "WWW-Authenticate"
	HeaderAuthorization   = "Authorization"
	// HeaderQuirk names mock-server fault switches for one request; the
	// mock honours it only when started with -quirks-from-header.
	HeaderQuirk = "Tokenharness-Quirk"
)

// Media types.
const (
	MediaForm = "application/x-www-form-urlencoded"
	MediaJSON = "application/json"
)

// BasicAuthorization is the Authorization header value for client_secret_basic.
// RFC 6749 §2.3.1: the client identifier and password are encoded with the
// application/x-www-form-urlencoded algorithm before Basic encoding.
func BasicAuthorization(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}
