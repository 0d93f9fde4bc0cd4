package gate

import (
	"strings"

	"tokenharness/internal/target"
	"tokenharness/mockserver"
)

// mockDevice points a run at the bundled mock's device authorization and
// test verification endpoints (RFC 8628), as NewRunner does its authorize
// endpoint, unless the configuration names its own.
func mockDevice(cfg *target.Config, t *Target) {
	base, ok := strings.CutSuffix(t.AuthorizeURL, mockserver.PathAuthorize)
	if !ok || t.Kind == "external" {
		return
	}
	if cfg.DeviceAuthorizationURL == "" {
		cfg.DeviceAuthorizationURL = base + mockserver.PathDeviceAuthorization
	}
	if cfg.DeviceVerifyURL == "" && cfg.DeviceApproveCmd == "" && cfg.DeviceDenyCmd == "" {
		cfg.DeviceVerifyURL = base + mockserver.PathDeviceVerify
	}
}
