package mockserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// serveToken is POST /oauth/token.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q, err := s.requestQuirks(r)
	if err != nil {
		s.write(w, fail(oauth.ErrInvalidRequest, err.Error()), nil)
		return
	}
	body, tooLarge, readErr := readBody(r)
	if s.clientQuirks {
		q = s.clientQuirksOf(q, claimedClient(r, body))
	}
	rep, client := s.token(r, body, tooLarge, readErr, q)
	s.write(w, rep, q)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("token request", "method", r.Method, "grant", s.red.String(rep.grant),
			"client", s.red.String(client), "status", rep.status, "error", rep.errCode,
			"description", s.red.String(rep.desc()), "quirks", q, "duration", time.Since(start))
	}
}

// token answers one token request; client is who it was from, for logs.
func (s *Server) token(r *http.Request, body []byte, tooLarge bool, readErr error, q quirkSet) (rep *reply, client string) {
	form, rep := s.parseForm(r, body, tooLarge, readErr, q)
	if rep != nil {
		return rep, ""
	}
	grant, hasGrant := form[oauth.ParamGrantType]
	c, rep := s.authenticate(r, form, q)
	if rep == nil && c == nil && !(grant == oauth.GrantAuthorizationCode && q.On(rules.ClientIdentified.ID)) &&
		!(grant == oauth.GrantRefreshToken && q.On(rules.RefreshClientAuth.ID)) &&
		!(grant == oauth.GrantClientCredentials && q.On(rules.CCClientAuth.ID)) {
		// RFC 6749 §4.1.3: "require client authentication for confidential
		// clients ... ensure that the code was issued to "client_id" in the
		// request" -- a request naming no client can do neither; RFC 6749 §6
		// requires it on refresh too. The faults let a code exchange or a
		// refresh through and take the client from the code or the token.
		rep = s.invalidClient(false, q, "no client authentication: use client_secret_basic, client_secret_post, or client_id for a public client")
	}
	if rep != nil {
		rep.grant = grant
		return rep, form[oauth.ParamClientID]
	}
	dp, rep := s.verifyDPoP(r, q)
	if rep != nil {
		rep.grant = grant
		return rep, form[oauth.ParamClientID]
	}
	rep = s.grant(r, c, form, grant, hasGrant, dp, q)
	s.dpopIssued(dp, c, rep, q)
	rep.grant = grant
	if c != nil {
		client = c.ID
	}
	return rep, client
}

// grant checks the API key and the grant type, then runs the grant for
// client c (nil only under the CLIENT-IDENTIFIED and REFRESH-CLIENT-AUTH faults).
func (s *Server) grant(r *http.Request, c *Client, form map[string]string, grant string, hasGrant bool, dp *dpopProof, q quirkSet) *reply {
	if s.cfg.APIKey != "" && !q.On(rules.DressipiAPIKey.ID) {
		// dressipi Security: "API Key Header parameter name x-api-key".
		key := r.Header.Get("X-Api-Key")
		if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
			rep := fail(oauth.ErrInvalidClient, "missing or wrong x-api-key header")
			rep.status = http.StatusUnauthorized
			return rep.withHeader(oauth.HeaderWWWAuthenticate, `APIKey realm="tokenharness", header="x-api-key"`)
		}
	}
	if !hasGrant {
		// RFC 6749 §5.2 invalid_request: "The request is missing a required parameter".
		if !q.On(rules.MissingGrantType.ID) {
			return fail(oauth.ErrInvalidRequest, "grant_type is missing: use authorization_code or refresh_token")
		}
		return fail(oauth.ErrUnsupportedGrantType, "grant_type is not supported")
	}
	if grant == oauth.GrantPassword && q.On(rules.PasswordGrantRemoved.ID) {
		// The fault: run the password grant RFC 9700 §2.4 says "MUST NOT be
		// used", judging the resource owner's credentials.
		return fail(oauth.ErrInvalidGrant, "resource owner credentials are wrong")
	}
	if grant != oauth.GrantAuthorizationCode && grant != oauth.GrantRefreshToken && grant != oauth.GrantClientCredentials && grant != oauth.GrantDeviceCode {
		// RFC 6749 §5.2 unsupported_grant_type: "The authorization grant
		// type is not supported by the authorization server." The password
		// grant is one of them (RFC 9700 §2.4).
		if !q.On(rules.UnsupportedGrantType.ID) {
			return fail(oauth.ErrUnsupportedGrantType, "grant_type "+grant+" is not supported: use authorization_code, refresh_token or client_credentials")
		}
		return fail(oauth.ErrInvalidRequest, "invalid request")
	}
	// RFC 6749 §5.2 unauthorized_client: "The authenticated client is not
	// authorized to use this authorization grant type."
	if c != nil && !c.allows(grant) && !(grant == oauth.GrantClientCredentials && q.On(rules.CCUnauthorizedClient.ID)) {
		return fail(oauth.ErrUnauthorizedClient, "client "+c.ID+" may not use grant_type "+grant)
	}
	switch grant {
	case oauth.GrantAuthorizationCode:
		return s.redeemCode(c, form, dp, q)
	case oauth.GrantClientCredentials:
		return s.clientCredentials(c, form, q)
	case oauth.GrantDeviceCode:
		return s.deviceToken(c, form, q)
	}
	return s.refreshToken(c, form, dp, q)
}

