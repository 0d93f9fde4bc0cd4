package conform

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// A verdict is evidence: these tests run real rules against scripted token
// endpoints that make one allowed choice, break a precondition, or break the
// rule, and check that only the last one fails.

// scripted answers every token request with answer(form).
func scripted(t *testing.T, answer func(form map[string]string) (int, map[string]any)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form := map[string]string{}
		for k, vs := range r.PostForm {
			form[k] = vs[0]
		}
		status, body := answer(form)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/oauth/token"
}

// codeFunc is a code source in a function.
type codeFunc func(context.Context, codes.Request) (string, error)

func (f codeFunc) Code(ctx context.Context, r codes.Request) (string, error) { return f(ctx, r) }

var freshCodes = codeFunc(func(context.Context, codes.Request) (string, error) { return "code-1", nil })

func runRule(t *testing.T, url string, src codes.Source, rule rules.Rule) Verdict {
	t.Helper()
	cfg := target.Default()
	cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientAuth, cfg.Scope = "rfc6749", url, "c1", oauth.AuthNone, "read"
	r, err := New(cfg, WithCodeSource(src))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r.Run(context.Background(), rule)
}

func tokensFor(scope string) map[string]any {
	m := map[string]any{"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-1"}
	if scope != "" {
		m["scope"] = scope
	}
	return m
}

func oauthError(code string) map[string]any { return map[string]any{"error": code} }

// TestSetupFailureIsInconclusive: a precondition that fails (the code
// source refuses, a fresh code's redemption answers 500) leaves the rule
// inconclusive, never failed or warned, whatever its level.
func TestSetupFailureIsInconclusive(t *testing.T) {
	t.Parallel()
	refusing := codeFunc(func(context.Context, codes.Request) (string, error) {
		return "", &oauth.Error{Code: "temporarily_unavailable", Description: "database is down"}
	})
	crashing := scripted(t, func(map[string]string) (int, map[string]any) { return 500, oauthError("server_error") })
	for _, tc := range []struct {
		name string
		url  string
		src  codes.Source
		rule rules.Rule
	}{
		{"code source refuses, MUST rule", crashing, refusing, rules.AccessTokenPresent},
		{"code source refuses, SHOULD rule", crashing, refusing, rules.CodeReplayRevokes},
		{"redeeming the fresh code answers 500", crashing, freshCodes, rules.CodeReplayRevokes},
		{"redeeming the fresh code answers 500 before a refresh", crashing, freshCodes, rules.RefreshWithoutRedirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := runRule(t, tc.url, tc.src, tc.rule)
			if v.Status != reports.StatusInconclusive || v.Violated || !strings.Contains(v.Reason, "setup") {
				t.Errorf("status %s violated %v reason %q; want inconclusive, not violated, a setup reason", v.Status, v.Violated, v.Reason)
			}
		})
	}
}

// TestAllowedChoicesPass: where the RFC leaves the server a choice, each
// choice passes, and only the answer that breaks the sentence fails.
func TestAllowedChoicesPass(t *testing.T) {
	t.Parallel()
	refresh := func(refreshAnswer func(form map[string]string) (int, map[string]any)) string {
		return scripted(t, func(form map[string]string) (int, map[string]any) {
			if form["grant_type"] == "authorization_code" {
				return 200, tokensFor("read")
			}
			return refreshAnswer(form)
		})
	}
	grantType := func(omitted, empty int, code string) string {
		return scripted(t, func(form map[string]string) (int, map[string]any) {
			gt, has := form["grant_type"]
			switch {
			case !has:
				return omitted, oauthError("invalid_request")
			case gt == "":
				return empty, oauthError(code)
			}
			return 200, tokensFor("read")
		})
	}
	for _, tc := range []struct {
		name string
		url  string
		rule rules.Rule
		want reports.Status
	}{
		{"upscope refused with invalid_scope", refresh(func(map[string]string) (int, map[string]any) { return 400, oauthError("invalid_scope") }),
			rules.RefreshNoUpscope, reports.StatusPassed},
		{"upscope ignored, the granted scope said", refresh(func(map[string]string) (int, map[string]any) { return 200, tokensFor("read") }),
			rules.RefreshNoUpscope, reports.StatusPassed},
		{"upscope granted", refresh(func(f map[string]string) (int, map[string]any) { return 200, tokensFor(f["scope"]) }),
			rules.RefreshNoUpscope, reports.StatusFailed},
		{"upscope answered without scope: §5.1 reads it as granted", refresh(func(map[string]string) (int, map[string]any) { return 200, tokensFor("") }),
			rules.RefreshNoUpscope, reports.StatusFailed},
		{"empty grant_type answered as omitted", grantType(400, 400, "invalid_request"), rules.EmptyParamOmitted, reports.StatusPassed},
		{"empty grant_type answered otherwise", grantType(400, 400, "unsupported_grant_type"), rules.EmptyParamOmitted, reports.StatusFailed},
		{"the omitted answer is a 500: nothing to compare with", grantType(500, 400, "invalid_request"), rules.EmptyParamOmitted, reports.StatusInconclusive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := runRule(t, tc.url, freshCodes, tc.rule)
			if v.Status != tc.want {
				t.Errorf("status %s, want %s:\n%s", v.Status, tc.want, v)
			}
		})
	}
}

// TestOnlyAPKCERefusalCounts: OAUTH21-4.1.3-PKCE-REQUIRED passes on the
// authorization endpoint's refusal only when it is the invalid_request RFC
// 7636 §4.4.1 names; a refusal for another reason is not judged.
func TestOnlyAPKCERefusalCounts(t *testing.T) {
	t.Parallel()
	url := scripted(t, func(map[string]string) (int, map[string]any) { return 200, tokensFor("read") })
	for code, want := range map[string]reports.Status{
		"invalid_request":         reports.StatusPassed,
		"temporarily_unavailable": reports.StatusInconclusive,
		"server_error":            reports.StatusInconclusive,
		"access_denied":           reports.StatusInconclusive,
	} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			src := codeFunc(func(_ context.Context, r codes.Request) (string, error) {
				if r.Challenge == "" {
					return "", &oauth.Error{Code: code}
				}
				return "code-1", nil
			})
			cfg := target.Default()
			cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientAuth = "oauth21", url, "c1", oauth.AuthNone
			r, err := New(cfg, WithCodeSource(src))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if v := r.Run(context.Background(), rules.PKCERequired); v.Status != want {
				t.Errorf("status %s, want %s:\n%s", v.Status, want, v)
			}
		})
	}
}

// TestVerdictCarriesItsDuration: the time a rule took reaches the verdict
// (the reports' duration_ms), not just a local copy.
func TestVerdictCarriesItsDuration(t *testing.T) {
	t.Parallel()
	slow := func(context.Context, rules.Env) rules.Outcome {
		time.Sleep(20 * time.Millisecond)
		return rules.Outcome{}
	}
	v := runRule(t, "http://127.0.0.1:9/oauth/token", freshCodes, rules.Rule{ID: "TH-TEST-SLOW", Level: rules.MUST, Flow: slow,
		Profiles: rules.Profiles{rules.RFC6749: rules.Enforce}})
	if v.Duration < 20*time.Millisecond {
		t.Errorf("verdict duration %v, want at least the 20ms the rule took", v.Duration)
	}
}
