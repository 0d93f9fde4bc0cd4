package mockcontainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// testLabelKey marks the containers of one test, so a test checks for its own
// leftovers and not those of a test running beside it.
const testLabelKey = "tokenharness.test"

// requireDocker skips the test when Docker does not answer, except under
// CI=true, where the container path must be exercised.
func requireDocker(t testing.TB) {
	t.Helper()
	if err := Available(t.Context()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but Docker is not available: %v", err)
		}
		t.Skip(err)
	}
}

// repoRoot is the module root, found from the package directory go test runs in.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		dir = filepath.Dir(dir)
	}
	t.Fatal("no go.mod above the package directory")
	return ""
}

func dockerClient(ctx context.Context, t testing.TB) *testcontainers.DockerClient {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	return cli
}

// ownContainers lists every container, running or not, that carries both the
// module label and this test's label.
func ownContainers(ctx context.Context, cli *testcontainers.DockerClient, testID string) ([]string, error) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All: true,
		Filters: make(client.Filters).
			Add("label", LabelKey+"="+LabelValue).
			Add("label", testLabelKey+"="+testID),
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(res.Items))
	for _, c := range res.Items {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// labelTest gives the test a unique label value and removes, when the test
// ends on any path, whatever container still carries it.
func labelTest(t *testing.T) (string, testcontainers.CustomizeRequestOption) {
	t.Helper()
	id := fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cli := dockerClient(ctx, t)
		ids, err := ownContainers(ctx, cli, id)
		if err != nil {
			t.Errorf("list leftovers: %v", err)
		}
		for _, cid := range ids {
			if _, err := cli.ContainerRemove(ctx, cid, client.ContainerRemoveOptions{Force: true}); err != nil {
				t.Errorf("remove leftover %s: %v", cid, err)
			}
		}
	})
	return id, testcontainers.WithLabels(map[string]string{testLabelKey: id})
}

