package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"tokenharness/internal/gate"
	"tokenharness/mockserver/mockcontainer"
)

// imageCmd builds the mock server image and the tokenharness image (static
// binaries in FROM scratch images, nothing pulled) from the source tree and
// prints their tags; the harness image is also tagged :latest.
func imageCmd(args []string) int {
	fs, _ := varFlags("image", nil)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	// testcontainers-go announces every Docker connection; the tag is the answer.
	tclog.SetDefault(log.New(io.Discard, "", 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := gate.SourceRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenharness image: the images are built from the source:", err)
		return exitConfig
	}
	for _, spec := range []mockcontainer.Spec{mockcontainer.MockSpec, mockcontainer.HarnessSpec} {
		fmt.Fprintf(os.Stderr, "building %s …\n", spec.Repo)
		start := time.Now()
		img, err := mockcontainer.Build(ctx, root, spec)
		if err == nil && spec.Repo == mockcontainer.HarnessRepo {
			err = mockcontainer.Tag(ctx, img, spec.Repo+":latest")
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "tokenharness:", err)
			return exitConfig
		}
		fmt.Printf("%s (ready in %v)\n", img, time.Since(start).Round(time.Millisecond))
	}
	return exitOK
}
