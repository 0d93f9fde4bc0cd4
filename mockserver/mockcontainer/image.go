package mockcontainer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

const (
	// ImageRepo is the repository part of the image name. The dotted host part
	// keeps TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX from rewriting the name, and
	// tells anyone reading `docker images` that it was never pushed anywhere.
	ImageRepo = "tokenharness.local/mockserver"

	// buildTimeout bounds Image: compiling the binary and building the image.
	buildTimeout = 2 * time.Minute

	// HarnessRepo is the repository of the tokenharness image (the CI gate
	// as a container).
	HarnessRepo = "tokenharness.local/tokenharness"
)

// Spec is a FROM scratch image of one static Go binary and the files it
// reads.
type Spec struct {
	Repo       string
	Dockerfile string // relative to the module root
	Main       string // the main package to compile
	Binary     string // the name the Dockerfile COPYs
	// Files are copied into the build context: context name → host path.
	Files map[string]string
}

var (
	// MockSpec is the mock server image.
	MockSpec = Spec{Repo: ImageRepo, Dockerfile: "mockserver/Dockerfile", Main: "./cmd/mockserver", Binary: "mockserver"}
	// HarnessSpec is the tokenharness image: the binary and the host's CA
	// certificates, so the gate reaches HTTPS targets.
	HarnessSpec = Spec{Repo: HarnessRepo, Dockerfile: "cmd/tokenharness/Dockerfile", Main: "./cmd/tokenharness", Binary: "tokenharness",
		Files: map[string]string{"ca-certificates.crt": "/etc/ssl/certs/ca-certificates.crt", "reports/.keep": os.DevNull}}
)

var (
	// buildMu keeps one process from building the same image twice at once.
	// Several processes may still race; see Image.
	buildMu sync.Mutex
	// builds counts the image builds this process started, so a test can tell
	// a reused image from a rebuilt one without racing other processes.
	builds atomic.Int64
)

// Image returns the name of the mock server image for the code in repoRoot
// (the module root: it holds cmd/mockserver and mockserver/Dockerfile),
// building the image if the daemon does not have it yet. Nothing is pulled.
//
// It compiles cmd/mockserver statically for the daemon's architecture and
// tags the image tokenharness.local/mockserver:<hash>, the hash covering the
// binary and the Dockerfile. A tag that exists is reused, so specs and runs
// with unchanged code build once. The image is kept: Image and Run never
// remove it (remove old tags with
// `docker images tokenharness.local/mockserver`).
//
// Several processes (parallel Ginkgo processes) may call Image at once: they
// derive the same tag, and whichever build finishes last owns the tag; the
// images are identical, a container keeps the image it started from, and the
// loser's image is left untagged for `docker image prune`. (A suite calls
// Image once, in the first function of SynchronizedBeforeSuite, and passes
// the name to the other processes.)
// The whole call is bounded by 2 minutes.
func Image(ctx context.Context, repoRoot string) (string, error) {
	return Build(ctx, repoRoot, MockSpec)
}

// Build builds (or reuses) the image spec describes from the code in
// repoRoot, as Image does for the mock; the tag is spec.Repo:<content hash>.
func Build(ctx context.Context, repoRoot string, spec Spec) (string, error) {
	Prepare()
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	buildMu.Lock()
	defer buildMu.Unlock()

	tag, err := buildImage(ctx, repoRoot, spec)
	if err != nil {
		return "", fmt.Errorf("mockcontainer: build image: %w", flat(err))
	}
	return tag, nil
}

