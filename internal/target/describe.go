package target

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// masked stands in for a secret in Describe.
const masked = "[REDACTED]"

// Describe is the configuration as "yaml_key: value" lines in Keys order,
// the way a target file spells them, with every secret masked: client
// secrets, header values, and credentials in URLs. Unset settings read
// "(unset)", so it also shows what a run will not exercise.
func (c Config) Describe() string {
	var b strings.Builder
	for _, k := range Keys {
		fmt.Fprintf(&b, "%s: %s\n", k.YAML, c.describe(k.Env))
	}
	return b.String()
}

func (c Config) describe(env string) string {
	v := ""
	switch env {
	case "TARGET":
		v = maskURL(c.Target)
	case "PROFILE":
		v = c.Profile
	case "CLIENT_ID":
		v = c.ClientID
	case "CLIENT_SECRET":
		v = maskSet(c.ClientSecret)
	case "CLIENT_AUTH":
		v = string(c.ClientAuth)
	case "CLIENT2_ID":
		v = c.Client2ID
	case "CLIENT2_SECRET":
		v = maskSet(c.Client2Secret)
	case "RESTRICTED_CLIENT_ID":
		v = c.RestrictedClientID
	case "RESTRICTED_CLIENT_SECRET":
		v = maskSet(c.RestrictedClientSecret)
	case "GRANTS":
		v = strings.Join(c.Grants, ",")
	case "REDIRECT_URI":
		v = c.RedirectURI
	case "SCOPE":
		v = c.Scope
	case "HEADERS":
		names := make([]string, 0, len(c.Headers))
		for n := range c.Headers {
			names = append(names, n+": "+masked)
		}
		sort.Strings(names)
		v = strings.Join(names, "; ")
	case "REPORT_DIR":
		v = c.ReportDir
	case "CODE_CMD":
		v = c.CodeCmd
	case "AUTHORIZE_URL":
		v = maskURL(c.AuthorizeURL)
	case "DEVICE_AUTHORIZATION_URL":
		v = maskURL(c.DeviceAuthorizationURL)
	case "DEVICE_APPROVE_CMD":
		v = c.DeviceApproveCmd
	case "DEVICE_DENY_CMD":
		v = c.DeviceDenyCmd
	case "DEVICE_VERIFY_URL":
		v = maskURL(c.DeviceVerifyURL)
	case "TIMEOUT":
		v = c.Timeout.String()
	case "CA_FILE":
		v = c.CAFile
	case "INSECURE":
		v = fmt.Sprint(c.Insecure)
	case "QUIRKS":
		v = strings.Join(c.Quirks, ",")
	case "JWT_KEY_FILE":
		// The path, not the key: the file holds the secret.
		v = c.JWTKeyFile
	case "JWT_ALG":
		v = c.JWTAlg
	case "JWT_KID":
		v = c.JWTKID
	case "JWT_AUDIENCE":
		v = maskURL(c.JWTAudience)
	case "RACE_ATTEMPTS":
		if c.RaceAttempts > 0 {
			v = fmt.Sprint(c.RaceAttempts)
		}
	case "RACE_BUDGET":
		if c.RaceBudget > 0 {
			v = c.RaceBudget.String()
		}
	}
	if v == "" {
		return "(unset)"
	}
	return v
}

func maskSet(s string) string {
	if s == "" {
		return ""
	}
	return masked
}

// maskURL removes user information and query values, where credentials hide.
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return s
	}
	if u.User != nil {
		u.User = url.User(masked)
	}
	if q := u.Query(); len(q) > 0 {
		for k := range q {
			q.Set(k, masked)
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}
