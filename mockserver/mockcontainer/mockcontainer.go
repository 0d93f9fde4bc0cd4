// Package mockcontainer runs the bundled mock token server (cmd/mockserver) in a
// container through testcontainers-go, on machines that reach no container
// registry.
//
// It follows the testcontainers-go module template: [Run] takes an image and
// testcontainers.ContainerCustomizer options and returns a [*Container] that
// embeds testcontainers.Container. [Image] builds that image from the repository
// (a static binary in a FROM scratch image) or finds it already built.
// [Available] says in one line whether Docker answers, so the suite can fall back
// to the in-process mock.
//
// It talks to the mock only through its command-line flags and HTTP endpoints;
// it never imports package mockserver.
//
// Nothing is pulled: the image is built FROM scratch, and the reaper, whose
// image would be pulled, is disabled ([Prepare]). Cleanup is therefore the
// caller's job, and every container carries the label tokenharness=mockserver
// so CI can remove leftovers with
//
//	docker rm -f $(docker ps -aq --filter label=tokenharness=mockserver)
package mockcontainer

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	// LabelKey and LabelValue mark every container Run starts (and the image
	// Image builds), so leftovers can be found with
	// --filter label=tokenharness=mockserver.
	LabelKey   = "tokenharness"
	LabelValue = "mockserver"

	// minPort and portSpan bound the container port each Run picks for the
	// mock (see pickPort).
	minPort, portSpan = 10000, 50000

	// runTimeout bounds Run: create, start and the /healthz wait.
	runTimeout = 60 * time.Second
	// healthzTimeout is the wait strategy's own limit, under runTimeout so a
	// mock that never answers is reported as such rather than as a Run timeout.
	healthzTimeout = 30 * time.Second
	// availableTimeout bounds Available: a make target decides in this time
	// whether to use the container.
	availableTimeout = 3 * time.Second

	envRyukDisabled = "TESTCONTAINERS_RYUK_DISABLED"
	envAuthConfig   = "DOCKER_AUTH_CONFIG"
	envHostOverride = "TESTCONTAINERS_HOST_OVERRIDE"
)

// Container is a mock server started by Run. Terminate it (or
// testcontainers.TerminateContainer) when done: no reaper does it.
type Container struct {
	testcontainers.Container
	port string // the container port the mock listens on, e.g. "23817/tcp"
}

// pickPort chooses the container port the mock listens on, a new one for
// each Run. Docker gives each new container on the default bridge the same
// address (172.17.0.2), and its port proxy dials it from this machine's
// ephemeral ports; a run's race rules open thousands of connections, each
// leaving the proxy's side in TIME_WAIT for a minute when the harness
// closes first. With one fixed container port, a few back-to-back runs
// used up the ephemeral ports towards that one address and the proxy reset
// new connections mid-run (measured: 25,000 such sockets after five runs,
// then conn_cut verdicts). A port of its own gives each container its own
// range.
func pickPort() string {
	return strconv.Itoa(minPort+rand.IntN(portSpan)) + "/tcp"
}

// Prepare sets the environment testcontainers-go needs to work with no
// registry and with traffic kept on this machine, for each variable not
// already set:
//
//   - TESTCONTAINERS_RYUK_DISABLED=true: the reaper's image would be pulled.
//   - DOCKER_AUTH_CONFIG={}: no credential helper from ~/.docker/config.json
//     runs, not even for a FROM scratch build.
//   - TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1: where the mock is reached. In a
//     process that finds /.dockerenv, testcontainers-go otherwise takes the
//     bridge gateway's address, which misses a port published on loopback.
//
// A value the caller set is kept; Run and Available then report a reaper
// setting other than "true". testcontainers-go reads part of its
// configuration once per process, so Prepare must run before any other
// testcontainers-go call; Image, Run and Available call it first.
func Prepare() {
	setIfUnset(envRyukDisabled, "true")
	setIfUnset(envAuthConfig, "{}")
	setIfUnset(envHostOverride, "127.0.0.1")
}

func setIfUnset(key, value string) {
	if _, ok := os.LookupEnv(key); !ok {
		_ = os.Setenv(key, value) // fails only for invalid names; these are constants
	}
}

