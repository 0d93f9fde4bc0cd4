package rules

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"tokenharness/internal/oauth"
)

// Env is what a rule's flow can do at a target. Package conform implements
// it over a real HTTP client; every exchange it makes is kept as evidence.
type Env interface {
	// Profile is the profile under test.
	Profile() ProfileInfo
	// Has reports whether the run's configuration satisfies n.
	Has(n Need) bool
	// RedirectURI is the configured redirect URI; Scope the configured scope.
	RedirectURI() string
	Scope() string
	// Code obtains a fresh authorization code bound to the harness's own
	// PKCE verifier. A missing code source is reported as *Unavailable.
	Code(ctx context.Context, o CodeOptions) (*Grant, error)
	// Do sends one token request, applying client authentication as r asks.
	Do(ctx context.Context, r Request) *oauth.Exchange
	// Race sends all requests so that they reach the target together
	// (last-byte synchronised) and reports each exchange, in order, and how
	// far apart the requests were completed.
	Race(ctx context.Context, rs ...Request) RaceResult
	// RaceBudget is how hard a race rule may try (RACE_ATTEMPTS, RACE_BUDGET).
	RaceBudget() RaceBudget
}

// RaceResult is what one Env.Race observed.
type RaceResult struct {
	Exchanges []*oauth.Exchange
	// Spread is the time from the first to the last request being completed
	// (its last byte written); zero when fewer than two were, and when one
	// packet completed them all.
	Spread time.Duration
	// Via says how they were released: "h2 single packet" or
	// "http/1.1 last byte" (probe.ViaH2, probe.ViaHTTP1).
	Via string
}

// RaceBudget bounds a race rule: it races with fresh grants at most
// Attempts times, and starts no attempt once Time has passed.
type RaceBudget struct {
	Attempts int
	Time     time.Duration
}

// Client selects whose credentials a request carries.
type Client int

const (
	Client1 Client = 1 // CLIENT_ID / CLIENT_SECRET
	Client2 Client = 2 // CLIENT2_ID / CLIENT2_SECRET
	// ClientRestricted is RESTRICTED_CLIENT_ID / RESTRICTED_CLIENT_SECRET,
	// a client not allowed the client_credentials grant.
	ClientRestricted Client = 3
)

// Auth says how a request authenticates its client.
type Auth string

const (
	AuthConfigured  Auth = ""             // the client's configured method
	AuthOmit        Auth = "omit"         // no client identification at all
	AuthBoth        Auth = "both"         // Basic header and client_secret in the body
	AuthWrongSecret Auth = "wrong-secret" // the configured method with a wrong secret
	AuthBasic       Auth = "basic"        // client_secret_basic regardless of configuration
	// AuthBasicWrongSecret is client_secret_basic with a wrong secret.
	AuthBasicWrongSecret Auth = "basic-wrong-secret"
	AuthQuery            Auth = "query" // client_id and client_secret in the URL query
	AuthPost             Auth = "post"  // client_secret_post regardless of configuration
)

// Request is a token request in the rule's terms; Env turns it into HTTP.
type Request struct {
	Step   string // role in the flow, shown in evidence
	Method string // default POST
	Client Client // default Client1
	Auth   Auth
	// Form is the body's parameters before client authentication is added.
	Form url.Values
	// JSON sends Form (client credentials included) as a JSON object.
	JSON bool
	// ContentType overrides the media type the body is labelled with.
	ContentType string
	// Body, when set, is sent verbatim instead of Form.
	Body []byte
	// Query parameters go in the URL (Method GET puts Form there too).
	Query  url.Values
	Header http.Header
	// OmitHeaders names configured extra headers (HEADERS) to leave out.
	OmitHeaders []string
	// DPoP, when set, has Env sign a DPoP proof for the request with the
	// run's key (RFC 9449 §4.2); see DPoPProof.
	DPoP *DPoPProof
	// Assertion is the client assertion AuthJWTAssertion sends verbatim
	// (a replay).
	Assertion string
}

// CodeOptions shape an authorization request.
type CodeOptions struct {
	Client Client
	// PKCE is the challenge method: "" uses the profile's (S256 if it has
	// none, since PKCE-unaware servers ignore it), "none" sends no challenge.
	PKCE string
	// Verifier overrides the generated code verifier.
	Verifier string
	Scope    string
	// DPoPJKT binds the code to the run's DPoP key: the authorization
	// request carries dpop_jkt, the key's JWK thumbprint (RFC 9449 §10).
	DPoPJKT bool
}

