package rules

import (
	"net/http"
	"testing"

	"tokenharness/internal/oauth"
)

// FuzzChecks runs every check of the vocabulary over arbitrary responses:
// a hostile target may answer anything, and a check must then report a
// violation rather than panic.
func FuzzChecks(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjEsImlhdCI6MSwic3ViIjoiMSJ9.x","token_type":"Bearer","expires_in":86400}`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant","error_description":"bad \"code\""}`))
	f.Add(200, "text/html", []byte(`<html>`))
	f.Add(500, "", []byte{})
	f.Add(200, "application/json", []byte(`{"access_token":"a.b.c","expires_in":1.5,"token_type":["x"]}`))
	checks := []Check{
		Success(), Rejected(oauth.ErrInvalidGrant, oauth.ErrInvalidRequest), NotIssued(), ClientError(), Status(400),
		MediaType(oauth.MediaJSON), HeaderToken(oauth.HeaderCacheControl, "no-store"), HeaderPresent("X"), JSONObject(), ErrorChars(),
		Field(oauth.ParamAccessToken, NonEmptyString()), Field(oauth.ParamExpiresIn, NumberIfPresent()),
		Field(oauth.ParamExpiresIn, PositiveInteger()), Field(oauth.ParamTokenType, EqualFold("Bearer")),
		Field(oauth.ParamAccessToken, JWT("HS256", "exp", "iat", "sub")), Field("x", Present()),
	}
	f.Fuzz(func(t *testing.T, status int, ct string, body []byte) {
		x := &oauth.Exchange{Response: &oauth.Response{Status: status, Header: http.Header{
			oauth.HeaderContentType: {ct}, oauth.HeaderCacheControl: {ct}}, Body: body}}
		for _, c := range checks {
			_ = c.Fn(x)
		}
		none := &oauth.Exchange{Class: "timeout", Err: "deadline exceeded"}
		for _, c := range checks {
			if err := c.Fn(none); err == nil {
				t.Fatalf("%s passed an exchange with no response", c.Desc)
			}
		}
	})
}
