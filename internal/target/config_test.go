package target

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

var profiles = []string{"rfc6749", "commoninja", "dressipi", "oauth21"}

// valid is a configuration that passes Validate; tests break one thing.
func valid() Config {
	c := Default()
	c.Target = "https://auth.example.com/oauth/token"
	c.Profile = "rfc6749"
	c.ClientID = "tokenharness-1"
	c.ClientSecret = "th-secret-one-5f2c9a1e"
	c.ClientAuth = oauth.AuthBasic
	return c
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidate(t *testing.T) {
	t.Parallel()
	caDir := t.TempDir()
	notPEM := filepath.Join(caDir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(caDir, "missing.pem")
	tests := []struct {
		name   string
		modify func(*Config)
		env    map[string]string
		want   string // "" = valid
	}{
		{"valid", nil, nil, ""},
		{"empty target means the bundled mock", func(c *Config) { c.Target = "" }, nil, ""},
		{"public client", func(c *Config) { c.ClientAuth, c.ClientSecret = oauth.AuthNone, "" }, nil, ""},
		{"unset client auth is the caller's", func(c *Config) { c.ClientAuth, c.ClientSecret = "", "" }, nil, ""},
		{"oob redirect", func(c *Config) { c.RedirectURI = "urn:ietf:wg:oauth:2.0:oob:auto" }, nil, ""},
		{"client_credentials only", nil, map[string]string{"GRANTS": "client_credentials"}, ""},
		{"grants with spaces", nil, map[string]string{"GRANTS": "authorization_code, refresh_token"}, ""},
		{"unknown grant", nil, map[string]string{"GRANTS": "client_credentials,implicit"},
			`config: GRANTS "client_credentials,implicit" names "implicit", which is not one of authorization_code|refresh_token|client_credentials|password|urn:ietf:params:oauth:grant-type:device_code: list the grants the target serves, e.g. GRANTS=client_credentials`},
		{"device grant", nil, map[string]string{"GRANTS": "urn:ietf:params:oauth:grant-type:device_code",
			"DEVICE_AUTHORIZATION_URL": "https://as.example/device", "DEVICE_APPROVE_CMD": "true", "DEVICE_VERIFY_URL": "http://127.0.0.1:1/v"}, ""},
		{"device authorization url not http", nil, map[string]string{"DEVICE_AUTHORIZATION_URL": "as.example/device"},
			`config: DEVICE_AUTHORIZATION_URL "as.example/device" is not an absolute http(s) URL: use e.g. DEVICE_AUTHORIZATION_URL=https://auth.example.com/oauth/device_authorization`},
		{"device verify url not http", nil, map[string]string{"DEVICE_AUTHORIZATION_URL": "https://as.example/device", "DEVICE_VERIFY_URL": "ftp://x/v"},
			`config: DEVICE_VERIFY_URL "ftp://x/v" is not an absolute http(s) URL: use e.g. DEVICE_VERIFY_URL=http://127.0.0.1:9000/oauth/device/verify`},
		{"device command without endpoint", nil, map[string]string{"DEVICE_DENY_CMD": "true"},
			`config: DEVICE_APPROVE_CMD, DEVICE_DENY_CMD or DEVICE_VERIFY_URL is set but DEVICE_AUTHORIZATION_URL is empty: set it to the device authorization endpoint (RFC 8628 §3.1)`},
		{"grant twice", nil, map[string]string{"GRANTS": "client_credentials,client_credentials"},
			`config: GRANTS "client_credentials,client_credentials" names client_credentials twice`},
		{"restricted secret without id", nil, map[string]string{"RESTRICTED_CLIENT_SECRET": "s-123456"},
			`config: RESTRICTED_CLIENT_SECRET is set but RESTRICTED_CLIENT_ID is empty: set RESTRICTED_CLIENT_ID too`},
		{"unknown profile", nil, map[string]string{"PROFILE": "foo"},
			`config: PROFILE "foo" is not one of rfc6749|commoninja|dressipi|oauth21: set PROFILE to one of them`},
		{"empty profile", func(c *Config) { c.Profile = "" }, nil,
			`config: PROFILE is empty: set PROFILE to one of rfc6749|commoninja|dressipi|oauth21`},
		{"relative target", nil, map[string]string{"TARGET": "localhost:8080/oauth/token"},
			`config: TARGET "localhost:8080/oauth/token" is not an absolute http(s) URL: use e.g. TARGET=https://auth.example.com/oauth/token`},
		{"ftp target", nil, map[string]string{"TARGET": "ftp://auth.example.com/token"},
			`config: TARGET "ftp://auth.example.com/token" is not an absolute http(s) URL: use e.g. TARGET=https://auth.example.com/oauth/token`},
		{"target secret redacted", nil, map[string]string{"TARGET": "auth.example.com/token?client_secret=hunter22"},
			`config: TARGET "auth.example.com/token?client_secret=[REDACTED]" is not an absolute http(s) URL: use e.g. TARGET=https://auth.example.com/oauth/token`},
		{"no client id", func(c *Config) { c.ClientID = "" }, nil,
			`config: CLIENT_ID is empty: set CLIENT_ID (or client_id in the CONFIG file)`},
		{"unknown client auth", nil, map[string]string{"CLIENT_AUTH": "basic"},
			`config: CLIENT_AUTH "basic" is not one of client_secret_basic|client_secret_post|none|private_key_jwt|client_secret_jwt`},
		{"basic without secret", func(c *Config) { c.ClientSecret = "" }, nil,
			`config: CLIENT_AUTH=client_secret_basic needs CLIENT_SECRET`},
		{"post without secret", func(c *Config) { c.ClientSecret, c.ClientAuth = "", oauth.AuthPost }, nil,
			`config: CLIENT_AUTH=client_secret_post needs CLIENT_SECRET`},
		{"client2 secret without id", func(c *Config) { c.Client2Secret = "th-secret-two-8b7d3c40" }, nil,
			`config: CLIENT2_SECRET is set but CLIENT2_ID is empty: set CLIENT2_ID too`},
		{"client2 without secret", func(c *Config) { c.Client2ID = "tokenharness-2" }, nil,
			`config: CLIENT_AUTH=client_secret_basic needs CLIENT2_SECRET for CLIENT2_ID "tokenharness-2"`},
		{"relative redirect", nil, map[string]string{"REDIRECT_URI": "/callback"},
			`config: REDIRECT_URI "/callback" is not an absolute URI: use e.g. REDIRECT_URI=http://127.0.0.1:8080/callback`},
		{"relative authorize url", nil, map[string]string{"AUTHORIZE_URL": "127.0.0.1:9000/oauth/authorize"},
			`config: AUTHORIZE_URL "127.0.0.1:9000/oauth/authorize" is not an absolute http(s) URL: use e.g. AUTHORIZE_URL=https://auth.example.com/oauth/authorize`},
		{"bad timeout", nil, map[string]string{"TIMEOUT": "ten"},
			`config: TIMEOUT "ten" is not a duration: use e.g. TIMEOUT=10s`},
		{"unitless timeout", nil, map[string]string{"TIMEOUT": "30"},
			`config: TIMEOUT "30" is not a duration: use e.g. TIMEOUT=10s`},
		{"negative timeout", nil, map[string]string{"TIMEOUT": "-1s"},
			`config: TIMEOUT -1s is not positive: use e.g. TIMEOUT=10s`},
		{"bad race attempts", nil, map[string]string{"RACE_ATTEMPTS": "many"},
			`config: RACE_ATTEMPTS "many" is not a whole number: use e.g. RACE_ATTEMPTS=300`},
		{"zero race attempts", nil, map[string]string{"RACE_ATTEMPTS": "0"},
			`config: RACE_ATTEMPTS 0 is not positive: use e.g. RACE_ATTEMPTS=300`},
		{"bad race budget", nil, map[string]string{"RACE_BUDGET": "30"},
			`config: RACE_BUDGET "30" is not a duration: use e.g. RACE_BUDGET=10s`},
		{"negative race budget", nil, map[string]string{"RACE_BUDGET": "-1s"},
			`config: RACE_BUDGET -1s is not positive: use e.g. RACE_BUDGET=10s`},
		{"bad insecure", nil, map[string]string{"INSECURE": "maybe"},
			`config: INSECURE "maybe" is not a boolean: use INSECURE=true or INSECURE=false`},
		{"bad headers", nil, map[string]string{"HEADERS": "x-api-key: k1; secret-without-colon"},
			`config: HEADERS entry 2 is not "Name: value": separate pairs with newlines or ';', e.g. HEADERS="x-api-key: …; x-tenant: acme"`},
		{"bad header name from a map", func(c *Config) { c.Headers = map[string]string{"x api key": "v"} }, nil,
			`config: header name "x api key" is not a valid HTTP header name`},
		{"empty quirk", func(c *Config) { c.Quirks = []string{"RFC6749-5.1-NO-STORE", " "} }, nil,
			`config: QUIRKS holds an empty name: list rule IDs separated by commas`},
		{"missing CA file", nil, map[string]string{"CA_FILE": missing},
			`config: CA_FILE is unreadable: open ` + missing + `: no such file or directory: point it at a PEM file of CA certificates`},
		{"CA file without PEM", nil, map[string]string{"CA_FILE": notPEM},
			`config: CA_FILE ` + notPEM + ` holds no PEM certificate: point it at a PEM file of CA certificates`},
		{"empty report dir", func(c *Config) { c.ReportDir = "" }, nil,
			`config: REPORT_DIR is empty: set it, e.g. REPORT_DIR=reports/out`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			if tt.modify != nil {
				tt.modify(&c)
			}
			c.ApplyEnv(env(tt.env))
			err := c.Validate(profiles)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Validate =\n  %s\nwant\n  %s", got, tt.want)
			}
			if !errors.Is(err, ErrConfig) {
				t.Error("error does not wrap ErrConfig")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Error("error has more than one line")
			}
		})
	}
}

