// Package e2e runs `make conformance` exactly as a user outside would: a
// mock server started by hand with CODE_CMD, a planted fault, a bad
// configuration, and hostile targets that hang, cut connections, answer
// HTML, 10 MB or invalid JSON, redirect in a loop or present a self-signed
// certificate. Each run must end in bounded time with the right exit status
// and a classified failure in the report, and no output file may contain a
// secret.
package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tokenharness/internal/hostile"
	"tokenharness/internal/oauth"
	"tokenharness/reports"
)

// runLimit bounds one `make conformance`: a hung run fails the test
// instead of hanging it.
const runLimit = 4 * time.Minute

var root, _ = filepath.Abs("../..")

const (
	clientSecret = "th-secret-one-5f2c9a1e" // the mock fixture's secret: must never reach an output file
	client2      = "th-secret-two-8b7d3c40"
)

type run struct {
	code   int
	out    string
	report *reports.Conformance
	dir    string
}

// cli is the tokenharness command, built once for all tests.
var cli string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tokenharness-e2e")
	if err != nil {
		panic(err)
	}
	cli = filepath.Join(dir, "tokenharness")
	build := exec.Command("go", "build", "-o", cli, "./cmd/tokenharness")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building tokenharness: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// conformance runs `tokenharness conformance` (what `make conformance`
// runs) with env and returns its exit status, combined output and report.
func conformance(t *testing.T, env ...string) run {
	t.Helper()
	return runIn(t, []string{cli, "conformance"}, env...)
}

func runIn(t *testing.T, argv []string, env ...string) run {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = root
	cmd.Env = append(cleanEnv(), append([]string{"REPORT_DIR=" + dir, "PROCS=2"}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	r := run{out: string(out), dir: dir}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%v did not finish within %v:\n%s", argv, runLimit, tail(r.out))
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%v: %v", argv, err)
	}
	if c, err := reports.ReadConformance(filepath.Join(dir, "conformance", "report.json")); err == nil {
		r.report = c
	}
	return r
}

// cleanEnv drops the caller's run variables so the test decides them all.
func cleanEnv() []string {
	drop := regexp.MustCompile(`^(TARGET|PROFILE|CONFIG|CLIENT_\w+|CLIENT2_\w+|REDIRECT_URI|SCOPE|HEADERS|REPORT_DIR|CODE_CMD|AUTHORIZE_URL|TIMEOUT|CA_FILE|INSECURE|QUIRKS|MOCK|LABELS|PROCS)=`)
	var out []string
	for _, kv := range os.Environ() {
		if !drop.MatchString(kv) {
			out = append(out, kv)
		}
	}
	return out
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// startMock runs the mock server binary by hand, as a user would with
// `make mock`, and returns its base URL.
func startMock(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mockserver")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mockserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the mock: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-quirks-from-header"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`listening on (http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("the mock server printed no listening line within 30s")
	}
	return ""
}

func mockEnv(base, profile string) []string {
	return []string{
		"TARGET=" + base + "/oauth/token", "PROFILE=" + profile,
		"CONFIG=fixtures/targets/mock-" + profile + ".yaml",
		"CODE_CMD=fixtures/codes/mock-authorize.sh", "MOCK_AUTHORIZE_URL=" + base + "/oauth/authorize",
	}
}

// assertNoSecrets searches every file the run wrote for planted secrets.
func assertNoSecrets(t *testing.T, r run, secrets ...string) {
	t.Helper()
	err := filepath.WalkDir(r.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(string(b), s) {
				t.Errorf("%s contains the secret %q", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(r.out, s) {
			t.Errorf("the console output contains the secret %q", s)
		}
	}
}

func status(r run, id string) reports.Status {
	if r.report == nil {
		return "<no report>"
	}
	for _, rr := range r.report.Rules {
		if rr.ID == id {
			return rr.Status
		}
	}
	return "<absent>"
}

func TestMockStartedByHandWithCodeCmdPasses(t *testing.T) {
	base := startMock(t, "-profile", "rfc6749")
	// DPOP=true: the mock serves DPoP too, so the DPoP rules run as well;
	// DPOP_JKT=true: fixtures/codes/mock-authorize.sh forwards dpop_jkt, so
	// the code binding of RFC 9449 §10 is checked through CODE_CMD.
	r := conformance(t, append(mockEnv(base, "rfc6749"), "DPOP=true", "DPOP_JKT=true")...)
	if r.code != 0 || r.report == nil || r.report.Verdict != reports.VerdictPass {
		t.Fatalf("exit %d, want 0 and a pass verdict:\n%s", r.code, tail(r.out))
	}
	// Skips that say the server made an allowed choice (no DPoP nonce),
	// that the run's client is confidential (DPoP binds public clients'
	// refresh tokens), or that name a feature this run's client does not
	// use (JWT client assertions, the device grant: their own target
	// files) are not coverage lost to the configuration.
	skipped := 0
	for _, rr := range r.report.Rules {
		if rr.Status == reports.StatusSkipped && !(strings.HasPrefix(rr.ID, "RFC9449-") &&
			(strings.Contains(rr.Reason, "does not demand a DPoP nonce") || strings.Contains(rr.Reason, "public client"))) &&
			!strings.Contains(rr.Reason, "JWT client assertion") && !strings.Contains(rr.Reason, oauth.GrantDeviceCode) {
			skipped++
		}
	}
	if skipped > 2 {
		t.Errorf("%d rules skipped with CODE_CMD, a second client and DPoP configured:\n%s", skipped, tail(r.out))
	}
	if cp := r.report.Capabilities; cp == nil || cp.DPoP == nil || !cp.DPoP.Exercised {
		t.Errorf("the report does not say DPoP was exercised: %+v", cp)
	}
	if s := status(r, "RFC9449-10-DPOP-JKT"); s != reports.StatusPassed {
		t.Errorf("RFC9449-10-DPOP-JKT through CODE_CMD: %s, want passed:\n%s", s, tail(r.out))
	}
	junit, err := os.ReadFile(filepath.Join(r.dir, "conformance", "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range r.report.Rules {
		if !strings.Contains(string(junit), `name="`+rr.ID+": ") {
			t.Errorf("junit.xml has no testcase named after %s", rr.ID)
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir, "conformance", "report.html")); err != nil {
		t.Error(err)
	}
	assertNoSecrets(t, r, clientSecret, client2)
}