// authenticate identifies the client (RFC 6749 §2.3). A nil client with a
// nil reply means the request named no client at all.
func (s *Server) authenticate(r *http.Request, form map[string]string, q quirkSet) (*Client, *reply) {
	if hasAssertion(form) {
		return s.authenticateJWT(r, form, q) // client_jwt.go
	}
	h := r.Header.Get(oauth.HeaderAuthorization)
	// RFC 6749 §2.3.1: "The authorization server MUST support the HTTP Basic
	// authentication scheme for authenticating clients that were issued a
	// client password." The fault ignores the header.
	if h != "" && !q.On(rules.BasicSupported.ID) {
		id, secret, ok := parseBasic(h)
		if !ok {
			return nil, s.invalidClient(true, q, "malformed Authorization header: send Basic base64(client_id:client_secret), each form-urlencoded")
		}
		// RFC 6749 §2.3: "The client MUST NOT use more than one
		// authentication method in each request."
		if _, both := form[oauth.ParamClientSecret]; both && !q.On(rules.OneAuthMethod.ID) {
			return nil, fail(oauth.ErrInvalidRequest, "more than one authentication method: send client_secret in the Authorization header or in the body, not both")
		}
		if bodyID, has := form[oauth.ParamClientID]; has && bodyID != id {
			return nil, fail(oauth.ErrInvalidRequest, "client_id in the body differs from the Basic credentials")
		}
		return s.verifyClient(id, secret, oauth.AuthBasic, form[oauth.ParamGrantType], q)
	}
	if secret, has := form[oauth.ParamClientSecret]; has {
		id, has := form[oauth.ParamClientID]
		if !has {
			return nil, s.invalidClient(false, q, "client_secret without client_id")
		}
		return s.verifyClient(id, secret, oauth.AuthPost, form[oauth.ParamGrantType], q)
	}
	if id, has := form[oauth.ParamClientID]; has {
		return s.verifyClient(id, "", oauth.AuthNone, form[oauth.ParamGrantType], q)
	}
	return nil, nil
}

// verifyClient checks the credentials of client id presented with method m.
func (s *Server) verifyClient(id, secret string, m oauth.AuthMethod, grant string, q quirkSet) (*Client, *reply) {
	basic := m == oauth.AuthBasic
	c, ok := s.clients[id]
	if !ok {
		// RFC 6749 §5.2 invalid_client: "Client authentication failed
		// (e.g., unknown client, ...)". The fault takes any unknown id for a
		// public client and ignores its secret.
		if !q.On(rules.UnknownClient.ID) {
			return nil, s.invalidClient(basic, q, "unknown client")
		}
		return &Client{ID: id, AuthMethods: []oauth.AuthMethod{m},
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}}, nil
	}
	// commoninja "Request Parameters": client_id and client_secret in the
	// body authenticate the client. The fault refuses them there.
	// OAuth 2.1 §2.4.1: the server "MUST support the client including the
	// client credentials in the request body content"; the fault refuses them too.
	if m == oauth.AuthPost && (q.On(rules.CommoninjaSecretInBody.ID) || q.On(rules.OAuth21SecretPost.ID)) {
		return nil, s.invalidClient(false, q, "client_secret in the body is not accepted")
	}
	switch {
	case c.Secret == "" && m != oauth.AuthNone:
		return nil, s.invalidClient(basic, q, "client "+id+" is public: send client_id in the body without a secret")
	case c.Secret != "" && m == oauth.AuthNone:
		// RFC 6749 §3.2.1: "Confidential clients ... MUST authenticate with
		// the authorization server ... when making requests to the token endpoint."
		return nil, s.invalidClient(basic, q, "client "+id+" is confidential: authenticate with client_secret_basic or client_secret_post")
	// RFC 6749 §6: a refresh authenticates a confidential client too; the
	// RefreshWrongSecret fault skips the check on that grant only.
	// RFC 6749 §4.4.3: client_credentials too; its fault skips the check
	// on that grant only.
	case c.Secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 &&
		!q.On(rules.WrongSecret.ID) && !(grant == oauth.GrantRefreshToken && q.On(rules.RefreshWrongSecret.ID)) &&
		!(grant == oauth.GrantClientCredentials && q.On(rules.CCWrongSecret.ID)):
		return nil, s.invalidClient(basic, q, "client authentication failed")
	case !c.accepts(m):
		return nil, s.invalidClient(basic, q, "client "+id+" is not registered for "+string(m))
	}
	return c, nil
}

