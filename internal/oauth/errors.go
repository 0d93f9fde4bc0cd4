package oauth

import (
	"errors"
	"fmt"
)

// Error is an RFC 6749 §5.2 error response. Is compares codes only, so
// errors.Is(err, ErrInvalidGrant) holds for any description.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Status is the HTTP status the error is sent with; not on the wire body.
	Status int `json:"-"`
}

func (e *Error) Error() string {
	if e.Description == "" {
		return "oauth: " + e.Code
	}
	return fmt.Sprintf("oauth: %s: %s", e.Code, e.Description)
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// WithDescription returns a copy of e carrying description d.
func (e *Error) WithDescription(d string) *Error {
	c := *e
	c.Description = d
	return &c
}

// WithStatus returns a copy of e sent with HTTP status s.
func (e *Error) WithStatus(s int) *Error {
	c := *e
	c.Status = s
	return &c
}

// The RFC 6749 §5.2 error codes with their default statuses.
var (
	ErrInvalidRequest       = &Error{Code: "invalid_request", Status: 400}
	ErrInvalidClient        = &Error{Code: "invalid_client", Status: 401}
	ErrInvalidGrant         = &Error{Code: "invalid_grant", Status: 400}
	ErrUnauthorizedClient   = &Error{Code: "unauthorized_client", Status: 400}
	ErrUnsupportedGrantType = &Error{Code: "unsupported_grant_type", Status: 400}
	ErrInvalidScope         = &Error{Code: "invalid_scope", Status: 400}
)

// ErrorCodes lists every §5.2 code.
var ErrorCodes = []string{
	ErrInvalidRequest.Code, ErrInvalidClient.Code, ErrInvalidGrant.Code,
	ErrUnauthorizedClient.Code, ErrUnsupportedGrantType.Code, ErrInvalidScope.Code,
}

// ValidErrorChar reports whether r may appear in "error" or
// "error_description": RFC 6749 §5.2 allows %x20-21 / %x23-5B / %x5D-7E.
func ValidErrorChar(r rune) bool {
	return r == 0x20 || r == 0x21 || (r >= 0x23 && r <= 0x5B) || (r >= 0x5D && r <= 0x7E)
}

// HTTPStatusError is an endpoint's answer that is neither what was asked
// for nor an OAuth error: a bare status, kept so callers can tell a refusal
// (4xx) from a failure (5xx).
type HTTPStatusError struct{ Status int }

func (e *HTTPStatusError) Error() string { return fmt.Sprintf("oauth: HTTP status %d", e.Status) }
