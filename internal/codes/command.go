package codes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

// Defaults for Command.
const (
	DefaultCommandTimeout = 15 * time.Second
	// MaxCommandOutput caps what is kept of CODE_CMD's stdout; a command
	// printing more is stopped.
	MaxCommandOutput = 64 << 10
	// stderrTail is how much of the end of stderr an error shows.
	stderrTail = 1 << 10
)

// The environment variables a CODE_CMD receives, added to the harness's own.
const (
	EnvClientID            = "OAUTH_CLIENT_ID"
	EnvRedirectURI         = "OAUTH_REDIRECT_URI"
	EnvScope               = "OAUTH_SCOPE"
	EnvState               = "OAUTH_STATE"
	EnvCodeChallenge       = "OAUTH_CODE_CHALLENGE"
	EnvCodeChallengeMethod = "OAUTH_CODE_CHALLENGE_METHOD"
	// EnvDPoPJKT is dpop_jkt (RFC 9449 §10), empty unless the code is to
	// be bound to a DPoP key; a command for a target declared with
	// DPOP_JKT=true sends it with the authorization request.
	EnvDPoPJKT = "OAUTH_DPOP_JKT"
)

// CommandSource runs a shell command that prints one fresh code.
type CommandSource struct {
	script  string
	shell   string
	timeout time.Duration
	env     []string // base environment; nil means the harness's own
}

// CommandOption configures Command.
type CommandOption func(*CommandSource)

// WithTimeout bounds one run of the command (default 15 s); on expiry the
// command's whole process group is killed.
func WithTimeout(d time.Duration) CommandOption {
	return func(c *CommandSource) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithEnv replaces the harness's environment as the command's base
// environment; the OAUTH_* variables are still added.
func WithEnv(env []string) CommandOption {
	return func(c *CommandSource) { c.env = env }
}

// Command returns a Source running `sh -c script` (CODE_CMD) for each code.
// The command gets the request in the OAUTH_* variables and must print the
// code on stdout: the bare code on one line, or a JSON object {"code": "…"}.
func Command(script string, opts ...CommandOption) *CommandSource {
	c := &CommandSource{script: script, shell: "sh", timeout: DefaultCommandTimeout}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Code runs the command once and returns the code it printed.
func (c *CommandSource) Code(ctx context.Context, r Request) (string, error) {
	if strings.TrimSpace(c.script) == "" {
		return "", fail(nil, "CODE_CMD is empty: set it to a command that prints one fresh authorization code")
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	stdout := &cappedBuffer{max: MaxCommandOutput, overflow: cancel}
	stderr := &tailBuffer{max: stderrTail}

	cmd := exec.CommandContext(ctx, c.shell, "-c", c.script)
	base := c.env
	if base == nil {
		base = os.Environ()
	}
	cmd.Env = append(append([]string(nil), base...),
		EnvClientID+"="+r.ClientID,
		EnvRedirectURI+"="+r.RedirectURI,
		EnvScope+"="+r.Scope,
		EnvState+"="+r.State,
		EnvCodeChallenge+"="+r.Challenge,
		EnvCodeChallengeMethod+"="+r.Method,
		EnvDPoPJKT+"="+r.DPoPJKT,
	)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	killProcessGroup(cmd)
	// A background child left holding stdout open must not hold up Wait.
	cmd.WaitDelay = time.Second

	err := cmd.Run()
	switch {
	case stdout.overflowed():
		return "", fail(nil, fmt.Sprintf("CODE_CMD printed more than %d KiB and was stopped: it must print one authorization code", MaxCommandOutput>>10))
	case parent.Err() != nil:
		return "", fail(parent.Err(), "CODE_CMD was canceled: "+parent.Err().Error())
	case ctx.Err() != nil:
		return "", fail(ctx.Err(), fmt.Sprintf("CODE_CMD did not finish within %v and was stopped: make it faster, or check it does not wait for input", c.timeout))
	case err != nil && !errors.Is(err, exec.ErrWaitDelay):
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if refusal := parseRefusal(stdout.Bytes()); refusal != nil {
				return "", refusal
			}
			return "", fail(err, fmt.Sprintf("CODE_CMD exited with status %d%s", exit.ExitCode(), stderr.summary()))
		}
		return "", fail(err, "running CODE_CMD: "+err.Error())
	}
	return parseCode(stdout.Bytes())
}

// parseRefusal reads {"error": "…", "error_description": "…"}: the command's
// way to say the authorization server refused the request (RFC 6749
// §4.1.2.1), as opposed to the command failing. It returns nil otherwise.
func parseRefusal(out []byte) error {
	var v struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(bytes.TrimSpace(out), &v) != nil || v.Error == "" {
		return nil
	}
	oe := &oauth.Error{Code: v.Error, Description: v.Description}
	msg := "CODE_CMD: the authorization server refused: " + v.Error
	if v.Description != "" {
		msg += ": " + redact.String(v.Description)
	}
	return fail(oe, msg)
}

// parseCode accepts the bare code on one line or {"code": "…"}, and
// {"error": "…"} for a refusal. Messages never quote the output: it may
// hold the code.
func parseCode(out []byte) (string, error) {
	s := strings.TrimSpace(string(out))
	if s == "" {
		return "", fail(nil, "CODE_CMD printed nothing: it must print one fresh authorization code on stdout")
	}
	if refusal := parseRefusal(out); refusal != nil {
		return "", refusal
	}
	if strings.HasPrefix(s, "{") {
		var v map[string]any
		dec := json.NewDecoder(strings.NewReader(s))
		if err := dec.Decode(&v); err != nil || dec.More() {
			return "", fail(nil, `CODE_CMD printed something that starts like JSON but is not one JSON object: print {"code": "…"} or the bare code`)
		}
		code, ok := v["code"].(string)
		if !ok || strings.TrimSpace(code) == "" {
			return "", fail(nil, `CODE_CMD printed a JSON object without a non-empty "code" string: print {"code": "…"} or the bare code`)
		}
		return strings.TrimSpace(code), nil
	}
	if n := strings.Count(s, "\n") + 1; n > 1 {
		return "", fail(nil, fmt.Sprintf(`CODE_CMD printed %d lines: it must print exactly one line, the code (or JSON {"code": "…"}); send diagnostics to stderr`, n))
	}
	return s, nil
}

// cappedBuffer keeps the first max bytes and calls overflow once when more
// arrive. It never fails a write, so the child is never blocked on a full
// pipe: overflow stops it instead.
type cappedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	max      int
	over     bool
	overflow func()
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); len(p) > room {
		b.buf.Write(p[:max(room, 0)])
		if !b.over {
			b.over = true
			b.overflow()
		}
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *cappedBuffer) overflowed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}

func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// summary is ": <last stderr, redacted, on one line>" or a note that
// stderr was empty.
func (b *tailBuffer) summary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.Join(strings.Fields(string(b.buf)), " ")
	if s == "" {
		return " and printed nothing on stderr"
	}
	return ": " + redact.String(s)
}
