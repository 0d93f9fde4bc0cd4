package rules

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"tokenharness/internal/oauth"
)

// deviceEnv is an Env whose device authorization answers authBody and
// whose polls are answered from script in turn (the last one repeating);
// its Sleep records the waits instead of sleeping.
type deviceEnv struct {
	raceEnv
	authBody string
	script   []string // "400 authorization_pending", "200", ...
	polls    int
	decided  []bool
	waits    []time.Duration
}

func (e *deviceEnv) DeviceAuthorize(context.Context, string) *oauth.Exchange {
	return resp(200, oauth.MediaJSON, e.authBody)
}

func (e *deviceEnv) DeviceDecide(_ context.Context, _ string, approve bool) error {
	e.decided = append(e.decided, approve)
	return nil
}

func (e *deviceEnv) Sleep(_ context.Context, d time.Duration) error {
	if d > 0 {
		e.waits = append(e.waits, d)
	}
	return nil
}

func (e *deviceEnv) Do(_ context.Context, r Request) *oauth.Exchange {
	if r.Form.Get(oauth.ParamGrantType) != oauth.GrantDeviceCode || r.Form.Get(oauth.ParamDeviceCode) != "dc-1" {
		return resp(400, oauth.MediaJSON, `{"error":"invalid_request"}`)
	}
	a := e.script[min(e.polls, len(e.script)-1)]
	e.polls++
	if a == "200" {
		return resp(200, oauth.MediaJSON, tokenBody)
	}
	status, code, _ := strings.Cut(a, " ")
	n, _ := strconv.Atoi(status)
	return resp(n, oauth.MediaJSON, `{"error":"`+code+`"}`)
}

const deviceAuthBody = `{"device_code":"dc-1","user_code":"ABCD-EFGH","verification_uri":"https://as.example/device","expires_in":3,"interval":1}`

// TestDevicePollingHonoursSlowDown: every slow_down adds 5 s to the
// interval for that and every later poll (RFC 8628 §3.5), and the note
// says so.
func TestDevicePollingHonoursSlowDown(t *testing.T) {
	t.Parallel()
	e := &deviceEnv{authBody: strings.Replace(deviceAuthBody, `"expires_in":3`, `"expires_in":600`, 1),
		script: []string{"400 authorization_pending", "400 slow_down", "400 slow_down", "200"}}
	o := DeviceApproved.Run(context.Background(), e)
	if o.Violation != nil || o.Inconclusive != "" || o.Skip != "" {
		t.Fatalf("outcome %+v", o)
	}
	if len(e.decided) != 1 || !e.decided[0] {
		t.Errorf("decisions %v, want one approval", e.decided)
	}
	// waits before polls 2, 3, 4: about 1 s, 6 s, 11 s.
	if len(e.waits) != 3 {
		t.Fatalf("waits %v, want 3", e.waits)
	}
	for i, want := range []time.Duration{time.Second, 6 * time.Second, 11 * time.Second} {
		if d := e.waits[i]; d > want || d < want-time.Second {
			t.Errorf("wait %d is %v, want about %v", i+2, d, want)
		}
	}
	if !strings.Contains(o.Note, "waited before each later poll: 1s, 6s, 11s") || !strings.Contains(o.Note, "2 slow_down answer(s)") {
		t.Errorf("note %q", o.Note)
	}
}

// TestDeviceNoIntervalDefaultsToFive: without interval the client waits 5 s.
func TestDeviceNoIntervalDefaultsToFive(t *testing.T) {
	t.Parallel()
	e := &deviceEnv{authBody: `{"device_code":"dc-1","user_code":"U","verification_uri":"https://as.example/d","expires_in":600}`,
		script: []string{"400 authorization_pending", "400 access_denied"}}
	o := DeviceDenied.Run(context.Background(), e)
	if o.Violation != nil || o.Inconclusive != "" {
		t.Fatalf("outcome %+v", o)
	}
	if len(e.waits) != 1 || e.waits[0] < 4*time.Second {
		t.Errorf("waits %v, want one of about 5 s", e.waits)
	}
}

