// Package codes obtains fresh authorization codes for the conformance
// checks, which need one per rule since a code is single-use (RFC 6749
// §4.1.2). A Source either runs a user command (CODE_CMD) or calls an
// automatic-consent authorization endpoint (AUTHORIZE_URL); both are bound
// to the harness's own PKCE verifier (RFC 7636,
// https://www.rfc-editor.org/rfc/rfc7636), which this package generates.
//
// Codes are secrets: no error from this package contains one.
package codes

import (
	"context"
	"errors"
	"net/http"
)

// Request is what a code is requested for. Empty fields are not sent.
type Request struct {
	ClientID    string
	RedirectURI string
	Scope       string
	State       string
	Challenge   string
	Method      string // code_challenge_method: S256 or plain
	// DPoPJKT is dpop_jkt, the JWK thumbprint of the DPoP key the code is
	// to be bound to (RFC 9449 §10).
	DPoPJKT string
	// Header holds extra request headers (HEADERS, the mock's quirk switch).
	Header http.Header
}

// Source yields one fresh authorization code per call.
type Source interface {
	Code(ctx context.Context, r Request) (string, error)
}

// ErrCodeSource is wrapped by every error a Source returns.
var ErrCodeSource = errors.New("codes: no fresh authorization code")

// sourceError is a one-line failure of a code source; it matches
// ErrCodeSource and unwraps to its cause, if any.
type sourceError struct {
	msg   string
	cause error
}

func (e *sourceError) Error() string        { return "codes: " + e.msg }
func (e *sourceError) Is(target error) bool { return target == ErrCodeSource }
func (e *sourceError) Unwrap() error        { return e.cause }

func fail(cause error, msg string) error { return &sourceError{msg: msg, cause: cause} }
