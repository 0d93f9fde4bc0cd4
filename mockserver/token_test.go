package mockserver

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

func TestHappyPathEveryProfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile rules.Profile
		// wantCode and wantRefresh are the members of each response, sorted.
		wantCode, wantRefresh []string
		rotates               bool
	}{
		{rules.RFC6749, []string{"access_token", "expires_in", "refresh_token", "scope", "token_type"},
			[]string{"access_token", "expires_in", "scope", "token_type"}, false},
		{rules.Commoninja, []string{"access_token", "expires_in", "refresh_token", "refresh_token_expires_in"},
			[]string{"access_token", "expires_in"}, false},
		{rules.Dressipi, []string{"access_token", "expires_in", "refresh_token", "token_type"},
			[]string{"access_token", "expires_in", "refresh_token", "token_type"}, true},
		{rules.OAuth21, []string{"access_token", "expires_in", "refresh_token", "scope", "token_type"},
			[]string{"access_token", "expires_in", "refresh_token", "scope", "token_type"}, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.profile), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.profile)
			code := h.tokens(codeOpts{})
			checkTokenResponse(t, "code response", code, tt.wantCode)
			if tt.profile != rules.Commoninja && !strings.EqualFold(code.str("token_type"), "Bearer") {
				t.Errorf("token_type = %q, want Bearer", code.str("token_type"))
			}
			rt := code.str(oauth.ParamRefreshToken)
			ref := h.refresh(rt)
			checkTokenResponse(t, "refresh response", ref, tt.wantRefresh)
			if ref.str(oauth.ParamAccessToken) == code.str(oauth.ParamAccessToken) {
				t.Error("refresh returned the same access token")
			}
			next := ref.str(oauth.ParamRefreshToken)
			if got := next != "" && next != rt; got != tt.rotates {
				t.Errorf("refresh rotated the refresh token: %v, want %v", got, tt.rotates)
			}
			if next == "" {
				next = rt
			}
			if again := h.refresh(next); again.status != http.StatusOK {
				t.Errorf("second refresh with the token to use next: %d %s", again.status, again.body)
			}
		})
	}
}

func checkTokenResponse(t *testing.T, what string, r *result, wantMembers []string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", what, r.status, r.body)
	}
	var got []string
	for k := range r.obj {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, wantMembers) {
		t.Errorf("%s members = %v, want %v", what, got, wantMembers)
	}
	for name, want := range map[string]string{
		oauth.HeaderContentType: "application/json;charset=UTF-8", oauth.HeaderCacheControl: "no-store", oauth.HeaderPragma: "no-cache",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
	for _, k := range []string{oauth.ParamExpiresIn, oauth.ParamRefreshTokenExpiresIn} {
		if v, ok := r.obj[k]; ok {
			n, isNum := v.(json.Number)
			if i, err := n.Int64(); !isNum || err != nil || i <= 0 {
				t.Errorf("%s: %s = %v, want a positive JSON integer", what, k, v)
			}
		}
	}
}

func TestDressipiAccessTokenIsHS256JWT(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.Dressipi)
	at := h.tokens(codeOpts{}).str(oauth.ParamAccessToken)
	parts := strings.Split(at, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a compact JWS", at)
	}
	var hdr, claims map[string]any
	for i, v := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	if hdr["alg"] != "HS256" {
		t.Errorf("header = %v, want alg HS256", hdr)
	}
	now := float64(h.clock.Now().Unix())
	if claims["iat"] != now || claims["exp"] != now+86400 || claims["sub"] != DefaultSubject {
		t.Errorf("claims = %v, want iat %v, exp iat+86400, sub %s", claims, now, DefaultSubject)
	}
}

