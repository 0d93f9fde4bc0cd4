package interop

import (
	"net/http"
	"strconv"

	"github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/go-oauth2/oauth2/v4/server"
	"github.com/go-oauth2/oauth2/v4/store"

	"tokenharness/internal/codes"
	"tokenharness/internal/rules"
)

// StartGoOAuth2 serves go-oauth2/oauth2 v4.5.4 as its README sets it up:
// manage.NewDefaultManager with the authorization-code token configuration,
// store.NewMemoryTokenStore, store.NewClientStore, server.NewServer with
// server.NewConfig and its default handlers (client credentials from HTTP
// Basic), and a UserAuthorizationHandler that approves every request. Under
// oauth21 it requires PKCE (Config.ForcePKCE). Refresh is the library's
// default: a new refresh token each time, the old one removed. Public
// clients are models.Client{Public: true} without a secret, identified by
// server.ClientFormHandler.
func StartGoOAuth2(o Options) (*Server, error) {
	p := o.Profile
	manager := manage.NewDefaultManager()
	manager.SetAuthorizeCodeTokenCfg(manage.DefaultAuthorizeCodeTokenCfg)
	manager.MustTokenStorage(store.NewMemoryTokenStore())
	clients := store.NewClientStore()
	for _, c := range []Client{client1, client2} {
		mc := &models.Client{ID: c.ID, Secret: c.Secret, Domain: "http://127.0.0.1:8080"}
		if o.Public {
			mc.Secret, mc.Public = "", true
		}
		if err := clients.Set(c.ID, mc); err != nil {
			return nil, err
		}
	}
	manager.MapClientStorage(clients)

	cfg := server.NewConfig()
	cfg.ForcePKCE = p == rules.OAuth21
	srv := server.NewServer(cfg, manager)
	if o.Public {
		// A public client sends client_id in the body: the library's
		// ClientFormHandler reads it there (the default reads Basic only).
		srv.SetClientInfoHandler(server.ClientFormHandler)
	}
	srv.SetUserAuthorizationHandler(func(http.ResponseWriter, *http.Request) (string, error) {
		return "tokenharness-user", nil
	})
	// The library logs nothing by default; keep it that way, but do not let
	// an internal error turn into an empty response either.
	srv.SetInternalErrorHandler(func(error) *errors.Response { return nil })

	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.HandleAuthorizeRequest(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.HandleTokenRequest(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	hs := serve(mux)
	s := &Server{
		Name: name("go-oauth2", o), Profile: p, Public: o.Public, Base: hs.URL, Token: hs.URL + "/oauth/token",
		Client: client1, Client2: client2, RedirectURI: redirectURI, Scope: "read",
		Notes: []string{"go-oauth2/oauth2 v4.5.4 manage.NewDefaultManager, store.NewMemoryTokenStore, store.NewClientStore, server.NewConfig",
			"ForcePKCE=" + strconv.FormatBool(cfg.ForcePKCE), "public clients=" + strconv.FormatBool(o.Public)},
		srv: hs,
	}
	s.Codes = codes.Authorize(hs.URL+"/oauth/authorize", hs.Client())
	return s, nil
}
