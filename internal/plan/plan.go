// Package plan resolves a run's configuration the same way for the
// conformance suite, the load runner and the CLI: the CONFIG file (or, with
// no TARGET, the bundled mock's target file for the profile), then the
// environment (variables win), then the profile's defaults, then one
// validation that names what is wrong and how to fix it.
package plan

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	gtypes "github.com/onsi/ginkgo/v2/types"

	"tokenharness/fixtures"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
)

// DefaultProfile is used when neither PROFILE nor the CONFIG file names one.
const DefaultProfile = rules.RFC6749

// Resolve builds and validates the run configuration from getenv. An empty
// Target in the result means: check the bundled mock server.
func Resolve(getenv func(string) string) (target.Config, error) {
	cfg := target.Default()
	profile := getenv("PROFILE")
	switch path := getenv("CONFIG"); {
	case path != "":
		c, err := target.Load(path)
		if err != nil {
			return cfg, err
		}
		cfg = c
	case getenv("TARGET") == "":
		if profile == "" {
			profile = string(DefaultProfile)
		}
		if _, err := rules.Info(rules.Profile(profile)); err != nil {
			break // Validate names the unknown profile below.
		}
		b, err := fixtures.Target("mock-" + profile)
		if err != nil {
			return cfg, fmt.Errorf("plan: the bundled mock's target file for %s: %w", profile, err)
		}
		c, err := target.Parse(b, "fixtures/targets/mock-"+profile+".yaml")
		if err != nil {
			return cfg, err
		}
		cfg = c
	}
	cfg.ApplyEnv(getenv)
	if cfg.Profile == "" {
		cfg.Profile = string(DefaultProfile)
	}
	if cfg.ClientAuth == "" {
		cfg.ClientAuth = defaultAuth(rules.Profile(cfg.Profile), cfg.ClientSecret)
	}
	if len(cfg.Grants) == 0 {
		// A target that declares nothing serves what the harness always
		// exercised: codes and refresh tokens.
		cfg.Grants = append(target.GrantList(nil), oauth.DefaultGrants...)
	}
	if err := cfg.Validate(rules.ProfileNames()); err != nil {
		return cfg, err
	}
	if err := rules.ValidateQuirks(cfg.Quirks); err != nil {
		return cfg, fmt.Errorf("%w: QUIRKS: %v", target.ErrConfig, err)
	}
	return cfg, nil
}

// defaultAuth is the profile's documented method, adjusted to whether a
// secret was given: a secret means a confidential client, none a public one.
func defaultAuth(p rules.Profile, secret string) oauth.AuthMethod {
	info, err := rules.Info(p)
	if err != nil {
		return oauth.AuthBasic
	}
	switch {
	case secret == "":
		return oauth.AuthNone
	case info.Auth == oauth.AuthNone:
		return oauth.AuthBasic
	}
	return info.Auth
}

// Gate is how a conformance run is carried out, as opposed to what it
// checks (target.Config): where the bundled mock runs, how many rules run
// at once, which rules (a Ginkgo label filter) and the bound on the run.
type Gate struct {
	Mock         string
	Procs        int
	Labels       string
	SuiteTimeout time.Duration
}

// GateKeys are the variables ResolveGate reads, in documentation order.
var GateKeys = []string{"MOCK", "PROCS", "LABELS", "SUITE_TIMEOUT"}

// ResolveGate reads and validates the gate's settings from getenv, so a
// mistake costs one line before any work starts.
func ResolveGate(getenv func(string) string) (Gate, error) {
	g := Gate{Mock: "auto", Procs: 4, Labels: getenv("LABELS"), SuiteTimeout: 20 * time.Minute}
	bad := func(format string, args ...any) (Gate, error) {
		return g, fmt.Errorf("%w: "+format, append([]any{target.ErrConfig}, args...)...)
	}
	if v := getenv("MOCK"); v != "" {
		if v != "auto" && v != "container" && v != "in-process" {
			return bad("MOCK %q is not one of auto|container|in-process", v)
		}
		g.Mock = v
	}
	if v := getenv("PROCS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return bad("PROCS %q is not a whole number from 1 to 64 (rules run at once)", v)
		}
		g.Procs = n
	}
	if v := getenv("SUITE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return bad("SUITE_TIMEOUT %q is not a positive Go duration such as 20m or 90s", v)
		}
		g.SuiteTimeout = d
	}
	if g.Labels != "" {
		if _, err := gtypes.ParseLabelFilter(g.Labels); err != nil {
			return bad("LABELS %q is not a label filter (%s); e.g. 'level: containsAny MUST' or 'rule:RFC6749-5.1-NO-STORE'", g.Labels, labelError(err))
		}
	}
	return g, nil
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// labelError is the reason in Ginkgo's label filter error, which is a
// colourised block: a title, the filter, the reason, a link.
func labelError(err error) string {
	reason := ""
	for _, l := range strings.Split(ansi.ReplaceAllString(err.Error(), ""), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "Learn more") || strings.HasPrefix(l, "http") {
			continue
		}
		reason = l
	}
	return reason
}

// ConformanceVars are every input of a conformance run, in documentation
// order: the CONFIG file, each target setting and the gate's settings. The
// CLI offers each as a flag named by FlagName.
func ConformanceVars() []string {
	vars := []string{target.EnvConfig}
	for _, k := range target.Keys {
		vars = append(vars, k.Env)
	}
	return append(vars, GateKeys...)
}

// FlagName is a variable's command-line flag: TARGET → target,
// CLIENT_ID → client-id.
func FlagName(env string) string { return strings.ReplaceAll(strings.ToLower(env), "_", "-") }
