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
