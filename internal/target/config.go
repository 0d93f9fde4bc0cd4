// Package target holds the run configuration: which token endpoint to check,
// under which profile, with which clients and code source. It is read from
// an optional YAML file (CONFIG) and then from environment variables, which
// win; Validate then reports the first problem as one line naming what is
// wrong and how to fix it, as Gateway API's conformance options do.
package target

import (
	"errors"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"tokenharness/internal/oauth"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("config")

// Defaults.
const (
	DefaultReportDir = "reports/out"
	DefaultTimeout   = 10 * time.Second
	// DefaultRaceAttempts and DefaultRaceBudget bound each race rule: at
	// most this many races with fresh grants, none started after this long.
	// BenchmarkRaceDetection (specs/selfcheck) measures what they catch: a
	// 1 µs check-then-act window of the mock, run as its own process on two
	// cores, is hit by 0.6-5% of races, so 300 races catch it in 81-100% of
	// runs (97-100% on a quiet machine); a server without the race spends
	// about 3-4 s per rule here. The seconds bound a slow server's cost.
	DefaultRaceAttempts = 300
	DefaultRaceBudget   = 10 * time.Second
)

// EnvConfig names the YAML file FromEnv loads before applying the other
// variables.
const EnvConfig = "CONFIG"

// Config is one run's configuration. Field names map to YAML keys
// (snake_case) and environment variables (UPPER_SNAKE) as listed in Keys.
type Config struct {
	// Target is the token endpoint URL; empty means the bundled mock, whose
	// URL the caller fills in.
	Target  string `yaml:"target"`
	Profile string `yaml:"profile"`
	// ClientID and ClientSecret identify the first client; ClientAuth is
	// how it authenticates (empty: the caller picks the profile's default).
	ClientID     string           `yaml:"client_id"`
	ClientSecret string           `yaml:"client_secret"`
	ClientAuth   oauth.AuthMethod `yaml:"client_auth"`
	// Client2ID and Client2Secret are a second client, for the rules that
	// check one client cannot use another's codes or tokens.
	Client2ID     string `yaml:"client2_id"`
	Client2Secret string `yaml:"client2_secret"`
	// RestrictedClientID and RestrictedClientSecret are a registered client
	// the target does not allow the client_credentials grant, for the rule
	// that expects unauthorized_client.
	RestrictedClientID     string `yaml:"restricted_client_id"`
	RestrictedClientSecret string `yaml:"restricted_client_secret"`
	RedirectURI            string `yaml:"redirect_uri"`
	Scope                  string `yaml:"scope"`
	// Grants are the grant types the target declares it serves (GRANTS);
	// empty means oauth.DefaultGrants. Rules for a grant the target does
	// not declare are skipped with the reason.
	Grants GrantList `yaml:"grants"`
	// Headers are sent with every request (an API key, for example).
	Headers   map[string]string `yaml:"headers"`
	ReportDir string            `yaml:"report_dir"`
	// CodeCmd is a shell command printing one fresh authorization code;
	// AuthorizeURL an auto-approving authorization endpoint. Either one
	// enables the rules that need codes.
	CodeCmd      string        `yaml:"code_cmd"`
	AuthorizeURL string        `yaml:"authorize_url"`
	Timeout      time.Duration `yaml:"timeout"`
	// CAFile is a PEM file of extra trusted roots; Insecure skips TLS
	// verification altogether (test servers only).
	CAFile   string `yaml:"ca_file"`
	Insecure bool   `yaml:"insecure"`
	// Quirks are mock fault switches (rule IDs) requested per request
	// through the Tokenharness-Quirk header.
	Quirks []string `yaml:"quirks"`
	// RaceAttempts and RaceBudget bound the race rules: they race again
	// with fresh grants until two requests win one race, RaceAttempts races
	// were run, or RaceBudget has passed.
	RaceAttempts int           `yaml:"race_attempts"`
	RaceBudget   time.Duration `yaml:"race_budget"`
	// DPoP declares that the target binds tokens with DPoP (RFC 9449): the
	// DPoP rules send proofs signed with the key in DPoPKeyFile (a PEM
	// private key; empty: an ES256 key generated for the run) by DPoPAlg
	// (empty: the key's default algorithm). See dpop.go.
	DPoP        bool   `yaml:"dpop"`
	DPoPKeyFile string `yaml:"dpop_key_file"`
	DPoPAlg     string `yaml:"dpop_alg"`
	// DPoPJKT declares that the code source forwards dpop_jkt to the
	// authorization request (RFC 9449 §10), so the server can bind a code
	// to the DPoP key. Only a declaration can say so: a CODE_CMD that drops
	// the parameter gets unbound codes, and a compliant server would then
	// be judged on a binding it was never asked for.
	DPoPJKT bool `yaml:"dpop_jkt"`
	// JWT client authentication (CLIENT_AUTH=private_key_jwt or
	// client_secret_jwt, RFC 7523 §2.2): JWTKeyFile is the PEM private key
	// every configured client signs its assertions with (private_key_jwt;
	// a relative path in a CONFIG file is relative to that file), JWTAlg
	// the algorithm (default: the key's, HS256 for client_secret_jwt),
	// JWTKID the "kid" header, JWTAudience the "aud" claim (default:
	// TARGET, the token endpoint URL). See jwt.go.
	JWTKeyFile  string `yaml:"jwt_key_file"`
	JWTAlg      string `yaml:"jwt_alg"`
	JWTKID      string `yaml:"jwt_kid"`
	JWTAudience string `yaml:"jwt_audience"`
	// DeviceAuthorizationURL is the device authorization endpoint (RFC 8628
	// §3.1), for the device_code grant's rules. DeviceApproveCmd and
	// DeviceDenyCmd are shell commands that make the user approve or deny
	// the user_code in OAUTH_USER_CODE (as CODE_CMD stands in for the
	// user at the authorization endpoint); DeviceVerifyURL a test
	// verification endpoint doing either: a form POST of user_code and
	// decision=approve|deny (the bundled mock's /oauth/device/verify).
	DeviceAuthorizationURL string `yaml:"device_authorization_url"`
	DeviceApproveCmd       string `yaml:"device_approve_cmd"`
	DeviceDenyCmd          string `yaml:"device_deny_cmd"`
	DeviceVerifyURL        string `yaml:"device_verify_url"`

	// file is the CONFIG file the values came from; fromFile has bit i set
	// when Keys[i] was set there and not overridden by the environment.
	file     string
	fromFile uint64
	// problems are values ApplyEnv could not parse; Validate reports them.
	problems []string
}

// Default returns the configuration before any file or variable: report
// directory reports/out, a 10 s timeout and the default race budget.
func Default() Config {
	return Config{ReportDir: DefaultReportDir, Timeout: DefaultTimeout,
		RaceAttempts: DefaultRaceAttempts, RaceBudget: DefaultRaceBudget}
}

// Key is one configuration setting: its YAML key and environment variable.
type Key struct {
	YAML string
	Env  string
}

// Keys lists every setting, in documentation order; index i is bit i of
// Config.fromFile.
var Keys = []Key{
	{"target", "TARGET"},
	{"profile", "PROFILE"},
	{"client_id", "CLIENT_ID"},
	{"client_secret", "CLIENT_SECRET"},
	{"client_auth", "CLIENT_AUTH"},
	{"client2_id", "CLIENT2_ID"},
	{"client2_secret", "CLIENT2_SECRET"},
	{"restricted_client_id", "RESTRICTED_CLIENT_ID"},
	{"restricted_client_secret", "RESTRICTED_CLIENT_SECRET"},
	{"redirect_uri", "REDIRECT_URI"},
	{"scope", "SCOPE"},
	{"grants", "GRANTS"},
	{"headers", "HEADERS"},
	{"report_dir", "REPORT_DIR"},
	{"code_cmd", "CODE_CMD"},
	{"authorize_url", "AUTHORIZE_URL"},
	{"timeout", "TIMEOUT"},
	{"ca_file", "CA_FILE"},
	{"insecure", "INSECURE"},
	{"quirks", "QUIRKS"},
	{"race_attempts", "RACE_ATTEMPTS"},
	{"race_budget", "RACE_BUDGET"},
	{"dpop", "DPOP"},
	{"dpop_key_file", "DPOP_KEY_FILE"},
	{"dpop_alg", "DPOP_ALG"},
	{"dpop_jkt", "DPOP_JKT"},
	{"jwt_key_file", "JWT_KEY_FILE"},
	{"jwt_alg", "JWT_ALG"},
	{"jwt_kid", "JWT_KID"},
	{"jwt_audience", "JWT_AUDIENCE"},
	{"device_authorization_url", "DEVICE_AUTHORIZATION_URL"},
	{"device_approve_cmd", "DEVICE_APPROVE_CMD"},
	{"device_deny_cmd", "DEVICE_DENY_CMD"},
	{"device_verify_url", "DEVICE_VERIFY_URL"},
}

func keyIndex(yamlKey string) int {
	for i, k := range Keys {
		if k.YAML == yamlKey {
			return i
		}
	}
	return -1
}

// canonicalHeader is how header names are compared: HTTP names are
// case-insensitive.
func canonicalHeader(name string) string { return textproto.CanonicalMIMEHeaderKey(name) }

// GrantList is the GRANTS setting: grant type names, written as a YAML
// list or, like the variable, as one comma-separated string.
type GrantList []string

// ParseGrants splits a comma (or space) separated list of grant types.
func ParseGrants(s string) GrantList {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

// UnmarshalYAML accepts grants: [a, b] and grants: a,b.
func (g *GrantList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*g = ParseGrants(n.Value)
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*g = l
	return nil
}

// DeclaredGrants are the grants the target serves: Grants, or
// oauth.DefaultGrants when none are declared.
func (c Config) DeclaredGrants() []string {
	if len(c.Grants) == 0 {
		return append([]string(nil), oauth.DefaultGrants...)
	}
	return append([]string(nil), c.Grants...)
}

// Declares reports whether the target declares grant type g.
func (c Config) Declares(g string) bool { return slices.Contains(c.DeclaredGrants(), g) }