func TestValidateWithoutProfiles(t *testing.T) {
	t.Parallel()
	c := valid()
	c.Profile = "anything"
	if err := c.Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v, want any profile accepted", err)
	}
}

func TestValidateNamesTheFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "x.yaml", "client_id: a\nclient_secret: s3cret-value\nprofile: rfc6749\nclient_auth: basic\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `config: CLIENT_AUTH "basic" (client_auth in ` + path + `) is not one of client_secret_basic|client_secret_post|none|private_key_jwt|client_secret_jwt`
	if err := c.Validate(profiles); err == nil || err.Error() != want {
		t.Errorf("Validate = %v\nwant       %s", err, want)
	}
	// Once the environment overrides it, the file is no longer blamed.
	c.ApplyEnv(env(map[string]string{"CLIENT_AUTH": "basik"}))
	want = `config: CLIENT_AUTH "basik" is not one of client_secret_basic|client_secret_post|none|private_key_jwt|client_secret_jwt`
	if err := c.Validate(profiles); err == nil || err.Error() != want {
		t.Errorf("after env: Validate = %v\nwant       %s", err, want)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	full := `
target: https://auth.example.com/oauth/token
profile: commoninja
client_id: tokenharness-1
client_secret: th-secret-one-5f2c9a1e
client_auth: client_secret_post
client2_id: tokenharness-2
client2_secret: th-secret-two-8b7d3c40
restricted_client_id: tokenharness-3
restricted_client_secret: th-secret-three-1234
redirect_uri: http://127.0.0.1:8080/callback
scope: read
grants: authorization_code, client_credentials
headers:
  x-api-key: k-123456
report_dir: out/x
code_cmd: sh fixtures/codes/mock-authorize.sh
authorize_url: http://127.0.0.1:9000/oauth/authorize
timeout: 3s
ca_file: /etc/ssl/ca.pem
insecure: true
quirks: [RFC6749-5.1-NO-STORE]
race_attempts: 7
race_budget: 4s
dpop: true
dpop_key_file: /keys/dpop.pem
dpop_alg: ES256
dpop_jkt: true
jwt_key_file: keys/client.pem
jwt_alg: ES256
jwt_kid: k1
jwt_audience: https://auth.example.com
device_authorization_url: http://127.0.0.1:9000/oauth/device_authorization
device_approve_cmd: sh approve.sh
device_deny_cmd: sh deny.sh
device_verify_url: http://127.0.0.1:9000/oauth/device/verify
`
	c, err := Parse([]byte(full), "full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Target: "https://auth.example.com/oauth/token", Profile: "commoninja",
		ClientID: "tokenharness-1", ClientSecret: "th-secret-one-5f2c9a1e", ClientAuth: oauth.AuthPost,
		Client2ID: "tokenharness-2", Client2Secret: "th-secret-two-8b7d3c40",
		RestrictedClientID: "tokenharness-3", RestrictedClientSecret: "th-secret-three-1234",
		RedirectURI: "http://127.0.0.1:8080/callback", Scope: "read",
		Grants:  GrantList{"authorization_code", "client_credentials"},
		Headers: map[string]string{"x-api-key": "k-123456"}, ReportDir: "out/x",
		CodeCmd: "sh fixtures/codes/mock-authorize.sh", AuthorizeURL: "http://127.0.0.1:9000/oauth/authorize",
		Timeout: 3 * time.Second, CAFile: "/etc/ssl/ca.pem", Insecure: true, Quirks: []string{"RFC6749-5.1-NO-STORE"},
		RaceAttempts: 7, RaceBudget: 4 * time.Second,
		DPoP: true, DPoPKeyFile: "/keys/dpop.pem", DPoPAlg: "ES256", DPoPJKT: true,
		JWTKeyFile: "keys/client.pem", JWTAlg: "ES256", JWTKID: "k1", JWTAudience: "https://auth.example.com",
		DeviceAuthorizationURL: "http://127.0.0.1:9000/oauth/device_authorization",
		DeviceApproveCmd:       "sh approve.sh", DeviceDenyCmd: "sh deny.sh",
		DeviceVerifyURL: "http://127.0.0.1:9000/oauth/device/verify",
		file:            "full.yaml", fromFile: 1<<len(Keys) - 1,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse =\n%#v\nwant\n%#v", c, want)
	}
}

