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
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"tokenharness/internal/codes"
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
	cfg.RedirectURI = s.RedirectURI
	cfg.Scope = s.Scope
	cfg.Timeout = 10 * time.Second
	if err := cfg.Validate(rules.ProfileNames()); err != nil {
		return cfg, fmt.Errorf("%s/%s: %w", s.Name, s.Profile, err)
	}
	return cfg, nil
}

// Starter starts one server configured for profile p.
type Starter func(p rules.Profile) (*Server, error)

// Servers lists every server, in table order, with the profiles each is
// checked under (see README.md for why).
var Servers = []struct {
	Name     string
	Start    Starter
	Profiles []rules.Profile
}{
	{"fosite", StartFosite, []rules.Profile{rules.RFC6749, rules.OAuth21}},
	{"go-oauth2", StartGoOAuth2, []rules.Profile{rules.RFC6749, rules.OAuth21}},
	{"zitadel", StartZitadel, []rules.Profile{rules.RFC6749, rules.OAuth21}},
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