// invalidClient is the invalid_client reply. RFC 6749 §5.2: "If the client
// attempted to authenticate via the "Authorization" request header field,
// the authorization server MUST respond with an HTTP 401 (Unauthorized)
// status code and include the "WWW-Authenticate" response header field";
// otherwise 400, or 401 under the legal variation.
func (s *Server) invalidClient(basic bool, q quirkSet, desc string) *reply {
	rep := fail(oauth.ErrInvalidClient, desc)
	if basic || q.On(rules.VarInvalidClient401.ID) {
		rep.status = http.StatusUnauthorized
		return rep.withHeader(oauth.HeaderWWWAuthenticate, `Basic realm="tokenharness"`)
	}
	rep.status = http.StatusBadRequest
	return rep
}

// redeemCode is the authorization_code grant (RFC 6749 §4.1.3).
func (s *Server) redeemCode(c *Client, form map[string]string, dp *dpopProof, q quirkSet) *reply {
	code, has := form[oauth.ParamCode]
	if !has {
		return fail(oauth.ErrInvalidRequest, "code is missing")
	}
	now := s.now()
	cg, ok := s.store.codes.get(code)
	if !ok || !now.Before(cg.expires) {
		// RFC 6749 §5.2 invalid_grant: "The provided authorization grant
		// (e.g., authorization code ...) ... is invalid, expired, revoked".
		if !q.On(rules.InvalidGrant.ID) {
			return fail(oauth.ErrInvalidGrant, "authorization code is unknown or expired")
		}
		return fail(oauth.ErrInvalidRequest, "invalid request")
	}
	if c == nil {
		// Only under the CLIENT-IDENTIFIED fault: the code names the client.
		if c = s.clients[cg.client]; c == nil {
			return fail(oauth.ErrInvalidGrant, "authorization code is unknown or expired")
		}
	}
	// RFC 6749 §4.1.3: "ensure that the authorization code was issued to
	// the authenticated confidential client, or if the client is public,
	// ensure that the code was issued to "client_id" in the request".
	if cg.client != c.ID && !q.On(rules.CodeClientBound.ID) {
		return fail(oauth.ErrInvalidGrant, "authorization code was issued to another client")
	}
	// RFC 6749 §4.1.3: "ensure that the "redirect_uri" parameter is present
	// if the "redirect_uri" parameter was included in the initial
	// authorization request ... and if included ensure that their values
	// are identical." dressipi requires it on every request.
	uri, hasURI := form[oauth.ParamRedirectURI]
	if !hasURI && (cg.redirectGiven || s.beh.info.FixedRedirect != "") && !q.On(rules.CodeRedirectRequired.ID) {
		return fail(oauth.ErrInvalidRequest, "redirect_uri is missing: send the one of the authorization request")
	}
	if hasURI && uri != cg.redirectURI && !q.On(rules.CodeRedirectMatch.ID) {
		return fail(oauth.ErrInvalidGrant, "redirect_uri differs from the one of the authorization request")
	}
	if q.On(rules.OAuth21InvalidReplayKeepsTokens.ID) {
		// The fault: judge a replay before its other parameters, so a replay
		// with a wrong code_verifier revokes what the code issued. OAuth 2.1
		// §7.5.2: "The authorization server SHOULD NOT revoke any issued
		// tokens when receiving a replayed authorization code that contains
		// invalid parameters."
		cg.mu.Lock()
		used, issued := cg.used, cg.issued
		cg.mu.Unlock()
		if used {
			for _, f := range issued {
				f.revoke()
			}
			return fail(oauth.ErrInvalidGrant, "authorization code was already used")
		}
	}
	if rep := s.checkPKCE(cg, form, q); rep != nil {
		return rep
	}
	// RFC 9449 §10: "When a token request is received, the authorization
	// server computes the JWK Thumbprint of the proof-of-possession public
	// key in the DPoP proof and verifies that it matches the dpop_jkt
	// parameter value in the authorization request. If they do not match,
	// it MUST reject the request." A request without a proof matches no
	// key. The fault skips the check.
	if cg.jkt != "" && (dp == nil || dp.jkt != cg.jkt) && !q.On(rules.DPoPJKT.ID) {
		return fail(oauth.ErrInvalidGrant, "authorization code is bound to another DPoP key (dpop_jkt): send a proof of the key it was requested for")
	}
	cg.mu.Lock()
	if s.raceCheck != nil {
		s.raceCheck(cg)
	}
	// RFC 6749 §4.1.2: "If an authorization code is used more than once,
	// the authorization server MUST deny the request and SHOULD revoke
	// (when possible) all tokens previously issued based on that
	// authorization code."
	if cg.used && !q.On(rules.CodeSingleUse.ID) {
		issued := cg.issued
		cg.mu.Unlock()
		if q.On(rules.CodeReplayRevokes.ID) {
			return fail(oauth.ErrInvalidGrant, "authorization code was already used")
		}
		for _, f := range issued {
			f.revoke()
		}
		return fail(oauth.ErrInvalidGrant, "authorization code was already used: the tokens issued from it are revoked")
	}
	if q.On(rules.CodeRace.ID) {
		// Subtleness ahead: this is the fault, the check-then-act race. The
		// code was checked unused under the lock; releasing it before
		// marking lets every request that arrives meanwhile pass the same
		// check, so they all win.
		cg.mu.Unlock()
		s.sleep(s.raceWindow)
		cg.mu.Lock()
	}
	cg.used = true
	fam := s.store.newFamily(c.ID, cg.scope, now.Add(max(s.cfg.RefreshTTL, s.cfg.AccessTTL)))
	cg.issued = append(cg.issued, fam)
	cg.mu.Unlock()

	fam.mu.Lock()
	defer fam.mu.Unlock()
	access := s.mintAccess(fam, now)
	refresh := ""
	if c.allows(oauth.GrantRefreshToken) {
		refresh = randomToken()
		s.store.issueRefresh(fam, refresh, now.Add(s.cfg.RefreshTTL))
	}
	return s.tokens(oauth.GrantAuthorizationCode, access, refresh, cg.scope)
}

