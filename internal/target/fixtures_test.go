package target

import (
	"path/filepath"
	"strings"
	"testing"

	"tokenharness/internal/oauth"
)

// TestFixtureTargets loads the shipped target files (read by path: this
// package does not import fixtures) and checks they validate and name the
// mock's fixture clients.
func TestFixtureTargets(t *testing.T) {
	t.Parallel()
	type want struct {
		auth             oauth.AuthMethod
		secret, secret2  string
		redirect, client string
	}
	const (
		s1       = "th-secret-one-5f2c9a1e"
		s2       = "th-secret-two-8b7d3c40"
		callback = "http://127.0.0.1:8080/callback"
	)
	mocks := map[string]want{
		"rfc6749":    {oauth.AuthBasic, s1, s2, callback, "tokenharness-1"},
		"oauth21":    {oauth.AuthBasic, s1, s2, callback, "tokenharness-1"},
		"commoninja": {oauth.AuthPost, s1, s2, callback, "tokenharness-1"},
		"dressipi":   {oauth.AuthNone, "", "", "urn:ietf:wg:oauth:2.0:oob:auto", "tokenharness-1"},
	}
	for profile, w := range mocks {
		t.Run("mock-"+profile, func(t *testing.T) {
			t.Parallel()
			c, err := Load(filepath.Join("..", "..", "fixtures", "targets", "mock-"+profile+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Target != "" || c.AuthorizeURL != "" {
				t.Errorf("target %q authorize_url %q: the suite fills these in, leave them empty", c.Target, c.AuthorizeURL)
			}
			got := want{c.ClientAuth, c.ClientSecret, c.Client2Secret, c.RedirectURI, c.ClientID}
			// oauth21 asks for two scope tokens: RFC6749-6-ROTATED-SCOPE-KEPT narrows to one.
			scope := map[string]string{"oauth21": "read write"}[profile]
			if scope == "" {
				scope = "read"
			}
			if got != w || c.Profile != profile || c.Client2ID != "tokenharness-2" || c.Scope != scope {
				t.Errorf("got %+v profile %q client2 %q scope %q; want %+v", got, c.Profile, c.Client2ID, c.Scope, w)
			}
			c.ApplyEnv(env(map[string]string{"TARGET": "http://127.0.0.1:9000/oauth/token", "AUTHORIZE_URL": "http://127.0.0.1:9000/oauth/authorize"}))
			if err := c.Validate(profiles); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("example", func(t *testing.T) {
		t.Parallel()
		c, err := Load(filepath.Join("..", "..", "fixtures", "targets", "example.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		// The example keeps secrets out of the file; the environment adds them.
		c.ApplyEnv(env(map[string]string{"CLIENT_SECRET": "from-env-secret", "CLIENT2_SECRET": "from-env-secret-2"}))
		if err := c.Validate(profiles); err != nil {
			t.Error(err)
		}
		if c.ClientSecret != "from-env-secret" || !strings.HasPrefix(c.Target, "https://") {
			t.Errorf("example loaded as %s", c.Redacted())
		}
	})
}
