package mockserver

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// The embedded fixtures are what other packages' target files name; this
// pins them.
func TestEmbeddedFixtures(t *testing.T) {
	t.Parallel()
	for _, p := range profiles() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(p, "")
			if err != nil {
				t.Fatal(err)
			}
			wantAccess := time.Hour
			if p == rules.Dressipi {
				wantAccess = 24 * time.Hour
			}
			if cfg.Profile != p || cfg.CodeTTL != time.Minute || cfg.AccessTTL != wantAccess ||
				cfg.RefreshTTL != 30*24*time.Hour || cfg.RotationGrace != 0 {
				t.Errorf("lifetimes = %+v", cfg)
			}
			byID := map[string]Client{}
			for _, c := range cfg.Clients {
				byID[c.ID] = c
			}
			switch p {
			case rules.Dressipi:
				for _, id := range []string{client1, client2} {
					if c := byID[id]; c.Secret != "" || !slices.Equal(c.RedirectURIs, []string{oob}) {
						t.Errorf("%s = %+v, want a public client with the oob redirect", id, c)
					}
				}
			default:
				for id, secret := range map[string]string{client1: secret1, client2: secret2} {
					c := byID[id]
					if c.Secret != secret || !slices.Equal(c.RedirectURIs, []string{callback}) || c.Scope != "read write" ||
						!slices.Contains(c.AuthMethods, oauth.AuthBasic) || !slices.Contains(c.AuthMethods, oauth.AuthPost) {
						t.Errorf("%s = %+v", id, c)
					}
				}
				if _, ok := byID[clientP]; !ok && p != rules.Commoninja {
					t.Errorf("no public client %s", clientP)
				}
			}
		})
	}
}

// Every profile the catalogue declares has a mock behaviour, and the
// behaviour agrees with what the profile promises clients.
func TestBehaviourCoversEveryProfile(t *testing.T) {
	t.Parallel()
	for _, info := range rules.ProfileInfos {
		b, err := behaviourOf(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if b.requirePKCE != (info.PKCE != "") {
			t.Errorf("%s: requirePKCE %v, but the profile's PKCE is %q", info.Name, b.requirePKCE, info.PKCE)
		}
		if info.Rotation && !b.rotate {
			t.Errorf("%s: the profile requires rotation, the mock does not rotate", info.Name)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	good := `profile: rfc6749
clients:
  - id: c1
    secret: s1
    redirect_uris: [http://127.0.0.1/cb]
`
	tests := []struct {
		name    string
		profile rules.Profile
		file    string
		want    string
	}{
		{"unknown profile", "nope", good, "unknown profile"},
		{"profile mismatch", rules.OAuth21, good, "is for profile rfc6749"},
		{"unknown key", rules.RFC6749, good + "colour: blue\n", "colour"},
		{"no clients", rules.RFC6749, "profile: rfc6749\n", "no clients"},
		{"negative ttl", rules.RFC6749, good + "code_ttl: -1s\n", "negative"},
		{"bad duration", rules.RFC6749, good + "code_ttl: soon\n", "parsing YAML"},
		{"unknown quirk", rules.RFC6749, good + "    quirks: [NOPE]\n", "NOPE"},
		{"relative redirect", rules.RFC6749, strings.Replace(good, "http://127.0.0.1/cb", "/cb", 1), "absolute"},
		{"fragment in redirect", rules.RFC6749, strings.Replace(good, "/cb", "/cb#x", 1), "fragment"},
		{"bad auth method", rules.RFC6749, good + "    auth_methods: [private_key_jwt]\n", "private_key_jwt"},
		{"public with secret method", rules.RFC6749, good + "    auth_methods: [none]\n", "confidential"},
		{"bad grant type", rules.RFC6749, good + "    grant_types: [password]\n", "password"},
		{"duplicate client", rules.RFC6749, good + "  - id: c1\n    redirect_uris: [http://x/]\n", "twice"},
		{"bad scope", rules.RFC6749, good + "    scope: 'a \"b'\n", "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "clients.yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(tt.profile, path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := LoadConfig(rules.RFC6749, filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestLoadConfigFromFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clients.yaml")
	file := `clients:
  - id: only
    redirect_uris: [http://127.0.0.1/cb]
    quirks: [RFC6749-5.1-NO-STORE]
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(rules.OAuth21, path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Profile != rules.OAuth21 || len(cfg.Clients) != 1 || cfg.Clients[0].Quirks[0] != rules.NoStore.ID {
		t.Errorf("cfg = %+v", cfg)
	}
	srv, err := New(cfg, WithJanitorInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := srv.clients["only"]
	if !slices.Equal(c.AuthMethods, []oauth.AuthMethod{oauth.AuthNone}) || srv.cfg.CodeTTL != DefaultCodeTTL {
		t.Errorf("defaults not applied: %+v, code ttl %s", c, srv.cfg.CodeTTL)
	}
}
