package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tokenharness/internal/oauth"
	"tokenharness/internal/target"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestResolve(t *testing.T) {
	t.Parallel()
	cfgFile := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(cfgFile, []byte("target: https://auth.example.com/oauth/token\nprofile: commoninja\nclient_id: from-file\nclient_secret: file-secret-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     func(string) string
		check   func(t *testing.T, c target.Config)
		wantErr string
	}{
		{name: "nothing set: the bundled mock under rfc6749", env: env(), check: func(t *testing.T, c target.Config) {
			if c.Target != "" || c.Profile != "rfc6749" || c.ClientID != "tokenharness-1" || c.ClientAuth != oauth.AuthBasic {
				t.Errorf("got %s", c.Redacted())
			}
		}},
		{name: "mock under dressipi: public client with the oob redirect", env: env("PROFILE", "dressipi"), check: func(t *testing.T, c target.Config) {
			if c.ClientAuth != oauth.AuthNone || c.RedirectURI != "urn:ietf:wg:oauth:2.0:oob:auto" {
				t.Errorf("got %s", c.Redacted())
			}
		}},
		{name: "CONFIG file, variables win", env: env("CONFIG", cfgFile, "CLIENT_ID", "from-env"), check: func(t *testing.T, c target.Config) {
			if c.ClientID != "from-env" || c.Profile != "commoninja" || c.ClientAuth != oauth.AuthPost {
				t.Errorf("got %s", c.Redacted())
			}
		}},
		{name: "secret without CLIENT_AUTH means confidential", env: env("TARGET", "https://a.example/oauth/token", "PROFILE", "dressipi", "CLIENT_ID", "x", "CLIENT_SECRET", "s-123456"), check: func(t *testing.T, c target.Config) {
			if c.ClientAuth != oauth.AuthBasic {
				t.Errorf("ClientAuth = %s, want client_secret_basic", c.ClientAuth)
			}
		}},
		{name: "no GRANTS: codes and refresh tokens", env: env("TARGET", "https://a.example/oauth/token", "CLIENT_ID", "x"), check: func(t *testing.T, c target.Config) {
			if strings.Join(c.Grants, ",") != "authorization_code,refresh_token" {
				t.Errorf("Grants = %v", c.Grants)
			}
		}},
		{name: "the mock as an m2m server", env: env("CONFIG", "../../fixtures/targets/mock-rfc6749-m2m.yaml"), check: func(t *testing.T, c target.Config) {
			if strings.Join(c.Grants, ",") != "client_credentials" || c.CodeCmd != "" || c.AuthorizeURL != "" || c.RestrictedClientID == "" {
				t.Errorf("got %s", c.Redacted())
			}
		}},
		{name: "bad GRANTS", env: env("GRANTS", "client_credential"), wantErr: `GRANTS "client_credential" names "client_credential", which is not one of authorization_code|refresh_token|client_credentials|password`},
		{name: "unknown profile", env: env("PROFILE", "nope"), wantErr: `PROFILE "nope" is not one of rfc6749|commoninja|dressipi|oauth21`},
		{name: "unknown quirk", env: env("QUIRKS", "RFC0000-1-NOPE"), wantErr: `QUIRKS`},
		{name: "external target needs a client", env: env("TARGET", "https://a.example/oauth/token"), wantErr: "CLIENT_ID is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Resolve(tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, target.ErrConfig) {
					t.Fatalf("got %v, want a config error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// TestResolveGate: every gate setting is checked before work starts, with
// one line naming the variable; the README's LABELS examples are valid.
func TestResolveGate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want string // "" for no error, else a fragment of the message
	}{
		{map[string]string{}, ""},
		{map[string]string{"LABELS": "level: containsAny MUST"}, ""},
		{map[string]string{"LABELS": "rule:RFC6749-5.1-NO-STORE"}, ""},
		{map[string]string{"LABELS": "rule: RFC6749-5.1-NO-STORE"}, "LABELS \"rule: RFC6749-5.1-NO-STORE\" is not a label filter (Invalid set operation"},
		{map[string]string{"LABELS": "(("}, "Mismatched '('"},
		{map[string]string{"PROCS": "0"}, "PROCS \"0\""},
		{map[string]string{"PROCS": "four"}, "PROCS \"four\""},
		{map[string]string{"SUITE_TIMEOUT": "20"}, "SUITE_TIMEOUT \"20\""},
		{map[string]string{"SUITE_TIMEOUT": "-1m"}, "SUITE_TIMEOUT"},
		{map[string]string{"MOCK": "docker"}, "MOCK \"docker\" is not one of auto|container|in-process"},
		{map[string]string{"MOCK": "in-process", "PROCS": "8", "SUITE_TIMEOUT": "90s"}, ""},
	} {
		g, err := ResolveGate(func(k string) string { return tc.env[k] })
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "\x1b")):
			t.Errorf("%v: error %v, want one plain line containing %q", tc.env, err, tc.want)
		case tc.want == "" && tc.env["PROCS"] == "8" && (g.Procs != 8 || g.Mock != "in-process" || g.SuiteTimeout.Seconds() != 90):
			t.Errorf("resolved %+v", g)
		}
	}
}
