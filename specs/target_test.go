package specs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	"github.com/testcontainers/testcontainers-go"

	"tokenharness/internal/plan"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/mockserver"
	"tokenharness/mockserver/mockcontainer"
)

// runPlan is the run's configuration as read from the environment.
type runPlan struct {
	cfg     target.Config
	profile rules.Profile
	mock    string // auto, container or in-process
	err     error
}

func newPlan(getenv func(string) string) runPlan {
	p := runPlan{mock: getenv("MOCK")}
	if p.mock == "" {
		p.mock = "auto"
	}
	p.cfg, p.err = plan.Resolve(getenv)
	p.profile = rules.Profile(p.cfg.Profile)
	if p.profile == "" || p.err != nil && getenv("PROFILE") != "" {
		p.profile = rules.Profile(getenv("PROFILE"))
	}
	if p.err == nil && p.mock != "auto" && p.mock != "container" && p.mock != "in-process" {
		p.err = fmt.Errorf("config: MOCK %q is not one of auto|container|in-process", p.mock)
	}
	return p
}

func (p runPlan) reportDir() string {
	if p.cfg.ReportDir != "" {
		return p.cfg.ReportDir
	}
	return "reports/out"
}

// startTarget resolves the target in process 1: the configured TARGET, or
// the bundled mock in a container when Docker answers, in-process otherwise.
func startTarget(ctx context.Context, p runPlan) (resolved, error) {
	if p.cfg.Target != "" {
		return resolved{Target: p.cfg.Target, Kind: "external", Note: "checking " + redact.String(p.cfg.Target) + " against profile " + string(p.profile)}, nil
	}
	why := "MOCK=in-process"
	if p.mock != "in-process" {
		err := mockcontainer.Available(ctx)
		if err == nil {
			return startContainer(ctx, p)
		}
		if p.mock == "container" {
			return resolved{}, fmt.Errorf("MOCK=container but Docker is not available: %v", err)
		}
		why = "Docker unavailable: " + err.Error()
	}
	return startInProcess(p, why)
}

func startContainer(ctx context.Context, p runPlan) (resolved, error) {
	img, err := mockcontainer.Image(ctx, ".")
	if err != nil {
		return resolved{}, fmt.Errorf("building the mock image: %w", err)
	}
	ctr, err := mockcontainer.Run(ctx, img, mockcontainer.WithProfile(string(p.profile)), mockcontainer.WithQuirksFromHeader(),
		mockcontainer.WithArgs("-log-level", "debug"))
	// Run can return a container and an error: clean up first, then check.
	DeferCleanup(func() {
		if ctr != nil {
			_ = testcontainers.TerminateContainer(ctr)
		}
	})
	if err != nil {
		return resolved{}, fmt.Errorf("starting the mock container: %w", err)
	}
	base, err := ctr.BaseURL(ctx)
	if err != nil {
		return resolved{}, err
	}
	serverLog = func() string {
		s, _ := ctr.LogText(context.Background())
		return s
	}
	return resolved{Target: base + "/oauth/token", AuthorizeURL: base + "/oauth/authorize", Kind: "container",
		Note: fmt.Sprintf("bundled mock (profile %s) in a container (%s), Docker answered", p.profile, img)}, nil
}

func startInProcess(p runPlan, why string) (resolved, error) {
	mcfg, err := mockserver.LoadConfig(p.profile, "")
	if err != nil {
		return resolved{}, err
	}
	logs := &boundedBuffer{max: 256 << 10}
	srv, err := mockserver.New(mcfg, mockserver.WithQuirksFromHeader(),
		mockserver.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		return resolved{}, err
	}
	hs := httptest.NewServer(srv)
	DeferCleanup(func() {
		hs.Close()
		srv.Close()
	})
	serverLog = logs.String
	return resolved{Target: hs.URL + "/oauth/token", AuthorizeURL: hs.URL + "/oauth/authorize", Kind: "in-process",
		Note: fmt.Sprintf("bundled mock (profile %s) in-process at %s (%s)", p.profile, hs.URL, why)}, nil
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
