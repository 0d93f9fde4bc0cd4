package mockserver

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// The device fixture client of fixtures/clients/rfc6749.yaml.
const (
	deviceClient = "tokenharness-device"
	deviceSecret = "th-secret-device-6a0e4f19"
)

// deviceAuthorize asks the device authorization endpoint for a session.
func (h *harness) deviceAuthorize(header ...string) *result {
	h.t.Helper()
	req := tokenReq(url.Values{"scope": {"read"}}, basic(deviceClient, deviceSecret), header...)
	req.URL.Path = PathDeviceAuthorization
	req.RequestURI = PathDeviceAuthorization
	return h.serve(req)
}

// deviceDecide approves or denies a user_code at the verification endpoint.
func (h *harness) deviceDecide(userCode, decision string) *result {
	h.t.Helper()
	body := url.Values{"user_code": {userCode}, "decision": {decision}}.Encode()
	req := httptest.NewRequest(http.MethodPost, PathDeviceVerify, strings.NewReader(body))
	req.Header.Set(oauth.HeaderContentType, oauth.MediaForm)
	return h.serve(req)
}

// devicePoll polls the token endpoint with device code dc.
func (h *harness) devicePoll(dc string) *result {
	h.t.Helper()
	return h.post(url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {dc}}, basic(deviceClient, deviceSecret))
}

// deviceCases are the device grant's behavioural quirk cases, added to
// behaviouralCases. The fake clock moves only when a case moves it.
var deviceCases = map[rules.ID]quirkCase{
	rules.DevicePending.ID: {rules.RFC6749, nil, func(h *harness) string {
		return h.devicePoll(h.deviceAuthorize().str("device_code")).summary()
	}, "400 authorization_pending"},
	rules.DeviceApproved.ID: {rules.RFC6749, nil, func(h *harness) string {
		d := h.deviceAuthorize()
		h.deviceDecide(d.str("user_code"), "approve")
		return h.devicePoll(d.str("device_code")).summary()
	}, "200 tokens"},
	rules.DeviceDenied.ID: {rules.RFC6749, nil, func(h *harness) string {
		d := h.deviceAuthorize()
		h.deviceDecide(d.str("user_code"), "deny")
		return h.devicePoll(d.str("device_code")).summary()
	}, "400 access_denied"},
	rules.DeviceExpired.ID: {rules.RFC6749, nil, func(h *harness) string {
		d := h.deviceAuthorize()
		h.clock.Advance(time.Minute)
		return h.devicePoll(d.str("device_code")).summary()
	}, "400 expired_token"},
	rules.DeviceSingleUse.ID: {rules.RFC6749, nil, func(h *harness) string {
		d := h.deviceAuthorize()
		h.deviceDecide(d.str("user_code"), "approve")
		first := h.devicePoll(d.str("device_code")).summary()
		return first + ", " + h.devicePoll(d.str("device_code")).summary()
	}, "200 tokens, 400 invalid_grant"},
	rules.VarDeviceSlowDown.ID: {rules.RFC6749, nil, func(h *harness) string {
		d := h.deviceAuthorize()
		first := h.devicePoll(d.str("device_code")).summary()
		h.clock.Advance(time.Second)
		return first + ", " + h.devicePoll(d.str("device_code")).summary()
	}, "400 authorization_pending, 400 authorization_pending"},
	rules.VarDeviceExpiredInvalidGrant.ID: {rules.RFC6749, nil, func(h *harness) string {
		d := h.deviceAuthorize()
		h.clock.Advance(time.Minute)
		return h.devicePoll(d.str("device_code")).summary()
	}, "400 expired_token"},
	rules.VarDeviceNoInterval.ID: {rules.RFC6749, nil, func(h *harness) string {
		d := h.deviceAuthorize()
		return d.summary() + " interval=" + d.body[strings.Index(d.body, `"expires_in"`):]
	}, `200 OK interval="expires_in":5,"interval":1}`},
}

func init() {
	for id, c := range deviceCases {
		behaviouralCases[id] = c
	}
}

// TestDeviceSlowDownVariation: under the variation the first poll and a
// poll sooner than the grown interval get slow_down; one at the grown
// interval gets authorization_pending.
func TestDeviceSlowDownVariation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749, WithQuirks(rules.VarDeviceSlowDown.ID))
	d := h.deviceAuthorize()
	dc := d.str("device_code")
	var got []string
	got = append(got, h.devicePoll(dc).summary()) // first: slow_down, interval 1+5
	h.clock.Advance(6 * time.Second)
	got = append(got, h.devicePoll(dc).summary()) // at the interval: pending
	h.clock.Advance(time.Second)
	got = append(got, h.devicePoll(dc).summary()) // early: slow_down, interval 11
	want := "400 slow_down, 400 authorization_pending, 400 slow_down"
	if s := strings.Join(got, ", "); s != want {
		t.Errorf("got %s, want %s", s, want)
	}
	if exp := d.obj["expires_in"]; exp == nil || exp.(interface{ String() string }).String() != "13" {
		t.Errorf("expires_in %v under the variation, want 13 (5 s + 8 s)", exp)
	}
}

// TestDeviceVerifyEndpoint: the test verification endpoint decides a
// user_code once, refuses unknown codes and other methods.
func TestDeviceVerifyEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.RFC6749)
	d := h.deviceAuthorize()
	if d.status != 200 || d.str("verification_uri") == "" || d.str("user_code") == "" {
		t.Fatalf("device authorization: %d %s", d.status, d.body)
	}
	if r := h.deviceDecide(d.str("user_code"), "approve"); r.status != 200 {
		t.Errorf("approve: %d %s", r.status, r.body)
	}
	if r := h.deviceDecide(d.str("user_code"), "deny"); r.status != 400 {
		t.Errorf("second decision: %d %s, want 400", r.status, r.body)
	}
	if r := h.deviceDecide("NOPE-NOPE", "approve"); r.status != 400 {
		t.Errorf("unknown user_code: %d %s, want 400", r.status, r.body)
	}
	req := httptest.NewRequest(http.MethodGet, PathDeviceVerify, nil)
	if r := h.serve(req); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", r.status)
	}
	// a client not allowed the grant
	req = tokenReq(url.Values{}, basic(client2, secret2))
	req.URL.Path = PathDeviceAuthorization
	if r := h.serve(req); r.errCode() != "unauthorized_client" {
		t.Errorf("client without the grant: %d %s", r.status, r.body)
	}
	// another client's device code
	if r := h.post(url.Values{"grant_type": {oauth.GrantDeviceCode}, "device_code": {d.str("device_code")}}, basic(client1, secret1)); r.errCode() != "unauthorized_client" {
		t.Errorf("client1 (not allowed the grant) polling: %d %s", r.status, r.body)
	}
}
