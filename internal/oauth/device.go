package oauth

// The device authorization grant (RFC 8628,
// https://www.rfc-editor.org/rfc/rfc8628): its grant type, the parameters
// of the device authorization request and response (§3.1, §3.2) and of the
// device access token request (§3.4), and the error codes of the device
// access token response (§3.5).

// GrantDeviceCode is the device authorization grant's grant_type (§3.4).
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// Device authorization response parameters (§3.2) and the token request's
// device_code (§3.4).
const (
	ParamDeviceCode              = "device_code"
	ParamUserCode                = "user_code"
	ParamVerificationURI         = "verification_uri"
	ParamVerificationURIComplete = "verification_uri_complete"
	ParamInterval                = "interval"
)

// The device access token response's error codes (§3.5), with the status
// §5.2 of RFC 6749 gives errors: 400.
var (
	ErrAuthorizationPending = &Error{Code: "authorization_pending", Status: 400}
	ErrSlowDown             = &Error{Code: "slow_down", Status: 400}
	ErrAccessDenied         = &Error{Code: "access_denied", Status: 400}
	ErrExpiredToken         = &Error{Code: "expired_token", Status: 400}
)

// DefaultDeviceInterval is the polling interval in seconds a client uses
// when the device authorization response carries none (§3.2: "If no value
// is provided, clients MUST use 5 as the default").
const DefaultDeviceInterval = 5

// SlowDownIncrease is how many seconds a slow_down adds to the polling
// interval (§3.5: "the interval MUST be increased by 5 seconds for this and
// all subsequent requests").
const SlowDownIncrease = 5