func TestPlantedFaultFailsTheGate(t *testing.T) {
	base := startMock(t, "-profile", "oauth21")
	// The public client: RFC 9700 §4.14.2 binds reuse detection to public clients.
	r := conformance(t, append(mockEnv(base, "oauth21"), "CONFIG=fixtures/targets/mock-oauth21-public.yaml",
		"QUIRKS=RFC6749-5.1-NO-STORE,RFC9700-4.14.2-REUSE-REJECTED")...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a MUST rule failed):\n%s", r.code, tail(r.out))
	}
	for _, id := range []string{"RFC6749-5.1-NO-STORE", "RFC9700-4.14.2-REUSE-REJECTED"} {
		if got := status(r, id); got != reports.StatusFailed {
			t.Errorf("%s: status %s, want failed", id, got)
		}
	}
	if !strings.Contains(r.out, "RFC6749-5.1-NO-STORE") {
		t.Errorf("the console verdict does not name the failed rule:\n%s", tail(r.out))
	}
	assertNoSecrets(t, r, clientSecret, client2)
}

// TestMakeConformance goes through make exactly as the README says. make
// reports any failing recipe as status 2, so only pass versus fail is
// checked here; the CLI tests above and below check 1 versus 2.
func TestMakeConformance(t *testing.T) {
	base := startMock(t, "-profile", "dressipi")
	ok := runIn(t, []string{"make", "--no-print-directory", "conformance"}, mockEnv(base, "dressipi")...)
	if ok.code != 0 || !strings.Contains(ok.out, "PASS") {
		t.Fatalf("make conformance against the mock: exit %d:\n%s", ok.code, tail(ok.out))
	}
	bad := runIn(t, []string{"make", "--no-print-directory", "conformance"}, "PROFILE=nope")
	if bad.code == 0 || !strings.HasPrefix(bad.out, "tokenharness: config: PROFILE") {
		t.Fatalf("make conformance PROFILE=nope: exit %d, want non-zero and the config line first:\n%s", bad.code, bad.out)
	}
}

