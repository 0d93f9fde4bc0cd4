package load

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"tokenharness/internal/oauth"
)

// fakeAS is a small, controllable token endpoint for the load package's own
// tests: it rotates refresh tokens (or not), can let concurrent refreshes of
// one token all win, and records every token it issued so a test can grep
// output files for them. The profile tests against the real mock live in
// mock_test.go; this one exists to reach states the mock has no switch for.
type fakeAS struct {
	rotate bool // issue a new refresh token on refresh
	racy   bool // a spent refresh token stays valid for a grace period
	// grace answers a spent token within the grace period with the token
	// its first refresh issued (a lost-response retry), not a new one.
	grace bool
	delay time.Duration // added to every token response
	// serial serves one token request at a time, each taking this long:
	// a server whose capacity is 1/serial requests per second.
	serial  time.Duration
	serialM sync.Mutex
	// deadRotation issues rotated refresh tokens it never accepts: a
	// server whose rotation hands out dead tokens.
	deadRotation bool
	// sameAccess issues one access token to everybody.
	sameAccess bool
	// refuseRefresh answers every refresh with invalid_grant: a server that
	// refuses valid refresh tokens.
	refuseRefresh bool
	// policy is the race policy a test judges this server by (not the
	// server's behaviour: kept here so a table row describes both).
	policy string

	mu      sync.Mutex
	codes   map[string]string    // code → PKCE challenge
	refresh map[string]time.Time // live refresh token → when it was spent (zero: unspent)
	next    map[string]string    // spent refresh token → the one its refresh issued
	issued  []string
}

const (
	fakeClientID     = "load-test-client"
	fakeClientSecret = "load-test-secret-7d1e"
	fakeRedirect     = "http://127.0.0.1:8080/callback"
)

func newFakeAS(t testing.TB, f *fakeAS) *httptest.Server {
	f.codes, f.refresh, f.next = map[string]string{}, map[string]time.Time{}, map[string]string{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", f.authorize)
	mux.HandleFunc("POST /oauth/token", f.token)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func randToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *fakeAS) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	code := randToken()
	f.mu.Lock()
	f.codes[code] = q.Get(oauth.ParamCodeChallenge)
	f.mu.Unlock()
	http.Redirect(w, r, q.Get(oauth.ParamRedirectURI)+"?code="+code+"&state="+url.QueryEscape(q.Get(oauth.ParamState)), http.StatusFound)
}

func (f *fakeAS) fail(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

func (f *fakeAS) token(w http.ResponseWriter, r *http.Request) {
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	if f.serial > 0 {
		f.serialM.Lock()
		time.Sleep(f.serial)
		f.serialM.Unlock()
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != fakeClientID || secret != fakeClientSecret {
		f.fail(w, 401, "invalid_client")
		return
	}
	if err := r.ParseForm(); err != nil {
		f.fail(w, 400, "invalid_request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := map[string]any{"token_type": "Bearer", "expires_in": 60}
	switch r.PostForm.Get(oauth.ParamGrantType) {
	case oauth.GrantAuthorizationCode:
		ch, ok := f.codes[r.PostForm.Get(oauth.ParamCode)]
		sum := sha256.Sum256([]byte(r.PostForm.Get(oauth.ParamCodeVerifier)))
		if !ok || ch != base64.RawURLEncoding.EncodeToString(sum[:]) {
			f.fail(w, 400, "invalid_grant")
			return
		}
		delete(f.codes, r.PostForm.Get(oauth.ParamCode))
		rt := randToken()
		f.refresh[rt] = time.Time{}
		resp["refresh_token"] = rt
		f.issued = append(f.issued, rt)
	case oauth.GrantRefreshToken:
		old := r.PostForm.Get(oauth.ParamRefreshToken)
		spent, ok := f.refresh[old]
		switch {
		case !ok || f.refuseRefresh:
			f.fail(w, 400, "invalid_grant")
			return
		case !spent.IsZero() && !((f.racy || f.grace) && time.Since(spent) < time.Second):
			f.fail(w, 400, "invalid_grant")
			return
		case !spent.IsZero() && f.grace:
			resp["refresh_token"] = f.next[old]
		}
		if _, retried := resp["refresh_token"]; f.rotate && !retried {
			if spent.IsZero() {
				f.refresh[old] = time.Now()
			}
			rt := randToken()
			f.next[old] = rt
			if !f.deadRotation {
				f.refresh[rt] = time.Time{}
			}
			resp["refresh_token"] = rt
			f.issued = append(f.issued, rt)
		}
	default:
		f.fail(w, 400, "unsupported_grant_type")
		return
	}
	at := randToken()
	if f.sameAccess {
		at = "the-one-access-token"
	}
	resp["access_token"] = at
	f.issued = append(f.issued, at)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

func (f *fakeAS) tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.issued...)
}

func fakeEndpoint(base string) Endpoint {
	return Endpoint{TokenURL: base + "/oauth/token", ClientID: fakeClientID, ClientSecret: fakeClientSecret,
		Auth: oauth.AuthBasic, RedirectURI: fakeRedirect}
}
