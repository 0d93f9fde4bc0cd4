package target

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

// Validate returns the first problem as one line naming what is wrong and
// how to fix it, wrapping ErrConfig; nil when the configuration can run.
// An empty Target is valid (the bundled mock); so is an empty ClientAuth
// (the caller applies the profile's default). knownProfiles lists the
// profile names to accept; with none, any name is.
func (c Config) Validate(knownProfiles []string) error {
	if len(c.problems) > 0 {
		return c.bad("%s", c.problems[0])
	}
	authNames := make([]string, len(oauth.AuthMethods))
	for i, m := range oauth.AuthMethods {
		authNames[i] = string(m)
	}
	switch {
	case len(knownProfiles) > 0 && c.Profile == "":
		return c.bad("PROFILE is empty: set PROFILE to one of %s", strings.Join(knownProfiles, "|"))
	case len(knownProfiles) > 0 && !contains(knownProfiles, c.Profile):
		return c.bad("PROFILE %q%s is not one of %s: set PROFILE to one of them", c.Profile, c.from("profile"), strings.Join(knownProfiles, "|"))
	case c.Target != "" && !httpURL(c.Target):
		return c.bad("TARGET %q%s is not an absolute http(s) URL: use e.g. TARGET=https://auth.example.com/oauth/token", redact.String(c.Target), c.from("target"))
	case c.ClientID == "":
		return c.bad("CLIENT_ID is empty: set CLIENT_ID (or client_id in the CONFIG file)")
	case c.ClientAuth != "" && !c.ClientAuth.Valid():
		return c.bad("CLIENT_AUTH %q%s is not one of %s", c.ClientAuth, c.from("client_auth"), strings.Join(authNames, "|"))
	case c.ClientAuth == oauth.AuthPrivateKeyJWT && c.JWTKeyFile == "":
		return c.bad("CLIENT_AUTH=private_key_jwt needs JWT_KEY_FILE: point it at the PEM private key whose public key the target has registered for CLIENT_ID")
	case c.ClientAuth != "" && c.ClientAuth != oauth.AuthNone && c.ClientAuth != oauth.AuthPrivateKeyJWT && c.ClientSecret == "":
		return c.bad("CLIENT_AUTH=%s needs CLIENT_SECRET", c.ClientAuth)
	case c.Client2Secret != "" && c.Client2ID == "":
		return c.bad("CLIENT2_SECRET is set but CLIENT2_ID is empty: set CLIENT2_ID too")
	case c.Client2ID != "" && c.usesSecret() && c.Client2Secret == "":
		return c.bad("CLIENT_AUTH=%s needs CLIENT2_SECRET for CLIENT2_ID %q", c.ClientAuth, c.Client2ID)
	case c.RestrictedClientSecret != "" && c.RestrictedClientID == "":
		return c.bad("RESTRICTED_CLIENT_SECRET is set but RESTRICTED_CLIENT_ID is empty: set RESTRICTED_CLIENT_ID too")
	case c.RestrictedClientID != "" && c.usesSecret() && c.RestrictedClientSecret == "":
		return c.bad("CLIENT_AUTH=%s needs RESTRICTED_CLIENT_SECRET for RESTRICTED_CLIENT_ID %q", c.ClientAuth, c.RestrictedClientID)
	case c.RedirectURI != "" && !absoluteURI(c.RedirectURI):
		return c.bad("REDIRECT_URI %q%s is not an absolute URI: use e.g. REDIRECT_URI=http://127.0.0.1:8080/callback", c.RedirectURI, c.from("redirect_uri"))
	case c.AuthorizeURL != "" && !httpURL(c.AuthorizeURL):
		return c.bad("AUTHORIZE_URL %q%s is not an absolute http(s) URL: use e.g. AUTHORIZE_URL=https://auth.example.com/oauth/authorize", redact.String(c.AuthorizeURL), c.from("authorize_url"))
	case c.DeviceAuthorizationURL != "" && !httpURL(c.DeviceAuthorizationURL):
		return c.bad("DEVICE_AUTHORIZATION_URL %q%s is not an absolute http(s) URL: use e.g. DEVICE_AUTHORIZATION_URL=https://auth.example.com/oauth/device_authorization", redact.String(c.DeviceAuthorizationURL), c.from("device_authorization_url"))
	case c.DeviceVerifyURL != "" && !httpURL(c.DeviceVerifyURL):
		return c.bad("DEVICE_VERIFY_URL %q%s is not an absolute http(s) URL: use e.g. DEVICE_VERIFY_URL=http://127.0.0.1:9000/oauth/device/verify", redact.String(c.DeviceVerifyURL), c.from("device_verify_url"))
	case (c.DeviceApproveCmd != "" || c.DeviceDenyCmd != "" || c.DeviceVerifyURL != "") && c.DeviceAuthorizationURL == "":
		return c.bad("DEVICE_APPROVE_CMD, DEVICE_DENY_CMD or DEVICE_VERIFY_URL is set but DEVICE_AUTHORIZATION_URL is empty: set it to the device authorization endpoint (RFC 8628 §3.1)")
	case c.Timeout <= 0:
		return c.bad("TIMEOUT %v%s is not positive: use e.g. TIMEOUT=10s", c.Timeout, c.from("timeout"))
	case c.RaceAttempts < 1:
		return c.bad("RACE_ATTEMPTS %d%s is not positive: use e.g. RACE_ATTEMPTS=%d", c.RaceAttempts, c.from("race_attempts"), DefaultRaceAttempts)
	case c.RaceBudget <= 0:
		return c.bad("RACE_BUDGET %v%s is not positive: use e.g. RACE_BUDGET=%v", c.RaceBudget, c.from("race_budget"), DefaultRaceBudget)
	case c.ReportDir == "":
		return c.bad("REPORT_DIR is empty%s: set it, e.g. REPORT_DIR=reports/out", c.from("report_dir"))
	}
	if err := c.validateGrants(); err != nil {
		return err
	}
	if err := c.validateDPoP(); err != nil {
		return err
	}
	if err := c.validateJWT(); err != nil {
		return err
	}
	for _, name := range sortedHeaderNames(c.Headers) {
		if !validHeaderName(name) {
			return c.bad("header name %q%s is not a valid HTTP header name", name, c.from("headers"))
		}
		// RFC 9110 §5.5: a field value holds no control characters but
		// horizontal tab; Go's client would refuse it on every request.
		// The value is not shown: it may be a credential.
		if strings.ContainsFunc(c.Headers[name], func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return c.bad("the value of header %s%s holds a control character: remove it from HEADERS", name, c.from("headers"))
		}
	}
	for _, q := range c.Quirks {
		if strings.TrimSpace(q) == "" {
			return c.bad("QUIRKS%s holds an empty name: list rule IDs separated by commas", c.from("quirks"))
		}
	}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return c.bad("CA_FILE%s is unreadable: %v: point it at a PEM file of CA certificates", c.from("ca_file"), err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return c.bad("CA_FILE %s%s holds no PEM certificate: point it at a PEM file of CA certificates", c.CAFile, c.from("ca_file"))
		}
	}
	return nil
}

