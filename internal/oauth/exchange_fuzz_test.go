package oauth

import (
	"net/http"
	"testing"
)

// FuzzResponseObject feeds arbitrary bodies and content types to the
// response accessors the checks rely on: they must return errors, never panic.
func FuzzResponseObject(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/json;charset=UTF-8", `{"access_token":"a","token_type":"Bearer","expires_in":3600}`},
		{"application/json", `{"error":"invalid_grant","error_description":"x"}`},
		{"text/html", `<html><body>login</body></html>`},
		{"", ``},
		{"application/json", `{"expires_in":"3600"}{"x":1}`},
		{"application/json", "{\"a\":\"\xff\xfe\"}"},
		{"application/json; charset", `[1,2,3]`},
		{";;;", `null`},
		{"application/json", `{"a":1e999999}`},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r := &Response{Status: 200, Header: http.Header{HeaderContentType: {ct}}, Body: body}
		_ = r.MediaType()
		obj, err := r.Object()
		if err == nil && obj == nil {
			t.Fatal("Object returned neither an object nor an error")
		}
		_ = r.ErrorCode()
		_, _ = r.String(ParamAccessToken)
		if _, err := r.MarshalJSON(); err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
	})
}
