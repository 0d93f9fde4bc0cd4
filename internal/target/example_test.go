package target_test

import (
	"fmt"

	"tokenharness/internal/target"
)

func ExampleFromEnv() {
	env := map[string]string{
		"TARGET":      "https://auth.example.com/oauth/token",
		"PROFILE":     "commoninja",
		"CLIENT_ID":   "my-client",
		"CLIENT_AUTH": "client_secret_post",
	}
	_, err := target.FromEnv(func(k string) string { return env[k] }, "rfc6749", "commoninja", "dressipi", "oauth21")
	fmt.Println(err)
	// Output: config: CLIENT_AUTH=client_secret_post needs CLIENT_SECRET
}
