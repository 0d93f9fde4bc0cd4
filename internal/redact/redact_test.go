package redact

import (
	"net/http"
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	t.Parallel()
	r := &Redactor{}
	r.Add("th-secret-one-5f2c9a1e", "abc") // too short to register: would mask common words
	r.AddBasic("tokenharness-1", "th-secret-one-5f2c9a1e")
	tests := []struct{ name, in, mustNot, must string }{
		{"json member", `{"access_token":"eyJ.abc.def","token_type":"Bearer"}`, "eyJ.abc.def", `"token_type":"Bearer"`},
		{"form param", "grant_type=refresh_token&refresh_token=rt-123456&client_id=x", "rt-123456", "client_id=x"},
		{"query", "https://a/cb?code=c0de-c0de&state=s", "c0de-c0de", "state=s"},
		{"value anywhere", "error: client th-secret-one-5f2c9a1e rejected", "th-secret-one-5f2c9a1e", "rejected"},
		{"verifier", "code_verifier=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH", "abcdefghijklmnop", "code_verifier="},
		{"short value kept", "abc def", "", "abc def"},
	}
	for _, tt := range tests {
		got := r.String(tt.in)
		if tt.mustNot != "" && strings.Contains(got, tt.mustNot) {
			t.Errorf("%s: %q still contains %q", tt.name, got, tt.mustNot)
		}
		if !strings.Contains(got, tt.must) {
			t.Errorf("%s: %q lost %q", tt.name, got, tt.must)
		}
	}
	h := r.Header(http.Header{"Authorization": {"Basic dG9rZW5oYXJuZXNzLTE6dGgtc2VjcmV0LW9uZS01ZjJjOWExZQ=="}, "X-Api-Key": {"k-123456"}, "Accept": {"*/*"}})
	if got := h.Get("Authorization"); got != "Basic "+Mask {
		t.Errorf("Authorization = %q", got)
	}
	if got := h.Get("X-Api-Key"); got != Mask {
		t.Errorf("X-Api-Key = %q", got)
	}
	if got := h.Get("Accept"); got != "*/*" {
		t.Errorf("Accept = %q", got)
	}
}
