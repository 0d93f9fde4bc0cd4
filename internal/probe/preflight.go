package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

// ErrUnreachable means the target gave no HTTP answer at all. Preflight's
// errors wrap it and the failure class that explains why.
var ErrUnreachable = errors.New("target unreachable")

// Preflight checks that target answers HTTP at all, so a run can stop with
// one clear line instead of failing every rule. Any response counts, a 404,
// a 405 or a redirect included. The error is one line: what is wrong and
// what to do, e.g.
//
//	target http://127.0.0.1:9 unreachable: connection refused: is the server running? check TARGET
func (c *Client) Preflight(ctx context.Context, target string) error {
	shown := redact.String(target)
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &unreachable{
			msg:   fmt.Sprintf("target %q unreachable: not an absolute http(s) URL: use e.g. TARGET=https://auth.example.com/oauth/token", shown),
			class: ErrRequest, cause: err,
		}
	}
	x, xerr := c.exchange(ctx, oauth.Request{Method: http.MethodGet, URL: target})
	if x.Response != nil {
		return nil
	}
	return &unreachable{msg: fmt.Sprintf("target %s unreachable: %s", shown, c.hint(xerr, u)), class: xerr.class, cause: xerr.cause}
}

// hint says what failed and how to fix it, in words for the person running
// the harness rather than for a Go programmer.
func (c *Client) hint(err *exchangeError, u *url.URL) string {
	switch err.class {
	case ErrRefused:
		return "connection refused: is the server running? check TARGET"
	case ErrDNS:
		return fmt.Sprintf("host %q not found (DNS): check the host name in TARGET", u.Hostname())
	case ErrTLS:
		return fmt.Sprintf("TLS: %v: set CA_FILE to the server's CA certificate (PEM), or INSECURE=true for a test server", err.cause)
	case ErrTimeout:
		return fmt.Sprintf("no answer within %v: check TARGET and the network, or raise TIMEOUT", c.timeout)
	case ErrCanceled:
		return "the run was canceled before the target answered"
	case ErrLocal:
		return fmt.Sprintf("%v: %s", err.cause, ErrLocal.text)
	}
	return fmt.Sprintf("%s: %v: check TARGET", err.class.class, err.cause)
}

// unreachable is Preflight's error: a one-line message that still matches
// errors.Is(err, ErrUnreachable) and the failure class.
type unreachable struct {
	msg   string
	class *Failure
	cause error
}

func (e *unreachable) Error() string { return e.msg }

func (e *unreachable) Unwrap() []error {
	out := []error{ErrUnreachable, e.class}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}
