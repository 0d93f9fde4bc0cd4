package conform

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/mockserver"
	"tokenharness/reports"
)

// TestDeviceCommands runs the device rules against the bundled mock with
// the user's decisions made by DEVICE_APPROVE_CMD and DEVICE_DENY_CMD
// (fixtures/codes/mock-device.sh), the way a real server is driven, and
// checks the rules skip with the reason when no way to decide is set.
func TestDeviceCommands(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	m, err := mockserver.StartLocal(rules.RFC6749)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	script, err := filepath.Abs("../../fixtures/codes/mock-device.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := "MOCK_DEVICE_VERIFY_URL=" + m.Base + mockserver.PathDeviceVerify + " sh " + script
	cfg := target.Default()
	cfg.Profile, cfg.Target = string(rules.RFC6749), m.Base+mockserver.PathToken
	cfg.ClientID, cfg.ClientSecret, cfg.ClientAuth = "tokenharness-device", "th-secret-device-6a0e4f19", oauth.AuthBasic
	cfg.Grants = target.GrantList{oauth.GrantDeviceCode}
	cfg.DeviceAuthorizationURL = m.Base + mockserver.PathDeviceAuthorization
	cfg.DeviceApproveCmd, cfg.DeviceDenyCmd = run+" approve", run+" deny"
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, rule := range []rules.Rule{rules.DeviceApproved, rules.DeviceDenied, rules.DeviceSingleUse} {
		if v := r.Run(context.Background(), rule); v.Status != reports.StatusPassed {
			t.Errorf("%s: %s", rule.ID, v)
		}
	}

	cfg.DeviceApproveCmd, cfg.DeviceDenyCmd = "", ""
	r2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	v := r2.Run(context.Background(), rules.DeviceDenied)
	if v.Status != reports.StatusSkipped || v.Reason != rules.NeedDeviceDeny.Why() {
		t.Errorf("without a way to deny: %s", v)
	}
}
