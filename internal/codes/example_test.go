package codes_test

import (
	"context"
	"fmt"

	"tokenharness/internal/codes"
)

func ExampleChallenge() {
	// The verifier of RFC 7636 Appendix B.
	ch, err := codes.Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "S256")
	fmt.Println(ch, err)
	// Output: E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM <nil>
}

func ExampleCommand() {
	src := codes.Command(`printf '{"code": "%s-code"}' "$OAUTH_CLIENT_ID"`)
	code, err := src.Code(context.Background(), codes.Request{ClientID: "tokenharness-1"})
	fmt.Println(code, err)
	// Output: tokenharness-1-code <nil>
}
