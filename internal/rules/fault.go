package rules

// Fault is a wire-level corruption of the mock server's response, declared on
// the rule it breaks. The mock applies it with one generic middleware, so the
// rule file is the only place a wire fault is written. Behavioural faults
// (code reuse allowed, PKCE not verified) have a zero Fault and are switched
// at the mock's enforcement line instead.
type Fault struct {
	// On selects which responses the fault touches.
	On FaultOn `json:"on,omitempty"`
	// DropHeader removes a response header.
	DropHeader string `json:"drop_header,omitempty"`
	// SetHeader sets a response header: name, value.
	SetHeader [2]string `json:"set_header,omitempty"`
	// DropField removes a top-level JSON member.
	DropField string `json:"drop_field,omitempty"`
	// SetField sets a top-level JSON member to Value.
	SetField string `json:"set_field,omitempty"`
	Value    any    `json:"value,omitempty"`
	// StringifyField turns a JSON number member into a string.
	StringifyField string `json:"stringify_field,omitempty"`
	// Status replaces the HTTP status.
	Status int `json:"status,omitempty"`
	// Body replaces the whole body.
	Body string `json:"body,omitempty"`
}

// FaultOn selects responses by outcome and grant.
type FaultOn string

const (
	OnSuccess        FaultOn = "success"         // 200 responses of any grant (the default)
	OnError          FaultOn = "error"           // §5.2 error responses
	OnAny            FaultOn = "any"             // every token-endpoint response
	OnCodeSuccess    FaultOn = "code-success"    // 200 responses to authorization_code
	OnRefreshSuccess FaultOn = "refresh-success" // 200 responses to refresh_token
	OnCCSuccess      FaultOn = "cc-success"      // 200 responses to client_credentials
)

// Wire reports whether f corrupts the wire (as opposed to a behavioural fault).
func (f Fault) Wire() bool {
	return f.DropHeader != "" || f.SetHeader[0] != "" || f.DropField != "" || f.SetField != "" ||
		f.StringifyField != "" || f.Status != 0 || f.Body != ""
}

// Applies reports whether f touches a response with the given status to a
// request of the given grant type.
func (f Fault) Applies(status int, grant string) bool {
	ok := status >= 200 && status < 300
	switch f.On {
	case "", OnSuccess:
		return ok
	case OnError:
		return !ok
	case OnAny:
		return true
	case OnCodeSuccess:
		return ok && grant == "authorization_code"
	case OnRefreshSuccess:
		return ok && grant == "refresh_token"
	case OnCCSuccess:
		return ok && grant == "client_credentials"
	}
	return false
}