func TestBadConfigurationIsOneLine(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"unknown profile", []string{"PROFILE=nope"}, "PROFILE"},
		{"malformed URL", []string{"TARGET=localhost:8080/oauth/token", "CLIENT_ID=x"}, "TARGET"},
		{"bad client auth", []string{"TARGET=http://127.0.0.1:1/oauth/token", "CLIENT_ID=x", "CLIENT_AUTH=basic"}, "CLIENT_AUTH"},
		{"missing client id", []string{"TARGET=http://127.0.0.1:1/oauth/token"}, "CLIENT_ID"},
		{"unknown quirk", []string{"QUIRKS=RFC0000-1-NOPE"}, "QUIRKS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := conformance(t, tt.env...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2:\n%s", r.code, tail(r.out))
			}
			lines := strings.Split(strings.TrimSpace(r.out), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("want one line naming %s, got:\n%s", tt.want, r.out)
			}
		})
	}
}

func TestCodeCmdFailuresAreOneLine(t *testing.T) {
	base := startMock(t, "-profile", "rfc6749")
	for _, cmd := range []string{"exit 3", "true", "echo one; echo two"} {
		r := conformance(t, append(mockEnv(base, "rfc6749"), "CODE_CMD="+cmd)...)
		if r.code != 2 {
			t.Fatalf("CODE_CMD=%q: exit %d, want 2 (configuration error):\n%s", cmd, r.code, tail(r.out))
		}
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "CODE_CMD") {
			t.Errorf("CODE_CMD=%q: want one line naming CODE_CMD, got:\n%s", cmd, r.out)
		}
	}
}

func TestUnreachableTargetIsAHarnessError(t *testing.T) {
	r := conformance(t, "TARGET=http://127.0.0.1:9/oauth/token", "CLIENT_ID=x", "CLIENT_SECRET=y-secret-123456")
	if r.code != 2 || r.report == nil || r.report.Verdict != reports.VerdictError {
		t.Fatalf("exit %d, want 2 with an error verdict:\n%s", r.code, tail(r.out))
	}
	if !strings.Contains(r.out, "connection refused") {
		t.Errorf("the output does not say why:\n%s", tail(r.out))
	}
}

// TestHostileTargets: whatever the target does, the run ends in bounded
// time with the right outcome: what is not an answering OAuth token
// endpoint is one line and exit 2 at the preflight; one that answers like
// one and then misbehaves fails its rules with a classified failure.
func TestHostileTargets(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	tlsSrv := hostile.SelfSignedTLS()
	defer tlsSrv.Close()
	if err := hostile.WriteCA(tlsSrv, caFile); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		srv       *httptest.Server
		env       []string
		wantCode  int
		wantClass string // a class some failed rule must carry; "" = any failure
	}{
		{"hangs", hostile.Hang(), []string{"TIMEOUT=1s"}, 2, ""},
		{"cuts mid-body", hostile.CutMidBody(), nil, 2, ""},
		{"answers HTML", hostile.HTML(), nil, 2, ""},
		{"answers 10 MB", hostile.Huge(10 << 20), nil, 2, ""},
		{"answers invalid JSON", hostile.InvalidJSON(), nil, 2, ""},
		{"answers wrong types", hostile.WrongTypes(), nil, 1, ""},
		{"redirects in a loop", hostile.RedirectLoop(), nil, 2, ""},
		{"slower than the timeout", hostile.Slow(3 * time.Second), []string{"TIMEOUT=1s"}, 2, ""},
		{"self-signed TLS without CA", tlsSrv, nil, 2, ""},
		{"self-signed TLS with CA_FILE", tlsSrv, []string{"CA_FILE=" + caFile}, 1, ""},
		{"self-signed TLS with INSECURE", tlsSrv, []string{"INSECURE=true"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.srv != tlsSrv {
				defer tt.srv.Close()
			}
			env := append([]string{"TARGET=" + tt.srv.URL + "/oauth/token", "CLIENT_ID=tokenharness-1",
				"CLIENT_SECRET=" + clientSecret, "CLIENT_AUTH=client_secret_basic"}, tt.env...)
			r := conformance(t, env...)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d:\n%s", r.code, tt.wantCode, tail(r.out))
			}
			if r.report == nil {
				t.Fatalf("no report.json:\n%s", tail(r.out))
			}
			if tt.wantCode == 1 {
				classes := map[string]bool{}
				for _, rr := range r.report.Rules {
					if rr.Status == reports.StatusFailed {
						classes[rr.Class] = true
					}
				}
				if tt.wantClass != "" && !classes[tt.wantClass] {
					t.Errorf("no failed rule has class %q; classes seen: %v", tt.wantClass, classes)
				}
			}
			if tt.wantCode == 2 {
				if lines := strings.Split(strings.TrimSpace(r.out), "\n"); len(lines) != 1 {
					t.Errorf("want one line saying what is wrong, got %d:\n%s", len(lines), tail(r.out))
				}
			}
			assertNoSecrets(t, r, clientSecret)
		})
	}
}

