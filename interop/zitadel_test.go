package interop

import (
	"context"
	"errors"
	"testing"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// TestZitadelLogin: the login driver yields a code bound to the request's
// state, and reports a refusal as a code-source error, never as a code.
func TestZitadelLogin(t *testing.T) {
	s, err := StartZitadel(Options{Profile: rules.RFC6749})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	req := codes.Request{ClientID: s.Client.ID, RedirectURI: s.RedirectURI, Scope: s.Scope, State: "st-1"}
	code, err := s.Codes.Code(ctx, req)
	if err != nil || code == "" {
		t.Fatalf("Code = %q, %v; want a code", code, err)
	}
	// A refusal redirected to the client (no scope at all) is an OAuth error,
	// as PKCE-REQUIRED needs to tell a refusal from a broken source.
	_, err = s.Codes.Code(ctx, codes.Request{ClientID: s.Client.ID, RedirectURI: s.RedirectURI, State: "st-4"})
	var oe *oauth.Error
	if !errors.As(err, &oe) || !errors.Is(err, codes.ErrCodeSource) {
		t.Errorf("no scope: err = %v, want an *oauth.Error wrapped as a code-source error", err)
	}
	for name, r := range map[string]codes.Request{
		"unknown client":        {ClientID: "nobody", RedirectURI: s.RedirectURI, Scope: s.Scope, State: "st-2"},
		"unregistered redirect": {ClientID: s.Client.ID, RedirectURI: "http://127.0.0.1:1/elsewhere", Scope: s.Scope, State: "st-3"},
	} {
		code, err := s.Codes.Code(ctx, r)
		if err == nil || code != "" || !errors.Is(err, codes.ErrCodeSource) {
			t.Errorf("%s: Code = %q, %v; want a code-source error and no code", name, code, err)
		}
	}
}
