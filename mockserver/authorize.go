package mockserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// serveAuthorize is GET /oauth/authorize (RFC 6749 §4.1.1): a test
// authorization endpoint that approves every valid request at once, for
// the resource owner Config.Subject, and redirects with code and state.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		rep := fail(oauth.ErrInvalidRequest, "method "+r.Method+" is not allowed: use GET")
		rep.status = http.StatusMethodNotAllowed
		s.write(w, rep.withHeader("Allow", http.MethodGet), nil)
		return
	}
	q, err := s.requestQuirks(r)
	if err != nil {
		s.write(w, fail(oauth.ErrInvalidRequest, err.Error()), nil)
		return
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.write(w, fail(oauth.ErrInvalidRequest, "malformed query string"), nil)
		return
	}
	p := authParams(vals)
	// RFC 6749 §4.1.2.1: "If the request fails due to a missing, invalid,
	// or mismatching redirection URI, or if the client identifier is missing
	// or invalid, the authorization server SHOULD inform the resource owner
	// of the error and MUST NOT automatically redirect the user-agent to the
	// invalid redirection URI."
	clientID, ok := p.one(oauth.ParamClientID)
	if !ok || clientID == "" {
		s.write(w, fail(oauth.ErrInvalidRequest, "client_id is missing or repeated"), nil)
		return
	}
	c, known := s.clients[clientID]
	if !known {
		s.write(w, fail(oauth.ErrInvalidRequest, "unknown client "+clientID), nil)
		return
	}
	q = q.with(c.Quirks)
	redirect, ok := p.one(oauth.ParamRedirectURI)
	if !ok {
		s.write(w, fail(oauth.ErrInvalidRequest, "redirect_uri is repeated"), nil)
		return
	}
	redirectGiven := redirect != ""
	switch {
	case redirectGiven && !slices.Contains(c.RedirectURIs, redirect):
		// RFC 9700 §4.1.3: redirect URIs are compared by exact string match.
		s.write(w, fail(oauth.ErrInvalidRequest, "redirect_uri is not registered for client "+clientID), nil)
		return
	case !redirectGiven && len(c.RedirectURIs) > 1:
		s.write(w, fail(oauth.ErrInvalidRequest, "redirect_uri is missing and client "+clientID+" has several"), nil)
		return
	case !redirectGiven:
		redirect = c.RedirectURIs[0]
	}

	code, rep := s.authorize(c, p, q)
	state, _ := p.one(oauth.ParamState)
	out := url.Values{}
	if rep != nil {
		out.Set(oauth.ParamError, rep.errCode)
		if d := rep.desc(); d != "" {
			out.Set(oauth.ParamErrorDescription, d)
		}
	} else {
		out.Set(oauth.ParamCode, code)
	}
	if state != "" {
		out.Set(oauth.ParamState, state)
	}
	g := &codeGrant{}
	if rep == nil {
		g = p.grant
		g.client, g.redirectURI, g.redirectGiven, g.expires = c.ID, redirect, redirectGiven, s.now().Add(s.cfg.CodeTTL)
		s.store.codes.put(code, g)
	}
	sep := "?"
	if strings.Contains(redirect, "?") {
		sep = "&"
	}
	h := w.Header()
	h.Set("Location", redirect+sep+out.Encode())
	h.Set(oauth.HeaderCacheControl, "no-store")
	h.Set(oauth.HeaderPragma, "no-cache")
	w.WriteHeader(http.StatusFound)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		errCode := ""
		if rep != nil {
			errCode = rep.errCode
		}
		s.log.Debug("authorize request", "client", clientID, "pkce", g.method, "error", errCode, "quirks", q)
	}
}

// authValues is an authorization request's parameters.
type authValues struct {
	vals  url.Values
	grant *codeGrant // filled by authorize: scope, PKCE and DPoP key binding
}

func authParams(v url.Values) *authValues { return &authValues{vals: v, grant: &codeGrant{}} }

// one returns parameter name, "" if absent or empty; ok is false if it is
// repeated (RFC 6749 §3.1: "Request and response parameters MUST NOT be
// included more than once").
func (p *authValues) one(name string) (string, bool) {
	vs := p.vals[name]
	if len(vs) > 1 {
		return "", false
	}
	if len(vs) == 0 {
		return "", true
	}
	return vs[0], true
}

// authorize validates what may be answered by redirect and returns a fresh
// code, or the error reply to redirect with.
func (s *Server) authorize(c *Client, p *authValues, q quirkSet) (string, *reply) {
	for name := range p.vals {
		if _, ok := p.one(name); !ok {
			return "", fail(oauth.ErrInvalidRequest, "parameter "+name+" is repeated")
		}
	}
	switch rt, _ := p.one(oauth.ParamResponseType); rt {
	case "code":
	case "":
		return "", fail(oauth.ErrInvalidRequest, "response_type is missing: use code")
	default:
		return "", fail(&oauth.Error{Code: "unsupported_response_type", Status: http.StatusBadRequest}, "response_type "+rt+" is not supported: use code")
	}
	if !c.allows(oauth.GrantAuthorizationCode) {
		return "", fail(oauth.ErrUnauthorizedClient, "client "+c.ID+" may not use the authorization code grant")
	}
	allowed, _ := parseScope(c.Scope)
	scope := allowed
	if asked, _ := p.one(oauth.ParamScope); asked != "" {
		want, ok := parseScope(asked)
		if !ok || !subset(want, allowed) {
			return "", fail(oauth.ErrInvalidScope, "scope must be a subset of: "+c.Scope)
		}
		scope = want
	}
	p.grant.scope = strings.Join(scope, " ")

	challenge, _ := p.one(oauth.ParamCodeChallenge)
	method, _ := p.one(oauth.ParamCodeChallengeMethod)
	switch {
	case challenge == "" && method != "":
		return "", fail(oauth.ErrInvalidRequest, "code_challenge_method without code_challenge")
	case challenge == "":
		// RFC 9700 §2.1.1 and RFC 7636 §4.4.1: a server that requires PKCE
		// answers a request without code_challenge with invalid_request.
		if s.beh.requirePKCE && !q.On(rules.PKCERequired.ID) && !q.On(rules.PKCEDowngrade.ID) {
			return "", fail(oauth.ErrInvalidRequest, "code_challenge is required: send code_challenge and code_challenge_method=S256")
		}
	default:
		if method == "" {
			method = oauth.PKCEPlain // RFC 7636 §4.3: "defaults to "plain""
		}
		if !s.beh.allowsChallengeMethod(method) {
			allowedMethods := "S256 or plain"
			if s.beh.s256Only {
				allowedMethods = "S256"
			}
			return "", fail(oauth.ErrInvalidRequest, "code_challenge_method "+method+" is not supported: use "+allowedMethods)
		}
		if !validPKCEString(challenge) {
			return "", fail(oauth.ErrInvalidRequest, "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
		}
		p.grant.challenge, p.grant.method = challenge, method
	}
	// RFC 9449 §10: dpop_jkt "is the JWK Thumbprint [RFC7638] of the
	// proof-of-possession public key using the SHA-256 hash function": a
	// base64url SHA-256 digest, which the code is bound to.
	if jkt, _ := p.one(oauth.ParamDPoPJKT); jkt != "" {
		if b, err := base64.RawURLEncoding.DecodeString(jkt); err != nil || len(b) != sha256.Size {
			return "", fail(oauth.ErrInvalidRequest, "dpop_jkt must be a base64url SHA-256 JWK thumbprint")
		}
		p.grant.jkt = jkt
	}
	return randomToken(), nil
}