// The vendor documents' own examples, as they are written.
func TestVendorCurlExamples(t *testing.T) {
	t.Parallel()
	t.Run("commoninja", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, rules.Commoninja)
		g := h.code(codeOpts{method: "none"})
		// curl -X POST -H "Content-Type: application/x-www-form-urlencoded" -d "client_id=...&client_secret=...&grant_type=authorization_code&code=...&redirect_uri=..."
		body := "client_id=" + client1 + "&client_secret=" + secret1 + "&grant_type=authorization_code&code=" + g.code + "&redirect_uri=" + url.QueryEscape(callback)
		r := h.serve(rawReq(http.MethodPost, PathToken, oauth.MediaForm, body))
		checkTokenResponse(t, "code", r, []string{"access_token", "expires_in", "refresh_token", "refresh_token_expires_in"})
		// curl ... -d "client_id=...&client_secret=...&grant_type=refresh_token&refresh_token=..."
		body = "client_id=" + client1 + "&client_secret=" + secret1 + "&grant_type=refresh_token&refresh_token=" + r.str("refresh_token")
		checkTokenResponse(t, "refresh", h.serve(rawReq(http.MethodPost, PathToken, oauth.MediaForm, body)), []string{"access_token", "expires_in"})
	})
	t.Run("dressipi", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, rules.Dressipi)
		g := h.code(codeOpts{})
		body := "redirect_uri=" + url.QueryEscape(oob) + "&grant_type=authorization_code&code=" + g.code + "&client_id=" + client1 + "&code_verifier=" + verifier
		r := h.serve(rawReq(http.MethodPost, PathToken, oauth.MediaForm, body))
		checkTokenResponse(t, "code", r, []string{"access_token", "expires_in", "refresh_token", "token_type"})
		if n, _ := r.obj["expires_in"].(json.Number).Int64(); n != 86400 {
			t.Errorf("expires_in = %d, want 86400", n)
		}
		body = "redirect_uri=" + url.QueryEscape(oob) + "&grant_type=refresh_token&refresh_token=" + r.str("refresh_token") + "&client_id=" + client1
		checkTokenResponse(t, "refresh", h.serve(rawReq(http.MethodPost, PathToken, oauth.MediaForm, body)), []string{"access_token", "expires_in", "refresh_token", "token_type"})
	})
}

func rawReq(method, target, contentType, body string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set(oauth.HeaderContentType, contentType)
	}
	return req
}