// checkEnv reports settings that would make testcontainers-go reach for a
// registry.
func checkEnv() error {
	// testcontainers-go reads the variable as `== "true"`: "1" or "TRUE" turn the
	// reaper on, and the reaper is pulled.
	if v := os.Getenv(envRyukDisabled); v != "true" {
		return fmt.Errorf("%s=%q starts the reaper, whose image is pulled from a registry; set it to exactly true", envRyukDisabled, v)
	}
	return nil
}

// Available reports whether a Docker daemon answers, within about three
// seconds, as nil or an error whose text is one line fit to print as the reason
// for falling back to the in-process mock.
//
// When DOCKER_HOST is set, that daemon must answer: testcontainers-go would
// otherwise quietly fall back to /var/run/docker.sock, and the run would use a
// daemon other than the one asked for.
func Available(ctx context.Context) error {
	Prepare()
	if err := checkEnv(); err != nil {
		return fmt.Errorf("mockcontainer: docker not usable: %w", err)
	}
	if err := bounded(ctx, availableTimeout, health); err != nil {
		where := "DOCKER_HOST unset"
		if host := os.Getenv("DOCKER_HOST"); host != "" {
			where = "DOCKER_HOST=" + host
		}
		return fmt.Errorf("mockcontainer: docker not available (%s): %w", where, flat(err))
	}
	return nil
}

func health(ctx context.Context) error {
	if os.Getenv("DOCKER_HOST") != "" {
		cli, err := client.New(client.FromEnv)
		if err != nil {
			return err
		}
		defer cli.Close()
		if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
			return err
		}
	}
	// NewDockerProvider discovers the daemon with context.Background(); bounded
	// (the caller) is what keeps it to availableTimeout.
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Health(ctx)
}

// bounded runs fn with a context limited to limit and returns its error, or
// gives up as soon as that context is done. Parts of testcontainers-go ignore
// the context they are given, so a daemon that accepts a connection and never
// answers would otherwise block the caller. fn keeps running in the background
// until it returns on its own.
func bounded(ctx context.Context, limit time.Duration, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	done := make(chan error, 1) // buffered: fn must not block once nobody listens
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s: %w", limit, context.Cause(ctx))
	}
}

// oneLine folds a multi-line error (errors.Join uses newlines) into one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// flat renders err on one line and keeps it for errors.Is and errors.As.
func flat(err error) error { return flatError{err} }

type flatError struct{ err error }

func (e flatError) Error() string { return oneLine(e.err) }
func (e flatError) Unwrap() error { return e.err }

// Run starts the mock server image img (from [Image]) with the given options
// and waits until GET /healthz answers 200 on the published port.
//
// Run can return a container and an error together (created, then failed to
// become ready). Register cleanup before checking the error, as
// testcontainers.TerminateContainer accepts a nil container:
//
//	ctr, err := mockcontainer.Run(ctx, img, mockcontainer.WithProfile("dressipi"))
//	DeferCleanup(testcontainers.TerminateContainer, ctr) // or t.Cleanup
//	if err != nil { ... }
//
// The mock is started with -addr 0.0.0.0:<port>, a container port picked for
// this container (pickPort); options append further flags,
// and the mock's flag parsing lets a later flag override an earlier one. The
// whole call is bounded by 60 s. When the mock exits during startup, the
// error ends with the first and last lines it logged.
func Run(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (*Container, error) {
	Prepare()
	if err := checkEnv(); err != nil {
		return nil, fmt.Errorf("mockcontainer: run: %w", err)
	}

	port := pickPort()
	moduleOpts := customizers(port, opts)

	// Subtleness ahead: testcontainers-go ties log consumers (WithLogConsumers)
	// to the context given to Run, so a context.WithTimeout cancelled when Run
	// returns would stop them. Cancel only if the limit passes first.
	runCtx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(runTimeout, func() {
		cancel(fmt.Errorf("mockcontainer: run: not ready within %s", runTimeout))
	})
	ctr, err := testcontainers.Run(runCtx, img, moduleOpts...)
	timer.Stop()

	var c *Container
	if ctr != nil {
		c = &Container{Container: ctr, port: port}
	}
	if err != nil {
		if c != nil {
			if summary := c.logSummary(ctx); summary != "" {
				err = fmt.Errorf("%w; mock's log: %s", err, summary)
			}
		}
		return c, fmt.Errorf("mockcontainer: run %s: %w", img, flat(err))
	}
	return c, nil
}

// listenAddr is the mock's -addr for a container port such as "8080/tcp".
func listenAddr(port string) string {
	p, _, _ := strings.Cut(port, "/")
	return "0.0.0.0:" + p
}

// customizers puts the module defaults before the caller's options, so the
// caller's come later and win.
func customizers(port string, opts []testcontainers.ContainerCustomizer) []testcontainers.ContainerCustomizer {
	moduleOpts := []testcontainers.ContainerCustomizer{
		testcontainers.WithExposedPorts(port),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) { publishPort(hc, port) }),
		// All interfaces, or the published port would not reach it.
		testcontainers.WithCmd("-addr", listenAddr(port)),
		testcontainers.WithLabels(map[string]string{LabelKey: LabelValue}),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/healthz").
			WithPort(port).
			WithForcedIPv4LocalHost().
			WithStartupTimeout(healthzTimeout)),
	}
	return append(moduleOpts, opts...)
}

