package mockserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

func TestAuthorizeRedirects(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	r := h.serve(h.authorizeReq(codeOpts{state: "xyz-state"}))
	v := location(t, r)
	if v.Get("code") == "" || v.Get("state") != "xyz-state" {
		t.Errorf("redirect parameters = %v, want code and state", v)
	}
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, callback+"?") {
		t.Errorf("Location = %q, want %s?...", loc, callback)
	}
	if r.header.Get(oauth.HeaderCacheControl) != "no-store" {
		t.Errorf("a redirect carrying a code is cacheable: %v", r.header)
	}
}

func TestAuthorizeURNRedirect(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.Dressipi)
	r := h.serve(h.authorizeReq(codeOpts{state: "s1"}))
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, oob+"?code=") || !strings.HasSuffix(loc, "&state=s1") {
		t.Errorf("Location = %q, want %s?code=...&state=s1", loc, oob)
	}
}

func TestAuthorizeRedirectWithQuery(t *testing.T) {
	t.Parallel()
	cfg, err := loadTest(rules.RFC6749, "")
	if err != nil {
		t.Fatal(err)
	}
	const withQuery = "http://127.0.0.1:8080/cb?tenant=a"
	cfg.Clients[0].RedirectURIs = []string{withQuery}
	h := newHarnessCfg(t, cfg)
	r := h.serve(h.authorizeReq(codeOpts{redirect: withQuery}))
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, withQuery+"&code=") {
		t.Errorf("Location = %q, want %s&code=...", loc, withQuery)
	}
}

func TestAuthorizeNeverRedirectsToUnvalidatedURIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    codeOpts
	}{
		{"unknown client", codeOpts{clientID: "nobody"}},
		{"unregistered redirect_uri", codeOpts{redirect: "https://evil.example/cb"}},
		{"redirect_uri differing in case", codeOpts{redirect: strings.ToUpper(callback)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, rules.RFC6749)
			r := h.serve(h.authorizeReq(tt.o))
			if r.status != 400 || r.header.Get("Location") != "" || r.errCode() != "invalid_request" {
				t.Errorf("got %d Location %q %s, want 400 JSON invalid_request without redirect", r.status, r.header.Get("Location"), r.body)
			}
		})
	}
	h := newHarness(t, rules.RFC6749)
	if r := h.serve(httptest.NewRequest(http.MethodGet, PathAuthorize+"?client_id=a&client_id=b", nil)); r.status != 400 {
		t.Errorf("repeated client_id: %d", r.status)
	}
	if r := h.serve(httptest.NewRequest(http.MethodPost, PathAuthorize, nil)); r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Errorf("POST: %d %v", r.status, r.header)
	}
}

func TestAuthorizeErrorsRedirect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile rules.Profile
		query   func(h *harness) string // raw query to send
		want    string
	}{
		{"missing response_type", rules.RFC6749, func(h *harness) string {
			return strings.Replace(h.authorizeReq(codeOpts{}).URL.RawQuery, "response_type=code", "", 1)
		}, "invalid_request"},
		{"token response_type", rules.RFC6749, func(h *harness) string {
			return strings.Replace(h.authorizeReq(codeOpts{}).URL.RawQuery, "response_type=code", "response_type=token", 1)
		}, "unsupported_response_type"},
		{"scope beyond the client's", rules.RFC6749, func(h *harness) string {
			return h.authorizeReq(codeOpts{scope: "read admin"}).URL.RawQuery
		}, "invalid_scope"},
		{"repeated state", rules.RFC6749, func(h *harness) string {
			return h.authorizeReq(codeOpts{state: "a"}).URL.RawQuery + "&state=b"
		}, "invalid_request"},
		{"no challenge in oauth21", rules.OAuth21, func(h *harness) string {
			return h.authorizeReq(codeOpts{method: "none"}).URL.RawQuery
		}, "invalid_request"},
		{"no challenge in dressipi", rules.Dressipi, func(h *harness) string {
			return h.authorizeReq(codeOpts{method: "none"}).URL.RawQuery
		}, "invalid_request"},
		{"plain in oauth21", rules.OAuth21, func(h *harness) string {
			return h.authorizeReq(codeOpts{method: oauth.PKCEPlain}).URL.RawQuery
		}, "invalid_request"},
		{"challenge too short", rules.RFC6749, func(h *harness) string {
			return h.authorizeReq(codeOpts{method: oauth.PKCEPlain, verifier: "short"}).URL.RawQuery
		}, "invalid_request"},
		{"unknown challenge method", rules.RFC6749, func(h *harness) string {
			return strings.Replace(h.authorizeReq(codeOpts{}).URL.RawQuery, "S256", "S512", 1)
		}, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.profile)
			v := location(t, h.serve(httptest.NewRequest(http.MethodGet, PathAuthorize+"?"+tt.query(h), nil)))
			if v.Get("error") != tt.want || v.Get("code") != "" {
				t.Errorf("redirect = %v, want error=%s and no code", v, tt.want)
			}
		})
	}
}

func TestPKCEMethods(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		profile rules.Profile
		method  string
	}{{rules.RFC6749, oauth.PKCEPlain}, {rules.RFC6749, oauth.PKCES256}, {rules.RFC6749, "none"}, {rules.OAuth21, oauth.PKCES256}, {rules.Dressipi, oauth.PKCES256}} {
		t.Run(string(tt.profile)+"/"+tt.method, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.profile)
			if r := h.redeem(h.code(codeOpts{method: tt.method})); r.status != 200 {
				t.Errorf("got %d %s", r.status, r.body)
			}
		})
	}
}

// Without redirect_uri in the authorization request, the registered one is
// used and the code exchange need not repeat it (RFC 6749 §4.1.3) -- except
// in dressipi, whose document requires it on every request.
func TestRedirectOmittedAtAuthorize(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	if r := h.redeem(h.code(codeOpts{redirect: "-"})); r.status != 200 {
		t.Errorf("rfc6749: %d %s", r.status, r.body)
	}
	d := newHarness(t, rules.Dressipi)
	if r := d.redeem(d.code(codeOpts{redirect: "-"})); r.errCode() != "invalid_request" {
		t.Errorf("dressipi without redirect_uri: %d %s, want invalid_request", r.status, r.body)
	}
}
