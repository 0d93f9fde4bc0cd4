package mockserver

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// The tests talk to the handler the way a client would, over
// httptest.ResponseRecorder, and compute PKCE and Basic encodings
// themselves rather than calling the server's helpers.

const (
	client1  = "tokenharness-1"
	secret1  = "th-secret-one-5f2c9a1e"
	client2  = "tokenharness-2"
	secret2  = "th-secret-two-8b7d3c40"
	clientP  = "tokenharness-public"
	callback = "http://127.0.0.1:8080/callback"
	oob      = rules.DressipiRedirect
	// verifier is a valid 43+ character PKCE code verifier.
	verifier = "tokenharness-verifier-0123456789-abcdefghijklmnop"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is one server under test with its fake clock.
type harness struct {
	t       testing.TB
	srv     *Server
	clock   *fakeClock
	profile rules.Profile
}

func newHarness(t testing.TB, p rules.Profile, opts ...Option) *harness {
	t.Helper()
	cfg, err := loadTest(p, "")
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessCfg(t, cfg, opts...)
}

func newHarnessCfg(t testing.TB, cfg Config, opts ...Option) *harness {
	t.Helper()
	clock := newFakeClock()
	opts = append([]Option{WithClock(clock.Now), WithJanitorInterval(0)}, opts...)
	srv, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, clock: clock, profile: cfg.Profile}
}

// result is a response as a client sees it.
type result struct {
	status int
	header http.Header
	body   string
	obj    map[string]any
}

func (r *result) str(name string) string {
	s, _ := r.obj[name].(string)
	return s
}

func (r *result) errCode() string { return r.str(oauth.ParamError) }

// summary is what a quirk test compares: status, error code and whether
// tokens came back.
func (r *result) summary() string {
	if r.status == http.StatusOK && r.str(oauth.ParamAccessToken) != "" {
		return "200 tokens"
	}
	if c := r.errCode(); c != "" {
		return strconv.Itoa(r.status) + " " + c
	}
	return strconv.Itoa(r.status) + " " + http.StatusText(r.status)
}

func (h *harness) serve(req *http.Request) *result {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	r := &result{status: res.StatusCode, header: res.Header, body: string(b)}
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.UseNumber()
	_ = dec.Decode(&r.obj)
	return r
}

// auth is how a request authenticates its client.
type auth struct {
	id, secret string
	method     oauth.AuthMethod // "" sends nothing
}

func basic(id, secret string) auth { return auth{id, secret, oauth.AuthBasic} }
func post(id, secret string) auth  { return auth{id, secret, oauth.AuthPost} }
func public(id string) auth        { return auth{id: id, method: oauth.AuthNone} }

var noAuth = auth{}

// defaultAuth is the profile's documented way for client 1 (or 2).
func (h *harness) auth(client int) auth {
	id, secret := client1, secret1
	if client == 2 {
		id, secret = client2, secret2
	}
	switch h.profile {
	case rules.Commoninja:
		return post(id, secret)
	case rules.Dressipi:
		return public(id)
	}
	return basic(id, secret)
}

func (h *harness) redirectURI() string {
	if h.profile == rules.Dressipi {
		return oob
	}
	return callback
}

