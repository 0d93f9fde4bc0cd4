package codes

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"tokenharness/internal/oauth"
)

// authorizeServer answers every authorization request with a redirect
// built by loc from the request's query.
func authorizeServer(t *testing.T, loc func(q url.Values) string) (*httptest.Server, *atomic.Pointer[http.Request]) {
	t.Helper()
	var last atomic.Pointer[http.Request]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last.Store(r)
		if r.URL.Path != "/oauth/authorize" {
			t.Errorf("followed a redirect to %s", r.URL)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Location", loc(r.URL.Query()))
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv, &last
}

func echoState(base string) func(url.Values) string {
	return func(q url.Values) string {
		return base + "?code=c-" + q.Get("client_id") + "&state=" + url.QueryEscape(q.Get("state"))
	}
}

func TestAuthorizeSendsTheRequest(t *testing.T) {
	t.Parallel()
	srv, last := authorizeServer(t, echoState("http://127.0.0.1:8080/callback"))
	req := sample
	req.Header = http.Header{"X-Api-Key": {"k-1"}, oauth.HeaderQuirk: {"RFC7636-4.6-S256-VERIFIED"}}
	code, err := Authorize(srv.URL+"/oauth/authorize?tenant=acme", nil).Code(context.Background(), req)
	if err != nil || code != "c-tokenharness-1" {
		t.Fatalf("Code = %q, %v; want c-tokenharness-1", code, err)
	}
	r := last.Load()
	want := url.Values{
		"tenant": {"acme"}, "response_type": {"code"}, "client_id": {"tokenharness-1"},
		"redirect_uri": {"http://127.0.0.1:8080/callback"}, "scope": {"read write"}, "state": {"st-123"},
		"code_challenge": {sample.Challenge}, "code_challenge_method": {"S256"}, "dpop_jkt": {sample.DPoPJKT},
	}
	if got := r.URL.Query(); got.Encode() != want.Encode() {
		t.Errorf("query = %s\nwant    %s", got.Encode(), want.Encode())
	}
	if r.Method != http.MethodGet || r.Header.Get("X-Api-Key") != "k-1" || r.Header.Get(oauth.HeaderQuirk) == "" {
		t.Errorf("got %s with headers %v; want GET with the extra headers", r.Method, r.Header)
	}
}

func TestAuthorizeOmitsEmptyParams(t *testing.T) {
	t.Parallel()
	srv, last := authorizeServer(t, echoState("http://127.0.0.1:8080/callback"))
	if _, err := Authorize(srv.URL+"/oauth/authorize", nil).Code(context.Background(), Request{ClientID: "tokenharness-1", State: "s"}); err != nil {
		t.Fatal(err)
	}
	q := last.Load().URL.Query()
	for _, p := range []string{"redirect_uri", "scope", "code_challenge", "code_challenge_method", "dpop_jkt"} {
		if q.Has(p) {
			t.Errorf("sent empty %s", p)
		}
	}
}

func TestAuthorizeRedirects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		loc     func(url.Values) string
		state   string
		want    string
		wantErr string
		wantIs  error
	}{
		{"http redirect URI", echoState("http://127.0.0.1:8080/callback"), "st-123", "c-tokenharness-1", "", nil},
		{"oob redirect URI", echoState("urn:ietf:wg:oauth:2.0:oob:auto"), "st-123", "c-tokenharness-1", "", nil},
		{"unreachable redirect URI is not followed", echoState("http://127.0.0.1:1/callback"), "st-123", "c-tokenharness-1", "", nil},
		{"code in the fragment", func(q url.Values) string {
			return "http://127.0.0.1:8080/callback#code=frag-code&state=" + q.Get("state")
		}, "st-123", "frag-code", "", nil},
		{"error", func(q url.Values) string {
			return "http://127.0.0.1:8080/callback?error=invalid_request&error_description=code_challenge+required&state=" + q.Get("state")
		}, "st-123", "", "codes: authorize: invalid_request: code_challenge required", oauth.ErrInvalidRequest},
		{"error without description", func(url.Values) string {
			return "urn:ietf:wg:oauth:2.0:oob:auto?error=access_denied"
		}, "st-123", "", "codes: authorize: access_denied", nil},
		{"state mismatch", func(url.Values) string {
			return "http://127.0.0.1:8080/callback?code=abc&state=other"
		}, "st-123", "", `codes: authorize: the redirect carries state "other", the request sent "st-123"`, nil},
		{"state dropped", func(url.Values) string {
			return "http://127.0.0.1:8080/callback?code=abc"
		}, "st-123", "", `carries state "", the request sent "st-123"`, nil},
		{"no code", func(q url.Values) string {
			return "http://127.0.0.1:8080/callback?state=" + q.Get("state")
		}, "st-123", "", "codes: authorize: the redirect to http://127.0.0.1:8080/callback?state=st-123 carries no code", nil},
		{"relative location", func(q url.Values) string {
			return "/callback?code=rel&state=" + q.Get("state")
		}, "st-123", "rel", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := authorizeServer(t, tt.loc)
			req := sample
			req.State = tt.state
			code, err := Authorize(srv.URL+"/oauth/authorize", &http.Client{}).Code(context.Background(), req)
			if tt.wantErr == "" {
				if err != nil || code != tt.want {
					t.Errorf("Code = %q, %v; want %q", code, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Code = %q, %v; want error containing %q", code, err, tt.wantErr)
			}
			if !errors.Is(err, ErrCodeSource) {
				t.Errorf("error %v does not wrap ErrCodeSource", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
		})
	}
}

func TestAuthorizeNotARedirect(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>\n<body>Sign in</body></html>"))
	}))
	defer srv.Close()
	_, err := Authorize(srv.URL, nil).Code(context.Background(), sample)
	const want = "codes: authorize: AUTHORIZE_URL answered 200 (<html> <body>Sign in</body></html>), want a 3xx redirect"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "use CODE_CMD") {
		t.Errorf("err = %v, want prefix %q and a pointer to CODE_CMD", err, want)
	}
}

func TestAuthorizeBadURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "localhost:9000/oauth/authorize", "ftp://x/y", "http://[::1"} {
		_, err := Authorize(u, nil).Code(context.Background(), sample)
		if err == nil || !strings.Contains(err.Error(), "is not an absolute http(s) URL") {
			t.Errorf("Authorize(%q) err = %v, want a URL error", u, err)
		}
	}
}

func TestAuthorizeUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	_, err := Authorize(u+"/oauth/authorize", nil).Code(context.Background(), sample)
	if err == nil || !strings.HasPrefix(err.Error(), "codes: authorize: GET "+u+"/oauth/authorize: ") || !errors.Is(err, ErrCodeSource) {
		t.Errorf("err = %v, want a GET failure wrapping ErrCodeSource", err)
	}
}

var (
	_ Source = (*CommandSource)(nil)
	_ Source = (*AuthorizeSource)(nil)
)

// TestAuthorizeRefusalInPlace: a 4xx answer carrying an OAuth error code,
// as JSON or as the whole plain-text body, is reported as that *oauth.Error
// (and still as the HTTP status), so a rule can tell a PKCE refusal from a
// broken endpoint.
func TestAuthorizeRefusalInPlace(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"error":"invalid_request","error_description":"code_challenge required"}`: "invalid_request",
		"invalid_request\n":        "invalid_request",
		"<html>Bad Request</html>": "",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, body, http.StatusBadRequest)
		}))
		_, err := Authorize(srv.URL, nil).Code(context.Background(), Request{ClientID: "c", State: "s"})
		srv.Close()
		var oe *oauth.Error
		var se *oauth.HTTPStatusError
		if !errors.As(err, &se) || se.Status != 400 {
			t.Errorf("body %q: error %v does not carry the status", body, err)
		}
		switch {
		case want == "" && errors.As(err, &oe):
			t.Errorf("body %q: reported as OAuth error %q", body, oe.Code)
		case want != "" && (!errors.As(err, &oe) || oe.Code != want):
			t.Errorf("body %q: error %v, want OAuth error %s", body, err, want)
		}
	}
}