// TestTargetGoneMidRun: a target that answers like a token endpoint and then
// stops answering ends the run in bounded time (about two request timeouts,
// not one per rule), and the rules it left unjudged are inconclusive: exit 3.
func TestTargetGoneMidRun(t *testing.T) {
	base := startMock(t, "-profile", "rfc6749")
	up, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(up)
	var served atomic.Int64
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) > 25 {
			select { // hang until the client gives up or the test ends
			case <-r.Context().Done():
			case <-gone:
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(gone)
	start := time.Now()
	r := conformance(t, "TARGET="+srv.URL+"/oauth/token", "PROFILE=rfc6749", "CONFIG=fixtures/targets/mock-rfc6749.yaml",
		"AUTHORIZE_URL="+srv.URL+"/oauth/authorize", "TIMEOUT=1s")
	took := time.Since(start)
	if r.code != 3 || r.report == nil {
		t.Fatalf("exit %d, want 3 (rules left unjudged):\n%s", r.code, tail(r.out))
	}
	if r.report.Summary.Failed != 0 || r.report.Summary.InconclusiveGating == 0 {
		t.Errorf("summary %+v: want no failure and gating inconclusive rules", r.report.Summary)
	}
	// One rule per request timeout would take 40 s and more; the bound is
	// generous for a loaded machine.
	if took > 30*time.Second {
		t.Errorf("the run took %v after the target went silent", took)
	}
	if !strings.Contains(r.out, "stopped answering") {
		t.Errorf("the output does not say the target stopped answering:\n%s", tail(r.out))
	}
}

// TestDockerUnavailable: with no Docker the bundled mock runs in-process
// and says so; when the container was demanded, that is a harness error.
func TestDockerUnavailable(t *testing.T) {
	noDocker := "DOCKER_HOST=unix:///nonexistent/docker.sock"
	r := conformance(t, noDocker, "PROFILE=commoninja")
	if r.code != 0 || r.report == nil || r.report.TargetKind != "in-process" {
		t.Fatalf("exit %d, want 0 against the in-process mock:\n%s", r.code, tail(r.out))
	}
	if !strings.Contains(r.out, "in-process") || !strings.Contains(r.out, "Docker unavailable") {
		t.Errorf("the output does not say which mock ran and why:\n%s", tail(r.out))
	}
	r = conformance(t, noDocker, "PROFILE=commoninja", "MOCK=container")
	if r.code != 2 || !strings.Contains(r.out, "MOCK=container but Docker is not available") {
		t.Fatalf("MOCK=container without Docker: exit %d, want 2 with the reason:\n%s", r.code, tail(r.out))
	}
}

// TestNoCodeOrTokenInAnyOutput plants known codes (a CODE_CMD that records
// every code it hands out) and a failing rule, so evidence is written, then
// searches every output for the codes and checks every token member is masked.
func TestNoCodeOrTokenInAnyOutput(t *testing.T) {
	base := startMock(t, "-profile", "rfc6749")
	codes := filepath.Join(t.TempDir(), "codes.txt")
	env := append(mockEnv(base, "rfc6749"),
		"CODE_CMD=c=$(sh fixtures/codes/mock-authorize.sh) && echo \"$c\" >> "+codes+" && echo \"$c\"",
		"QUIRKS=RFC6749-5.1-NO-STORE,RFC6749-4.1.2-CODE-SINGLE-USE,RFC6749-6-REFRESH-CLIENT-BOUND")
	r := conformance(t, env...)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", r.code, tail(r.out))
	}
	b, err := os.ReadFile(codes)
	if err != nil {
		t.Fatal(err)
	}
	planted := strings.Fields(string(b))
	if len(planted) < 10 {
		t.Fatalf("only %d codes were handed out", len(planted))
	}
	assertNoSecrets(t, r, append(planted, clientSecret, client2)...)
	unmasked := regexp.MustCompile(`"(access_token|refresh_token|code|code_verifier)"\s*:\s*"(?:[^"\[]|\[[^R])`)
	for _, f := range []string{"report.json", "report.html", "junit.xml"} {
		b, err := os.ReadFile(filepath.Join(r.dir, "conformance", f))
		if err != nil {
			t.Fatal(err)
		}
		if m := unmasked.Find(b); m != nil {
			t.Errorf("%s has an unmasked secret member: %s", f, m)
		}
	}
}

