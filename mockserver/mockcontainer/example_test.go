package mockcontainer_test

import (
	"context"
	"fmt"
	"log"

	"github.com/testcontainers/testcontainers-go"

	"tokenharness/mockserver/mockcontainer"
)

// The suite's choice between the container and the in-process mock, and a
// container's life: build or find the image once, run, register cleanup before
// checking the error, use the URLs, keep the log for a failure report.
func Example() {
	ctx := context.Background()
	if err := mockcontainer.Available(ctx); err != nil {
		fmt.Println("mock: in-process, because", err)
		return
	}

	img, err := mockcontainer.Image(ctx, ".") // the module root
	if err != nil {
		log.Fatal(err)
	}
	ctr, err := mockcontainer.Run(ctx, img,
		mockcontainer.WithProfile("dressipi"),
		mockcontainer.WithQuirksFromHeader(),
	)
	// In a Ginkgo suite: DeferCleanup(testcontainers.TerminateContainer, ctr).
	defer func() {
		if err := testcontainers.TerminateContainer(ctr); err != nil {
			log.Print(err)
		}
	}()
	if err != nil {
		log.Fatal(err)
	}

	tokenURL, err := ctr.TokenURL(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("mock: container", img, "at", tokenURL)

	// On a failed spec, attach the mock's side of the story.
	if text, err := ctr.LogText(ctx); err == nil {
		_ = text
	}
}
