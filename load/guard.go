package load

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"tokenharness/internal/redact"
)

// ErrRemote is wrapped when a run would send load anywhere but this
// machine without ALLOW_REMOTE=1.
var ErrRemote = errors.New("load: refusing to send load to a non-loopback target")

// CheckLoopback refuses a URL whose host is not localhost or a loopback
// address, unless allowRemote. Load is only ever aimed at a server one
// owns; the safe default is this machine. Host names other than localhost
// are not resolved: a name that happens to resolve to 127.0.0.1 today is
// still refused.
func CheckLoopback(what, rawURL string, allowRemote bool) error {
	if allowRemote || rawURL == "" {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("load: %s %q is not an absolute URL", what, rawURL)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%w: %s host %q is not 127.0.0.1/localhost; set ALLOW_REMOTE=1 only for a server you own and may load-test", ErrRemote, what, u.Hostname())
}

// PublicURL is rawURL as reports and results files show it: user
// information removed and query values masked (an API key in the query is
// still a secret), the rest as configured.
func PublicURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return redact.String(rawURL)
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{redact.Mask}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}
