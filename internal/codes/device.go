package codes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

// The device authorization grant (RFC 8628 §3.3) has the user approve or
// deny a user_code on another device. A Decider stands in for the user,
// black-box: a command (DEVICE_APPROVE_CMD, DEVICE_DENY_CMD) or a test
// verification endpoint (DEVICE_VERIFY_URL, the bundled mock's
// /oauth/device/verify).

// EnvUserCode is the variable a device command receives the user_code in,
// added to the harness's environment with OAUTH_CLIENT_ID.
const EnvUserCode = "OAUTH_USER_CODE"

// Decision is what the user does with a user_code.
type Decision string

const (
	Approve Decision = "approve"
	Deny    Decision = "deny"
)

// DeviceRequest is one decision to make: the user_code, and the client it
// was issued to. Header holds extra request headers for a URL decider
// (HEADERS, the mock's quirk switch).
type DeviceRequest struct {
	UserCode string
	ClientID string
	Header   http.Header
}

// Decider makes the user approve or deny a user_code.
type Decider interface {
	Decide(ctx context.Context, r DeviceRequest, d Decision) error
}

// ErrDecide is wrapped by every error a Decider returns.
var ErrDecide = errors.New("codes: the user's decision was not made")

type decideError struct {
	msg   string
	cause error
}

func (e *decideError) Error() string        { return "codes: " + e.msg }
func (e *decideError) Is(target error) bool { return target == ErrDecide }
func (e *decideError) Unwrap() error        { return e.cause }

// DeviceCommands runs approve or deny (shell commands; either may be empty,
// when that decision cannot be made) with the user_code in OAUTH_USER_CODE.
// A command succeeds by exiting 0; what it prints is ignored but for the
// end of stderr, shown when it fails.
type DeviceCommands struct {
	Approve, Deny string
	Timeout       time.Duration // default DefaultCommandTimeout
	Env           []string      // base environment; nil means the harness's own
}

// Decide runs the command for d.
func (c DeviceCommands) Decide(ctx context.Context, r DeviceRequest, d Decision) error {
	script, name := c.Approve, "DEVICE_APPROVE_CMD"
	if d == Deny {
		script, name = c.Deny, "DEVICE_DENY_CMD"
	}
	if strings.TrimSpace(script) == "" {
		return &decideError{msg: name + " is empty: set it to a command that makes the user " + string(d) + " the user_code in $" + EnvUserCode}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stdout := &cappedBuffer{max: MaxCommandOutput, overflow: cancel}
	stderr := &tailBuffer{max: stderrTail}
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	base := c.Env
	if base == nil {
		base = os.Environ()
	}
	cmd.Env = append(append([]string(nil), base...), EnvUserCode+"="+r.UserCode, EnvClientID+"="+r.ClientID)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	killProcessGroup(cmd)
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	switch {
	case parent.Err() != nil:
		return &decideError{msg: name + " was canceled: " + parent.Err().Error(), cause: parent.Err()}
	case ctx.Err() != nil && !stdout.overflowed():
		return &decideError{msg: fmt.Sprintf("%s did not finish within %v and was stopped", name, timeout), cause: ctx.Err()}
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return &decideError{msg: fmt.Sprintf("%s exited with status %d%s", name, exit.ExitCode(), stderr.summary()), cause: err}
		}
		return &decideError{msg: "running " + name + ": " + err.Error(), cause: err}
	}
	return nil
}

// DeviceVerifier posts decisions to a test verification endpoint: a form
// with user_code and decision=approve|deny; any 2xx answer means done.
type DeviceVerifier struct {
	URL    string
	Client *http.Client // nil: a plain http.Client
}

// Decide posts one decision.
func (v DeviceVerifier) Decide(ctx context.Context, r DeviceRequest, d Decision) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultAuthorizeTimeout)
	defer cancel()
	form := url.Values{oauth.ParamUserCode: {r.UserCode}, "decision": {string(d)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return &decideError{msg: "DEVICE_VERIFY_URL: building the request: " + err.Error(), cause: err}
	}
	for k, vs := range r.Header {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	req.Header.Set(oauth.HeaderContentType, oauth.MediaForm)
	client := v.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return &decideError{msg: "DEVICE_VERIFY_URL did not answer: " + redact.String(err.Error()), cause: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &decideError{msg: fmt.Sprintf("DEVICE_VERIFY_URL answered the %s decision with status %d %q", d, resp.StatusCode, oauth.OneLine(redact.String(string(body)), 120))}
	}
	return nil
}