// publishPort publishes the mock's port on the loopback address the mock is
// reached at (TESTCONTAINERS_HOST_OVERRIDE, 127.0.0.1 unless the caller chose
// otherwise): the mock holds test secrets and quirks that accept bad input, so
// it is not offered to the network. A caller who points the override
// elsewhere (the daemon in another network namespace) gets the port on every
// IPv4 interface instead. Either way the host IP is explicit: with none,
// Docker 20.10 may publish IPv4 and IPv6 on different host ports, and
// testcontainers-go reports either one (moby/moby#42442).
func publishPort(hc *container.HostConfig, port string) {
	hostIP := netip.IPv4Unspecified()
	if ip, err := netip.ParseAddr(os.Getenv(envHostOverride)); err == nil && ip.Is4() && ip.IsLoopback() {
		hostIP = ip
	}
	if hc.PortBindings == nil {
		hc.PortBindings = network.PortMap{}
	}
	hc.PortBindings[network.MustParsePort(port)] = []network.PortBinding{{HostIP: hostIP, HostPort: "0"}}
}

// WithProfile selects the mock's conformance profile
// (rfc6749|commoninja|dressipi|oauth21; the mock rejects any other).
func WithProfile(profile string) testcontainers.CustomizeRequestOption {
	return testcontainers.WithCmdArgs("-profile", profile)
}

// WithQuirks switches on the mock's quirks, named by rule ID, for every
// request. No IDs: no flag.
func WithQuirks(ids ...string) testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		if len(ids) == 0 {
			return nil
		}
		for _, id := range ids {
			if id == "" || strings.ContainsAny(id, ", ") {
				return fmt.Errorf("mockcontainer: quirk %q: want a rule ID with no comma or space", id)
			}
		}
		return testcontainers.WithCmdArgs("-quirks", strings.Join(ids, ","))(req)
	}
}

// WithQuirksFromHeader makes the mock honour the Tokenharness-Quirk request
// header, so one shared container can serve specs that each need a quirk.
func WithQuirksFromHeader() testcontainers.CustomizeRequestOption {
	return testcontainers.WithCmdArgs("-quirks-from-header")
}

// WithFixtures copies a fixtures file, or a directory's regular files, from
// the host into the container under /fixtures and passes the copy's path with
// -fixtures (/fixtures/<base name of hostPath>).
func WithFixtures(hostPath string) testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		files, target, err := fixtureFiles(hostPath)
		if err != nil {
			return fmt.Errorf("mockcontainer: fixtures: %w", err)
		}
		if err := testcontainers.WithFiles(files...)(req); err != nil {
			return err
		}
		return testcontainers.WithCmdArgs("-fixtures", target)(req)
	}
}

// maxFixtureFiles bounds the directory walk; fixture sets are a few YAML files.
const maxFixtureFiles = 256