// clientCredentials is the client_credentials grant (RFC 6749 §4.4.3): an
// access token for the client itself, no refresh token. c is nil only under
// the CC-CLIENT-AUTH fault.
func (s *Server) clientCredentials(c *Client, form map[string]string, q quirkSet) *reply {
	id, allowed := "", []string(nil)
	if c != nil {
		if !c.confidential() {
			// RFC 6749 §4.4: "The client credentials grant type MUST only be
			// used by confidential clients."
			return fail(oauth.ErrUnauthorizedClient, "client "+c.ID+" is public: client_credentials is for confidential clients")
		}
		id = c.ID
		allowed, _ = parseScope(c.Scope)
	}
	scope, narrowed := strings.Join(allowed, " "), false
	if asked, has := form[oauth.ParamScope]; has {
		want, ok := parseScope(asked)
		if !ok {
			return fail(oauth.ErrInvalidScope, "scope has characters outside %x21 / %x23-5B / %x5D-7E")
		}
		// RFC 6749 §5.2 invalid_scope: "The requested scope is invalid,
		// unknown, ...". The fault grants whatever was asked.
		if c != nil && !subset(want, allowed) && !q.On(rules.CCNoUpscope.ID) {
			if !q.On(rules.VarUpscopeIgnored.ID) {
				return fail(oauth.ErrInvalidScope, "requested scope exceeds the client's scope")
			}
			// The variation: RFC 6749 §3.3 "The authorization server MAY
			// fully or partially ignore the scope requested by the client".
			var kept []string
			for _, w := range want {
				if slices.Contains(allowed, w) {
					kept = append(kept, w)
				}
			}
			want, narrowed = kept, true
		}
		scope = strings.Join(want, " ")
	}
	now := s.now()
	fam := s.store.newFamily(id, scope, now.Add(s.cfg.AccessTTL))
	fam.mu.Lock()
	access := s.mintAccess(fam, now)
	fam.mu.Unlock()
	// RFC 6749 §4.4.3: "A refresh token SHOULD NOT be included."
	rep := s.tokens(oauth.GrantClientCredentials, access, "", scope)
	if narrowed {
		// RFC 6749 §3.3: the issued scope differs from the request, so the
		// response "MUST include the "scope" response parameter".
		rep.set(oauth.ParamScope, scope)
	}
	return rep
}