func buildImage(ctx context.Context, repoRoot string, spec Spec) (string, error) {
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, spec.Dockerfile))
	if err != nil {
		return "", err
	}

	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return "", fmt.Errorf("docker: %w", err)
	}
	defer p.Close()
	info, err := p.Client().Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", fmt.Errorf("docker info: %w", err)
	}
	if info.Info.OSType != "linux" {
		return "", fmt.Errorf("daemon runs %q containers; the mock image needs linux", info.Info.OSType)
	}
	goarch, err := goarchFor(info.Info.Architecture)
	if err != nil {
		return "", err
	}

	dir, err := os.MkdirTemp("", "tokenharness-mockserver-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)

	binary := filepath.Join(dir, spec.Binary)
	if err := compile(ctx, repoRoot, spec.Main, goarch, binary); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), dockerfile, 0o644); err != nil {
		return "", err
	}
	ctxFiles := []string{spec.Binary}
	for name, src := range spec.Files {
		b, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("%s for the image: %w", name, err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", err
		}
		ctxFiles = append(ctxFiles, name)
	}
	sort.Strings(ctxFiles)
	hash, err := contentHash(dockerfile, dir, ctxFiles)
	if err != nil {
		return "", err
	}
	tag := spec.Repo + ":" + hash

	if _, err := p.Client().ImageInspect(ctx, tag); err == nil {
		return tag, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect %s: %w", tag, err)
	}

	builds.Add(1)
	_, buildErr := p.BuildImage(ctx, &testcontainers.ContainerRequest{
		FromDockerfile: testcontainers.FromDockerfile{
			Context:    dir,
			Dockerfile: "Dockerfile",
			Repo:       spec.Repo,
			Tag:        hash,
			// Run never builds, so Terminate would not remove the image anyway;
			// KeepImage also keeps testcontainers' session labels off it, which
			// would otherwise tie a shared image to one run.
			KeepImage: true,
			BuildOptionsModifier: func(o *client.ImageBuildOptions) {
				// Containers inherit image labels, so even one started by hand
				// from this image can be found by the CI leftover filter.
				o.Labels = map[string]string{LabelKey: LabelValue}
			},
		},
	})
	if buildErr != nil {
		// Another process may have built the same tag meanwhile; its image is
		// as good as ours.
		if _, err := p.Client().ImageInspect(ctx, tag); err == nil {
			return tag, nil
		}
		return "", fmt.Errorf("docker build %s: %w", tag, buildErr)
	}
	return tag, nil
}

// compile builds main as a static Linux binary at out.
func compile(ctx context.Context, repoRoot, mainPackage, goarch, out string) error {
	// -buildvcs=false keeps the commit out of the binary, so the tag changes
	// only when the compiled code does, not on every commit.
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, mainPackage)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + " …"
		}
		return fmt.Errorf("go build %s (GOOS=linux GOARCH=%s): %w: %s", mainPackage, goarch, err, msg)
	}
	return nil
}

// contentHash names the image: the Dockerfile and the files beside it, the
// whole build context.
func contentHash(dockerfile []byte, dir string, files []string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "Dockerfile %d\n", len(dockerfile))
	h.Write(dockerfile)
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// goarchByMachine maps the daemon's architecture (uname -m as Docker reports
// it in Info) to GOARCH.
var goarchByMachine = map[string]string{
	"x86_64":  "amd64",
	"amd64":   "amd64",
	"aarch64": "arm64",
	"arm64":   "arm64",
	"armv7l":  "arm",
	"i386":    "386",
	"i686":    "386",
	"ppc64le": "ppc64le",
	"s390x":   "s390x",
	"riscv64": "riscv64",
}

func goarchFor(machine string) (string, error) {
	if goarch, ok := goarchByMachine[machine]; ok {
		return goarch, nil
	}
	known := make([]string, 0, len(goarchByMachine))
	for m := range goarchByMachine {
		known = append(known, m)
	}
	sort.Strings(known)
	return "", fmt.Errorf("daemon architecture %q is not one of %s", machine, strings.Join(known, "|"))
}

// Tag gives image src the name dst (e.g. repo:latest), so a user can run the
// newest build by a name that does not change.
func Tag(ctx context.Context, src, dst string) error {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	defer p.Close()
	if _, err := p.Client().ImageTag(ctx, client.ImageTagOptions{Source: src, Target: dst}); err != nil {
		return fmt.Errorf("docker tag %s %s: %w", src, dst, err)
	}
	return nil
}
