// Package plan resolves a run's configuration the same way for the
// conformance suite, the load runner and the CLI: the CONFIG file (or, with
// no TARGET, the bundled mock's target file for the profile), then the
// environment (variables win), then the profile's defaults, then one
// validation that names what is wrong and how to fix it.
package plan

import (
	"fmt"

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
