package interop

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

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
//
// VariantDevice serves the OP the example configures (exampleop's newOP)
// with one change, a device code lifetime of deviceLifetime instead of 5
// minutes, so that the expiry rule can wait one out; it has no login pages
// (codes are not needed). It registers storage.DeviceClient clients (Basic,
// the device_code grant only), as the example's device client is, and
// serves DeviceVerifyPath, which does for a user_code what the example's device
// confirmation page (/device/confirm) does after its login: the storage's
// CompleteDeviceAuthorization, or DenyDeviceAuthorization. It completes
// with the example user's ID as the subject, as the storage's interface
// documents; the example page passes the username, which the storage then
// cannot find when it makes the ID token ("user not found", 500), a slip
// of the example's login page rather than of the OP. The OP announces
// the example's 5 s polling interval.
//
// VariantJWT registers the storage.WebClient clients for private_key_jwt
// with the public key of RS256KeyFile (clientKeyStorage); the example turns
// the OP's AuthMethodPrivateKeyJWT on. The OP checks that aud names its
// issuer and verifies RS256 only. The example OP announces a 5 s polling interval
// and a 5 minute device code lifetime (exampleop's DeviceAuthorizationConfig).
func StartZitadel(o Options) (*Server, error) {
	p := o.Profile
	device, jwt := o.Variant == VariantDevice, o.Variant == VariantJWT
	if o.Variant != "" && !device && !jwt {
		return nil, fmt.Errorf("zitadel: no %s variant", o.Variant)
	}
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
		if device {
			clients[c.ID] = storage.DeviceClient(c.ID, c.Secret)
		}
	}
	st := storage.NewStorageWithClients(users, clients)
	var ops exampleop.Storage = st
	if jwt {
		pub, err := publicJWK(RS256KeyFile)
		if err != nil {
			return nil, err
		}
		rsaPub, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an RSA key", RS256KeyFile)
		}
		ops = &clientKeyStorage{Storage: st, kid: zitadelKID, key: rsaPub, clients: []string{client1.ID, client2.ID}}
	}
	username := "test-user@" + host
	if device {
		provider, err := deviceOP(issuer, st)
		if err != nil {
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("/", provider)
		mux.Handle("POST "+DeviceVerifyPath, deviceVerify(st, users.GetUserByUsername(username).ID))
		hs.Config.Handler = mux
	} else {
		hs.Config.Handler = exampleop.SetupServer(issuer, ops, nil, false)
	}
	hs.Config.ErrorLog = quietLog
	hs.Start()
	s := &Server{
		Name: name("zitadel", o), Profile: p, Public: o.Public, Base: hs.URL, Token: hs.URL + "/oauth/token",
		Client: client1, Client2: client2, RedirectURI: redirectURI,
		// The OP issues refresh tokens for offline_access; openid makes it an
		// OpenID Connect request, which is what the example OP serves.
		Scope: "openid offline_access",
		Notes: []string{"zitadel/oidc v3.52.0 example OP (exampleop.SetupServer, storage.NewStorageWithClients), storage.WebClient clients",
			"codes: the example login form, user " + username},
		srv: hs,
	}
	if jwt {
		// The OP checks that aud holds its issuer identifier
		// (op.VerifyJWTAssertion: oidc.CheckAudience against the issuer).
		s.JWTKeyFile, s.JWTKID, s.JWTAudience = RS256KeyFile, zitadelKID, issuer
		s.Notes = append(s.Notes, "private_key_jwt: the storage's GetKeyByIDAndClientID also answers kid "+zitadelKID+" of both clients with the public key of "+RS256KeyFile+" (the OP verifies RS256 only); aud: the issuer "+issuer)
	}
	if device {
		s.Grants = []string{oauth.GrantDeviceCode}
		s.DeviceAuthorization, s.DeviceVerify = hs.URL+"/device_authorization", hs.URL+DeviceVerifyPath
		s.Notes[0] = "zitadel/oidc v3.52.0 op.NewProvider with exampleop's configuration but a device code lifetime of " + deviceLifetime.String() + ", over storage.NewStorageWithClients, storage.DeviceClient clients (device_code grant only)"
		s.Notes = append(s.Notes, "device decisions: "+DeviceVerifyPath+" calls the storage's CompleteDeviceAuthorization (subject: the ID of "+username+") or DenyDeviceAuthorization, as the example's /device/confirm does")
	}
	s.Codes = &ZitadelLogin{Base: hs.URL, Username: username, Password: "verysecure", HTTP: hs.Client()}
	return s, nil
}