func TestLoadKeepsDefaults(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"", "# only a comment\n", "client_id: a\n"} {
		c, err := Parse([]byte(doc), "x.yaml")
		if err != nil {
			t.Fatalf("Parse(%q) = %v", doc, err)
		}
		if c.ReportDir != DefaultReportDir || c.Timeout != DefaultTimeout || c.RaceAttempts != DefaultRaceAttempts || c.RaceBudget != DefaultRaceBudget {
			t.Errorf("Parse(%q) lost the defaults: report_dir %q timeout %v race %d in %v", doc, c.ReportDir, c.Timeout, c.RaceAttempts, c.RaceBudget)
		}
	}
}

func TestLoadStrict(t *testing.T) {
	t.Parallel()
	allowed := "allowed keys are target, profile, client_id, client_secret, client_auth, client2_id, client2_secret, " +
		"restricted_client_id, restricted_client_secret, redirect_uri, scope, grants, headers, report_dir, code_cmd, authorize_url, timeout, ca_file, insecure, quirks, race_attempts, race_budget, dpop, dpop_key_file, dpop_alg, dpop_jkt, jwt_key_file, jwt_alg, jwt_kid, jwt_audience"
	tests := []struct {
		name, doc, want string
	}{
		{"misspelt key", "client_id: a\nclient_sekret: b\n",
			`config: x.yaml: line 2: unknown key "client_sekret" (did you mean client_secret?): ` + allowed},
		{"unknown key", "tenant: acme\n", `config: x.yaml: line 1: unknown key "tenant": ` + allowed},
		{"upper-case key", "TARGET: http://x\n", `config: x.yaml: line 1: unknown key "TARGET" (did you mean target?): ` + allowed},
		{"duplicate key", "scope: a\nscope: b\n", `config: x.yaml: line 2: key "scope" appears twice`},
		{"not a mapping", "- target\n", `config: x.yaml: line 1: the file must be a mapping of keys to values, like target: https://…`},
		{"headers as a list", "headers:\n  - x-api-key\n", `config: x.yaml: line 2: cannot unmarshal !!seq into map[string]string`},
		{"bad timeout", "timeout: 10\n", `config: x.yaml: timeout "10" is not a duration: use e.g. timeout: 10s`},
		{"bad race budget", "race_budget: lots\n", `config: x.yaml: race_budget "lots" is not a duration: use e.g. race_budget: 10s`},
		{"syntax", "target: [\n", `config: x.yaml: yaml: line 1: did not find expected node content`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.doc), "x.yaml")
			if err == nil {
				t.Fatalf("Parse = nil, want %q", tt.want)
			}
			if !errors.Is(err, ErrConfig) {
				t.Error("error does not wrap ErrConfig")
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.want) || strings.Contains(got, "\n") {
				t.Errorf("Parse =\n  %q\nwant prefix\n  %q", got, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !errors.Is(err, ErrConfig) || !strings.HasPrefix(err.Error(), "config: CONFIG file: open ") {
		t.Errorf("Load = %v, want a CONFIG file error", err)
	}
}

func TestEnvPrecedence(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "c.yaml", `
target: https://file.example.com/oauth/token
profile: commoninja
client_id: file-client
client_secret: file-secret-123
client_auth: client_secret_post
scope: read
headers:
  x-api-key: file-key-123
  x-tenant: acme
quirks: [A, B]
timeout: 3s
`)
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c Config)
	}{
		{"file alone", nil, func(t *testing.T, c Config) {
			if c.Target != "https://file.example.com/oauth/token" || c.ClientID != "file-client" || c.Timeout != 3*time.Second {
				t.Errorf("file values not loaded: %s", c.Redacted())
			}
		}},
		{"env wins", map[string]string{"TARGET": "http://127.0.0.1:9000/oauth/token", "CLIENT_ID": "env-client", "TIMEOUT": "1m", "PROFILE": "rfc6749"},
			func(t *testing.T, c Config) {
				if c.Target != "http://127.0.0.1:9000/oauth/token" || c.ClientID != "env-client" || c.Timeout != time.Minute || c.Profile != "rfc6749" {
					t.Errorf("env did not win: %s", c.Redacted())
				}
				if c.ClientSecret != "file-secret-123" {
					t.Error("an unset variable cleared the file's value")
				}
			}},
		{"empty means unset", map[string]string{"TARGET": "", "SCOPE": ""}, func(t *testing.T, c Config) {
			if c.Target == "" || c.Scope != "read" {
				t.Errorf("empty variables overrode the file: target %q scope %q", c.Target, c.Scope)
			}
		}},
		{"headers merge, env wins per name", map[string]string{"HEADERS": "X-Api-Key: env-key-456\nx-extra: 1"}, func(t *testing.T, c Config) {
			want := map[string]string{"X-Api-Key": "env-key-456", "x-tenant": "acme", "x-extra": "1"}
			if !reflect.DeepEqual(c.Headers, want) {
				t.Errorf("headers = %v, want %v", c.Headers, want)
			}
		}},
		{"quirks replace", map[string]string{"QUIRKS": "C, D"}, func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c.Quirks, []string{"C", "D"}) {
				t.Errorf("quirks = %v, want [C D]", c.Quirks)
			}
		}},
		{"insecure", map[string]string{"INSECURE": "1"}, func(t *testing.T, c Config) {
			if !c.Insecure {
				t.Error("INSECURE=1 not applied")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := map[string]string{"CONFIG": path}
			for k, v := range tt.env {
				e[k] = v
			}
			c, err := FromEnv(env(e), profiles...)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestFromEnvWithoutFile(t *testing.T) {
	t.Parallel()
	c, err := FromEnv(env(map[string]string{"PROFILE": "dressipi", "CLIENT_ID": "tokenharness-1", "CLIENT_AUTH": "none"}), profiles...)
	if err != nil {
		t.Fatal(err)
	}
	if c.Target != "" || c.ReportDir != DefaultReportDir || c.Timeout != DefaultTimeout {
		t.Errorf("FromEnv = %s, want defaults and an empty target", c.Redacted())
	}
	if _, err := FromEnv(env(map[string]string{"CONFIG": "/nonexistent/x.yaml"})); err == nil {
		t.Error("FromEnv with a missing CONFIG file succeeded")
	}
	if _, err := FromEnv(env(map[string]string{"PROFILE": "nope", "CLIENT_ID": "a"}), profiles...); err == nil {
		t.Error("FromEnv did not validate")
	}
}

func TestParseHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"x-api-key: abc", map[string]string{"x-api-key": "abc"}, false},
		{"a: 1; b: 2\nc: 3;;\n", map[string]string{"a": "1", "b": "2", "c": "3"}, false},
		{"x-url: http://h:1/p", map[string]string{"x-url": "http://h:1/p"}, false},
		{"empty-value:", map[string]string{"empty-value": ""}, false},
		{"no colon", nil, true},
		{": value", nil, true},
		{"bad name: v", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseHeaders(tt.in)
		if (err != nil) != tt.wantErr || (!tt.wantErr && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("ParseHeaders(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestApplyEnvDoesNotAliasCopies(t *testing.T) {
	t.Parallel()
	orig := valid()
	orig.Headers = map[string]string{"x-a": "1"}
	cp := orig
	cp.ApplyEnv(env(map[string]string{"HEADERS": "x-b: 2", "TIMEOUT": "bad"}))
	if len(orig.Headers) != 1 || len(orig.problems) != 0 {
		t.Errorf("ApplyEnv on a copy changed the original: headers %v problems %v", orig.Headers, orig.problems)
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	c := valid()
	c.Client2ID, c.Client2Secret = "tokenharness-2", "th-secret-two-8b7d3c40"
	c.Headers = map[string]string{"x-api-key": "api-key-value-1", "x-tenant": "tenant-value"}
	c.CodeCmd = "curl -u admin:hunter2-password https://idp/code"
	c.Target = "https://auth.example.com/oauth/token?client_secret=in-the-url-77"
	got := c.Redacted()
	for _, leak := range []string{"th-secret-one-5f2c9a1e", "th-secret-two-8b7d3c40", "api-key-value-1", "tenant-value", "hunter2-password", "in-the-url-77"} {
		if strings.Contains(got, leak) {
			t.Errorf("Redacted leaks %q: %s", leak, got)
		}
	}
	for _, want := range []string{"client_id=tokenharness-1", "client_secret=" + redact.Mask, "profile=rfc6749", "code_cmd=\"curl …\"", "headers=x-api-key:" + redact.Mask, "timeout=10s"} {
		if !strings.Contains(got, want) {
			t.Errorf("Redacted = %s, want it to contain %s", got, want)
		}
	}
	if strings.Contains(got, "\n") {
		t.Error("Redacted spans lines")
	}
}

func TestRegisterSecrets(t *testing.T) {
	t.Parallel()
	c := valid()
	c.Client2ID, c.Client2Secret = "tokenharness-2", "th-secret-two-8b7d3c40"
	c.Headers = map[string]string{"X-Dressipi-Jwt": "jwt-value-abcdef", "Accept": "application/json"}
	r := &redact.Redactor{}
	c.RegisterSecrets(r)
	basic := base64.StdEncoding.EncodeToString([]byte("tokenharness-1:th-secret-one-5f2c9a1e"))
	text := "secret th-secret-one-5f2c9a1e two th-secret-two-8b7d3c40 basic " + basic + " jwt jwt-value-abcdef type application/json"
	got := r.String(text)
	for _, leak := range []string{"th-secret-one-5f2c9a1e", "th-secret-two-8b7d3c40", basic, "jwt-value-abcdef"} {
		if strings.Contains(got, leak) {
			t.Errorf("secret %q not registered: %s", leak, got)
		}
	}
	if !strings.Contains(got, "application/json") {
		t.Errorf("a harmless header value was masked: %s", got)
	}
}

// TestKeysMatchTags keeps Keys and Config's YAML tags in step.
func TestKeysMatchTags(t *testing.T) {
	t.Parallel()
	for _, typ := range []reflect.Type{reflect.TypeFor[Config]()} {
		var tags []string
		for f := range typ.Fields() {
			if tag := f.Tag.Get("yaml"); tag != "" {
				tags = append(tags, tag)
			}
		}
		var keys []string
		for _, k := range Keys {
			keys = append(keys, k.YAML)
			if k.Env != strings.ToUpper(k.YAML) {
				t.Errorf("key %s has variable %s, want %s", k.YAML, k.Env, strings.ToUpper(k.YAML))
			}
		}
		if !reflect.DeepEqual(tags, keys) {
			t.Errorf("%s yaml tags %v\ndiffer from Keys %v", typ.Name(), tags, keys)
		}
	}
	if len(Keys) > 64 {
		t.Errorf("%d keys do not fit the fromFile bit set", len(Keys))
	}
}

// TestHeaderValuesWithControlCharacters: a header value Go's client would
// refuse on every request is a one-line configuration error, and the value
// (maybe a credential) is not in it.
func TestHeaderValuesWithControlCharacters(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Target, c.Profile, c.ClientID = "https://as.example/oauth/token", "rfc6749", "c"
	c.Headers = map[string]string{"X-Api-Key": "k-123\x01456"}
	err := c.Validate([]string{"rfc6749"})
	if err == nil || !strings.Contains(err.Error(), "X-Api-Key") || strings.Contains(err.Error(), "k-123") {
		t.Fatalf("error %v: want one naming the header, not its value", err)
	}
	c.Headers = map[string]string{"X-Api-Key": "k-123\t456"}
	if err := c.Validate([]string{"rfc6749"}); err != nil {
		t.Fatalf("a tab is allowed: %v", err)
	}
}

func TestRaceBudgetFromEnv(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "r.yaml", "race_attempts: 9\nrace_budget: 9s\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.RaceAttempts != 9 || c.RaceBudget != 9*time.Second {
		t.Errorf("from the file: %d in %v, want 9 in 9s", c.RaceAttempts, c.RaceBudget)
	}
	c.ApplyEnv(env(map[string]string{"RACE_ATTEMPTS": " 200 ", "RACE_BUDGET": "1m"}))
	if c.RaceAttempts != 200 || c.RaceBudget != time.Minute {
		t.Errorf("from the environment: %d in %v, want 200 in 1m", c.RaceAttempts, c.RaceBudget)
	}
}

// TestDescribeNamesEveryKeyAndMasksSecrets: config's output has a line per
// setting, in Keys order, and no secret in it.
func TestDescribeNamesEveryKeyAndMasksSecrets(t *testing.T) {
	t.Parallel()
	c := Default()
	c.ApplyEnv(env(map[string]string{"TARGET": "https://u:pw-123@as.example/oauth/token?k=q-secret", "CLIENT_SECRET": "s3cret-1",
		"CLIENT2_SECRET": "s3cret-2", "HEADERS": "x-api-key: key-777", "RACE_ATTEMPTS": "7", "RACE_BUDGET": "3s"}))
	d := c.Describe()
	lines := strings.Split(strings.TrimSpace(d), "\n")
	if len(lines) != len(Keys) {
		t.Fatalf("%d lines for %d keys:\n%s", len(lines), len(Keys), d)
	}
	for i, k := range Keys {
		if !strings.HasPrefix(lines[i], k.YAML+": ") {
			t.Errorf("line %d %q: want key %s", i, lines[i], k.YAML)
		}
	}
	for _, secret := range []string{"pw-123", "q-secret", "s3cret-1", "s3cret-2", "key-777"} {
		if strings.Contains(d, secret) {
			t.Errorf("Describe shows %q:\n%s", secret, d)
		}
	}
	if !strings.Contains(d, "race_attempts: 7") || !strings.Contains(d, "race_budget: 3s") {
		t.Errorf("the race budget is not shown:\n%s", d)
	}
}

// TestDPoPSettings: DPOP, DPOP_KEY_FILE, DPOP_ALG and DPOP_JKT parse from the
// environment and validate in one line each, before any request.
func TestDPoPSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pemKey, err := jwtsign.EncodePrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "dpop.pem")
	if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"PROFILE": "rfc6749", "CLIENT_ID": "c"}
	for _, tc := range []struct {
		env  map[string]string
		want string // "" for valid
	}{
		{map[string]string{"DPOP": "true"}, ""},
		{map[string]string{"DPOP": "true", "DPOP_KEY_FILE": keyFile}, ""},
		{map[string]string{"DPOP": "true", "DPOP_KEY_FILE": keyFile, "DPOP_ALG": "ES256"}, ""},
		{map[string]string{"DPOP": "yes please"}, `DPOP "yes please" is not a boolean`},
		{map[string]string{"DPOP_KEY_FILE": keyFile}, "DPOP_KEY_FILE is set but DPOP is not true"},
		{map[string]string{"DPOP_ALG": "ES256"}, "DPOP_ALG is set but DPOP is not true"},
		{map[string]string{"DPOP": "true", "DPOP_KEY_FILE": junk}, "DPOP_KEY_FILE " + junk + ": no PEM private key block"},
		{map[string]string{"DPOP": "true", "DPOP_KEY_FILE": filepath.Join(dir, "missing.pem")}, "point it at a PEM private key"},
		{map[string]string{"DPOP": "true", "DPOP_ALG": "HS256"}, "DPOP_ALG HS256 is symmetric"},
		{map[string]string{"DPOP": "true", "DPOP_ALG": "XX1"}, `DPOP_ALG: "XX1" is not one of`},
		{map[string]string{"DPOP": "true", "DPOP_KEY_FILE": keyFile, "DPOP_ALG": "RS256"}, "DPOP_ALG RS256 does not fit the DPoP key"},
		{map[string]string{"DPOP": "true", "DPOP_JKT": "true"}, ""},
		{map[string]string{"DPOP": "true", "DPOP_JKT": "sometimes"}, `DPOP_JKT "sometimes" is not a boolean`},
		{map[string]string{"DPOP_JKT": "true"}, "DPOP_JKT is true but DPOP is not"},
	} {
		vars := map[string]string{}
		for k, v := range base {
			vars[k] = v
		}
		for k, v := range tc.env {
			vars[k] = v
		}
		c, err := FromEnv(env(vars), "rfc6749")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.env, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%v: err %v, want one line containing %q", tc.env, err, tc.want)
		case tc.want == "" && !c.DPoP:
			t.Errorf("%v: DPoP not set", tc.env)
		case tc.want == "" && c.DPoPJKT != (tc.env["DPOP_JKT"] == "true"):
			t.Errorf("%v: DPoPJKT is %v", tc.env, c.DPoPJKT)
		}
	}
}

