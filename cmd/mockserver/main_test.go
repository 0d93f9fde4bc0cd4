package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tokenharness/internal/oauth"
)

func noEnv(string) string { return "" }

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestBadFlagsExitTwoWithOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  func(string) string
		want string
	}{
		{"unknown flag", []string{"-nope"}, noEnv, "-nope"},
		{"unknown profile", []string{"-profile", "oauth3"}, noEnv, "rfc6749|commoninja|dressipi|oauth21"},
		{"unknown profile from env", nil, envOf("PROFILE", "oauth3"), "oauth3"},
		{"unknown quirk", []string{"-quirks", "RFC6749-5.1-NO-STORE,NOPE"}, noEnv, `"NOPE"`},
		{"bad duration", []string{"-code-ttl", "soon"}, noEnv, "60s"},
		{"negative duration", []string{"-refresh-ttl", "-1h"}, noEnv, "negative"},
		{"bad duration from env", nil, envOf("ACCESS_TTL", "x"), "ACCESS_TTL"},
		{"bad boolean from env", nil, envOf("QUIRKS_FROM_HEADER", "maybe"), "true or false"},
		{"bad log level", []string{"-log-level", "loud"}, noEnv, "debug|info|warn|error"},
		{"argument", []string{"serve"}, noEnv, `"serve"`},
		{"missing fixtures file", []string{"-fixtures", "/nonexistent/clients.yaml"}, noEnv, "/nonexistent/clients.yaml"},
		{"fixtures of another profile", []string{"-profile", "oauth21", "-fixtures", "../../fixtures/clients/dressipi.yaml"}, noEnv, "-profile dressipi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, tt.env, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tt.want) {
				t.Errorf("stderr = %q, want one line mentioning %q", msg, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestHelpDocumentsEnv(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, noEnv, io.Discard, &stderr); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
	for _, name := range []string{"ADDR", "PROFILE", "FIXTURES", "QUIRKS", "QUIRKS_FROM_HEADER", "API_KEY", "LOG_LEVEL", "CODE_TTL", "ACCESS_TTL", "REFRESH_TTL", "ROTATION_GRACE", "RACE_WINDOW", "H2C"} {
		if !strings.Contains(stderr.String(), "env "+name) {
			t.Errorf("-h does not document env %s", name)
		}
	}
}

// The race quirks' window comes from -race-window, then RACE_WINDOW; 0 is
// kept (a bare unlock-and-relock), unset leaves the default to the server.
func TestRaceWindowFlag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{nil, noEnv, "<nil>"},
		{[]string{"-race-window", "0"}, noEnv, "0s"},
		{nil, envOf("RACE_WINDOW", "1us"), "1µs"},
		{[]string{"-race-window", "5us"}, envOf("RACE_WINDOW", "1us"), "5µs"},
	} {
		s, err := parseFlags(tt.args, tt.env, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := config(s, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		got := "<nil>"
		if cfg.RaceWindow != nil {
			got = cfg.RaceWindow.String()
		}
		if got != tt.want {
			t.Errorf("%v: race window %s, want %s", tt.args, got, tt.want)
		}
	}
}

// run serves with flags and env applied, and stops when its context ends.
func TestRunServesAndStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-profile", "dressipi", "-quirks", "RFC6749-5.1-PRAGMA-NO-CACHE"},
			envOf("API_KEY", "th-key-0123456789"), w, &stderr)
		w.Close()
	}()
	base := listening(t, out, "dressipi")
	go func() { _, _ = io.Copy(io.Discard, out) }()

	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(base + "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"tokenharness-1"},
		"redirect_uri": {"urn:ietf:wg:oauth:2.0:oob:auto"}, "code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"plain"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("authorize: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {"tokenharness-1"},
		"redirect_uri": {"urn:ietf:wg:oauth:2.0:oob:auto"}, "code_verifier": {strings.Repeat("A", 43)}}
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set(oauth.HeaderContentType, oauth.MediaForm)
	req.Header.Set("X-Api-Key", "th-key-0123456789")
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get(oauth.HeaderPragma) != "" || res.Header.Get(oauth.HeaderCacheControl) != "no-store" {
		t.Errorf("token: %d %v, want 200 with the -quirks fault (no Pragma)", res.StatusCode, res.Header)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after cancel: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return within 15s of cancel")
	}
	if strings.Contains(stderr.String(), "th-key-0123456789") {
		t.Error("the API key was logged")
	}
}

// listening reads the start line and returns the base URL.
func listening(t *testing.T, r io.Reader, profile string) string {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-time.After(30 * time.Second):
		t.Fatal("no listening line within 30s")
	}
	prefix := "tokenharness mockserver: profile=" + profile + " listening on "
	if !strings.HasPrefix(line, prefix) || strings.HasSuffix(strings.TrimSpace(line), ":0") {
		t.Fatalf("start line = %q, want %q<url with the real port>", line, prefix)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, prefix))
}

// The binary as containers run it: built, started on a free port, probed,
// stopped with SIGTERM.
func TestBinaryStartsAndStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "mockserver")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-profile", "oauth21")
	cmd.Env = []string{} // no inherited PROFILE, QUIRKS, ...
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	base := listening(t, stdout, "oauth21")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"oauth21"`) {
		t.Errorf("healthz: %d %s", res.StatusCode, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no exit within 15s of SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("stderr lacks the shutdown log:\n%s", stderr.String())
	}
}

// -h2c (H2C) serves HTTP/2 over cleartext besides HTTP/1.1.
func TestH2CFlag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		env  func(string) string
		h2c  bool
	}{
		{"off by default", nil, noEnv, false},
		{"flag", []string{"-h2c"}, noEnv, true},
		{"env", nil, envOf("H2C", "true"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out, w := io.Pipe()
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-profile", "oauth21", "-log-level", "error"}, tt.args...), tt.env, w, io.Discard)
				w.Close()
			}()
			base := listening(t, out, "oauth21")
			go func() { _, _ = io.Copy(io.Discard, out) }()
			// A client that speaks HTTP/2 only, with prior knowledge.
			tr := &http.Transport{Protocols: new(http.Protocols)}
			tr.Protocols.SetUnencryptedHTTP2(true)
			defer tr.CloseIdleConnections()
			res, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Post(base+"/oauth/token", oauth.MediaForm, strings.NewReader("grant_type=nope"))
			if err == nil {
				res.Body.Close()
			}
			if got := err == nil && res.ProtoMajor == 2; got != tt.h2c {
				t.Errorf("answered over HTTP/2: %v (%v), want %v", got, err, tt.h2c)
			}
			cancel()
			<-done
		})
	}
}
