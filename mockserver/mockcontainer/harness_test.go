package mockcontainer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"tokenharness/internal/rules"
	"tokenharness/mockserver"
)

// TestHarnessImageChecksAMockStartedByHand is the gate as a CI job would run
// it from the image `make image` builds: `docker run --network host -v
// dir:/reports tokenharness.local/tokenharness conformance --target ...`
// against a mock started by hand, reports written to the mounted folder,
// as the image's non-root user.
func TestHarnessImageChecksAMockStartedByHand(t *testing.T) {
	requireDocker(t)
	ctx := t.Context()
	img, err := Build(ctx, repoRoot(t), HarnessSpec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := mockserver.StartLocal(rules.RFC6749)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := t.TempDir()
	if err := os.Chmod(out, 0o777); err != nil { // the image's user is not this one
		t.Fatal(err)
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{Started: true, ContainerRequest: testcontainers.ContainerRequest{
		Image: img,
		Cmd: []string{"conformance", "--target", m.Base + "/oauth/token", "--authorize-url", m.Base + "/oauth/authorize",
			"--client-id", "tokenharness-1", "--client-auth", "client_secret_basic",
			"--redirect-uri", "http://127.0.0.1:8080/callback", "--scope", "read"},
		Env:    map[string]string{"CLIENT_SECRET": "th-secret-one-5f2c9a1e"},
		Labels: map[string]string{LabelKey: LabelValue, testLabelKey: t.Name()},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.NetworkMode = "host"
			hc.Binds = []string{out + ":/reports"}
		},
		WaitingFor: wait.ForExit().WithExitTimeout(3 * time.Minute),
	}})
	if c != nil {
		defer func() { _ = testcontainers.TerminateContainer(c) }()
	}
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := c.Logs(ctx)
	var text []byte
	if logs != nil {
		text = make([]byte, 8<<10)
		n, _ := logs.Read(text)
		text = text[:n]
	}
	if st.ExitCode != 0 {
		t.Fatalf("exit %d, want 0:\n%s", st.ExitCode, text)
	}
	var report struct {
		Verdict string `json:"verdict"`
	}
	b, err := os.ReadFile(filepath.Join(out, "conformance", "report.json"))
	if err != nil {
		t.Fatalf("no report in the mounted folder: %v", err)
	}
	if err := json.Unmarshal(b, &report); err != nil || report.Verdict != "pass" {
		t.Fatalf("verdict %q (%v), want pass", report.Verdict, err)
	}
	for _, f := range []string{"junit.xml", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, "conformance", f)); err != nil {
			t.Error(err)
		}
	}
}
