package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
)

// StartZitadel serves the zitadel/oidc v3.52.0 example OP
// (example/server/exampleop.SetupServer over example/server/storage, all in
// memory) with two confidential web clients (storage.WebClient: Basic
// authentication, code and refresh grants). The OP has no auto-approving
// authorize endpoint: codes come from ZitadelLogin, which drives its login
// form as a user would. The example OP rotates refresh tokens; it requires
// PKCE only of clients without a secret, so the oauth21 run checks a
// confidential client that may skip PKCE (see expected.tsv). Public clients
// are storage.NativeClient (auth method none, PKCE required).
func StartZitadel(o Options) (*Server, error) {
	p := o.Profile
	hs := httptest.NewUnstartedServer(nil)
	issuer := "http://" + hs.Listener.Addr().String() + "/"
	host, _, _ := net.SplitHostPort(hs.Listener.Addr().String())
	users := storage.NewUserStore(issuer)
	clients := map[string]*storage.Client{}
	for _, c := range []Client{client1, client2} {
		clients[c.ID] = storage.WebClient(c.ID, c.Secret, redirectURI)
		if o.Public {
			clients[c.ID] = storage.NativeClient(c.ID, redirectURI)
		}
	}
	st := storage.NewStorageWithClients(users, clients)
	router := exampleop.SetupServer(issuer, st, nil, false)
	hs.Config.Handler = router
	hs.Config.ErrorLog = quietLog
	hs.Start()
	s := &Server{
		Name: name("zitadel", o), Profile: p, Public: o.Public, Base: hs.URL, Token: hs.URL + "/oauth/token",
		Client: client1, Client2: client2, RedirectURI: redirectURI,
		// The OP issues refresh tokens for offline_access; openid makes it an
		// OpenID Connect request, which is what the example OP serves.
		Scope: "openid offline_access",
		Notes: []string{"zitadel/oidc v3.52.0 example OP (exampleop.SetupServer, storage.NewStorageWithClients), storage.WebClient clients",
			"codes: the example login form, user test-user@" + host},
		srv: hs,
	}
	s.Codes = &ZitadelLogin{Base: hs.URL, Username: "test-user@" + host, Password: "verysecure", HTTP: hs.Client()}
	return s, nil
}

// ZitadelLogin is a codes.Source for the zitadel example OP: it sends the
// authorization request to /auth, signs in on the example's login form
// (/login/username), follows the OP's own redirects and reads the code from
// the final redirect to the client's redirect URI, which it never follows.
type ZitadelLogin struct {
	Base               string
	Username, Password string
	HTTP               *http.Client
}

var _ codes.Source = (*ZitadelLogin)(nil)

// maxHops bounds the redirects within the OP.
const maxHops = 6

// Code implements codes.Source.
func (z *ZitadelLogin) Code(ctx context.Context, r codes.Request) (string, error) {
	c := *z.HTTP
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	q := url.Values{oauth.ParamResponseType: {oauth.ParamCode}}
	for k, v := range map[string]string{
		oauth.ParamClientID: r.ClientID, oauth.ParamRedirectURI: r.RedirectURI, oauth.ParamScope: r.Scope,
		oauth.ParamState: r.State, oauth.ParamCodeChallenge: r.Challenge, oauth.ParamCodeChallengeMethod: r.Method,
	} {
		if v != "" {
			q.Set(k, v)
		}
	}
	next, err := http.NewRequestWithContext(ctx, http.MethodGet, z.Base+"/auth?"+q.Encode(), nil)
	if err != nil {
		return "", z.fail("%v", err)
	}
	for range maxHops {
		resp, err := c.Do(next)
		if err != nil {
			return "", z.fail("%s %s: %v", next.Method, next.URL.Path, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			return "", errors.Join(codes.ErrCodeSource, &oauth.HTTPStatusError{Status: resp.StatusCode},
				fmt.Errorf("zitadel login: %s %s answered %d, not a redirect: %.200s", next.Method, next.URL.Path, resp.StatusCode, strings.Join(strings.Fields(string(body)), " ")))
		}
		u, err := resp.Request.URL.Parse(loc)
		if err != nil {
			return "", z.fail("bad Location %q: %v", loc, err)
		}
		switch {
		case strings.HasPrefix(u.String(), r.RedirectURI) && r.RedirectURI != "":
			p := u.Query()
			if e := p.Get(oauth.ParamError); e != "" {
				return "", errors.Join(codes.ErrCodeSource, &oauth.Error{Code: e, Description: p.Get(oauth.ParamErrorDescription)})
			}
			if p.Get(oauth.ParamState) != r.State {
				return "", z.fail("the redirect carries state %q, want %q", p.Get(oauth.ParamState), r.State)
			}
			if p.Get(oauth.ParamCode) == "" {
				return "", z.fail("the redirect carries no code")
			}
			return p.Get(oauth.ParamCode), nil
		case u.Path == "/login/username":
			// The example's login page: sign in with the example user.
			form := url.Values{"id": {u.Query().Get("authRequestID")}, "username": {z.Username}, "password": {z.Password}}
			next, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
			if err != nil {
				return "", z.fail("%v", err)
			}
			next.Header.Set("Content-Type", oauth.MediaForm)
		case u.Host == next.URL.Host:
			next, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
			if err != nil {
				return "", z.fail("%v", err)
			}
		default:
			return "", z.fail("redirected to %s, neither the OP nor the redirect URI", u.Redacted())
		}
	}
	return "", z.fail("more than %d redirects", maxHops)
}

func (z *ZitadelLogin) fail(format string, args ...any) error {
	return errors.Join(codes.ErrCodeSource, fmt.Errorf("zitadel login: "+format, args...))
}
