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

	dockerfilePath = "mockserver/Dockerfile"
	mainPackage    = "./cmd/mockserver"
	binaryName     = "mockserver" // what the Dockerfile COPYs
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
	Prepare()
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	buildMu.Lock()
	defer buildMu.Unlock()

	tag, err := buildImage(ctx, repoRoot)
	if err != nil {
		return "", fmt.Errorf("mockcontainer: build image: %w", flat(err))
	}
	return tag, nil
}

func buildImage(ctx context.Context, repoRoot string) (string, error) {
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, dockerfilePath))
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

	binary := filepath.Join(dir, binaryName)
	if err := compile(ctx, repoRoot, goarch, binary); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), dockerfile, 0o644); err != nil {
		return "", err
	}
	hash, err := contentHash(dockerfile, binary)
	if err != nil {
		return "", err
	}
	tag := ImageRepo + ":" + hash

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
			Repo:       ImageRepo,
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

// compile builds the mock as a static Linux binary at out.
func compile(ctx context.Context, repoRoot, goarch, out string) error {
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

// contentHash names the image: the Dockerfile and the binary, the whole build
// context.
func contentHash(dockerfile []byte, binary string) (string, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "Dockerfile %d\n", len(dockerfile))
	h.Write(dockerfile)
	fmt.Fprintf(h, "%s %d\n", binaryName, len(bin))
	h.Write(bin)
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
