package codes

import (
	"context"
	"errors"
	"strings"
	"testing"

	"tokenharness/internal/oauth"
)

// A command that reports the server's refusal as {"error": ...} yields an
// *oauth.Error, with or without a non-zero exit, so a rule can tell "the
// server refused" from "the command broke".
func TestCommandRefusal(t *testing.T) {
	t.Parallel()
	for _, script := range []string{
		`echo '{"error":"invalid_request","error_description":"code_challenge required"}'`,
		`echo '{"error":"invalid_request"}'; exit 4`,
	} {
		_, err := Command(script).Code(context.Background(), Request{ClientID: "c"})
		var oe *oauth.Error
		if !errors.As(err, &oe) || oe.Code != "invalid_request" || !errors.Is(err, ErrCodeSource) {
			t.Errorf("%s: got %v, want an *oauth.Error invalid_request wrapped in ErrCodeSource", script, err)
		}
		if err != nil && !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: message %q does not say the server refused", script, err)
		}
	}
	if _, err := Command(`echo oops; exit 3`).Code(context.Background(), Request{}); err == nil || errors.As(err, new(*oauth.Error)) {
		t.Errorf("a plain failure must not read as a refusal: %v", err)
	}
}