// PKCENone asks for a code without a code challenge.
const PKCENone = "none"

// Grant is a fresh authorization code and what it was bound to.
type Grant struct {
	Code        string
	Client      Client
	RedirectURI string
	Scope       string
	Method      string // PKCE method, or PKCENone
	Verifier    string
	Challenge   string
}

// Unavailable reports that a rule's precondition cannot be met in this run.
type Unavailable struct{ Reason string }

func (u *Unavailable) Error() string { return "unavailable: " + u.Reason }

func asUnavailable(err error, u **Unavailable) bool { return errors.As(err, u) }

// Redeem builds the code exchange for g (RFC 6749 §4.1.3).
func Redeem(g *Grant) Request {
	f := url.Values{oauth.ParamGrantType: {oauth.GrantAuthorizationCode}, oauth.ParamCode: {g.Code}}
	if g.RedirectURI != "" {
		f.Set(oauth.ParamRedirectURI, g.RedirectURI)
	}
	if g.Method != PKCENone && g.Verifier != "" {
		f.Set(oauth.ParamCodeVerifier, g.Verifier)
	}
	return Request{Step: "redeem code", Client: g.Client, Form: f}
}

// Refresh builds a refresh request for token rt (RFC 6749 §6), adding
// redirect_uri where the profile's document requires it.
func Refresh(e Env, rt string) Request {
	f := url.Values{oauth.ParamGrantType: {oauth.GrantRefreshToken}, oauth.ParamRefreshToken: {rt}}
	if e.Profile().RefreshRedirect && e.RedirectURI() != "" {
		f.Set(oauth.ParamRedirectURI, e.RedirectURI())
	}
	return Request{Step: "refresh", Client: Client1, Form: f}
}

// Start is the state a Send begins from.
type Start int

const (
	// FromNothing sends without any prior state.
	FromNothing Start = iota
	// FromCode mints a fresh code first.
	FromCode
	// FromTokens mints and redeems a code first, needing a refresh token.
	FromTokens
	// FromAccess mints and redeems a code first, needing only success.
	FromAccess
)

// State is what a Send's starting step produced.
type State struct {
	Env     Env
	Grant   *Grant
	Tokens  *oauth.Exchange // the code exchange's response
	Refresh string          // the refresh token it issued
}

// Send is a rule that reaches a starting state, then sends one request.
type Send struct {
	From  Start
	Code  CodeOptions
	Build func(s *State) Request
}

func (s *Send) flow() Flow {
	return func(ctx context.Context, e Env) Outcome {
		st := &State{Env: e}
		switch s.From {
		case FromCode:
			g, err := e.Code(ctx, s.Code)
			if err != nil {
				return SetupFailed(nil, err)
			}
			st.Grant = g
		case FromTokens, FromAccess:
			g, x, rt, err := Tokens(ctx, e, s.Code)
			if err != nil {
				return SetupFailed(x, err)
			}
			if s.From == FromTokens && rt == "" {
				return Outcome{Skip: "the code exchange issued no refresh_token, so refresh behaviour cannot be checked"}
			}
			st.Grant, st.Tokens, st.Refresh = g, x, rt
		}
		return Judge(e.Do(ctx, s.Build(st)))
	}
}

// Tokens mints a fresh code and redeems it, returning the grant, the
// exchange and the refresh token ("" if none was issued). A redemption that
// does not succeed is an error: the rule could not reach its starting state.
func Tokens(ctx context.Context, e Env, o CodeOptions) (*Grant, *oauth.Exchange, string, error) {
	g, err := e.Code(ctx, o)
	if err != nil {
		return nil, nil, "", err
	}
	x := e.Do(ctx, Redeem(g))
	if err := Success().Fn(x); err != nil {
		return g, x, "", fmt.Errorf("redeeming a fresh code: %w", err)
	}
	rt, _ := x.Response.String(oauth.ParamRefreshToken)
	return g, x, rt, nil
}

// RefreshOK refreshes rt and returns the exchange and the refresh token to
// use next (the rotated one, or rt when the server did not rotate).
func RefreshOK(ctx context.Context, e Env, rt, step string) (*oauth.Exchange, string, error) {
	r := Refresh(e, rt)
	r.Step = step
	x := e.Do(ctx, r)
	if err := Success().Fn(x); err != nil {
		return x, "", fmt.Errorf("%s: %w", step, err)
	}
	if next, ok := x.Response.String(oauth.ParamRefreshToken); ok && next != "" {
		return x, next, nil
	}
	return x, rt, nil
}