func TestImageRunAndTerminate(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	ctx := t.Context()
	root := repoRoot(t)
	cli := dockerClient(ctx, t)

	buildsBefore := builds.Load()
	begin := time.Now()
	img, err := Image(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	first := time.Since(begin)
	how := "found the image built earlier"
	if builds.Load() > buildsBefore {
		how = "built the image (cold)"
	}

	buildsBefore = builds.Load()
	begin = time.Now()
	again, err := Image(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	second := time.Since(begin)
	if again != img {
		t.Errorf("second Image = %q, want the reused tag %q", again, img)
	}
	if n := builds.Load() - buildsBefore; n != 0 {
		t.Errorf("second Image ran %d builds, want the existing image reused", n)
	}
	inspect, err := cli.ImageInspect(ctx, img)
	if err != nil {
		t.Fatalf("inspect %s: %v", img, err)
	}
	t.Logf("image %s: %.1f MB; first Image call %v (%s); second (warm) %v",
		img, float64(inspect.Size)/1e6, first.Round(time.Millisecond), how, second.Round(time.Millisecond))

	testID, label := labelTest(t)
	const quirk = "RFC6749-5.1-NO-STORE"
	begin = time.Now()
	fixtures := filepath.Join(root, "fixtures", "clients", "dressipi.yaml")
	ctr, err := Run(ctx, img, WithProfile("dressipi"), WithFixtures(fixtures), WithQuirks(quirk),
		label, testcontainers.WithLogger(tclog.TestLogger(t)))
	t.Cleanup(func() {
		if err := testcontainers.TerminateContainer(ctr); err != nil {
			t.Errorf("terminate: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Run (container start until /healthz answers) %v", time.Since(begin).Round(time.Millisecond))

	ctrInspect, err := ctr.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ctrInspect.Config.Cmd, []string{"-addr", listenAddr(ctr.port), "-profile", "dressipi",
		"-fixtures", "/fixtures/dressipi.yaml", "-quirks", quirk}; !slices.Equal(got, want) {
		t.Errorf("container command = %q, want %q", got, want)
	}
	if got := ctrInspect.Config.Labels[LabelKey]; got != LabelValue {
		t.Errorf("label %s = %q, want %q", LabelKey, got, LabelValue)
	}
	for port, bindings := range ctrInspect.NetworkSettings.Ports {
		for _, b := range bindings {
			if b.HostIP.String() != "127.0.0.1" {
				t.Errorf("port %s published on %s, want 127.0.0.1 only", port, b.HostIP)
			}
		}
	}

	base, err := ctr.BaseURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("BaseURL = %q, want http://127.0.0.1:<port>", base)
	}
	httpc := &http.Client{Timeout: 5 * time.Second}

	res, err := httpc.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: status %d, want 200", res.StatusCode)
	}

	tokenURL, err := ctr.TokenURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := base + "/oauth/token"; tokenURL != want {
		t.Errorf("TokenURL = %q, want %q", tokenURL, want)
	}
	res, err = httpc.Post(tokenURL, "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode < 400 || res.StatusCode > 499 {
		t.Errorf("POST /oauth/token with no body: status %d, want 4xx", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("POST /oauth/token with no body: Content-Type %q, want application/json", ct)
	}
	var errBody struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &errBody); err != nil || errBody.Error == "" {
		t.Errorf("POST /oauth/token with no body: body %q is not a JSON error object (%v)", body, err)
	}

	logs, err := ctr.LogText(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The mock prints its listener's address, which Go may render as [::]:8080.
	if want := "tokenharness mockserver: profile=dressipi listening on http://"; !strings.Contains(logs, want) {
		t.Errorf("LogText = %q, want it to contain %q", logs, want)
	}

	if err := ctr.Terminate(ctx); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	left, err := ownContainers(ctx, cli, testID)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("containers left after Terminate: %v", left)
	}
	if _, err := cli.ImageInspect(ctx, img); err != nil {
		t.Errorf("image %s gone after Terminate, want it kept: %v", img, err)
	}
}

// A mock that fails at startup gives a container and an error: the caller can
// clean up, and the error says why in one line.
func TestRunReportsStartupFailure(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	ctx := t.Context()
	img, err := Image(ctx, repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	testID, label := labelTest(t)

	ctr, err := Run(ctx, img, WithArgs("-no-such-flag"), label, testcontainers.WithLogger(tclog.TestLogger(t)))
	t.Cleanup(func() {
		if err := testcontainers.TerminateContainer(ctr); err != nil {
			t.Errorf("terminate: %v", err)
		}
	})
	if err == nil {
		t.Fatal("Run with an unknown mock flag: no error")
	}
	if ctr == nil {
		t.Error("Run returned no container with its error; the caller could not clean up what was created")
	}
	msg := err.Error()
	t.Logf("Run error: %s", msg)
	for _, want := range []string{"mockcontainer: run " + img, "no-such-flag"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error %q spans several lines", msg)
	}

	if err := testcontainers.TerminateContainer(ctr); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	left, err := ownContainers(ctx, dockerClient(ctx, t), testID)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("containers left after Terminate: %v", left)
	}
}

// testcontainers-go caches the Docker host it found for the life of the
// process, so the bogus DOCKER_HOST is tried in a child process: this test
// binary, running only TestAvailableChild.
func TestAvailableRejectsBogusDockerHost(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAvailableChild$", "-test.v")
	cmd.Env = append(os.Environ(),
		"MOCKCONTAINER_AVAILABLE_CHILD=1",
		"DOCKER_HOST=unix:///nonexistent.sock",
	)
	begin := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("Available with a bogus DOCKER_HOST returned in %v", time.Since(begin).Round(time.Millisecond))

	var result string
	for line := range strings.Lines(string(out)) {
		if r, ok := strings.CutPrefix(strings.TrimSpace(line), "available: "); ok {
			result = r
		}
	}
	for _, want := range []string{"mockcontainer: docker not available (DOCKER_HOST=unix:///nonexistent.sock)"} {
		if !strings.Contains(result, want) {
			t.Errorf("Available = %q, want an error containing %q\nchild output:\n%s", result, want, out)
		}
	}
}

// TestAvailableChild is the child process of TestAvailableRejectsBogusDockerHost.
func TestAvailableChild(t *testing.T) {
	if os.Getenv("MOCKCONTAINER_AVAILABLE_CHILD") != "1" {
		t.Skip("runs only as the child of TestAvailableRejectsBogusDockerHost")
	}
	err := Available(t.Context())
	if err == nil {
		fmt.Println("available: <nil>")
		return
	}
	fmt.Println("available: " + err.Error())
}

func TestBoundedGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	err := bounded(t.Context(), 10*time.Millisecond, func(context.Context) error {
		<-release // a call that ignores its context, as parts of testcontainers-go do
		return nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("bounded = %v, want an error wrapping context.DeadlineExceeded", err)
	}
}

func TestBoundedReturnsResult(t *testing.T) {
	t.Parallel()
	want := errors.New("daemon said no")
	if got := bounded(t.Context(), time.Minute, func(context.Context) error { return want }); !errors.Is(got, want) {
		t.Errorf("bounded = %v, want %v", got, want)
	}
}

// Each Run's mock listens on a container port of its own, so Docker's port
// proxy dials each new container (which gets the same bridge address) from
// a fresh range of this machine's ports.
func TestPickPortVaries(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 20 {
		p := pickPort()
		n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
		if err != nil || n < minPort || n >= minPort+portSpan {
			t.Fatalf("pickPort() = %q, want a tcp port in [%d, %d)", p, minPort, minPort+portSpan)
		}
		seen[p] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 picks gave %d distinct ports, want them to vary", len(seen))
	}
}

func TestRunOptionsBuildCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		description string
		opts        []testcontainers.ContainerCustomizer
		want        []string
	}{
		{
			description: "defaults only",
			want:        []string{"-addr", "0.0.0.0:8080"},
		},
		{
			description: "profile, quirks and header switch, in the order given",
			opts: []testcontainers.ContainerCustomizer{
				WithProfile("oauth21"),
				WithQuirks("RFC6749-5.1-NO-STORE", "RFC6749-4.1.2-CODE-SINGLE-USE"),
				WithQuirksFromHeader(),
			},
			want: []string{"-addr", "0.0.0.0:8080", "-profile", "oauth21",
				"-quirks", "RFC6749-5.1-NO-STORE,RFC6749-4.1.2-CODE-SINGLE-USE", "-quirks-from-header"},
		},
		{
			description: "no quirk IDs add no flag",
			opts:        []testcontainers.ContainerCustomizer{WithQuirks()},
			want:        []string{"-addr", "0.0.0.0:8080"},
		},
		{
			description: "other flags pass through",
			opts:        []testcontainers.ContainerCustomizer{WithArgs("-log-level", "debug", "-rotation-grace", "2s")},
			want:        []string{"-addr", "0.0.0.0:8080", "-log-level", "debug", "-rotation-grace", "2s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			req := applyAll(t, customizers("8080/tcp", tt.opts))
			if !slices.Equal(req.Cmd, tt.want) {
				t.Errorf("Cmd = %q, want %q", req.Cmd, tt.want)
			}
			if got := req.Labels[LabelKey]; got != LabelValue {
				t.Errorf("label %s = %q, want %q", LabelKey, got, LabelValue)
			}
			if !slices.Equal(req.ExposedPorts, []string{"8080/tcp"}) {
				t.Errorf("ExposedPorts = %q, want [8080/tcp]", req.ExposedPorts)
			}
			if req.WaitingFor == nil {
				t.Error("no wait strategy")
			}
		})
	}
}

func applyAll(t *testing.T, opts []testcontainers.ContainerCustomizer) *testcontainers.GenericContainerRequest {
	t.Helper()
	req := &testcontainers.GenericContainerRequest{}
	for _, opt := range opts {
		if err := opt.Customize(req); err != nil {
			t.Fatalf("customize: %v", err)
		}
	}
	return req
}

func TestWithQuirksRejectsListsInOneID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"A,B", "A B", ""} {
		err := WithQuirks(id)(&testcontainers.GenericContainerRequest{})
		if err == nil {
			t.Errorf("WithQuirks(%q): no error", id)
		}
	}
}