// validateGrants checks GRANTS: known grant types, each once.
func (c Config) validateGrants() error {
	seen := map[string]bool{}
	for _, g := range c.Grants {
		if !contains(oauth.Grants, g) {
			return c.bad("GRANTS %q%s names %q, which is not one of %s: list the grants the target serves, e.g. GRANTS=client_credentials",
				strings.Join(c.Grants, ","), c.from("grants"), g, strings.Join(oauth.Grants, "|"))
		}
		if seen[g] {
			return c.bad("GRANTS %q%s names %s twice", strings.Join(c.Grants, ","), c.from("grants"), g)
		}
		seen[g] = true
	}
	return nil
}

func (c Config) bad(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
}

// from says where a value came from when it was the CONFIG file, since the
// message names the environment variable.
func (c Config) from(yamlKey string) string {
	if i := keyIndex(yamlKey); i >= 0 && c.fromFile&(1<<i) != 0 {
		return fmt.Sprintf(" (%s in %s)", yamlKey, c.file)
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// absoluteURI: RFC 6749 §3.1.2 requires an absolute redirect URI, which
// need not be http (urn:ietf:wg:oauth:2.0:oob:auto).
func absoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && u.Fragment == ""
}

// Redacted is the configuration on one line for logs: secrets and header
// values masked, URLs passed through redact, and only the program name of
// CODE_CMD (its arguments may hold credentials).
func (c Config) Redacted() string {
	var b strings.Builder
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if strings.ContainsAny(v, " \t\"=") {
			v = fmt.Sprintf("%q", v)
		}
		b.WriteString(k + "=" + v)
	}
	secret := func(s string) string {
		if s == "" {
			return ""
		}
		return redact.Mask
	}
	add("target", redact.String(c.Target))
	add("profile", c.Profile)
	add("client_id", c.ClientID)
	add("client_secret", secret(c.ClientSecret))
	add("client_auth", string(c.ClientAuth))
	add("client2_id", c.Client2ID)
	add("client2_secret", secret(c.Client2Secret))
	add("restricted_client_id", c.RestrictedClientID)
	add("restricted_client_secret", secret(c.RestrictedClientSecret))
	add("redirect_uri", redact.String(c.RedirectURI))
	add("scope", c.Scope)
	add("grants", strings.Join(c.Grants, ","))
	if len(c.Headers) > 0 {
		names := sortedHeaderNames(c.Headers)
		for i, n := range names {
			names[i] = n + ":" + redact.Mask
		}
		add("headers", strings.Join(names, ","))
	}
	add("report_dir", c.ReportDir)
	if f := strings.Fields(c.CodeCmd); len(f) > 0 {
		cmd := f[0]
		if len(f) > 1 {
			cmd += " …"
		}
		add("code_cmd", cmd)
	}
	add("authorize_url", redact.String(c.AuthorizeURL))
	add("device_authorization_url", redact.String(c.DeviceAuthorizationURL))
	add("device_approve_cmd", programName(c.DeviceApproveCmd))
	add("device_deny_cmd", programName(c.DeviceDenyCmd))
	add("device_verify_url", redact.String(c.DeviceVerifyURL))
	add("timeout", c.Timeout.String())
	add("ca_file", c.CAFile)
	if c.Insecure {
		add("insecure", "true")
	}
	add("quirks", strings.Join(c.Quirks, ","))
	if c.DPoP {
		add("dpop", "true")
		add("dpop_key_file", c.DPoPKeyFile)
		add("dpop_alg", c.DPoPAlg)
		if c.DPoPJKT {
			add("dpop_jkt", "true")
		}
	}
	add("jwt_key_file", c.JWTKeyFile)
	add("jwt_alg", c.JWTAlg)
	add("jwt_kid", c.JWTKID)
	add("jwt_audience", redact.String(c.JWTAudience))
	return b.String()
}

// programName is a command's program name, "…" standing for its
// arguments, which may hold credentials.
func programName(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return ""
	}
	if len(f) > 1 {
		return f[0] + " …"
	}
	return f[0]
}

// secretHeaderWords mark header names whose values are credentials.
var secretHeaderWords = []string{"key", "token", "auth", "secret", "jwt", "cookie", "password", "signature", "session"}

// RegisterSecrets adds the configuration's secrets to r (redact.Default if
// nil): the client secrets, their Basic credentials, and the values of
// headers whose names say they carry credentials (x-api-key,
// x-dressipi-jwt, …).
func (c Config) RegisterSecrets(r *redact.Redactor) {
	if r == nil {
		r = redact.Default
	}
	r.Add(c.ClientSecret, c.Client2Secret, c.RestrictedClientSecret)
	r.AddBasic(c.ClientID, c.ClientSecret)
	r.AddBasic(c.Client2ID, c.Client2Secret)
	r.AddBasic(c.RestrictedClientID, c.RestrictedClientSecret)
	for name, v := range c.Headers {
		lower := strings.ToLower(name)
		for _, w := range secretHeaderWords {
			if strings.Contains(lower, w) {
				r.Add(v)
				break
			}
		}
	}
}
