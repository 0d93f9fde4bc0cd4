package conform

import (
	"context"
	"net/url"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// The device authorization grant (RFC 8628): env sends device
// authorization requests to DEVICE_AUTHORIZATION_URL and has the user
// decide through DEVICE_APPROVE_CMD / DEVICE_DENY_CMD or DEVICE_VERIFY_URL.

var _ rules.DeviceEnv = (*env)(nil)

// hasDevice reports whether the run satisfies one of the device grant's
// needs; false for any other need.
func (r *Runner) hasDevice(n rules.Need) bool {
	c := r.cfg
	switch n {
	case rules.NeedDeviceAuthorization:
		return c.DeviceAuthorizationURL != ""
	case rules.NeedDeviceApprove:
		return c.DeviceAuthorizationURL != "" && (c.DeviceApproveCmd != "" || c.DeviceVerifyURL != "")
	case rules.NeedDeviceDeny:
		return c.DeviceAuthorizationURL != "" && (c.DeviceDenyCmd != "" || c.DeviceVerifyURL != "")
	}
	return false
}

// DeviceAuthorize sends the RFC 8628 §3.1 request: the client
// authenticates as at the token endpoint (public clients send client_id),
// asking for the configured scope.
func (e *env) DeviceAuthorize(ctx context.Context, step string) *oauth.Exchange {
	f := url.Values{}
	if sc := e.r.cfg.Scope; sc != "" {
		f.Set(oauth.ParamScope, sc)
	}
	req := e.build(rules.Request{Step: step, Form: f})
	req.URL = e.r.cfg.DeviceAuthorizationURL
	x := e.r.client.Do(ctx, req)
	x.Step = step
	if x.Response != nil {
		if obj, err := x.Response.Object(); err == nil {
			if dc, ok := obj[oauth.ParamDeviceCode].(string); ok {
				e.r.red.Add(dc)
			}
		}
	}
	e.mu.Lock()
	e.trail = append(e.trail, x)
	e.mu.Unlock()
	return x
}

// DeviceDecide has the user approve or deny userCode: the command for the
// decision when one is set, else DEVICE_VERIFY_URL.
func (e *env) DeviceDecide(ctx context.Context, userCode string, approve bool) error {
	c := e.r.cfg
	d, need, cmd := codes.Approve, rules.NeedDeviceApprove, c.DeviceApproveCmd
	if !approve {
		d, need, cmd = codes.Deny, rules.NeedDeviceDeny, c.DeviceDenyCmd
	}
	if !e.r.hasDevice(need) {
		return &rules.Unavailable{Reason: need.Why()}
	}
	req := codes.DeviceRequest{UserCode: userCode, ClientID: c.ClientID, Header: e.r.quirkHeader()}
	var dec codes.Decider
	if cmd != "" {
		dec = codes.DeviceCommands{Approve: c.DeviceApproveCmd, Deny: c.DeviceDenyCmd}
	} else {
		hc := *e.r.client.HTTP()
		hc.Timeout = e.r.client.Timeout()
		dec = codes.DeviceVerifier{URL: c.DeviceVerifyURL, Client: &hc}
	}
	return dec.Decide(ctx, req, d)
}