func TestWithFixtures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clients := filepath.Join(dir, "clients")
	for _, name := range []string{"rfc6749.yaml", "sub/dressipi.yaml"} {
		p := filepath.Join(clients, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("clients: []\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		description string
		hostPath    string
		wantArg     string
		wantFiles   []string
		wantErr     bool
	}{
		{
			description: "a file is copied under /fixtures",
			hostPath:    filepath.Join(clients, "rfc6749.yaml"),
			wantArg:     "/fixtures/rfc6749.yaml",
			wantFiles:   []string{"/fixtures/rfc6749.yaml"},
		},
		{
			description: "a directory is copied file by file, keeping its layout",
			hostPath:    clients,
			wantArg:     "/fixtures/clients",
			wantFiles:   []string{"/fixtures/clients/rfc6749.yaml", "/fixtures/clients/sub/dressipi.yaml"},
		},
		{description: "a missing path is an error", hostPath: filepath.Join(dir, "missing"), wantErr: true},
		{description: "an empty directory is an error", hostPath: filepath.Join(dir, "empty"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			req := &testcontainers.GenericContainerRequest{}
			err := WithFixtures(tt.hostPath)(req)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"-fixtures", tt.wantArg}; !slices.Equal(req.Cmd, want) {
				t.Errorf("Cmd = %q, want %q", req.Cmd, want)
			}
			var got []string
			for _, f := range req.Files {
				got = append(got, f.ContainerFilePath)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.wantFiles) {
				t.Errorf("files = %q, want %q", got, tt.wantFiles)
			}
		})
	}
}

func TestGoarchFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		machine string
		want    string
		wantErr bool
	}{
		{machine: "x86_64", want: "amd64"},
		{machine: "aarch64", want: "arm64"},
		{machine: "arm64", want: "arm64"},
		{machine: "s390x", want: "s390x"},
		{machine: "sparc", wantErr: true},
	}
	for _, tt := range tests {
		got, err := goarchFor(tt.machine)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("goarchFor(%q) = %q, %v; want %q, error %v", tt.machine, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "x86_64") {
			t.Errorf("goarchFor(%q) error %q does not name the allowed values", tt.machine, err)
		}
	}
}

func TestHeadTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		description string
		in          string
		head, tail  int
		want        string
	}{
		{description: "short input is kept whole", in: "abc\n", head: 4, tail: 4, want: "abc\n"},
		{description: "input of exactly head+tail is kept whole", in: "abcdefgh", head: 4, tail: 4, want: "abcdefgh"},
		{description: "the middle is left out with a marker", in: "abcd0123456789wxyz", head: 4, tail: 4,
			want: "abcd\n… 10 bytes of log left out …\nwxyz"},
		{description: "no tail keeps only the head", in: "abcdefgh", head: 4, tail: 0,
			want: "abcd\n… 4 bytes of log left out …\n"},
		{description: "empty input", in: "", head: 4, tail: 4, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			t.Parallel()
			// iotest-style one-byte reads exercise the ring's wrap-around.
			got, err := headTail(oneByteReader{strings.NewReader(tt.in)}, tt.head, tt.tail)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("headTail = %q, want %q", got, tt.want)
			}
		})
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestHeadTailLargeInputStaysBounded(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("x", 1<<20) + "last line\n"
	got, err := headTail(strings.NewReader(in), logHead, logTail)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > logHead+logTail+100 {
		t.Errorf("len = %d, want at most head+tail plus the marker", len(got))
	}
	if !strings.HasSuffix(got, "last line\n") {
		t.Errorf("the end of the log is lost: ...%q", got[len(got)-20:])
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		description, in, want string
	}{
		{description: "empty", in: "\n\n", want: ""},
		{description: "one line", in: "boom\n", want: `"boom"`},
		{description: "first and last line", in: "flag provided but not defined: -x\nUsage:\n  -addr string\n",
			want: `"flag provided but not defined: -x" … "-addr string"`},
	}
	for _, tt := range tests {
		if got := summarize(tt.in); got != tt.want {
			t.Errorf("%s: summarize = %q, want %q", tt.description, got, tt.want)
		}
	}
}

func TestFlatErrorIsOneLineAndUnwraps(t *testing.T) {
	t.Parallel()
	cause := errors.New("socket not found")
	err := flat(errors.Join(errors.New("check host \"unix:///x.sock\"\n: refused"), cause))
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("flat error %q spans several lines", err)
	}
	if !errors.Is(err, cause) {
		t.Errorf("flat error %q does not wrap its cause", err)
	}
}

// Not parallel: it changes the environment. Tests that touch Docker run in
// parallel, after it, and call Prepare again.
func TestPrepare(t *testing.T) {
	t.Setenv(envRyukDisabled, "")
	t.Setenv(envAuthConfig, "")
	os.Unsetenv(envRyukDisabled)
	os.Unsetenv(envAuthConfig)

	Prepare()
	if got := os.Getenv(envRyukDisabled); got != "true" {
		t.Errorf("%s = %q after Prepare, want true", envRyukDisabled, got)
	}
	if got := os.Getenv(envAuthConfig); got != "{}" {
		t.Errorf("%s = %q after Prepare, want {}", envAuthConfig, got)
	}
	if err := checkEnv(); err != nil {
		t.Errorf("checkEnv after Prepare: %v", err)
	}

	// A value the caller set stays, and one that would start the reaper is
	// reported rather than overridden.
	os.Setenv(envRyukDisabled, "1")
	Prepare()
	if got := os.Getenv(envRyukDisabled); got != "1" {
		t.Errorf("%s = %q after Prepare, want the caller's 1 kept", envRyukDisabled, got)
	}
	if err := checkEnv(); err == nil || !strings.Contains(err.Error(), "exactly true") {
		t.Errorf("checkEnv with %s=1 = %v, want an error saying to set exactly true", envRyukDisabled, err)
	}
}

// BenchmarkRun measures a warm start: the image exists, Run starts a
// container and waits for /healthz; terminating it is not timed.
func BenchmarkRun(b *testing.B) {
	requireDocker(b)
	ctx := b.Context()
	img, err := Image(ctx, repoRoot(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ctr, err := Run(ctx, img, WithProfile("rfc6749"), testcontainers.WithLogger(tclog.TestLogger(b)))
		b.StopTimer()
		if termErr := testcontainers.TerminateContainer(ctr); termErr != nil {
			b.Fatalf("terminate: %v", termErr)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
