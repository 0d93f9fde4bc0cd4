package interop

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
	"golang.org/x/crypto/bcrypt"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// redirectURI is registered with every server; nothing listens there.
const redirectURI = "http://127.0.0.1:8080" + callbackPath

// StartFosite serves ory/fosite v0.49.0, composed with every handler
// (compose.ComposeAllEnabled) over its in-memory store, at /oauth/token,
// with an /oauth/authorize endpoint that approves every request and grants
// every requested scope. Under oauth21 it enforces PKCE (Config.EnforcePKCE).
// Public clients are fosite.DefaultClient{Public: true}, without a secret.
//
// VariantJWT registers the clients as fosite.DefaultOpenIDConnectClient with
// TokenEndpointAuthMethod "private_key_jwt", alg ES256 and the public key of
// ES256KeyFile (use "sig"); Config.TokenURL, the "aud" fosite requires, is
// the token endpoint URL. They have the client_credentials grant only, the
// machine client private_key_jwt is mostly for: with codes, every one of
// the 16 racers of the code race rule first has its assertion's jti
// recorded by MemoryStore.SetClientAssertionJWT, which scans every jti
// recorded so far under one mutex, so the racers reach the code lookup
// one by one and fosite's code race (see the fosite rows) is caught in
// some runs only -- a verdict that comes and goes. fosite v0.49.0 has no
// device authorization grant.
func StartFosite(o Options) (*Server, error) {
	p := o.Profile
	if o.Variant != "" && o.Variant != VariantJWT {
		return nil, fmt.Errorf("fosite v0.49.0 has no %s variant", o.Variant)
	}
	var jwks *jose.JSONWebKeySet
	if o.Variant == VariantJWT {
		pub, err := publicJWK(ES256KeyFile)
		if err != nil {
			return nil, err
		}
		jwks = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, Use: "sig", Algorithm: "ES256"}}}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	cfg := &fosite.Config{
		GlobalSecret: []byte("tokenharness-interop-global-secret-0123456789"),
		// bcrypt at its minimum cost: the default (12) costs ~250 ms per
		// client authentication on a shared CI core.
		HashCost:             bcrypt.MinCost,
		AccessTokenLifespan:  time.Hour,
		RefreshTokenLifespan: 24 * time.Hour,
		EnforcePKCE:          p == rules.OAuth21,
	}
	mem := storage.NewMemoryStore()
	store := &copyingStore{MemoryStore: mem}
	for _, c := range []Client{client1, client2} {
		var h []byte
		if !o.Public && jwks == nil {
			if h, err = bcrypt.GenerateFromPassword([]byte(c.Secret), bcrypt.MinCost); err != nil {
				return nil, err
			}
		}
		dc := &fosite.DefaultClient{
			ID:            c.ID,
			Secret:        h,
			Public:        o.Public,
			RedirectURIs:  []string{redirectURI},
			ResponseTypes: []string{"code"},
			GrantTypes:    []string{"authorization_code", "refresh_token"},
			Scopes:        []string{"read", "offline"},
		}
		if jwks != nil {
			dc.GrantTypes = []string{"client_credentials"}
		}
		mem.Clients[c.ID] = dc
		if jwks != nil {
			mem.Clients[c.ID] = &fosite.DefaultOpenIDConnectClient{
				DefaultClient:                     dc,
				JSONWebKeys:                       jwks,
				TokenEndpointAuthMethod:           "private_key_jwt",
				TokenEndpointAuthSigningAlgorithm: "ES256",
			}
		}
	}
	provider := compose.ComposeAllEnabled(cfg, store, key)

	newSession := func() *openid.DefaultSession {
		return &openid.DefaultSession{
			Claims:  &jwt.IDTokenClaims{Subject: "tokenharness-user"},
			Headers: &jwt.Headers{},
			Subject: "tokenharness-user",
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := provider.NewAuthorizeRequest(ctx, r)
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		// The resource owner approves everything the client asked for.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		resp, err := provider.NewAuthorizeResponse(ctx, ar, newSession())
		if err != nil {
			provider.WriteAuthorizeError(ctx, w, ar, err)
			return
		}
		provider.WriteAuthorizeResponse(ctx, w, ar, resp)
	})
	mux.HandleFunc("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithoutCancel(r.Context())
		ar, err := provider.NewAccessRequest(ctx, r, newSession())
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		resp, err := provider.NewAccessResponse(ctx, ar)
		if err != nil {
			provider.WriteAccessError(ctx, w, ar, err)
			return
		}
		provider.WriteAccessResponse(ctx, w, ar, resp)
	})
	srv := serve(mux)
	cfg.TokenURL = srv.URL + "/oauth/token"
	s := &Server{
		Name: name("fosite", o), Profile: p, Public: o.Public, Base: srv.URL, Token: cfg.TokenURL,
		Client: client1, Client2: client2, RedirectURI: redirectURI,
		// fosite issues a refresh token only for the "offline" scope.
		Scope: "read offline",
		Notes: []string{"ory/fosite v0.49.0 compose.ComposeAllEnabled, storage.MemoryStore returning copies, bcrypt cost 4",
			"EnforcePKCE=" + map[bool]string{true: "true", false: "false"}[cfg.EnforcePKCE]},
		srv: srv,
	}
	if jwks != nil {
		s.JWTKeyFile = ES256KeyFile
		s.Grants = []string{oauth.GrantClientCredentials}
		s.Notes = append(s.Notes, "clients: DefaultOpenIDConnectClient, private_key_jwt ES256 with the public key of "+ES256KeyFile+"; Config.TokenURL "+cfg.TokenURL)
	}
	s.Codes = codes.Authorize(srv.URL+"/oauth/authorize", srv.Client())
	return s, nil
}

