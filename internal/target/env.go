package target

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"tokenharness/internal/oauth"
)

// ApplyEnv overrides the configuration with the environment variables of
// Keys that are set and not empty. HEADERS ("Name: value" pairs separated
// by newlines or ';') adds to the file's headers, replacing any of the same
// name; QUIRKS (comma-separated) replaces the file's list. Values that do
// not parse (TIMEOUT, INSECURE, HEADERS, RACE_ATTEMPTS, RACE_BUDGET) are
// reported by Validate.
func (c *Config) ApplyEnv(getenv func(string) string) {
	// Fresh backing arrays and maps: Config values are copied freely, and
	// a copy must not see this one's changes.
	c.problems = append([]string(nil), c.problems...)
	for i, k := range Keys {
		v := getenv(k.Env)
		if v == "" {
			continue
		}
		c.fromFile &^= 1 << i
		if p := c.setFromEnv(k.Env, v); p != "" {
			c.problems = append(c.problems, p)
		}
	}
}

func (c *Config) setFromEnv(name, v string) (problem string) {
	switch name {
	case "TARGET":
		c.Target = strings.TrimSpace(v)
	case "PROFILE":
		c.Profile = strings.TrimSpace(v)
	case "CLIENT_ID":
		c.ClientID = v
	case "CLIENT_SECRET":
		c.ClientSecret = v
	case "CLIENT_AUTH":
		c.ClientAuth = oauth.AuthMethod(strings.TrimSpace(v))
	case "CLIENT2_ID":
		c.Client2ID = v
	case "CLIENT2_SECRET":
		c.Client2Secret = v
	case "RESTRICTED_CLIENT_ID":
		c.RestrictedClientID = v
	case "RESTRICTED_CLIENT_SECRET":
		c.RestrictedClientSecret = v
	case "GRANTS":
		c.Grants = ParseGrants(v)
	case "REDIRECT_URI":
		c.RedirectURI = strings.TrimSpace(v)
	case "SCOPE":
		c.Scope = v
	case "HEADERS":
		h, err := ParseHeaders(v)
		if err != nil {
			return err.Error()
		}
		merged := make(map[string]string, len(c.Headers)+len(h))
		for k, val := range c.Headers {
			merged[k] = val
		}
		for k, val := range h {
			for old := range merged {
				if canonicalHeader(old) == canonicalHeader(k) {
					delete(merged, old)
				}
			}
			merged[k] = val
		}
		c.Headers = merged
	case "REPORT_DIR":
		c.ReportDir = v
	case "CODE_CMD":
		c.CodeCmd = v
	case "AUTHORIZE_URL":
		c.AuthorizeURL = strings.TrimSpace(v)
	case "DEVICE_AUTHORIZATION_URL":
		c.DeviceAuthorizationURL = strings.TrimSpace(v)
	case "DEVICE_APPROVE_CMD":
		c.DeviceApproveCmd = v
	case "DEVICE_DENY_CMD":
		c.DeviceDenyCmd = v
	case "DEVICE_VERIFY_URL":
		c.DeviceVerifyURL = strings.TrimSpace(v)
	case "TIMEOUT":
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Sprintf("TIMEOUT %q is not a duration: use e.g. TIMEOUT=10s", v)
		}
		c.Timeout = d
	case "CA_FILE":
		c.CAFile = v
	case "INSECURE":
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Sprintf("INSECURE %q is not a boolean: use INSECURE=true or INSECURE=false", v)
		}
		c.Insecure = b
	case "RACE_ATTEMPTS":
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Sprintf("RACE_ATTEMPTS %q is not a whole number: use e.g. RACE_ATTEMPTS=%d", v, DefaultRaceAttempts)
		}
		c.RaceAttempts = n
	case "RACE_BUDGET":
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Sprintf("RACE_BUDGET %q is not a duration: use e.g. RACE_BUDGET=%v", v, DefaultRaceBudget)
		}
		c.RaceBudget = d
	case "DPOP", "DPOP_KEY_FILE", "DPOP_ALG", "DPOP_JKT":
		return c.setDPoPFromEnv(name, v)
	case "JWT_KEY_FILE":
		c.JWTKeyFile = strings.TrimSpace(v)
	case "JWT_ALG":
		c.JWTAlg = strings.TrimSpace(v)
	case "JWT_KID":
		c.JWTKID = v
	case "JWT_AUDIENCE":
		c.JWTAudience = strings.TrimSpace(v)
	case "QUIRKS":
		c.Quirks = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	}
	return ""
}

// ParseHeaders reads the HEADERS format: "Name: value" pairs separated by
// newlines or ';'. Blank entries are skipped.
func ParseHeaders(s string) (map[string]string, error) {
	out := map[string]string{}
	n := 0
	for _, entry := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ';' }) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		n++
		name, value, ok := strings.Cut(entry, ":")
		name = strings.TrimSpace(name)
		if !ok || !validHeaderName(name) {
			// The entry is not quoted: it may be a credential.
			return nil, fmt.Errorf(`HEADERS entry %d is not "Name: value": separate pairs with newlines or ';', e.g. HEADERS="x-api-key: …; x-tenant: acme"`, n)
		}
		out[name] = strings.TrimSpace(value)
	}
	return out, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// FromEnv builds the configuration the way a run does: Default, then the
// CONFIG file if set, then the other variables, then Validate against
// knownProfiles (none given: any profile name is accepted).
func FromEnv(getenv func(string) string, knownProfiles ...string) (Config, error) {
	c := Default()
	if path := getenv(EnvConfig); path != "" {
		var err error
		if c, err = Load(path); err != nil {
			return c, err
		}
	}
	c.ApplyEnv(getenv)
	return c, c.Validate(knownProfiles)
}