func basicHeader(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// tokenReq builds a form POST to the token endpoint.
func tokenReq(form url.Values, a auth, header ...string) *http.Request {
	f := url.Values{}
	for k, v := range form {
		f[k] = append([]string(nil), v...)
	}
	req := httptest.NewRequest(http.MethodPost, PathToken, nil)
	switch a.method {
	case oauth.AuthBasic:
		req.Header.Set(oauth.HeaderAuthorization, basicHeader(a.id, a.secret))
	case oauth.AuthPost:
		f.Set(oauth.ParamClientID, a.id)
		f.Set(oauth.ParamClientSecret, a.secret)
	case oauth.AuthNone:
		f.Set(oauth.ParamClientID, a.id)
	}
	body := f.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set(oauth.HeaderContentType, oauth.MediaForm)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

func (h *harness) post(form url.Values, a auth, header ...string) *result {
	h.t.Helper()
	return h.serve(tokenReq(form, a, header...))
}

// grant is a code fresh from the authorize endpoint.
type grant struct {
	code, verifier, redirect string
	client                   int
}

// codeOpts shapes an authorization request.
type codeOpts struct {
	client   int    // 1 (default) or 2
	clientID string // overrides client
	method   string // PKCE method; "" = S256, "none" = no challenge
	verifier string // default verifier
	scope    string
	redirect string // default: the profile's; "-" omits it
	state    string
	dpopJKT  string // dpop_jkt (RFC 9449 §10); "" omits it
	header   []string
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeReq builds the authorization request for o.
func (h *harness) authorizeReq(o codeOpts) *http.Request {
	id := o.clientID
	if id == "" {
		id = client1
		if o.client == 2 {
			id = client2
		}
	}
	v := url.Values{oauth.ParamResponseType: {"code"}, oauth.ParamClientID: {id}}
	switch o.redirect {
	case "":
		v.Set(oauth.ParamRedirectURI, h.redirectURI())
	case "-":
	default:
		v.Set(oauth.ParamRedirectURI, o.redirect)
	}
	if o.state != "" {
		v.Set(oauth.ParamState, o.state)
	}
	if o.scope != "" {
		v.Set(oauth.ParamScope, o.scope)
	}
	if o.dpopJKT != "" {
		v.Set(oauth.ParamDPoPJKT, o.dpopJKT)
	}
	if o.method != "none" {
		ver := o.verifier
		if ver == "" {
			ver = verifier
		}
		switch o.method {
		case "", oauth.PKCES256:
			v.Set(oauth.ParamCodeChallenge, s256(ver))
			v.Set(oauth.ParamCodeChallengeMethod, oauth.PKCES256)
		case oauth.PKCEPlain:
			v.Set(oauth.ParamCodeChallenge, ver)
			v.Set(oauth.ParamCodeChallengeMethod, oauth.PKCEPlain)
		}
	}
	req := httptest.NewRequest(http.MethodGet, PathAuthorize+"?"+v.Encode(), nil)
	for i := 0; i+1 < len(o.header); i += 2 {
		req.Header.Set(o.header[i], o.header[i+1])
	}
	return req
}

// location parses the redirect of an authorize response.
func location(t testing.TB, r *result) url.Values {
	t.Helper()
	if r.status != http.StatusFound {
		t.Fatalf("authorize: got status %d, want 302: %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	_, rawQuery, _ := strings.Cut(loc, "?")
	v, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatalf("authorize: Location %q: %v", loc, err)
	}
	return v
}

// code obtains a fresh code, failing the test if none is issued.
func (h *harness) code(o codeOpts) grant {
	h.t.Helper()
	v := location(h.t, h.serve(h.authorizeReq(o)))
	if v.Get(oauth.ParamCode) == "" {
		h.t.Fatalf("authorize issued no code: %v", v)
	}
	g := grant{code: v.Get(oauth.ParamCode), redirect: h.redirectURI(), client: max(o.client, 1)}
	if o.redirect == "-" {
		g.redirect = ""
	} else if o.redirect != "" {
		g.redirect = o.redirect
	}
	if o.method != "none" {
		g.verifier = o.verifier
		if g.verifier == "" {
			g.verifier = verifier
		}
	}
	return g
}

// redeemForm is the code exchange for g.
func (h *harness) redeemForm(g grant) url.Values {
	f := url.Values{oauth.ParamGrantType: {oauth.GrantAuthorizationCode}, oauth.ParamCode: {g.code}}
	if g.redirect != "" {
		f.Set(oauth.ParamRedirectURI, g.redirect)
	}
	if g.verifier != "" {
		f.Set(oauth.ParamCodeVerifier, g.verifier)
	}
	return f
}

func (h *harness) redeem(g grant, header ...string) *result {
	h.t.Helper()
	return h.post(h.redeemForm(g), h.auth(g.client), header...)
}

// refreshForm is the refresh request for rt, with redirect_uri where the
// profile's document wants it.
func (h *harness) refreshForm(rt string) url.Values {
	f := url.Values{oauth.ParamGrantType: {oauth.GrantRefreshToken}, oauth.ParamRefreshToken: {rt}}
	if h.profile == rules.Dressipi {
		f.Set(oauth.ParamRedirectURI, oob)
	}
	return f
}

func (h *harness) refresh(rt string, header ...string) *result {
	h.t.Helper()
	return h.post(h.refreshForm(rt), h.auth(1), header...)
}

// tokens redeems a fresh code and returns the response, failing the test
// unless tokens were issued.
func (h *harness) tokens(o codeOpts) *result {
	h.t.Helper()
	r := h.redeem(h.code(o))
	if r.status != http.StatusOK || r.str(oauth.ParamRefreshToken) == "" {
		h.t.Fatalf("redeeming a fresh code: %d %s", r.status, r.body)
	}
	return r
}

// profiles lists every profile the catalogue declares.
func profiles() []rules.Profile {
	var out []rules.Profile
	for _, p := range rules.ProfileInfos {
		out = append(out, p.Name)
	}
	return out
}

// loadTest loads a profile's fixture without its x-api-key check (the
// dressipi fixture turns it on for the suite); tests of the check set
// APIKey themselves.
func loadTest(p rules.Profile, path string) (Config, error) {
	c, err := LoadConfig(p, path)
	c.APIKey = ""
	return c, err
}
