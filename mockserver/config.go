package mockserver

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"tokenharness/fixtures"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// Config is what the mock serves: the profile, the registered clients and
// the lifetimes of what it issues. LoadConfig reads it from a fixtures file;
// zero lifetimes take the defaults below.
type Config struct {
	Profile rules.Profile `yaml:"profile"`
	Clients []Client      `yaml:"clients"`
	// CodeTTL is how long an authorization code can be redeemed.
	CodeTTL time.Duration `yaml:"code_ttl"`
	// AccessTTL is the access token lifetime, sent as expires_in.
	AccessTTL time.Duration `yaml:"access_ttl"`
	// RefreshTTL is each refresh token's lifetime.
	RefreshTTL time.Duration `yaml:"refresh_ttl"`
	// RotationGrace is how long a rotated-out refresh token is still
	// accepted (a client retrying a refresh whose answer it lost); after it,
	// presenting the token is reuse and revokes its family.
	RotationGrace time.Duration `yaml:"rotation_grace"`
	// APIKey, when set, must arrive in the x-api-key header of every token
	// request (the dressipi document's API key).
	APIKey string `yaml:"api_key"`
	// JWTKey signs JWT access tokens (dressipi); empty means a random key.
	JWTKey []byte `yaml:"-"`
	// Subject is the resource owner the auto-approving authorize endpoint
	// grants for, and the sub claim of JWT access tokens.
	Subject string `yaml:"subject"`
	// RaceWindow is the check-then-act window of the race quirks
	// (RFC6749-4.1.2-CODE-RACE, RFC9700-4.14.2-REFRESH-RACE): how long a
	// checked code or refresh token stays unmarked with its lock released.
	// Windows under a millisecond are busy-waited, so they are as short as
	// they say; 0 is a bare unlock-and-relock. Nil means DefaultRaceWindow.
	RaceWindow *time.Duration `yaml:"race_window"`
	// DeviceCodeTTL is how long a device_code and user_code live (RFC 8628
	// §3.2 expires_in); DeviceInterval the polling interval announced.
	// Zero takes DefaultDeviceCodeTTL and DefaultDeviceInterval.
	DeviceCodeTTL  time.Duration `yaml:"device_code_ttl"`
	DeviceInterval time.Duration `yaml:"device_interval"`
}

// Client is one registered client.
type Client struct {
	ID string `yaml:"id"`
	// Secret is empty for a public client.
	Secret string `yaml:"secret"`
	// AuthMethods the client may use; default client_secret_basic and
	// client_secret_post with a secret, none without.
	AuthMethods []oauth.AuthMethod `yaml:"auth_methods"`
	// RedirectURIs are compared exactly (RFC 9700 §4.1.3).
	RedirectURIs []string `yaml:"redirect_uris"`
	// Scope is the space-separated set of scopes the client may be granted;
	// an authorization request without scope gets all of them.
	Scope string `yaml:"scope"`
	// GrantTypes the client may use (authorization_code, refresh_token,
	// client_credentials); default authorization_code and refresh_token.
	// Others get unauthorized_client.
	GrantTypes []string `yaml:"grant_types"`
	// Quirks are fault switches active for every request of this client.
	Quirks []rules.ID `yaml:"quirks"`
	// JWTKeys are the PEM public keys the client signs private_key_jwt
	// assertions with (RFC 7523 §2.2); client_secret_jwt MACs with Secret.
	JWTKeys []string `yaml:"jwt_keys"`
}

// Defaults for lifetimes a configuration leaves at zero.
const (
	DefaultCodeTTL    = 60 * time.Second
	DefaultAccessTTL  = time.Hour
	DefaultRefreshTTL = 30 * 24 * time.Hour
	DefaultSubject    = "tokenharness-user"
)

// LoadConfig reads the client fixture of profile from fixturesPath, or from
// the embedded fixtures/clients/<profile>.yaml when fixturesPath is "".
func LoadConfig(profile rules.Profile, fixturesPath string) (Config, error) {
	if _, err := rules.Info(profile); err != nil {
		return Config{}, fmt.Errorf("mockserver: %w", err)
	}
	var (
		b      []byte
		err    error
		source = fixturesPath
	)
	if fixturesPath == "" {
		source = "fixtures/clients/" + string(profile) + ".yaml"
		b, err = fixtures.Clients(string(profile))
	} else {
		b, err = os.ReadFile(fixturesPath)
	}
	if err != nil {
		return Config{}, fmt.Errorf("mockserver: reading fixtures: %w: pass an existing -fixtures file, or none for the embedded one", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("mockserver: %s: %w", source, err)
	}
	if cfg.Profile != "" && cfg.Profile != profile {
		return Config{}, fmt.Errorf("mockserver: %s is for profile %s, not %s: pass -profile %s or another -fixtures file", source, cfg.Profile, profile, cfg.Profile)
	}
	cfg.Profile = profile
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("mockserver: %s: %w", source, err)
	}
	return cfg, nil
}

// ParseConfig decodes a fixtures file; unknown keys are errors so a typo
// does not silently drop a setting.
func ParseConfig(b []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("parsing YAML: %w", err)
	}
	return cfg, nil
}