// TestBinaryOutsideTheCheckout: the gate is one self-contained binary. Copied
// to a directory outside the checkout and run with no Go on PATH, it checks a
// mock started by hand, and with no TARGET its own compiled-in mock.
func TestBinaryOutsideTheCheckout(t *testing.T) {
	base := startMock(t, "-profile", "rfc6749")
	away := t.TempDir()
	bin := filepath.Join(away, "tokenharness")
	b, err := os.ReadFile(cli)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"a mock started by hand", []string{"--target", base + "/oauth/token", "--authorize-url", base + "/oauth/authorize",
			"--client-id", "tokenharness-1", "--client2-id", "tokenharness-2", "--client2-secret", client2,
			"--redirect-uri", "http://127.0.0.1:8080/callback", "--scope", "read"}},
		{"the compiled-in mock", []string{"--profile", "dressipi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reportDir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), runLimit)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"conformance", "--report-dir", reportDir}, tc.args...)...)
			cmd.Dir = away
			cmd.Env = append(cleanEnv(), "PATH=/usr/bin:/bin", "CLIENT_SECRET="+clientSecret, "DOCKER_HOST=unix:///nonexistent.sock")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("exit %v, want 0:\n%s", err, tail(string(out)))
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "tokenharness: PASS") {
				t.Errorf("the last line is not the verdict: %q", last)
			}
			for _, f := range []string{"report.json", "junit.xml", "report.html"} {
				if _, err := os.Stat(filepath.Join(reportDir, "conformance", f)); err != nil {
					t.Error(err)
				}
			}
			assertNoSecrets(t, run{dir: reportDir, out: string(out)}, clientSecret, client2)
		})
	}
}

// TestSetupFailuresAreInconclusive: when the code source works for the
// preflight and then refuses, the rules that need a code are inconclusive,
// not failed, and the exit status says "could not judge" (3).
func TestSetupFailuresAreInconclusive(t *testing.T) {
	base := startMock(t, "-profile", "rfc6749")
	count := filepath.Join(t.TempDir(), "calls")
	codeCmd := `n=$(cat ` + count + ` 2>/dev/null || echo 0); echo $((n+1)) > ` + count + `; ` +
		`if [ "$n" -eq 0 ]; then exec fixtures/codes/mock-authorize.sh; fi; ` +
		`echo '{"error": "temporarily_unavailable", "error_description": "the consent database is down"}'`
	r := conformance(t, append(mockEnv(base, "rfc6749"), "CODE_CMD="+codeCmd)...)
	if r.code != 3 || r.report == nil || r.report.Verdict != reports.VerdictInconclusive {
		t.Fatalf("exit %d, want 3 and an inconclusive verdict:\n%s", r.code, tail(r.out))
	}
	if r.report.Summary.Failed != 0 || r.report.Summary.InconclusiveGating == 0 {
		t.Errorf("summary %+v: want no failed rule and some gating inconclusive ones", r.report.Summary)
	}
	if got := status(r, "RFC6749-5.1-ACCESS-TOKEN"); got != reports.StatusInconclusive {
		t.Errorf("RFC6749-5.1-ACCESS-TOKEN: %s, want inconclusive", got)
	}
	junit, err := os.ReadFile(filepath.Join(r.dir, "conformance", "junit.xml"))
	if err != nil || !strings.Contains(string(junit), `type="inconclusive"`) {
		t.Errorf("junit.xml does not carry the inconclusive rules (%v)", err)
	}
	if !strings.Contains(r.out, "INCONCLUSIVE") {
		t.Errorf("the console verdict does not say INCONCLUSIVE:\n%s", tail(r.out))
	}
}
