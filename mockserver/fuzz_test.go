package mockserver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// checkNoServerError asserts what every token-endpoint answer to any input
// must satisfy with no quirks on: no 5xx, a JSON §5.2 error with allowed
// characters unless tokens were issued, and no-store.
func checkNoServerError(t *testing.T, r *result) {
	t.Helper()
	if r.status >= 500 {
		t.Fatalf("server error %d: %s", r.status, r.body)
	}
	if r.header.Get(oauth.HeaderCacheControl) != "no-store" {
		t.Fatalf("status %d without Cache-Control: no-store", r.status)
	}
	if r.status == http.StatusOK {
		if r.str(oauth.ParamAccessToken) == "" {
			t.Fatalf("200 without access_token: %s", r.body)
		}
		return
	}
	if r.errCode() == "" {
		t.Fatalf("status %d without a JSON error member: %q", r.status, r.body)
	}
	for _, k := range []string{oauth.ParamError, oauth.ParamErrorDescription} {
		for _, c := range r.str(k) {
			if !oauth.ValidErrorChar(c) {
				t.Fatalf("%s has %q: %q", k, c, r.str(k))
			}
		}
	}
}

// FuzzTokenHandler sends arbitrary requests to the token endpoint of every
// profile. "{code}" and "{rt}" in the body are replaced by a fresh code and
// refresh token so the fuzzer reaches the grant logic, not only the parser.
func FuzzTokenHandler(f *testing.F) {
	form := oauth.MediaForm
	basic1 := basicHeader(client1, secret1)
	redeem := "grant_type=authorization_code&code={code}&redirect_uri=" + url.QueryEscape(callback) + "&code_verifier=" + verifier
	for _, s := range []struct {
		profile                 uint8
		method, ct, auth, query string
		body                    string
	}{
		{0, "POST", form, basic1, "", redeem},
		{0, "POST", form, basic1, "", "grant_type=refresh_token&refresh_token={rt}"},
		{1, "POST", form, "", "", redeem + "&client_id=" + client1 + "&client_secret=" + secret1},
		{2, "POST", form, "", "", "grant_type=authorization_code&code={code}&client_id=" + client1 + "&code_verifier=" + verifier + "&redirect_uri=" + url.QueryEscape(oob)},
		{2, "POST", form, "", "", "grant_type=refresh_token&refresh_token={rt}&client_id=" + client1 + "&redirect_uri=" + url.QueryEscape(oob)},
		{3, "POST", form, basic1, "", "grant_type=refresh_token&refresh_token={rt}&scope=read+write+admin"},
		{0, "POST", form, basic1, "client_secret=x", "grant_type=authorization_code&grant_type=refresh_token"},
		{0, "POST", form + "; charset=UTF-8", "Basic Og==", "", "grant_type=&code=%ff%fe&redirect_uri=%zz"},
		{0, "POST", "application/json", basic1, "", `{"grant_type":"authorization_code","code":{"nested":[1,2]}}`},
		{0, "POST", "text/plain", "Basic !!!", "", "\x00\x01\x02;;;&&&==="},
		{0, "GET", "", basic1, "grant_type=authorization_code&code={code}", ""},
		{0, "PUT", form, "Bearer x", "", "a=b"},
		{3, "POST", form, "basic " + strings.Repeat("A", 300), "", strings.Repeat("a=b&", 2000)},
		{1, "POST", "multipart/form-data; boundary=x", "", "", "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nrefresh_token\r\n--x--"},
		{2, "POST", ";;;", "Basic " + "dGVzdDp0ZXN0", "", "client_id=%E2%80%AE&grant_type=refresh_token&refresh_token=\"'<>"},
	} {
		f.Add(s.profile, s.method, s.ct, s.auth, s.query, []byte(s.body))
	}
	var hs []*harness
	for _, p := range profiles() {
		hs = append(hs, newHarness(f, p))
	}
	f.Fuzz(func(t *testing.T, profile uint8, method, ct, authz, query string, body []byte) {
		// The servers are shared; the harness is rebound to t because F's
		// methods must not be called inside the fuzz target.
		pick := hs[int(profile)%len(hs)]
		h := &harness{t: t, srv: pick.srv, clock: pick.clock, profile: pick.profile}
		if bytes.Contains(body, []byte("{code}")) || strings.Contains(query, "{code}") {
			g := h.code(codeOpts{})
			body = bytes.ReplaceAll(body, []byte("{code}"), []byte(g.code))
			query = strings.ReplaceAll(query, "{code}", g.code)
		}
		if bytes.Contains(body, []byte("{rt}")) {
			rt := h.tokens(codeOpts{}).str(oauth.ParamRefreshToken)
			body = bytes.ReplaceAll(body, []byte("{rt}"), []byte(rt))
		}
		if !validMethod(method) {
			method = http.MethodPost
		}
		req := httptest.NewRequest(http.MethodPost, PathToken, nil)
		req.Method = method
		req.URL.RawQuery = query
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.Header.Set(oauth.HeaderContentType, ct)
		req.Header.Set(oauth.HeaderAuthorization, authz)
		checkNoServerError(t, h.serve(req))
	})
}

