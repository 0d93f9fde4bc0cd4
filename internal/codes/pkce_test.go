package codes

import (
	"strings"
	"testing"
)

func TestNewVerifier(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		v, err := NewVerifier()
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != VerifierLen {
			t.Errorf("len = %d, want %d", len(v), VerifierLen)
		}
		if i := strings.IndexFunc(v, func(r rune) bool { return !strings.ContainsRune(unreserved, r) }); i >= 0 {
			t.Errorf("verifier %q has %q outside the RFC 7636 unreserved set", v, v[i])
		}
		if seen[v] {
			t.Errorf("verifier %q repeated", v)
		}
		seen[v] = true
	}
}

func TestNewVerifierUsesWholeAlphabet(t *testing.T) {
	t.Parallel()
	used := map[rune]bool{}
	for range 100 {
		v, err := NewVerifier()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range v {
			used[r] = true
		}
	}
	// 6400 draws from 66 symbols: missing one has probability ~66·e^-97.
	if len(used) != len(unreserved) {
		t.Errorf("used %d of %d symbols", len(used), len(unreserved))
	}
}

func TestChallenge(t *testing.T) {
	t.Parallel()
	// RFC 7636 Appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	tests := []struct {
		name, verifier, method, want, wantErr string
	}{
		{"S256 appendix B", verifier, "S256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", ""},
		{"plain", verifier, "plain", verifier, ""},
		{"short verifier is not refused", "short", "plain", "short", ""},
		{"lower-case s256", verifier, "s256", "", `codes: code_challenge_method "s256" is not one of S256|plain`},
		{"empty method", verifier, "", "", `codes: code_challenge_method "" is not one of S256|plain`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Challenge(tt.verifier, tt.method)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Challenge = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