// fixtureFiles lists the copies to make for hostPath and the path the mock is
// given. A directory is copied file by file: testcontainers-go copies a
// directory only into a parent that already exists, and a scratch image has
// none but /, while a single file's archive creates its parents.
func fixtureFiles(hostPath string) ([]testcontainers.ContainerFile, string, error) {
	info, err := os.Stat(hostPath)
	if err != nil {
		return nil, "", err
	}
	target := path.Join("/fixtures", info.Name())
	if !info.IsDir() {
		return []testcontainers.ContainerFile{{HostFilePath: hostPath, ContainerFilePath: target, FileMode: 0o444}}, target, nil
	}
	var files []testcontainers.ContainerFile
	err = filepath.WalkDir(hostPath, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if len(files) == maxFixtureFiles {
			return fmt.Errorf("%s holds more than %d files", hostPath, maxFixtureFiles)
		}
		rel, err := filepath.Rel(hostPath, p)
		if err != nil {
			return err
		}
		files = append(files, testcontainers.ContainerFile{
			HostFilePath: p, ContainerFilePath: path.Join(target, filepath.ToSlash(rel)), FileMode: 0o444,
		})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if len(files) == 0 {
		return nil, "", fmt.Errorf("%s holds no files", hostPath)
	}
	return files, target, nil
}

// WithArgs appends any other mock flags, e.g. WithArgs("-log-level", "debug")
// or WithArgs("-rotation-grace", "2s").
func WithArgs(args ...string) testcontainers.CustomizeRequestOption {
	return testcontainers.WithCmdArgs(args...)
}

// BaseURL is the mock's URL on this host, http://127.0.0.1:<published port>
// (the host part is TESTCONTAINERS_HOST_OVERRIDE's, see Prepare).
func (c *Container) BaseURL(ctx context.Context) (string, error) {
	host, err := c.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("mockcontainer: base url: %w", err)
	}
	// The port is published on IPv4 only (publishPort), so "localhost" must
	// not resolve to ::1.
	if host == "localhost" {
		host = "127.0.0.1"
	}
	port, err := c.MappedPort(ctx, c.port)
	if err != nil {
		return "", fmt.Errorf("mockcontainer: base url: %w", err)
	}
	return "http://" + host + ":" + port.Port(), nil
}

// TokenURL is BaseURL + /oauth/token.
func (c *Container) TokenURL(ctx context.Context) (string, error) {
	return c.urlFor(ctx, "/oauth/token")
}

// AuthorizeURL is BaseURL + /oauth/authorize.
func (c *Container) AuthorizeURL(ctx context.Context) (string, error) {
	return c.urlFor(ctx, "/oauth/authorize")
}

func (c *Container) urlFor(ctx context.Context, path string) (string, error) {
	base, err := c.BaseURL(ctx)
	if err != nil {
		return "", err
	}
	return base + path, nil
}

// LogText returns what the mock wrote to stdout and stderr, interleaved, at
// most about 64 KiB: the start (the listening line, flags) and the end (what
// happened last), with a marker where bytes were left out. It reads a stopped
// container too, until it is terminated. The mock redacts secrets in its own
// logs; this text is passed on as is.
func (c *Container) LogText(ctx context.Context) (string, error) {
	rc, err := c.Logs(ctx)
	if err != nil {
		return "", fmt.Errorf("mockcontainer: logs: %w", err)
	}
	defer rc.Close()
	text, err := headTail(rc, logHead, logTail)
	if err != nil {
		return text, fmt.Errorf("mockcontainer: logs: %w", err)
	}
	return text, nil
}

// logSummary is the first and the last line the container logged, for an
// error that must stay one line: a mock that fails at startup says why in its
// first line (a flag error, before the usage text) or in its last (a fatal
// error after some start-up logging).
func (c *Container) logSummary(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	text, _ := c.LogText(ctx)
	return summarize(text)
}

func summarize(text string) string {
	var lines []string
	for line := range strings.Lines(text) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return strconv.Quote(lines[0])
	default:
		return strconv.Quote(lines[0]) + " … " + strconv.Quote(lines[len(lines)-1])
	}
}
