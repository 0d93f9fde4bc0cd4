package gate

import (
	"testing"

	"tokenharness/internal/target"
)

// TestMockDevice: the bundled mock's device endpoints fill the unset
// device settings; configured ones, and external targets, are left alone.
func TestMockDevice(t *testing.T) {
	t.Parallel()
	mock := &Target{URL: "http://127.0.0.1:9/oauth/token", AuthorizeURL: "http://127.0.0.1:9/oauth/authorize", Kind: "in-process"}
	var cfg target.Config
	mockDevice(&cfg, mock)
	if cfg.DeviceAuthorizationURL != "http://127.0.0.1:9/oauth/device_authorization" || cfg.DeviceVerifyURL != "http://127.0.0.1:9/oauth/device/verify" {
		t.Errorf("bundled mock: %q %q", cfg.DeviceAuthorizationURL, cfg.DeviceVerifyURL)
	}
	cfg = target.Config{DeviceAuthorizationURL: "https://as.example/da", DeviceApproveCmd: "approve.sh"}
	mockDevice(&cfg, mock)
	if cfg.DeviceAuthorizationURL != "https://as.example/da" || cfg.DeviceVerifyURL != "" {
		t.Errorf("configured: %q %q", cfg.DeviceAuthorizationURL, cfg.DeviceVerifyURL)
	}
	cfg = target.Config{}
	mockDevice(&cfg, &Target{URL: "https://as.example/token", Kind: "external"})
	if cfg.DeviceAuthorizationURL != "" || cfg.DeviceVerifyURL != "" {
		t.Errorf("external: %q %q", cfg.DeviceAuthorizationURL, cfg.DeviceVerifyURL)
	}
}
