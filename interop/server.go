// Package interop runs the conformance rules against independent OAuth 2.0
// token servers built from third-party libraries (ory/fosite,
// go-oauth2/oauth2, zitadel/oidc), in-process on 127.0.0.1, and compares
// the verdicts with a checked-in table (expected.tsv).
//
// The mock server and the rules share one reading of the RFCs, so the
// mock's self-check proves only consistency; these servers are the outside
// check. The package is its own module so that the main go.mod does not
// carry three OAuth libraries.
package interop

import (
	"crypto"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"tokenharness/internal/codes"
	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
)

// Client is a registered client's credentials.
type Client struct {
	ID, Secret string
}

// Server is one running token server.
type Server struct {
	Name    string
	Profile rules.Profile
	// Base is the server's root URL; Token its token endpoint.
	Base, Token string
	Client      Client
	Client2     Client
	RedirectURI string
	// Scope is what the harness requests: it must yield a refresh token.
	Scope string
	// Codes mints fresh codes (an auto-approving authorize endpoint, or a
	// driver of the server's login form).
	Codes codes.Source
	// Public: the clients are public (no secret, CLIENT_AUTH=none).
	Public bool
	// JWTKeyFile, when set: the clients authenticate with private_key_jwt
	// (RFC 7523), signing with this key; JWTKID is the "kid" header the
	// server looks the key up by, JWTAudience the "aud" the server takes
	// ("" for the token endpoint URL, the harness's default).
	JWTKeyFile, JWTKID, JWTAudience string
	// Grants, when set, are the grant types declared (GRANTS).
	Grants []string
	// DeviceAuthorization is the device authorization endpoint (RFC 8628
	// §3.1) and DeviceVerify a test verification endpoint approving or
	// denying a user_code (DEVICE_VERIFY_URL).
	DeviceAuthorization, DeviceVerify string
	// Notes describe how the server was configured, for the report.
	Notes []string

	srv *httptest.Server
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Config is the harness's run configuration for s.
func (s *Server) Config() (target.Config, error) {
	cfg := target.Default()
	cfg.Target = s.Token
	cfg.Profile = string(s.Profile)
	cfg.ClientID, cfg.ClientSecret = s.Client.ID, s.Client.Secret
	cfg.ClientAuth = oauth.AuthBasic
	cfg.Client2ID, cfg.Client2Secret = s.Client2.ID, s.Client2.Secret
	if s.Public {
		cfg.ClientSecret, cfg.Client2Secret, cfg.ClientAuth = "", "", oauth.AuthNone
	}
	if s.JWTKeyFile != "" {
		cfg.ClientSecret, cfg.Client2Secret, cfg.ClientAuth = "", "", oauth.AuthPrivateKeyJWT
		cfg.JWTKeyFile, cfg.JWTKID, cfg.JWTAudience = s.JWTKeyFile, s.JWTKID, s.JWTAudience
	}
	cfg.Grants = append(cfg.Grants, s.Grants...)
	cfg.DeviceAuthorizationURL, cfg.DeviceVerifyURL = s.DeviceAuthorization, s.DeviceVerify
	cfg.RedirectURI = s.RedirectURI
	cfg.Scope = s.Scope
	cfg.Timeout = 10 * time.Second
	if err := cfg.Validate(rules.ProfileNames()); err != nil {
		return cfg, fmt.Errorf("%s/%s: %w", s.Name, s.Profile, err)
	}
	return cfg, nil
}

// Options configure a server for one run.
type Options struct {
	Profile rules.Profile
	// Public registers the two clients as public clients (no secret), which
	// is whom RFC 9700's PKCE and refresh-rotation MUSTs address.
	Public bool
	// Variant is a configuration beside the default one: "" or one of
	// VariantJWT, VariantDevice.
	Variant string
}

// Variants of a server's configuration (Options.Variant), each the table's
// server name suffix.
const (
	// VariantJWT registers the two clients for private_key_jwt (RFC 7523
	// §2.2) with the public key of ES256KeyFile or RS256KeyFile.
	VariantJWT = "jwt"
	// VariantDevice serves the device authorization grant (RFC 8628) with
	// a test verification endpoint (DEVICE_VERIFY_URL).
	VariantDevice = "device"
)

// The clients' signing keys under VariantJWT: ES256 where the server takes
// it, RS256 where it takes only RSA.
const (
	ES256KeyFile = "../fixtures/keys/jwt-client-es256.pem"
	RS256KeyFile = "../fixtures/keys/jwt-client-rs256.pem"
)

// Starter starts one server.
type Starter func(o Options) (*Server, error)

// Run is one server configuration checked under some profiles; Name is the
// table's server column.
type Run struct {
	Name     string
	Start    Starter
	Public   bool
	Variant  string
	Profiles []rules.Profile
}

// Servers lists every run, in table order (README.md says why these
// profiles): each library with confidential clients under rfc6749 and
// oauth21, and with public clients under oauth21; and each feature a
// library serves that the default configuration does not exercise
// (private_key_jwt, the device grant) as its own variant.
var Servers = []Run{
	{"fosite", StartFosite, false, "", []rules.Profile{rules.RFC6749, rules.OAuth21}},
	{"fosite-public", StartFosite, true, "", []rules.Profile{rules.OAuth21}},
	{"fosite-jwt", StartFosite, false, VariantJWT, []rules.Profile{rules.RFC6749}},
	{"go-oauth2", StartGoOAuth2, false, "", []rules.Profile{rules.RFC6749, rules.OAuth21}},
	{"go-oauth2-public", StartGoOAuth2, true, "", []rules.Profile{rules.OAuth21}},
	{"zitadel", StartZitadel, false, "", []rules.Profile{rules.RFC6749, rules.OAuth21}},
	{"zitadel-public", StartZitadel, true, "", []rules.Profile{rules.OAuth21}},
	{"zitadel-jwt", StartZitadel, false, VariantJWT, []rules.Profile{rules.RFC6749}},
	{"zitadel-device", StartZitadel, false, VariantDevice, []rules.Profile{rules.RFC6749}},
}

// name is the table's server column for a server started with o.
func name(base string, o Options) string {
	switch {
	case o.Public:
		return base + "-public"
	case o.Variant != "":
		return base + "-" + o.Variant
	}
	return base
}

// serve starts h on 127.0.0.1 with a quiet error log (the harness sends
// hostile input on purpose).
func serve(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = quietLog
	srv.Start()
	return srv
}

var quietLog = log.New(io.Discard, "", 0)

// Fixed client credentials of every server.
var (
	client1 = Client{ID: "tokenharness-1", Secret: "tokenharness-secret-1"}
	client2 = Client{ID: "tokenharness-2", Secret: "tokenharness-secret-2"}
)

// callbackPath is the registered redirect URI's path; nothing listens there
// (codes are read from the redirect, never followed to it).
const callbackPath = "/callback"

// publicJWK is the public key of the PEM private key in file.
func publicJWK(file string) (crypto.PublicKey, error) {
	k, err := jwtsign.LoadPrivateKey(file)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	return k.Public(), nil
}
