package rules

import (
	"net/http"
	"strings"
	"testing"

	"tokenharness/internal/oauth"
)

func resp(status int, ct, body string, hdr ...string) *oauth.Exchange {
	h := http.Header{}
	if ct != "" {
		h.Set(oauth.HeaderContentType, ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	return &oauth.Exchange{Response: &oauth.Response{Status: status, Header: h, Body: []byte(body)}}
}

const tokenBody = `{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt"}`

func TestChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		check   Check
		x       *oauth.Exchange
		wantErr string // "" = passes
	}{
		{"success", Success(), resp(200, "application/json", tokenBody), ""},
		{"success needs 200", Success(), resp(201, "application/json", tokenBody), "status 201"},
		{"success needs access_token", Success(), resp(200, "application/json", `{"token_type":"Bearer"}`), "access_token"},
		{"success on html", Success(), resp(200, "text/html", `<html>`), "not JSON"},
		{"no response", Success(), &oauth.Exchange{Class: "timeout", Err: "deadline"}, "timeout"},
		{"media type ignores charset", MediaType("application/json"), resp(200, "application/json; charset=utf-8", `{}`), ""},
		{"media type without charset", MediaType("application/json"), resp(200, "application/json", `{}`), ""},
		{"media type case-insensitive", MediaType("application/json"), resp(200, "Application/JSON;Charset=UTF-8", `{}`), ""},
		{"media type wrong", MediaType("application/json"), resp(200, "text/plain", `{}`), "text/plain"},
		{"no-store among directives", HeaderToken("Cache-Control", "no-store"), resp(200, "", "", "Cache-Control", "private, No-Store"), ""},
		{"no-store missing", HeaderToken("Cache-Control", "no-store"), resp(200, "", "", "Cache-Control", "no-cache"), "no-cache"},
		{"no-store absent", HeaderToken("Cache-Control", "no-store"), resp(200, "", ""), "no Cache-Control"},
		{"token_type lowercase", Field("token_type", EqualFold("Bearer")), resp(200, "application/json", `{"token_type":"bearer"}`), ""},
		{"token_type other", Field("token_type", EqualFold("Bearer")), resp(200, "application/json", `{"token_type":"mac"}`), "mac"},
		{"expires_in number", Field("expires_in", NumberIfPresent()), resp(200, "application/json", tokenBody), ""},
		{"expires_in absent is fine", Field("expires_in", NumberIfPresent()), resp(200, "application/json", `{}`), ""},
		{"expires_in string", Field("expires_in", NumberIfPresent()), resp(200, "application/json", `{"expires_in":"3600"}`), "string"},
		{"expires_in fraction", Field("expires_in", PositiveInteger()), resp(200, "application/json", `{"expires_in":86400.5}`), "not a positive integer"},
		{"extra fields allowed", Success(), resp(200, "application/json", `{"access_token":"a","x_extra":{"n":[1]}}`), ""},
		{"rejected ok", Rejected(oauth.ErrInvalidGrant), resp(400, "application/json", `{"error":"invalid_grant"}`), ""},
		{"rejected wrong code", Rejected(oauth.ErrInvalidGrant), resp(400, "application/json", `{"error":"invalid_request"}`), `"invalid_request"`},
		{"rejected but 200", Rejected(oauth.ErrInvalidGrant), resp(200, "application/json", `{"error":"invalid_grant"}`), "accepted"},
		{"rejected with 5xx", Rejected(oauth.ErrInvalidGrant), resp(500, "application/json", `{"error":"invalid_grant"}`), "server error"},
		{"invalid_client 401", Rejected(oauth.ErrInvalidClient), resp(401, "application/json", `{"error":"invalid_client"}`), ""},
		{"not issued", NotIssued(), resp(405, "text/plain", `no`), ""},
		{"issued on GET", NotIssued(), resp(200, "application/json", tokenBody), "access_token"},
		{"error chars ok", ErrorChars(), resp(400, "application/json", `{"error":"invalid_grant","error_description":"code not found"}`), ""},
		{"error chars quote", ErrorChars(), resp(400, "application/json", `{"error":"invalid_grant","error_description":"code \"x\""}`), "error_description"},
		{"error chars non-ascii", ErrorChars(), resp(400, "application/json", `{"error":"invalid_grant","error_description":"é"}`), "error_description"},
		{"jwt", Field("access_token", JWT("HS256", "exp", "iat", "sub")), resp(200, "application/json",
			`{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE1NzE5OTQ2NzIsImlhdCI6MTU3MTkwODI3Miwic3ViIjoiOTQxNzMifQ.mb3ur-cCDbApKU1j24SkjgR7AjLNGQ2pHkJdpfKtY28"}`), ""},
		{"jwt opaque", Field("access_token", JWT("HS256")), resp(200, "application/json", `{"access_token":"opaque"}`), "parts"},
		{"client error", ClientError(), resp(413, "", ""), ""},
		{"client error 500", ClientError(), resp(500, "", ""), "500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.check.Fn(tt.x)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got %v, want pass", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("passed, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("got %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestFaultApplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		on     FaultOn
		status int
		grant  string
		want   bool
	}{
		{"", 200, oauth.GrantAuthorizationCode, true},
		{"", 400, oauth.GrantAuthorizationCode, false},
		{OnError, 401, oauth.GrantRefreshToken, true},
		{OnError, 200, oauth.GrantRefreshToken, false},
		{OnAny, 413, "", true},
		{OnCodeSuccess, 200, oauth.GrantRefreshToken, false},
		{OnRefreshSuccess, 200, oauth.GrantRefreshToken, true},
	}
	for _, tt := range tests {
		if got := (Fault{On: tt.on}).Applies(tt.status, tt.grant); got != tt.want {
			t.Errorf("Fault{On:%q}.Applies(%d, %q) = %v, want %v", tt.on, tt.status, tt.grant, got, tt.want)
		}
	}
}
