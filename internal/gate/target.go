package gate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/testcontainers/testcontainers-go"

	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/mockserver"
	"tokenharness/mockserver/mockcontainer"
)

// Mock modes: where the bundled mock runs when no TARGET is set.
const (
	MockAuto      = "auto"
	MockContainer = "container"
	MockInProcess = "in-process"
)

// Target is the token endpoint a run checks, and how it came to be.
type Target struct {
	URL          string
	AuthorizeURL string // the bundled mock's auto-approving authorize endpoint
	Kind         string // "external", "container" or "in-process"
	Note         string // one line: what is checked and why this kind
	// Log returns the bundled mock's log (nil for an external target).
	Log   func() string
	close []func()
}

// Close stops the bundled mock, if one was started.
func (t *Target) Close() {
	for i := len(t.close) - 1; i >= 0; i-- {
		t.close[i]()
	}
	t.close = nil
}

// Start resolves the target: TARGET when it is set, else the bundled mock
// for the profile, in a container when mock allows it and Docker answers,
// in-process otherwise. A container needs the tokenharness source tree (the
// image is built from it) and a Go toolchain; a binary run elsewhere uses the
// mock compiled into it. progress gets a line before a long silent phase.
func Start(ctx context.Context, url string, profile rules.Profile, mock string, progress io.Writer) (*Target, error) {
	if url != "" {
		return &Target{URL: url, Kind: "external", Note: "checking " + redact.String(url) + " against profile " + string(profile)}, nil
	}
	why := "MOCK=in-process"
	if mock != MockInProcess {
		err := mockcontainer.Available(ctx)
		if err == nil {
			root, rerr := SourceRoot()
			if rerr == nil {
				return startContainer(ctx, root, profile, progress)
			}
			err = rerr
		}
		if mock == MockContainer {
			return nil, fmt.Errorf("MOCK=container but Docker is not available: %v", err)
		}
		why = "Docker unavailable: " + err.Error()
	}
	return startInProcess(profile, why)
}

// ModuleRoot is the tokenharness source tree (its module root) at or above
// the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module tokenharness\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("not inside the tokenharness source tree")
		}
	}
}

// SourceRoot is ModuleRoot with a Go toolchain on PATH: what building the
// mock image takes.
func SourceRoot() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", fmt.Errorf("%w, which the mock image is built from", err)
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", errors.New("no Go toolchain on PATH to build the mock image")
	}
	return root, nil
}

func startContainer(ctx context.Context, root string, profile rules.Profile, progress io.Writer) (*Target, error) {
	fmt.Fprintln(progress, "tokenharness: building (or reusing) the mock server image…")
	img, err := mockcontainer.Image(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("building the mock image: %w", err)
	}
	fmt.Fprintln(progress, "tokenharness: starting the mock container", img)
	ctr, err := mockcontainer.Run(ctx, img, mockcontainer.WithProfile(string(profile)), mockcontainer.WithQuirksFromHeader(),
		mockcontainer.WithArgs("-log-level", "debug"))
	t := &Target{Kind: "container"}
	// Run can return a container and an error: arrange the cleanup first.
	if ctr != nil {
		t.close = append(t.close, func() { _ = testcontainers.TerminateContainer(ctr) })
	}
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("starting the mock container: %w", err)
	}
	base, err := ctr.BaseURL(ctx)
	if err != nil {
		t.Close()
		return nil, err
	}
	t.URL, t.AuthorizeURL = base+"/oauth/token", base+"/oauth/authorize"
	t.Note = fmt.Sprintf("bundled mock (profile %s) in a container (%s), Docker answered", profile, img)
	t.Log = func() string {
		s, _ := ctr.LogText(context.Background())
		return s
	}
	return t, nil
}

func startInProcess(profile rules.Profile, why string) (*Target, error) {
	logs := &boundedBuffer{max: 256 << 10}
	m, err := mockserver.StartLocal(profile, mockserver.WithQuirksFromHeader(),
		mockserver.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		return nil, err
	}
	return &Target{
		URL: m.Base + mockserver.PathToken, AuthorizeURL: m.Base + mockserver.PathAuthorize, Kind: "in-process",
		Note:  fmt.Sprintf("bundled mock (profile %s) in-process at %s (%s)", profile, m.Base, why),
		Log:   logs.String,
		close: []func(){m.Close},
	}, nil
}

// boundedBuffer keeps the last max bytes of the mock's log.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
