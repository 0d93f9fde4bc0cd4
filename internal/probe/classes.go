package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"unicode/utf8"

	"tokenharness/internal/oauth"
)

// Failure classes, as recorded in oauth.Exchange.Class and shown in reports.
// Transport classes first, then the response classes of ClassifyResponse.
const (
	ClassTimeout      = "timeout"
	ClassCanceled     = "canceled"
	ClassConnCut      = "conn_cut"
	ClassRefused      = "refused"
	ClassTLS          = "tls"
	ClassDNS          = "dns"
	ClassBodyTooLarge = "body_too_large"
	ClassRedirect     = "redirect"
	ClassRequest      = "request"
	ClassTransport    = "transport"
	// ClassLocal is a failure on the harness's own machine before anything
	// reached the target: no ephemeral port or file descriptor was left.
	// It proves nothing about the server.
	ClassLocal = "local"

	ClassHTML        = "html"
	ClassEmpty       = "empty"
	ClassNotJSON     = "not_json"
	ClassInvalidUTF8 = "invalid_utf8"
)

// Failure is a failure class. The sentinels below are its only values;
// errors from this package wrap one of them, so errors.Is selects a class
// and Class names it.
type Failure struct {
	class string
	text  string
}

func (f *Failure) Error() string { return f.text }

// Class is the failure's class name.
func (f *Failure) Class() string { return f.class }

// The failure classes of an exchange.
var (
	ErrTimeout  = &Failure{ClassTimeout, "timeout: no complete answer within the deadline"}
	ErrCanceled = &Failure{ClassCanceled, "canceled: the caller gave up before the answer"}
	ErrConnCut  = &Failure{ClassConnCut, "conn_cut: the connection was closed or reset mid-exchange"}
	ErrRefused  = &Failure{ClassRefused, "refused: connection refused"}
	ErrTLS      = &Failure{ClassTLS, "tls: the TLS handshake failed: to trust a private CA set CA_FILE (probe.WithCAFile) " +
		"to its PEM certificate, or set INSECURE=true (probe.WithInsecureSkipVerify) to skip verification"}
	ErrDNS          = &Failure{ClassDNS, "dns: the host name does not resolve"}
	ErrBodyTooLarge = &Failure{ClassBodyTooLarge, "body_too_large: the response body exceeds the size cap"}
	ErrRedirect     = &Failure{ClassRedirect, "redirect: the token endpoint redirected; redirects are not followed"}
	ErrRequest      = &Failure{ClassRequest, "request: the request could not be built"}
	ErrTransport    = &Failure{ClassTransport, "transport: the exchange failed"}
	ErrLocal        = &Failure{ClassLocal, "local: this machine could not open the connection (no ephemeral port or file descriptor left): " +
		"wait a minute for closed connections to time out, or run fewer gates at once"}
)

// Class names the failure class of err ("" for nil or an unclassified error).
func Class(err error) string {
	var f *Failure
	if errors.As(err, &f) {
		return f.class
	}
	return ""
}

// classify maps a transport error to its sentinel. ctxErr is the exchange's
// own context's error, which tells our deadline from the caller's cancel.
func classify(err, ctxErr error) *Failure {
	var (
		dnsErr  *net.DNSError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		verify  *tls.CertificateVerificationError
		record  tls.RecordHeaderError
		alert   tls.AlertError
		netErr  net.Error
	)
	switch {
	case errors.Is(ctxErr, context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case errors.Is(ctxErr, context.Canceled) || errors.Is(err, context.Canceled):
		return ErrCanceled
	case errors.As(err, &dnsErr):
		return ErrDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrRefused
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE),
		errors.Is(err, syscall.ENOBUFS):
		// Checked before the generic cases: these come from connect or
		// socket on this machine, whatever the target would have said.
		return ErrLocal
	case errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &record), errors.As(err, &alert):
		return ErrTLS
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return ErrConnCut
	case errors.As(err, &netErr) && netErr.Timeout():
		return ErrTimeout
	}
	return ErrTransport
}

// ClassifyResponse names what is wrong with a response body that should be
// one JSON object: "" when it is one, else html, empty, not_json (including
// JSON that is not an object), invalid_utf8 or body_too_large. A nil
// response yields "": the exchange's own Class says why there is none.
func ClassifyResponse(r *oauth.Response) string {
	switch {
	case r == nil:
		return ""
	case r.Truncated:
		return ClassBodyTooLarge
	}
	body := bytes.TrimSpace(r.Body)
	switch {
	case len(body) == 0:
		return ClassEmpty
	case !utf8.Valid(body):
		return ClassInvalidUTF8
	case r.MediaType() == "text/html" || looksLikeHTML(body):
		return ClassHTML
	}
	if _, err := r.Object(); err != nil {
		return ClassNotJSON
	}
	return ""
}

func looksLikeHTML(b []byte) bool {
	if len(b) > 64 {
		b = b[:64]
	}
	s := strings.ToLower(string(b))
	return strings.HasPrefix(s, "<!doctype html") || strings.HasPrefix(s, "<html")
}