// checkPKCE verifies the code_verifier against the code's challenge
// (RFC 7636 §4.6; RFC 9700 §2.1.1).
func (s *Server) checkPKCE(cg *codeGrant, form map[string]string, q quirkSet) *reply {
	verifier, hasVerifier := form[oauth.ParamCodeVerifier]
	if cg.challenge == "" {
		// RFC 9700 §2.1.1: authorization servers MUST support PKCE; the
		// profiles that require it never redeem a code issued without one.
		// The downgrade fault lets such a code through as well: a server
		// that requires PKCE defends against downgrades implicitly.
		if s.beh.requirePKCE && !q.On(rules.PKCERequired.ID) && !q.On(rules.PKCEDowngrade.ID) {
			return fail(oauth.ErrInvalidGrant, "authorization code was issued without code_challenge: this server requires PKCE")
		}
		// RFC 9700 §2.1.1: "ensuring that a token request containing a
		// code_verifier parameter is accepted only if a code_challenge
		// parameter was present in the authorization request".
		if hasVerifier && !q.On(rules.PKCEDowngrade.ID) {
			return fail(oauth.ErrInvalidGrant, "code_verifier sent for a code issued without code_challenge")
		}
		return nil
	}
	// RFC 9700 §2.1.1: "ensure that if a code_challenge was present in the
	// authorization request, a code_verifier is present in the token request."
	if !hasVerifier {
		if !q.On(rules.PKCEVerifierRequired.ID) {
			return fail(oauth.ErrInvalidGrant, "code_verifier is missing")
		}
		return nil
	}
	// RFC 7636 §4.1: code-verifier = 43*128unreserved.
	if !validPKCEString(verifier) && !q.On(rules.PKCEVerifierSyntax.ID) {
		return fail(oauth.ErrInvalidGrant, "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	// RFC 7636 §4.6: "If the values are not equal, an error response
	// indicating "invalid_grant" ... MUST be returned."
	// RFC 7636 §4.5: the method bound to the code "is the method that the
	// token endpoint MUST use to verify the "code_verifier""; the fault
	// also takes the challenge itself, as if the method were plain.
	if !pkceMatches(cg.method, cg.challenge, verifier) && !q.On(rules.PKCEVerified.ID) &&
		!(q.On(rules.PKCEMethodBound.ID) && pkceMatches(oauth.PKCEPlain, cg.challenge, verifier)) {
		return fail(oauth.ErrInvalidGrant, "code_verifier does not match the code_challenge")
	}
	return nil
}

// validPKCEString reports whether s is 43*128unreserved (RFC 7636 §4.1,
// §4.2), the syntax of both verifier and challenge.
func validPKCEString(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func pkceMatches(method, challenge, verifier string) bool {
	if method == oauth.PKCES256 {
		sum := sha256.Sum256([]byte(verifier))
		verifier = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(verifier), []byte(challenge)) == 1
}

// refreshToken is the refresh_token grant (RFC 6749 §6) with rotation and
// reuse detection (RFC 9700 §4.14.2).
func (s *Server) refreshToken(c *Client, form map[string]string, dp *dpopProof, q quirkSet) *reply {
	token, has := form[oauth.ParamRefreshToken]
	if !has {
		return fail(oauth.ErrInvalidRequest, "refresh_token is missing")
	}
	uri, hasURI := form[oauth.ParamRedirectURI]
	switch {
	case s.beh.info.RefreshRedirect:
		// dressipi "Body parameters": redirect_uri Required, valid values
		// [ "urn:ietf:wg:oauth:2.0:oob:auto" ], on both grants.
		if !hasURI && !q.On(rules.DressipiRefreshRedirectRequired.ID) {
			return fail(oauth.ErrInvalidRequest, "redirect_uri is missing: send "+s.beh.info.FixedRedirect)
		}
		if hasURI && s.beh.info.FixedRedirect != "" && uri != s.beh.info.FixedRedirect && !q.On(rules.DressipiRefreshRedirectOOB.ID) {
			return fail(oauth.ErrInvalidGrant, "redirect_uri must be "+s.beh.info.FixedRedirect)
		}
	case !hasURI && q.On(rules.RefreshWithoutRedirect.ID):
		// The fault: demand a parameter RFC 6749 §6 does not define.
		return fail(oauth.ErrInvalidRequest, "redirect_uri is missing")
	}
	now := s.now()
	rg, ok := s.store.refresh.get(token)
	if !ok || !now.Before(rg.expires) {
		// RFC 6749 §5.2 invalid_grant: "... or refresh token is invalid,
		// expired, revoked".
		if !q.On(rules.RefreshInvalid.ID) {
			return fail(oauth.ErrInvalidGrant, "refresh token is unknown or expired")
		}
		return fail(oauth.ErrInvalidRequest, "invalid request")
	}
	fam := rg.fam
	// RFC 9449 §5: "The binding MUST be validated when the refresh token is
	// later presented to get new access tokens." The fault skips it.
	if bound := fam.jkt.Load(); bound != nil && (dp == nil || dp.jkt != *bound) && !q.On(rules.DPoPRefreshBound.ID) {
		return fail(oauth.ErrInvalidGrant, "refresh token is bound to another DPoP key: send a proof of the key it was issued with")
	}
	if fam.revoked.Load() {
		return fail(oauth.ErrInvalidGrant, "refresh token was revoked")
	}
	if c == nil {
		// Only under the REFRESH-CLIENT-AUTH fault: the token names the client.
		if c = s.clients[fam.client]; c == nil {
			return fail(oauth.ErrInvalidGrant, "refresh token is unknown or expired")
		}
	}
	// RFC 6749 §6: "validate the refresh token and ensure that it was
	// issued to the authenticated client".
	if fam.client != c.ID && !q.On(rules.RefreshClientBound.ID) {
		return fail(oauth.ErrInvalidGrant, "refresh token was issued to another client")
	}
	scope, narrowed := fam.scope, false
	if asked, has := form[oauth.ParamScope]; has {
		want, ok := parseScope(asked)
		granted, _ := parseScope(fam.scope)
		// RFC 6749 §5.2 invalid_scope: "The requested scope is invalid,
		// unknown, malformed, ...".
		switch {
		case ok:
		case q.On(rules.InvalidScope.ID):
			// The fault: the malformed scope is issued as asked.
			want = strings.Fields(asked)
			granted = want
		case q.On(rules.VarUpscopeIgnored.ID):
			// The variation: §3.3 lets the server ignore it, keeping the
			// original scope and saying so.
			want, narrowed = granted, true
		default:
			return fail(oauth.ErrInvalidScope, "scope has characters outside %x21 / %x23-5B / %x5D-7E")
		}
		// RFC 6749 §6: "The requested scope MUST NOT include any scope not
		// originally granted by the resource owner".
		if !subset(want, granted) && !q.On(rules.RefreshNoUpscope.ID) {
			if !q.On(rules.VarUpscopeIgnored.ID) {
				return fail(oauth.ErrInvalidScope, "requested scope exceeds the scope originally granted")
			}
			// The variation: RFC 6749 §3.3 "The authorization server MAY
			// fully or partially ignore the scope requested by the client".
			want, narrowed = granted, true
		}
		scope = strings.Join(want, " ")
	}
	rotate := s.rotates(q)

	fam.mu.Lock()
	defer fam.mu.Unlock()
	if s.raceCheck != nil {
		s.raceCheck(token)
	}
	// Subtleness ahead: read the clock again under the family lock. A
	// concurrent refresh that read it before the winner rotated would
	// otherwise see a retirement "in its future" and pass as a retry
	// within the grace period, even with no grace at all.
	now = s.now()
	if fam.revoked.Load() {
		return fail(oauth.ErrInvalidGrant, "refresh token was revoked")
	}
	next := token
	switch {
	case !rg.retiredAt.IsZero():
		// A rotated-out token. Within the grace period it is a client
		// retrying a refresh whose answer it lost: answer with the active
		// token, rotating nothing. After it, RFC 9700 §4.14.2: "If a refresh
		// token is compromised and subsequently used by both the attacker
		// and the legitimate client, one of them will present an
		// invalidated refresh token, which will inform the authorization
		// server of the breach" -- and the whole family is revoked.
		inGrace := s.cfg.RotationGrace > 0 && now.Before(rg.retiredAt.Add(s.cfg.RotationGrace))
		if !inGrace && !q.On(rules.RefreshReuseRejected.ID) {
			if !q.On(rules.RefreshReuseRevokesFamily.ID) {
				fam.revoke()
				return fail(oauth.ErrInvalidGrant, "refresh token was rotated out and presented again: its token family is revoked")
			}
			return fail(oauth.ErrInvalidGrant, "refresh token was rotated out")
		}
		next = fam.current
	case rotate:
		if q.On(rules.RefreshRace.ID) {
			// Subtleness ahead: the fault. The token was checked active
			// under the family lock; releasing it before rotating lets
			// concurrent refreshes of the same token all rotate it.
			fam.mu.Unlock()
			s.sleep(s.raceWindow)
			fam.mu.Lock()
		}
		next = randomToken()
		s.store.retire(fam, rg, token, now)
		s.store.issueRefresh(fam, next, now.Add(s.cfg.RefreshTTL))
		if q.On(rules.RotatedScopeKept.ID) {
			// The fault: the new refresh token takes the narrowed scope of
			// this refresh. RFC 6749 §6: "the refresh token scope MUST be
			// identical to that of the refresh token included by the client".
			fam.scope = scope
		}
	}
	access := s.mintAccess(fam, now)
	if next == token && s.beh.shape != shapeDressipi {
		// Not rotated: RFC 6749 §6 makes a new refresh token optional, and
		// the client keeps the one it has.
		next = ""
	}
	rep := s.tokens(oauth.GrantRefreshToken, access, next, scope)
	if narrowed {
		// RFC 6749 §5.1: scope is REQUIRED when it differs from the request.
		rep.set(oauth.ParamScope, scope)
	}
	return rep
}

// rotates reports whether a refresh rotates the refresh token.
func (s *Server) rotates(q quirkSet) bool {
	if s.beh.rotate {
		// RFC 9700 §4.14.2: "the authorization server issues a new refresh
		// token with every access token refresh response."
		return !q.On(rules.RefreshRotation.ID) && !q.On(rules.VarNoRotation.ID)
	}
	// RFC 6749 §6: "The authorization server MAY issue a new refresh token".
	return q.On(rules.VarRefreshRotation.ID)
}

// mintAccess issues an access token of fam; the caller holds fam.mu.
func (s *Server) mintAccess(fam *family, now time.Time) string {
	exp := now.Add(s.cfg.AccessTTL)
	fam.extend(exp)
	id := accessID(fam.id, exp)
	if s.beh.jwtAccess {
		return signJWT(s.cfg.JWTKey, s.cfg.Subject, id, now, exp)
	}
	return id
}

// tokens is the success reply in the profile's shape (RFC 6749 §5.1 and
// the vendor documents' examples). refresh is "" when none is issued.
func (s *Server) tokens(grant, access, refresh, scope string) *reply {
	expiresIn := seconds(s.cfg.AccessTTL)
	ms := make([]member, 0, 6)
	ms = append(ms, member{oauth.ParamAccessToken, access})
	switch s.beh.shape {
	case shapeCommoninja:
		ms = append(ms, member{oauth.ParamExpiresIn, expiresIn})
		if refresh != "" {
			ms = append(ms, member{oauth.ParamRefreshToken, refresh},
				member{oauth.ParamRefreshTokenExpiresIn, seconds(s.cfg.RefreshTTL)})
		}
	case shapeDressipi:
		ms = append(ms, member{oauth.ParamTokenType, "Bearer"}, member{oauth.ParamExpiresIn, expiresIn})
		if refresh != "" {
			ms = append(ms, member{oauth.ParamRefreshToken, refresh})
		}
	default:
		ms = append(ms, member{oauth.ParamTokenType, "Bearer"}, member{oauth.ParamExpiresIn, expiresIn})
		if refresh != "" {
			ms = append(ms, member{oauth.ParamRefreshToken, refresh})
		}
		if scope != "" {
			ms = append(ms, member{oauth.ParamScope, scope})
		}
	}
	return success(grant, ms...)
}

// seconds rounds d up to whole seconds, so a sub-second lifetime is not
// announced as expires_in 0.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }
