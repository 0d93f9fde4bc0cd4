package conform

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tokenharness/internal/oauth"
	"tokenharness/internal/probe"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// TestPolicy checks how the profile's policy and the rule's level turn
// what a rule observed into a status: only an enforced MUST/DOC violation
// fails the run; everything else is stated, never hidden.
func TestPolicy(t *testing.T) {
	t.Parallel()
	violated := func(context.Context, rules.Env) rules.Outcome {
		return rules.Outcome{Violation: errors.New("it differed"), Judged: &oauth.Exchange{Class: "timeout"}}
	}
	// A "violation" judged on an exchange that never left this machine (no
	// ephemeral port): no evidence about the server.
	local := func(context.Context, rules.Env) rules.Outcome {
		return rules.Outcome{Violation: errors.New("no response"), Judged: &oauth.Exchange{Class: probe.ClassLocal}}
	}
	held := func(context.Context, rules.Env) rules.Outcome { return rules.Outcome{} }
	skipped := func(context.Context, rules.Env) rules.Outcome { return rules.Outcome{Skip: "no refresh token"} }
	tests := []struct {
		name       string
		level      rules.Level
		policy     rules.Policy
		needs      []rules.Need
		flow       rules.Flow
		want       reports.Status
		wantReason string
		violated   bool
	}{
		{"MUST violated", rules.MUST, rules.Enforce, nil, violated, reports.StatusFailed, "it differed", true},
		{"DOC violated", rules.DOC, rules.Enforce, nil, violated, reports.StatusFailed, "it differed", true},
		{"SHOULD violated", rules.SHOULD, rules.Enforce, nil, violated, reports.StatusWarned, "SHOULD-level", true},
		{"warned deviation", rules.MUST, rules.Warn("the vendor says so"), nil, violated, reports.StatusWarned, "the vendor says so", true},
		{"waived deviation", rules.MUST, rules.Waive("not applicable"), nil, violated, reports.StatusWaived, "not applicable", true},
		{"waived but held", rules.MUST, rules.Waive("not applicable"), nil, held, reports.StatusWaived, "held anyway", false},
		{"held", rules.MUST, rules.Enforce, nil, held, reports.StatusPassed, "", false},
		{"no connection from this machine", rules.MUST, rules.Enforce, nil, local, reports.StatusInconclusive, "own machine could not open a connection", false},
		{"flow skipped", rules.MUST, rules.Enforce, nil, skipped, reports.StatusSkipped, "no refresh token", false},
		{"need unmet", rules.MUST, rules.Enforce, []rules.Need{rules.NeedClient2}, violated, reports.StatusSkipped, "CLIENT2_ID", false},
		{"need unmet, waived", rules.MUST, rules.Waive("public clients"), []rules.Need{rules.NeedSecret}, violated, reports.StatusWaived, "public clients", false},
	}
	cfg := target.Default()
	cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientAuth = "rfc6749", "http://127.0.0.1:9/oauth/token", "c", oauth.AuthNone
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rule := rules.Rule{ID: "TH-TEST-RULE", Level: tt.level, Needs: tt.needs, Flow: tt.flow,
				Profiles: rules.Profiles{rules.RFC6749: tt.policy}}
			v := r.Run(context.Background(), rule)
			if v.Status != tt.want || !strings.Contains(v.Reason, tt.wantReason) || v.Violated != tt.violated {
				t.Errorf("got status %s reason %q violated %v; want %s, a reason containing %q, violated %v",
					v.Status, v.Reason, v.Violated, tt.want, tt.wantReason, tt.violated)
			}
			if tt.violated && v.Class != "timeout" {
				t.Errorf("class %q, want the judged exchange's class", v.Class)
			}
		})
	}
	if v := r.Run(context.Background(), rules.Rule{ID: "TH-TEST-OTHER", Flow: held, Profiles: rules.Profiles{rules.Dressipi: rules.Enforce}}); v.Status != reports.StatusSkipped {
		t.Errorf("a rule outside the profile: status %s, want skipped", v.Status)
	}
}

// TestUndeclaredGrantSkips: rules for a grant the target does not declare
// skip naming GRANTS; a code source does not make an undeclared
// authorization_code grant runnable.
func TestUndeclaredGrantSkips(t *testing.T) {
	t.Parallel()
	cfg := target.Default()
	cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientSecret, cfg.ClientAuth = "rfc6749", "http://127.0.0.1:9/oauth/token", "c", "s-123456", oauth.AuthBasic
	cfg.AuthorizeURL = "http://127.0.0.1:9/oauth/authorize"
	cfg.Grants = target.GrantList{oauth.GrantClientCredentials}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	held := func(context.Context, rules.Env) rules.Outcome { return rules.Outcome{} }
	for _, tc := range []struct {
		need rules.Need
		want string // "" = runs
	}{
		{rules.NeedCode, "does not declare the authorization_code grant: set GRANTS"},
		{rules.NeedGrantCode, "does not declare the authorization_code grant: set GRANTS"},
		{rules.NeedGrantRefresh, "does not declare the refresh_token grant: set GRANTS"},
		{rules.NeedRestricted, "RESTRICTED_CLIENT_ID"},
		{rules.NeedGrantClientCredentials, ""},
	} {
		v := r.Run(context.Background(), rules.Rule{ID: "TH-TEST-RULE", Level: rules.MUST, Needs: []rules.Need{tc.need}, Flow: held,
			Profiles: rules.Profiles{rules.RFC6749: rules.Enforce}})
		switch {
		case tc.want == "" && v.Status != reports.StatusPassed:
			t.Errorf("%s: status %s %q, want passed", tc.need, v.Status, v.Reason)
		case tc.want != "" && (v.Status != reports.StatusSkipped || !strings.Contains(v.Reason, tc.want)):
			t.Errorf("%s: status %s %q, want skipped naming %q", tc.need, v.Status, v.Reason, tc.want)
		}
	}
	e := &env{r: r}
	if _, err := e.Code(context.Background(), rules.CodeOptions{}); !IsUnavailable(err) || !strings.Contains(err.Error(), "GRANTS") {
		t.Errorf("Code with authorization_code undeclared: %v, want unavailable naming GRANTS", err)
	}
	cfg.Grants = nil // the default declares codes and refresh tokens
	if d, err := New(cfg); err != nil || !d.has(rules.NeedCode) || !d.has(rules.NeedGrantRefresh) || d.has(rules.NeedGrantClientCredentials) {
		t.Errorf("default grants: code %v refresh %v client_credentials %v (err %v)", d.has(rules.NeedCode), d.has(rules.NeedGrantRefresh), d.has(rules.NeedGrantClientCredentials), err)
	}
}

// TestBuildAppliesClientAuthentication checks the request the Env builds
// for each way a rule can ask a client to authenticate.
func TestBuildAppliesClientAuthentication(t *testing.T) {
	t.Parallel()
	cfg := target.Default()
	cfg.Profile, cfg.Target = "rfc6749", "https://as.example/oauth/token"
	cfg.ClientID, cfg.ClientSecret, cfg.ClientAuth = "c1", "s3cret-one", oauth.AuthBasic
	cfg.Client2ID, cfg.Client2Secret = "c2", "s3cret-two"
	cfg.Headers = map[string]string{"X-Api-Key": "k-123456"}
	cfg.Quirks = []string{"RFC6749-5.1-NO-STORE"}
	r, err := New(cfg, WithRedactor(&redact.Redactor{}))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{r: r}
	tests := []struct {
		name                    string
		req                     rules.Request
		wantAuth                bool   // an Authorization header
		bodyHas, bodyLacks, url string // substrings
		wantMethod, contentType string
	}{
		{name: "configured basic", req: rules.Request{}, wantAuth: true, bodyLacks: "client_secret", wantMethod: "POST", contentType: oauth.MediaForm},
		{name: "post", req: rules.Request{Auth: rules.AuthPost}, bodyHas: "client_secret=s3cret-one", wantMethod: "POST"},
		{name: "both", req: rules.Request{Auth: rules.AuthBoth}, wantAuth: true, bodyHas: "client_secret=s3cret-one"},
		{name: "omit", req: rules.Request{Auth: rules.AuthOmit}, bodyLacks: "client_id"},
		{name: "query", req: rules.Request{Auth: rules.AuthQuery}, url: "client_secret=s3cret-one", bodyLacks: "client_secret"},
		{name: "second client", req: rules.Request{Client: rules.Client2, Auth: rules.AuthPost}, bodyHas: "client_id=c2"},
		{name: "form kept", req: rules.Request{Auth: rules.AuthPost, Form: map[string][]string{"grant_type": {"x"}}}, bodyHas: "grant_type=x"},
		{name: "GET puts the form in the query", req: rules.Request{Method: "GET", Auth: rules.AuthPost}, url: "client_id=c1", wantMethod: "GET"},
		{name: "JSON body", req: rules.Request{JSON: true, Auth: rules.AuthPost}, bodyHas: `"client_id":"c1"`, contentType: oauth.MediaJSON},
		{name: "content type override", req: rules.Request{ContentType: "text/plain"}, wantAuth: true, contentType: "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := e.build(tt.req)
			if has := got.Header.Get(oauth.HeaderAuthorization) != ""; has != tt.wantAuth {
				t.Errorf("Authorization header present %v, want %v", has, tt.wantAuth)
			}
			if tt.bodyHas != "" && !strings.Contains(got.Body, tt.bodyHas) {
				t.Errorf("body %q lacks %q", got.Body, tt.bodyHas)
			}
			if tt.bodyLacks != "" && strings.Contains(got.Body, tt.bodyLacks) {
				t.Errorf("body %q has %q", got.Body, tt.bodyLacks)
			}
			if tt.url != "" && !strings.Contains(got.URL, tt.url) {
				t.Errorf("URL %q lacks %q", got.URL, tt.url)
			}
			if tt.wantMethod != "" && got.Method != tt.wantMethod {
				t.Errorf("method %s, want %s", got.Method, tt.wantMethod)
			}
			if tt.contentType != "" && got.Header.Get(oauth.HeaderContentType) != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got.Header.Get(oauth.HeaderContentType), tt.contentType)
			}
			if got.Header.Get("X-Api-Key") != "k-123456" || got.Header.Get(oauth.HeaderQuirk) != "RFC6749-5.1-NO-STORE" {
				t.Errorf("configured headers missing: %v", got.Header)
			}
		})
	}
	if got := e.build(rules.Request{OmitHeaders: []string{"x-api-key"}}); got.Header.Get("X-Api-Key") != "" {
		t.Error("OmitHeaders did not drop the configured header")
	}
}

// TestEvidenceIsRedactedAndBounded: evidence masks the secrets the run
// learned and keeps a huge body from becoming a huge report.
func TestEvidenceIsRedactedAndBounded(t *testing.T) {
	t.Parallel()
	red := &redact.Redactor{}
	cfg := target.Default()
	cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientSecret, cfg.ClientAuth = "rfc6749", "http://127.0.0.1:9/t", "c", "s3cret-client-1", oauth.AuthPost
	r, err := New(cfg, WithRedactor(red))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{r: r}
	huge := strings.Repeat("x", 1<<20)
	x := &oauth.Exchange{Request: oauth.Request{Body: "client_secret=s3cret-client-1&code=abcdef123456"},
		Response: &oauth.Response{Status: 200, Body: []byte(`{"access_token":"tok-0123456789","pad":"` + huge + `"}`)}}
	e.learn(x)
	e.trail = append(e.trail, x, &oauth.Exchange{Err: "echo tok-0123456789"})
	ev := e.evidence(red, nil)
	all := ev[0].Request.Body + string(ev[0].Response.Body) + ev[1].Err
	for _, secret := range []string{"s3cret-client-1", "abcdef123456", "tok-0123456789"} {
		if strings.Contains(all, secret) {
			t.Errorf("evidence leaks %q", secret)
		}
	}
	if n := len(ev[0].Response.Body); n > evidenceBodyMax+100 {
		t.Errorf("evidence body is %d bytes", n)
	}
}

// TestPreflightClientCredentialsOnly: a server that serves only
// client_credentials answers the preflight's refresh request with
// unsupported_grant_type, which is an OAuth token endpoint's answer; with
// authorization_code undeclared the code source is not asked.
func TestPreflightClientCredentialsOnly(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unsupported_grant_type"}`))
	}))
	defer srv.Close()
	cfg := target.Default()
	cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientSecret, cfg.ClientAuth = "rfc6749", srv.URL+"/oauth/token", "svc", "s-123456", oauth.AuthBasic
	cfg.Grants = target.GrantList{oauth.GrantClientCredentials}
	cfg.AuthorizeURL = srv.URL + "/oauth/authorize" // would 404 if asked
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Preflight(context.Background()); err != nil {
		t.Errorf("Preflight: %v", err)
	}
}