func TestClientAuthenticationMethods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile rules.Profile
		auth    auth
		want    string
	}{
		{"basic", rules.RFC6749, basic(client1, secret1), "200 tokens"},
		{"post", rules.RFC6749, post(client1, secret1), "200 tokens"},
		{"commoninja basic (RFC MUST)", rules.Commoninja, basic(client1, secret1), "200 tokens"},
		{"public client", rules.RFC6749, public(clientP), "200 tokens"},
		{"dressipi public", rules.Dressipi, public(client1), "200 tokens"},
		{"public client with a secret", rules.RFC6749, post(clientP, "anything"), "400 invalid_client"},
		{"public client with Basic", rules.RFC6749, basic(clientP, "anything"), "401 invalid_client"},
		{"confidential client without secret", rules.RFC6749, public(client1), "400 invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.profile)
			o := codeOpts{}
			if tt.auth.id == clientP {
				o.clientID = clientP
			}
			g := h.code(o)
			if got := h.post(h.redeemForm(g), tt.auth).summary(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// A Basic credential is form-urlencoded before base64 (RFC 6749 §2.3.1).
func TestBasicCredentialsAreFormURLEncoded(t *testing.T) {
	t.Parallel()
	cfg, err := loadTest(rules.RFC6749, "")
	if err != nil {
		t.Fatal(err)
	}
	const id, secret = "client:with space", "sec+ret/&%="
	cfg.Clients = append(cfg.Clients, Client{ID: id, Secret: secret, RedirectURIs: []string{callback}, Scope: "read"})
	h := newHarnessCfg(t, cfg)
	g := h.code(codeOpts{clientID: id})
	if got := h.post(h.redeemForm(g), basic(id, secret)).summary(); got != "200 tokens" {
		t.Errorf("escaped Basic credentials: got %s, want 200 tokens", got)
	}
	g = h.code(codeOpts{clientID: id})
	raw := "Basic " + base64.StdEncoding.EncodeToString([]byte("client%3Awith+space:"+url.QueryEscape(secret)+"x"))
	if got := h.post(h.redeemForm(g), noAuth, oauth.HeaderAuthorization, raw).summary(); got != "401 invalid_client" {
		t.Errorf("wrong escaped secret: got %s, want 401 invalid_client", got)
	}
}

// Every RFC 6749 §5.2 error code, with its status and headers.
func TestErrorResponses(t *testing.T) {
	t.Parallel()
	type tc struct {
		name string
		// send builds and sends the request on a fresh rfc6749 server.
		send       func(h *harness) *result
		wantStatus int
		wantError  string
		wantWWW    bool
	}
	withCode := func(edit func(h *harness, f url.Values) (url.Values, auth)) func(h *harness) *result {
		return func(h *harness) *result {
			g := h.code(codeOpts{})
			f, a := edit(h, h.redeemForm(g))
			return h.post(f, a)
		}
	}
	c1 := basic(client1, secret1)
	tests := []tc{
		{"missing grant_type", withCode(func(h *harness, f url.Values) (url.Values, auth) { f.Del("grant_type"); return f, c1 }), 400, "invalid_request", false},
		{"empty grant_type", withCode(func(h *harness, f url.Values) (url.Values, auth) { f.Set("grant_type", ""); return f, c1 }), 400, "invalid_request", false},
		{"repeated parameter", withCode(func(h *harness, f url.Values) (url.Values, auth) { f.Add("code", "x"); return f, c1 }), 400, "invalid_request", false},
		{"missing code", withCode(func(h *harness, f url.Values) (url.Values, auth) { f.Del("code"); return f, c1 }), 400, "invalid_request", false},
		{"missing redirect_uri", withCode(func(h *harness, f url.Values) (url.Values, auth) { f.Del("redirect_uri"); return f, c1 }), 400, "invalid_request", false},
		{"both Basic and client_secret", withCode(func(h *harness, f url.Values) (url.Values, auth) {
			f.Set("client_id", client1)
			f.Set("client_secret", secret1)
			return f, c1
		}), 400, "invalid_request", false},
		{"body client_id differs from Basic", withCode(func(h *harness, f url.Values) (url.Values, auth) { f.Set("client_id", client2); return f, c1 }), 400, "invalid_request", false},
		{"wrong secret with Basic", withCode(func(h *harness, f url.Values) (url.Values, auth) { return f, basic(client1, "wrong") }), 401, "invalid_client", true},
		{"wrong secret in body", withCode(func(h *harness, f url.Values) (url.Values, auth) { return f, post(client1, "wrong") }), 400, "invalid_client", false},
		{"unknown client in body", withCode(func(h *harness, f url.Values) (url.Values, auth) { return f, post("nobody", "x") }), 400, "invalid_client", false},
		{"unknown client with Basic", withCode(func(h *harness, f url.Values) (url.Values, auth) { return f, basic("nobody", "x") }), 401, "invalid_client", true},
		{"no client identification", withCode(func(h *harness, f url.Values) (url.Values, auth) { return f, noAuth }), 400, "invalid_client", false},
		{"malformed Basic", func(h *harness) *result {
			return h.post(h.redeemForm(h.code(codeOpts{})), noAuth, oauth.HeaderAuthorization, "Basic !!!")
		}, 401, "invalid_client", true},
		{"other Authorization scheme", func(h *harness) *result {
			return h.post(h.redeemForm(h.code(codeOpts{})), noAuth, oauth.HeaderAuthorization, "Bearer abc")
		}, 401, "invalid_client", true},
		{"unknown code", func(h *harness) *result {
			return h.post(url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {callback}}, c1)
		}, 400, "invalid_grant", false},
		{"code of another client", withCode(func(h *harness, f url.Values) (url.Values, auth) { return f, basic(client2, secret2) }), 400, "invalid_grant", false},
		{"other redirect_uri", withCode(func(h *harness, f url.Values) (url.Values, auth) {
			f.Set("redirect_uri", "http://127.0.0.1:8080/other")
			return f, c1
		}), 400, "invalid_grant", false},
		{"wrong code_verifier", withCode(func(h *harness, f url.Values) (url.Values, auth) {
			f.Set("code_verifier", strings.Repeat("w", 43))
			return f, c1
		}), 400, "invalid_grant", false},
		{"missing code_verifier", withCode(func(h *harness, f url.Values) (url.Values, auth) { f.Del("code_verifier"); return f, c1 }), 400, "invalid_grant", false},
		{"verifier for a code without challenge", func(h *harness) *result {
			f := h.redeemForm(h.code(codeOpts{method: "none"}))
			f.Set("code_verifier", verifier)
			return h.post(f, c1)
		}, 400, "invalid_grant", false},
		{"unknown refresh token", func(h *harness) *result {
			return h.post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, c1)
		}, 400, "invalid_grant", false},
		{"refresh token of another client", func(h *harness) *result {
			rt := h.tokens(codeOpts{}).str("refresh_token")
			return h.post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic(client2, secret2))
		}, 400, "invalid_grant", false},
		{"missing refresh_token", func(h *harness) *result {
			return h.post(url.Values{"grant_type": {"refresh_token"}}, c1)
		}, 400, "invalid_request", false},
		{"unsupported grant type", func(h *harness) *result {
			return h.post(url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, c1)
		}, 400, "unsupported_grant_type", false},
		{"wider scope on refresh", func(h *harness) *result {
			rt := h.tokens(codeOpts{scope: "read"}).str("refresh_token")
			return h.post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"read write"}}, c1)
		}, 400, "invalid_scope", false},
		{"GET", func(h *harness) *result {
			return h.serve(httptest.NewRequest(http.MethodGet, PathToken+"?grant_type=authorization_code", nil))
		}, 405, "invalid_request", false},
		{"JSON body", func(h *harness) *result {
			return h.serve(rawReq(http.MethodPost, PathToken, oauth.MediaJSON, `{"grant_type":"authorization_code"}`))
		}, 400, "invalid_request", false},
		{"form labelled text/plain", func(h *harness) *result {
			return h.serve(rawReq(http.MethodPost, PathToken, "text/plain", "grant_type=authorization_code"))
		}, 400, "invalid_request", false},
		{"no Content-Type", func(h *harness) *result {
			return h.serve(rawReq(http.MethodPost, PathToken, "", "grant_type=authorization_code"))
		}, 400, "invalid_request", false},
		{"malformed form", func(h *harness) *result {
			return h.serve(rawReq(http.MethodPost, PathToken, oauth.MediaForm, "grant_type=%zz"))
		}, 400, "invalid_request", false},
		{"invalid UTF-8", func(h *harness) *result {
			return h.serve(rawReq(http.MethodPost, PathToken, oauth.MediaForm, "grant_type=authorization_code&code=%ff%fe"))
		}, 400, "invalid_request", false},
		{"body over 64 KiB", func(h *harness) *result {
			return h.serve(rawReq(http.MethodPost, PathToken, oauth.MediaForm, "grant_type=authorization_code&pad="+strings.Repeat("a", MaxBodyBytes)))
		}, 413, "invalid_request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.send(newHarness(t, rules.RFC6749))
			if r.status != tt.wantStatus || r.errCode() != tt.wantError {
				t.Errorf("got %d %s (%s), want %d %s", r.status, r.errCode(), r.body, tt.wantStatus, tt.wantError)
			}
			if got := r.header.Get(oauth.HeaderWWWAuthenticate) != ""; got != tt.wantWWW {
				t.Errorf("WWW-Authenticate present = %v, want %v", got, tt.wantWWW)
			}
			checkErrorShape(t, r)
		})
	}
}