// copyingStore is fosite's MemoryStore, except that it hands each request a
// copy of what it stored, as a database-backed store does by decoding a row.
// MemoryStore hands out the stored request itself, so two simultaneous
// redemptions of one code write the same session map
// (openid.DefaultSession.SetExpiresAt) and the Go runtime stops the whole
// process with "concurrent map writes" -- the harness would measure the
// example store's shared pointers instead of fosite's token endpoint. The
// check-then-invalidate windows the race rules probe are untouched.
//
// MemoryStore also writes its refresh-token map under the wrong mutex in
// RevokeRefreshToken (the request-ID map's), so a refresh racing another
// one crashes the process the same way. refreshMu makes each refresh-token
// call atomic, as one statement of a database is; the window between calls,
// where fosite's own refresh race lives, is untouched.
type copyingStore struct {
	*storage.MemoryStore
	refreshMu sync.Mutex
}

func (s *copyingStore) CreateRefreshTokenSession(ctx context.Context, sig, accessSig string, req fosite.Requester) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	return s.MemoryStore.CreateRefreshTokenSession(ctx, sig, accessSig, req)
}

func (s *copyingStore) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	return s.MemoryStore.DeleteRefreshTokenSession(ctx, sig)
}

func (s *copyingStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	return s.MemoryStore.RevokeRefreshToken(ctx, requestID)
}

func (s *copyingStore) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	return s.MemoryStore.RotateRefreshToken(ctx, requestID, sig)
}

func copyRequester(r fosite.Requester) fosite.Requester {
	if r == nil {
		return nil
	}
	keys := make([]string, 0, len(r.GetRequestForm()))
	for k := range r.GetRequestForm() {
		keys = append(keys, k)
	}
	c := r.Sanitize(keys)
	if s := r.GetSession(); s != nil {
		c.SetSession(s.Clone())
	}
	return c
}

func (s *copyingStore) GetAuthorizeCodeSession(ctx context.Context, code string, sess fosite.Session) (fosite.Requester, error) {
	r, err := s.MemoryStore.GetAuthorizeCodeSession(ctx, code, sess)
	return copyRequester(r), err
}

func (s *copyingStore) GetPKCERequestSession(ctx context.Context, code string, sess fosite.Session) (fosite.Requester, error) {
	r, err := s.MemoryStore.GetPKCERequestSession(ctx, code, sess)
	return copyRequester(r), err
}

func (s *copyingStore) GetOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) (fosite.Requester, error) {
	r, err := s.MemoryStore.GetOpenIDConnectSession(ctx, code, req)
	return copyRequester(r), err
}

func (s *copyingStore) GetAccessTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	r, err := s.MemoryStore.GetAccessTokenSession(ctx, sig, sess)
	return copyRequester(r), err
}

func (s *copyingStore) GetRefreshTokenSession(ctx context.Context, sig string, sess fosite.Session) (fosite.Requester, error) {
	s.refreshMu.Lock()
	r, err := s.MemoryStore.GetRefreshTokenSession(ctx, sig, sess)
	s.refreshMu.Unlock()
	return copyRequester(r), err
}