// TestJWTSettings: CLIENT_AUTH=private_key_jwt|client_secret_jwt is checked
// in one line before any work: a missing or unusable key, an algorithm that
// does not fit it, JWT settings a method without assertions would ignore.
func TestJWTSettings(t *testing.T) {
	t.Parallel()
	key := "../../fixtures/keys/jwt-client-es256.pem"
	junk := writeFile(t, "junk.pem", "not a key\n")
	base := func(auth oauth.AuthMethod) Config {
		c := Default()
		c.Target, c.Profile, c.ClientID, c.ClientAuth = "https://as.example/oauth/token", "rfc6749", "c", auth
		return c
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"private_key_jwt without key", func(c *Config) { c.ClientAuth = oauth.AuthPrivateKeyJWT },
			"CLIENT_AUTH=private_key_jwt needs JWT_KEY_FILE"},
		{"private_key_jwt ok, no secret", func(c *Config) {
			c.ClientAuth, c.JWTKeyFile, c.Client2ID, c.RestrictedClientID = oauth.AuthPrivateKeyJWT, key, "c2", "c3"
		}, ""},
		{"unreadable key", func(c *Config) { c.ClientAuth, c.JWTKeyFile = oauth.AuthPrivateKeyJWT, "/nonexistent/k.pem" },
			"JWT_KEY_FILE /nonexistent/k.pem is unusable"},
		{"not a key", func(c *Config) { c.ClientAuth, c.JWTKeyFile = oauth.AuthPrivateKeyJWT, junk },
			"is unusable: no PEM private key block"},
		{"alg does not fit", func(c *Config) { c.ClientAuth, c.JWTKeyFile, c.JWTAlg = oauth.AuthPrivateKeyJWT, key, "RS256" },
			"alg RS256 does not fit an EC P-256 key"},
		{"HS alg for a key", func(c *Config) { c.ClientAuth, c.JWTKeyFile, c.JWTAlg = oauth.AuthPrivateKeyJWT, key, "HS256" },
			"alg HS256 does not fit an EC P-256 key"},
		{"unknown alg", func(c *Config) { c.ClientAuth, c.JWTKeyFile, c.JWTAlg = oauth.AuthPrivateKeyJWT, key, "ES999" },
			`JWT_ALG: "ES999" is not one of`},
		{"client_secret_jwt needs a secret", func(c *Config) { c.ClientAuth = oauth.AuthSecretJWT },
			"CLIENT_AUTH=client_secret_jwt needs CLIENT_SECRET"},
		{"client_secret_jwt ok", func(c *Config) {
			c.ClientAuth, c.ClientSecret, c.JWTAlg = oauth.AuthSecretJWT, strings.Repeat("s", 64), "HS512"
		}, ""},
		{"client_secret_jwt short secret", func(c *Config) { c.ClientAuth, c.ClientSecret = oauth.AuthSecretJWT, "s" },
			"alg HS256 needs a MAC key of at least 32 bytes (RFC 7518 §3.2), and CLIENT_SECRET has 1"},
		{"client_secret_jwt with ES256", func(c *Config) {
			c.ClientAuth, c.ClientSecret, c.JWTAlg = oauth.AuthSecretJWT, strings.Repeat("s", 64), "ES256"
		},
			"alg ES256 does not fit a client secret"},
		{"client_secret_jwt with a key file", func(c *Config) {
			c.ClientAuth, c.ClientSecret, c.JWTKeyFile = oauth.AuthSecretJWT, strings.Repeat("s", 64), key
		},
			"JWT_KEY_FILE is set but CLIENT_AUTH=client_secret_jwt"},
		{"key file for basic", func(c *Config) { c.ClientAuth, c.ClientSecret, c.JWTKeyFile = oauth.AuthBasic, "s", key },
			"JWT_KEY_FILE is set but CLIENT_AUTH=client_secret_basic sends no client assertion"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base("")
			tc.edit(&c)
			err := c.Validate([]string{"rfc6749"})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want one containing %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("Validate = %q: want one line", err)
			}
		})
	}
	c := base(oauth.AuthSecretJWT)
	c.ClientSecret = "s"
	if c.Audience() != c.Target {
		t.Errorf("Audience = %q, want TARGET by default", c.Audience())
	}
	c.JWTAudience = "https://as.example"
	if c.Audience() != "https://as.example" {
		t.Errorf("Audience = %q, want JWT_AUDIENCE", c.Audience())
	}
}

// TestJWTKeyFileBesideTheConfigFile: a relative jwt_key_file in a CONFIG
// file names a file beside it, wherever the run starts.
func TestJWTKeyFileBesideTheConfigFile(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "t.yaml", "jwt_key_file: keys/k.pem\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(path), "keys/k.pem"); c.JWTKeyFile != want {
		t.Errorf("jwt_key_file = %q, want %q", c.JWTKeyFile, want)
	}
	c.ApplyEnv(env(map[string]string{"JWT_KEY_FILE": "rel.pem"}))
	if c.JWTKeyFile != "rel.pem" {
		t.Errorf("JWT_KEY_FILE = %q, want it as given", c.JWTKeyFile)
	}
}