// checkErrorShape asserts what every error response carries.
func checkErrorShape(t *testing.T, r *result) {
	t.Helper()
	if r.header.Get(oauth.HeaderCacheControl) != "no-store" || r.header.Get(oauth.HeaderPragma) != "no-cache" {
		t.Errorf("error response headers: Cache-Control %q, Pragma %q", r.header.Get(oauth.HeaderCacheControl), r.header.Get(oauth.HeaderPragma))
	}
	if !strings.HasPrefix(r.header.Get(oauth.HeaderContentType), "application/json") {
		t.Errorf("error Content-Type = %q", r.header.Get(oauth.HeaderContentType))
	}
	for _, k := range []string{oauth.ParamError, oauth.ParamErrorDescription} {
		for _, c := range r.str(k) {
			if !oauth.ValidErrorChar(c) {
				t.Errorf("%s %q has %q, outside RFC 6749 §5.2's set", k, r.str(k), c)
			}
		}
	}
	if _, has := r.obj[oauth.ParamAccessToken]; has {
		t.Error("error response carries an access_token")
	}
}

func TestUnauthorizedClient(t *testing.T) {
	t.Parallel()
	cfg, err := loadTest(rules.RFC6749, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clients[1].GrantTypes = []string{oauth.GrantRefreshToken}
	h := newHarnessCfg(t, cfg)
	r := h.post(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, basic(client2, secret2))
	if r.status != 400 || r.errCode() != "unauthorized_client" {
		t.Errorf("got %d %s, want 400 unauthorized_client", r.status, r.body)
	}
	v := location(t, h.serve(h.authorizeReq(codeOpts{client: 2})))
	if v.Get("error") != "unauthorized_client" {
		t.Errorf("authorize: got %v, want error=unauthorized_client", v)
	}
}

// TestClientCredentials: RFC 6749 §4.4.3 for a confidential client allowed
// the grant; the grant refused to public clients and to clients not allowed
// it; a client allowed only client_credentials gets no codes redeemed.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	r := h.post(ccForm("read"), basic(client1, secret1))
	if r.status != 200 || r.str("access_token") == "" || r.str("token_type") != "Bearer" || r.str("scope") != "read" ||
		r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("got %d %s %v", r.status, r.body, r.header)
	}
	if _, has := r.obj["refresh_token"]; has {
		t.Errorf("a refresh token was included: %s", r.body)
	}
	if r := h.post(ccForm(""), post(client1, secret1)); r.status != 200 || r.str("scope") != "read write" {
		t.Errorf("no scope asked: got %d %s, want the client's whole scope", r.status, r.body)
	}
	if r := h.post(ccForm(`read"x`), basic(client1, secret1)); r.errCode() != "invalid_scope" {
		t.Errorf("malformed scope: got %d %s", r.status, r.body)
	}
	m2m := post("tokenharness-m2m", "th-secret-m2m-3e91d0b7")
	if r := h.post(ccForm("write"), m2m); r.status != 200 {
		t.Errorf("m2m client: got %d %s", r.status, r.body)
	}
	if r := h.post(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, m2m); r.errCode() != "unauthorized_client" {
		t.Errorf("m2m client redeeming a code: got %d %s, want unauthorized_client", r.status, r.body)
	}
	if r := h.post(ccForm(""), public("tokenharness-public")); r.errCode() != "unauthorized_client" {
		t.Errorf("public client: got %d %s, want unauthorized_client", r.status, r.body)
	}
	// The legal variation: the extra scope ignored, the issued scope said.
	v := newHarness(t, rules.RFC6749, WithQuirks(rules.VarUpscopeIgnored.ID))
	if r := v.post(ccForm("read tokenharness.upscope"), basic(client1, secret1)); r.status != 200 || r.str("scope") != "read" {
		t.Errorf("upscope ignored: got %d %s, want 200 with scope read", r.status, r.body)
	}
	// OAuth 2.1 omits the password grant (RFC 9700 §2.4).
	o := newHarness(t, rules.OAuth21)
	if r := o.post(url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, basic(client1, secret1)); r.errCode() != "unsupported_grant_type" {
		t.Errorf("oauth21 password grant: got %d %s", r.status, r.body)
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	cfg, err := loadTest(rules.Dressipi, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIKey = "th-test-api-key-1234"
	tests := []struct {
		name   string
		header []string
		want   string
	}{
		{"right key", []string{"X-Api-Key", cfg.APIKey}, "200 tokens"},
		{"no key", nil, "401 invalid_client"},
		{"wrong key", []string{"X-Api-Key", "nope"}, "401 invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarnessCfg(t, cfg)
			if got := h.redeem(h.code(codeOpts{}), tt.header...).summary(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestScope(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	if got := h.tokens(codeOpts{}).str("scope"); got != "read write" {
		t.Errorf("default scope = %q, want the client's read write", got)
	}
	rt := h.tokens(codeOpts{scope: "read write"}).str("refresh_token")
	f := h.refreshForm(rt)
	f.Set("scope", "read")
	if r := h.post(f, h.auth(1)); r.str("scope") != "read" {
		t.Errorf("narrowed refresh: %d %s, want scope read", r.status, r.body)
	}
	if r := h.refresh(rt); r.str("scope") != "read write" {
		t.Errorf("refresh without scope: %s, want the original read write", r.body)
	}
}

func TestUnknownPathAndHealth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	if r := h.serve(httptest.NewRequest(http.MethodGet, "/nope", nil)); r.status != 404 || r.errCode() == "" {
		t.Errorf("unknown path: %d %s", r.status, r.body)
	}
	r := h.serve(httptest.NewRequest(http.MethodGet, PathHealth, nil))
	if r.status != 200 || r.str("status") != "ok" || r.str("profile") != "rfc6749" {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
}