// zitadelKID is the "kid" of the clients' key under VariantJWT.
const zitadelKID = "tokenharness-client-key"

// clientKeyStorage is the example storage with clients registered for
// private_key_jwt: GetKeyByIDAndClientID, which the OP calls to verify a
// client assertion (and a JWT profile grant) by the assertion's iss and
// kid, answers kid for each of clients with key; GetClientByClientID
// returns those clients with token_endpoint_auth_method private_key_jwt,
// which op.AuthorizePrivateJWTKey requires. Everything else is the example
// storage's. The example storage.Client has no constructor for that method
// and keeps its keys in an unexported map seeded with its own service
// user's; a deployment's storage would read both from its client
// registrations.
type clientKeyStorage struct {
	*storage.Storage
	kid     string
	key     *rsa.PublicKey
	clients []string
}

func (s *clientKeyStorage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	if keyID == s.kid && slices.Contains(s.clients, clientID) {
		return &jose.JSONWebKey{KeyID: keyID, Use: "sig", Key: s.key}, nil
	}
	return s.Storage.GetKeyByIDAndClientID(ctx, keyID, clientID)
}

func (s *clientKeyStorage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, clientID)
	if err != nil || !slices.Contains(s.clients, clientID) {
		return c, err
	}
	return privateKeyJWTClient{c}, nil
}

// privateKeyJWTClient is a client registered for private_key_jwt.
type privateKeyJWTClient struct{ op.Client }

func (privateKeyJWTClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodPrivateKeyJWT }

// deviceLifetime is the device variant's device code lifetime: under the
// harness's 30 s expiry wait, and long enough for the other device rules'
// three polls 5 s apart.
const deviceLifetime = 20 * time.Second

// deviceOP is the OP exampleop.SetupServer makes (exampleop's newOP: the
// same op.Config and options), except for DeviceAuthorization.Lifetime,
// which the example fixes at 5 minutes and offers no option for.
func deviceOP(issuer string, st op.Storage) (*op.Provider, error) {
	cfg := &op.Config{
		CryptoKey:                sha256.Sum256([]byte("test")),
		CryptoKeyId:              "key1",
		DefaultLogoutRedirectURI: "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		AuthMethodPrivateKeyJWT:  true,
		GrantTypeRefreshToken:    true,
		RequestObjectSupported:   true,
		SupportedUILocales:       []language.Tag{language.English},
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     deviceLifetime,
			PollInterval: 5 * time.Second,
			UserFormPath: "/device",
			UserCode:     op.UserCodeBase20,
		},
	}
	return op.NewProvider(cfg, st, op.StaticIssuer(issuer), op.WithAllowInsecure(), op.WithCustomAuthEndpoint(op.NewEndpoint("auth")))
}

// DeviceVerifyPath is the zitadel device variant's test verification
// endpoint (DEVICE_VERIFY_URL): a form POST of user_code and
// decision=approve|deny.
const DeviceVerifyPath = "/tokenharness/device/verify"

// deviceVerify approves or denies a user_code as the signed-in example
// user (subject: the user's ID): the storage calls of the example's
// /device/confirm, without its login form and cookie.
func deviceVerify(st *storage.Storage, subject string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := r.PostFormValue(oauth.ParamUserCode)
		if _, err := st.GetDeviceAuthorizationByUserCode(r.Context(), code); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		var err error
		switch d := r.PostFormValue("decision"); d {
		case "approve":
			err = st.CompleteDeviceAuthorization(r.Context(), code, subject)
		case "deny":
			err = st.DenyDeviceAuthorization(r.Context(), code)
		default:
			http.Error(w, "decision must be approve or deny", http.StatusBadRequest)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "done\n")
	})
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
