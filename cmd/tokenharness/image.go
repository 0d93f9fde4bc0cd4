package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	tclog "github.com/testcontainers/testcontainers-go/log"

	"tokenharness/mockserver/mockcontainer"
)

// imageCmd builds the mock server image the way the suite does (a static
// binary in a FROM scratch image, nothing pulled) and prints its tag.
func imageCmd(args []string) int {
	// testcontainers-go announces every Docker connection; the tag is the answer.
	tclog.SetDefault(log.New(io.Discard, "", 0))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	img, err := mockcontainer.Image(ctx, ".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenharness:", err)
		return exitConfig
	}
	fmt.Printf("%s (ready in %v)\n", img, time.Since(start).Round(time.Millisecond))
	return exitOK
}
