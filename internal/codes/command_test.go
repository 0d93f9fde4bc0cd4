package codes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var sample = Request{
	ClientID: "tokenharness-1", RedirectURI: "http://127.0.0.1:8080/callback", Scope: "read write",
	State: "st-123", Challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Method: "S256",
	DPoPJKT: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
}

func TestCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  string
		opts    []CommandOption
		want    string
		wantErr string // substring of the error
	}{
		{"bare code", `printf 'abc123\n'`, nil, "abc123", ""},
		{"padded code", `printf '  abc123 \n\n'`, nil, "abc123", ""},
		{"crlf", `printf 'abc123\r\n'`, nil, "abc123", ""},
		{"json", `printf '{"code": "xyz789", "state": "s"}'`, nil, "xyz789", ""},
		{"pretty json", `printf '{\n  "code": "xyz789"\n}\n'`, nil, "xyz789", ""},
		{"environment", `printf '%s|%s|%s|%s|%s|%s|%s' "$OAUTH_CLIENT_ID" "$OAUTH_REDIRECT_URI" "$OAUTH_SCOPE" "$OAUTH_STATE" "$OAUTH_CODE_CHALLENGE" "$OAUTH_CODE_CHALLENGE_METHOD" "$OAUTH_DPOP_JKT"`,
			nil, "tokenharness-1|http://127.0.0.1:8080/callback|read write|st-123|E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM|S256|NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", ""},
		{"parent environment kept", `printf '%s' "$TH_BASE"`, []CommandOption{WithEnv([]string{"TH_BASE=from-base"})}, "from-base", ""},
		{"stderr ignored on success", `echo diagnostics >&2; echo abc123`, nil, "abc123", ""},
		{"printed nothing", `true`, nil, "", "codes: CODE_CMD printed nothing: it must print one fresh authorization code on stdout"},
		{"printed blanks", `printf '\n \n'`, nil, "", "CODE_CMD printed nothing"},
		{"two lines", `printf 'abc\ndef\n'`, nil, "", "CODE_CMD printed 2 lines: it must print exactly one line"},
		{"json without code", `printf '{"token": "x"}'`, nil, "", `without a non-empty "code" string`},
		{"json with numeric code", `printf '{"code": 12}'`, nil, "", `without a non-empty "code" string`},
		{"broken json", `printf '{"code": "x"'`, nil, "", "not one JSON object"},
		{"exit 3", `echo "login failed for code=th-secret-code-42" >&2; exit 3`, nil, "",
			"codes: CODE_CMD exited with status 3: login failed for code=[REDACTED]"},
		{"exit 3 silently", `exit 3`, nil, "", "CODE_CMD exited with status 3 and printed nothing on stderr"},
		{"timeout", `sleep 30`, []CommandOption{WithTimeout(200 * time.Millisecond)}, "",
			"CODE_CMD did not finish within 200ms and was stopped"},
		{"endless output", `yes`, nil, "", "CODE_CMD printed more than 64 KiB and was stopped"},
		{"empty script", `  `, nil, "", "CODE_CMD is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Command(tt.script, tt.opts...).Code(context.Background(), sample)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Code = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				if !errors.Is(err, ErrCodeSource) {
					t.Errorf("error %v does not wrap ErrCodeSource", err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error has more than one line: %q", err)
				}
				if strings.Contains(err.Error(), "th-secret-code-42") {
					t.Errorf("error leaks the code: %q", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Code = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestCommandCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Command(`sleep 30`).Code(ctx, sample)
	if !errors.Is(err, ErrCodeSource) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want ErrCodeSource wrapping context.Canceled", err)
	}
}

// TestCommandTimeoutKillsProcessGroup checks that a timed-out CODE_CMD's
// children die with it, rather than running on after the harness gave up.
func TestCommandTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := `sleep 30 & echo $! > "$PID_FILE"; wait`
	_, err := Command(script, WithTimeout(300*time.Millisecond), WithEnv([]string{"PID_FILE=" + pidFile, "PATH=" + os.Getenv("PATH")})).
		Code(context.Background(), sample)
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// SIGKILL is asynchronous and the orphan is reaped by init: allow a
	// bounded moment for the process to disappear or become a zombie.
	for range 100 {
		if !running(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("child %d of the timed-out command is still running", pid)
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func TestParseCodeNeverQuotesOutput(t *testing.T) {
	t.Parallel()
	for _, out := range []string{"secret-one\nsecret-two", `{"code": 1, "x": "secret-one"}`, `{"secret-one"`} {
		_, err := parseCode([]byte(out))
		if err == nil || strings.Contains(err.Error(), "secret-one") {
			t.Errorf("parseCode(%q) = %v; want an error that does not quote the output", out, err)
		}
	}
}