// withDefaults returns cfg with zero lifetimes and subject filled in.
func (cfg Config) withDefaults() Config {
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if cfg.DeviceCodeTTL == 0 {
		cfg.DeviceCodeTTL = DefaultDeviceCodeTTL
	}
	if cfg.DeviceInterval == 0 {
		cfg.DeviceInterval = DefaultDeviceInterval
	}
	if cfg.RaceWindow == nil {
		cfg.RaceWindow = new(DefaultRaceWindow)
	}
	cs := make([]Client, len(cfg.Clients))
	for i, c := range cfg.Clients {
		if len(c.AuthMethods) == 0 {
			if len(c.JWTKeys) > 0 && c.Secret == "" {
				c.AuthMethods = []oauth.AuthMethod{oauth.AuthPrivateKeyJWT}
			} else if c.Secret == "" {
				c.AuthMethods = []oauth.AuthMethod{oauth.AuthNone}
			} else {
				c.AuthMethods = []oauth.AuthMethod{oauth.AuthBasic, oauth.AuthPost}
			}
		}
		if len(c.GrantTypes) == 0 {
			c.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
		}
		cs[i] = c
	}
	cfg.Clients = cs
	return cfg
}

// Validate reports the first problem with cfg, naming the allowed values.
func (cfg Config) Validate() error {
	if _, err := rules.Info(cfg.Profile); err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"code_ttl": cfg.CodeTTL, "access_ttl": cfg.AccessTTL, "refresh_ttl": cfg.RefreshTTL, "rotation_grace": cfg.RotationGrace,
		"device_code_ttl": cfg.DeviceCodeTTL, "device_interval": cfg.DeviceInterval} {
		if d < 0 {
			return fmt.Errorf("%s %s is negative: use a duration such as 60s, or 0 for the default", name, d)
		}
	}
	if cfg.RaceWindow != nil && *cfg.RaceWindow < 0 {
		return fmt.Errorf("race_window %s is negative: use a duration such as 5us, or 0 for a bare unlock-and-relock", *cfg.RaceWindow)
	}
	if len(cfg.Clients) == 0 {
		return errors.New("no clients: list at least one under clients:")
	}
	seen := map[string]bool{}
	for _, c := range cfg.Clients {
		if err := c.validate(); err != nil {
			return fmt.Errorf("client %q: %w", c.ID, err)
		}
		if seen[c.ID] {
			return fmt.Errorf("client %q is listed twice: client ids are unique", c.ID)
		}
		seen[c.ID] = true
	}
	return nil
}

func (c Client) validate() error {
	if c.ID == "" || !vschars(c.ID) {
		return errors.New("id must be non-empty and use only %x20-7E (RFC 6749 Appendix A.1)")
	}
	for _, m := range c.AuthMethods {
		if !m.Valid() {
			return fmt.Errorf("auth method %q is not one of client_secret_basic|client_secret_post|none|private_key_jwt|client_secret_jwt", m)
		}
		switch {
		case m == oauth.AuthPrivateKeyJWT:
			if len(c.JWTKeys) == 0 {
				return errors.New("auth method private_key_jwt needs jwt_keys: list the PEM public keys the client signs with")
			}
			if _, err := c.publicKeys(); err != nil {
				return err
			}
		case (m == oauth.AuthNone) != (c.Secret == ""):
			return fmt.Errorf("auth method %s does not fit a client %s a secret: public clients use none, confidential ones client_secret_basic|client_secret_post|client_secret_jwt (or private_key_jwt with jwt_keys)", m, map[bool]string{true: "with", false: "without"}[c.Secret != ""])
		}
	}
	if len(c.RedirectURIs) == 0 && (len(c.GrantTypes) == 0 || slices.Contains(c.GrantTypes, oauth.GrantAuthorizationCode)) {
		return errors.New("no redirect_uris: list at least one (a client without the authorization_code grant needs none)")
	}
	for _, u := range c.RedirectURIs {
		p, err := url.Parse(u)
		if err != nil || p.Scheme == "" || p.Fragment != "" || strings.Contains(u, "#") {
			return fmt.Errorf("redirect URI %q must be absolute with a scheme and no fragment (RFC 6749 §3.1.2)", u)
		}
	}
	if _, ok := parseScope(c.Scope); !ok {
		return fmt.Errorf("scope %q: scope tokens are printable ASCII without space, \" or \\ (RFC 6749 §3.3)", c.Scope)
	}
	for _, g := range c.GrantTypes {
		if g != oauth.GrantAuthorizationCode && g != oauth.GrantRefreshToken && g != oauth.GrantClientCredentials && g != oauth.GrantDeviceCode {
			return fmt.Errorf("grant type %q is not one of authorization_code|refresh_token|client_credentials|%s", g, oauth.GrantDeviceCode)
		}
		if g == oauth.GrantClientCredentials && !c.confidential() {
			// RFC 6749 §4.4: "The client credentials grant type MUST only be
			// used by confidential clients."
			return errors.New("grant type client_credentials needs a secret: it is for confidential clients only (RFC 6749 §4.4)")
		}
	}
	if _, err := c.publicKeys(); err != nil {
		return err
	}
	ids := make([]string, len(c.Quirks))
	for i, q := range c.Quirks {
		ids[i] = string(q)
	}
	return rules.ValidateQuirks(ids)
}

// vschars reports whether s is *VSCHAR, the client_id syntax.
func vschars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// allows reports whether c may use grant type g.
func (c *Client) allows(g string) bool { return slices.Contains(c.GrantTypes, g) }

// accepts reports whether c may authenticate with m.
func (c *Client) accepts(m oauth.AuthMethod) bool { return slices.Contains(c.AuthMethods, m) }