// validMethod reports whether m is an HTTP token, as net/http would accept.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

func TestNoServerErrorForGarbage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		req  func() *http.Request
	}{
		{"random bytes", func() *http.Request { return rawReq("POST", PathToken, oauth.MediaForm, "\x00\xff\xfe%%%&&==;") }},
		{"semicolons", func() *http.Request {
			return rawReq("POST", PathToken, oauth.MediaForm, "grant_type=refresh_token;refresh_token=x")
		}},
		{"many parameters", func() *http.Request {
			return rawReq("POST", PathToken, oauth.MediaForm, strings.Repeat("p=1&", MaxBodyBytes/4-1))
		}},
		{"long parameter name", func() *http.Request {
			return rawReq("POST", PathToken, oauth.MediaForm, strings.Repeat("n", MaxBodyBytes-2)+"=1")
		}},
		{"exactly 64 KiB", func() *http.Request {
			return rawReq("POST", PathToken, oauth.MediaForm, "grant_type=x&pad="+strings.Repeat("a", MaxBodyBytes-17))
		}},
		{"unknown length, too large", func() *http.Request {
			r := rawReq("POST", PathToken, oauth.MediaForm, strings.Repeat("a", 2*MaxBodyBytes))
			r.ContentLength = -1
			return r
		}},
		{"bad media type", func() *http.Request { return rawReq("POST", PathToken, "application/x-www-form-urlencoded; =", "a=b") }},
		{"JSON array", func() *http.Request { return rawReq("POST", PathToken, oauth.MediaJSON, "[1,2]") }},
		{"Basic without colon", func() *http.Request {
			r := rawReq("POST", PathToken, oauth.MediaForm, "grant_type=authorization_code&code=x")
			r.Header.Set(oauth.HeaderAuthorization, "Basic dGVzdA==")
			return r
		}},
		{"Basic with bad escape", func() *http.Request {
			r := rawReq("POST", PathToken, oauth.MediaForm, "grant_type=authorization_code&code=x")
			r.Header.Set(oauth.HeaderAuthorization, "Basic JXp6OiV6eg==") // %zz:%zz
			return r
		}},
		{"quirk header ignored when not enabled", func() *http.Request {
			r := rawReq("POST", PathToken, oauth.MediaForm, "grant_type=x")
			r.Header.Set(oauth.HeaderQuirk, "\xff,,,")
			return r
		}},
	}
	for _, p := range profiles() {
		for _, tt := range tests {
			t.Run(string(p)+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				checkNoServerError(t, newHarness(t, p).serve(tt.req()))
			})
		}
	}
}

// Over a real connection a client still sending a 10 MB body reads the
// 413, not a reset connection.
func TestHugeBodyOverTheWire(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	ts := httptest.NewUnstartedServer(h.srv)
	ts.Config = NewHTTPServer("", h.srv, nil)
	ts.Start()
	defer ts.Close()
	body := "grant_type=authorization_code&code=x&pad=" + strings.Repeat("a", 10<<20)
	res, err := ts.Client().Post(ts.URL+PathToken, oauth.MediaForm, strings.NewReader(body))
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "invalid_request") {
		t.Errorf("got %d %s, want 413 invalid_request", res.StatusCode, b)
	}
}