// TestDeviceOutcomes: what each rule makes of a server's answers.
func TestDeviceOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		rule   Rule
		auth   string
		script []string
		want   string // "pass", "violated", "inconclusive", "skip"
	}{
		{"pending", DevicePending, deviceAuthBody, []string{"400 authorization_pending"}, "pass"},
		{"pending as slow_down throughout", DevicePending, deviceAuthBody, []string{"400 slow_down"}, "pass"},
		{"tokens before the user acts", DevicePending, deviceAuthBody, []string{"200"}, "violated"},
		{"invalid_grant before the user acts", DevicePending, deviceAuthBody, []string{"400 invalid_grant"}, "violated"},
		{"unauthorized_client before the user acts", DevicePending, deviceAuthBody, []string{"400 unauthorized_client"}, "inconclusive"},
		{"5xx before the user acts", DevicePending, deviceAuthBody, []string{"500 server_error"}, "inconclusive"},
		{"5xx after approval", DeviceApproved, deviceAuthBody, []string{"400 authorization_pending", "503 temporarily_unavailable"}, "inconclusive"},
		{"5xx after expiry", DeviceExpired, deviceAuthBody, []string{"400 authorization_pending", "500 server_error"}, "inconclusive"},
		{"5xx on reuse", DeviceSingleUse, deviceAuthBody, []string{"400 authorization_pending", "200", "500 server_error"}, "inconclusive"},
		{"approved", DeviceApproved, deviceAuthBody, []string{"400 authorization_pending", "200"}, "pass"},
		{"approved but refused", DeviceApproved, deviceAuthBody, []string{"400 authorization_pending", "400 invalid_grant"}, "violated"},
		{"approved but pending throughout", DeviceApproved, deviceAuthBody, []string{"400 authorization_pending"}, "inconclusive"},
		{"not pending at first", DeviceApproved, deviceAuthBody, []string{"400 invalid_grant"}, "inconclusive"},
		{"denied", DeviceDenied, deviceAuthBody, []string{"400 authorization_pending", "400 access_denied"}, "pass"},
		{"denied yet tokens", DeviceDenied, deviceAuthBody, []string{"400 authorization_pending", "200"}, "violated"},
		{"denied but polled early as expired", DeviceDenied, deviceAuthBody, []string{"400 authorization_pending", "400 expired_token"}, "violated"},
		{"denied but polled at expiry", DeviceDenied, strings.Replace(deviceAuthBody, `"expires_in":3`, `"expires_in":1`, 1), []string{"400 authorization_pending", "400 expired_token"}, "inconclusive"},
		{"expired", DeviceExpired, deviceAuthBody, []string{"400 authorization_pending", "400 expired_token"}, "pass"},
		{"expired yet pending", DeviceExpired, deviceAuthBody, []string{"400 authorization_pending"}, "violated"},
		// RFC 6749 §5.2's code for an expired grant is a legal choice.
		{"expired as invalid_grant", DeviceExpired, deviceAuthBody, []string{"400 authorization_pending", "400 invalid_grant"}, "pass"},
		{"expired as access_denied", DeviceExpired, deviceAuthBody, []string{"400 authorization_pending", "400 access_denied"}, "violated"},
		{"lifetime too long to wait", DeviceExpired, strings.Replace(deviceAuthBody, `"expires_in":3`, `"expires_in":1800`, 1), []string{"400 authorization_pending"}, "skip"},
		{"no expires_in", DevicePending, `{"device_code":"dc-1","user_code":"U","verification_uri":"https://as.example/d"}`, []string{"400 authorization_pending"}, "inconclusive"},
		{"single use", DeviceSingleUse, deviceAuthBody, []string{"400 authorization_pending", "200", "400 invalid_grant"}, "pass"},
		{"reused", DeviceSingleUse, deviceAuthBody, []string{"400 authorization_pending", "200", "200"}, "violated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &deviceEnv{authBody: tc.auth, script: tc.script}
			o := tc.rule.Run(context.Background(), e)
			got := "pass"
			switch {
			case o.Skip != "":
				got = "skip"
			case o.Inconclusive != "":
				got = "inconclusive"
			case o.Violation != nil:
				got = "violated"
			}
			if got != tc.want {
				t.Errorf("%s: got %s (%+v), want %s", tc.rule.ID, got, o, tc.want)
			}
		})
	}
}

// TestDeviceSkipsWithoutDeviceEnv: an Env without the device methods
// leaves the rules skipped, saying what to set.
func TestDeviceSkipsWithoutDeviceEnv(t *testing.T) {
	t.Parallel()
	o := DevicePending.Run(context.Background(), &raceEnv{})
	if !strings.Contains(o.Skip, "DEVICE_AUTHORIZATION_URL") {
		t.Errorf("outcome %+v", o)
	}
}
