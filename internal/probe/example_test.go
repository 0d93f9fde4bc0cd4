package probe_test

import (
	"context"
	"fmt"

	"tokenharness/internal/hostile"
	"tokenharness/internal/oauth"
	"tokenharness/internal/probe"
)

func ExampleClient_Do() {
	srv := hostile.HTML() // a token endpoint answering with a login page
	defer srv.Close()
	c, err := probe.New()
	if err != nil {
		panic(err)
	}
	x := c.Do(context.Background(), oauth.Request{
		URL:    srv.URL + "/oauth/token",
		Header: map[string][]string{"Content-Type": {oauth.MediaForm}},
		Body:   "grant_type=authorization_code&code=abc",
	})
	fmt.Println(x.Response.Status, probe.ClassifyResponse(x.Response))
	// Output: 200 html
}

func ExampleClient_Preflight() {
	c, err := probe.New()
	if err != nil {
		panic(err)
	}
	err = c.Preflight(context.Background(), "localhost:8080/oauth/token")
	fmt.Println(err)
	// Output: target "localhost:8080/oauth/token" unreachable: not an absolute http(s) URL: use e.g. TARGET=https://auth.example.com/oauth/token
}
