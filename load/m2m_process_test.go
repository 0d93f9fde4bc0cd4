package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenharness/reports"
)

// command is the tokenharness binary, built once for the package's tests
// that run it: a build is the heaviest thing they do on a shared machine.
var command struct {
	once          sync.Once
	bin, dir, err string
}

// TestMain removes the binary buildCommand built, once every test is done.
func TestMain(m *testing.M) {
	code := m.Run()
	if command.bin != "" {
		os.RemoveAll(filepath.Dir(command.bin))
	}
	os.Exit(code)
}

// buildCommand builds cmd/tokenharness (once) and returns the binary and
// the module's directory.
func buildCommand(t testing.TB) (bin, modDir string) {
	t.Helper()
	command.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		root, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
		if err != nil {
			command.err = err.Error()
			return
		}
		command.dir = filepath.Dir(strings.TrimSpace(string(root)))
		tmp, err := os.MkdirTemp("", "tokenharness-bin-")
		if err != nil {
			command.err = err.Error()
			return
		}
		command.bin = filepath.Join(tmp, "tokenharness")
		build := exec.CommandContext(ctx, "go", "build", "-o", command.bin, "./cmd/tokenharness")
		build.Dir = command.dir
		if out, err := build.CombinedOutput(); err != nil {
			command.err = fmt.Sprintf("go build: %v\n%s", err, out)
		}
	})
	if command.err != "" {
		t.Fatal(command.err)
	}
	return command.bin, command.dir
}

// TestCommand_M2M runs the real command's m2m profile: against the bundled
// mock (its own CLIENTS clients registered, with and without DPoP proofs),
// against a TARGET with no code source and a clients file, and refused in
// one line where it does not apply.
func TestCommand_M2M(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	// Not parallel with the package's other tests: it builds the command and
	// runs it, and their timing tests share the machine.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	bin, modDir := buildCommand(t)
	run := func(env ...string) (string, string, int) {
		dir := t.TempDir()
		cmd := exec.CommandContext(ctx, bin, "load", "-max-lag", "5s", "-thresholds", "p99_ms=5000")
		cmd.Dir = modDir
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "REPORT_DIR=" + dir,
			"LOAD_PROFILE=m2m", "RATE=100", "DURATION=1s"}, env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), filepath.Join(dir, "load", "m2m", ReportJSON), code
	}
	check := func(t *testing.T, out, report string, code, wantClients int, wantDPoP string) {
		t.Helper()
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		l, err := reports.ReadLoad(report)
		if err != nil {
			t.Fatal(err)
		}
		if l.Profile != "m2m" || l.Requests != 100 || l.StatusCodes["200"] != 100 || l.Params.Clients != wantClients {
			t.Errorf("%s: %d requests, status %v, %d clients; want 100 requests all 200 over %d clients\n%s",
				l.Profile, l.Requests, l.StatusCodes, l.Params.Clients, wantClients, out)
		}
		if dp, _ := l.Params.Extra["dpop"].(string); dp != wantDPoP {
			t.Errorf("dpop %q, want %q", dp, wantDPoP)
		}
		// The mock binds every proofed token (token_type DPoP); without
		// proofs there is nothing to bind.
		want := reports.StatusNotApplicable
		if wantDPoP != "" {
			want = reports.StatusPassed
		}
		if th := threshold(t, l, DPoPUnbound.Name); th.Status != want {
			t.Errorf("%s = %+v, want %s", th.Name, th, want)
		}
	}
	t.Run("bundled mock", func(t *testing.T) {
		out, report, code := run("CLIENTS=5")
		check(t, out, report, code, 5, "")
	})
	t.Run("bundled mock with DPoP proofs", func(t *testing.T) {
		out, report, code := run("DPOP=true")
		check(t, out, report, code, DefaultMockM2MClients, "ES256")
	})
	t.Run("bundled mock with private_key_jwt assertions and DPoP proofs", func(t *testing.T) {
		out, report, code := run("CLIENTS=5", "DPOP=true", "CLIENT_AUTH=private_key_jwt", "JWT_KEY_FILE=fixtures/keys/jwt-client-es256.pem")
		check(t, out, report, code, 5, "ES256")
	})
	t.Run("a target without a code source, clients from a file", func(t *testing.T) {
		cfg := mockConfig(t, M2M, Params{})
		file := filepath.Join(t.TempDir(), "clients")
		if err := os.WriteFile(file, []byte("# the mock's client_credentials client\n"+cfg.Endpoint.ClientID+" "+cfg.Endpoint.ClientSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, report, code := run("TARGET="+cfg.Endpoint.TokenURL, "CLIENT_ID=someone-else", "CLIENT_SECRET=x", "SCOPE=read",
			"GRANTS=client_credentials", "M2M_CLIENTS_FILE="+file)
		check(t, out, report, code, 1, "")
	})
	t.Run("signing refused for another profile", func(t *testing.T) {
		out, _, code := run("LOAD_PROFILE=herd", "DPOP=true")
		if code != 2 || !strings.Contains(out, "apply under load to profile m2m only") {
			t.Errorf("exit %d, want 2 saying why\n%s", code, out)
		}
	})
}
