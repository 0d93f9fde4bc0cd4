package hostile

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := c.Post(url, "application/x-www-form-urlencoded", strings.NewReader("grant_type=authorization_code"))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		wantType   string
		wantStatus int
		check      func([]byte) error
	}{
		{"token", "application/json", 200, isObject},
		{"html", "text/html; charset=utf-8", 200, func(b []byte) error {
			if !strings.HasPrefix(string(b), "<!DOCTYPE html>") {
				return errors.New("not an HTML page")
			}
			return nil
		}},
		{"empty", "application/json", 200, func(b []byte) error {
			if len(b) != 0 {
				return errors.New("body not empty")
			}
			return nil
		}},
		{"invalid utf8", "application/json", 200, func(b []byte) error {
			if utf8.Valid(b) {
				return errors.New("body is valid UTF-8")
			}
			return nil
		}},
		{"wrong types", "application/json", 200, func(b []byte) error {
			var v struct {
				AccessToken any `json:"access_token"`
				TokenType   any `json:"token_type"`
				ExpiresIn   any `json:"expires_in"`
			}
			if err := json.Unmarshal(b, &v); err != nil {
				return err
			}
			_, num := v.AccessToken.(float64)
			_, arr := v.TokenType.([]any)
			_, str := v.ExpiresIn.(string)
			if !num || !arr || !str {
				return errors.New("types are not number/array/string")
			}
			return nil
		}},
		{"invalid json", "application/json", 200, func(b []byte) error {
			if json.Valid(b) {
				return errors.New("body is valid JSON")
			}
			return nil
		}},
		{"huge", "application/json", 200, func(b []byte) error {
			if len(b) != 100_000 {
				return errors.New("body is not exactly 100000 bytes")
			}
			return isObject(b)
		}},
		{"slow", "application/json", 200, isObject},
	}
	servers := map[string]func() *httptest.Server{
		"token":        Token,
		"html":         HTML,
		"empty":        Empty,
		"invalid utf8": InvalidUTF8,
		"wrong types":  WrongTypes,
		"invalid json": InvalidJSON,
		"huge":         func() *httptest.Server { return Huge(100_000) },
		"slow":         func() *httptest.Server { return Slow(time.Millisecond) },
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := servers[tt.name]()
			defer srv.Close()
			resp, body, err := get(t, http.DefaultClient, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if err := tt.check(body); err != nil {
				t.Error(err)
			}
		})
	}
}

func isObject(b []byte) error {
	var m map[string]any
	return json.Unmarshal(b, &m)
}

func TestHugeSmallerThanResponse(t *testing.T) {
	t.Parallel()
	srv := Huge(1)
	defer srv.Close()
	_, body, err := get(t, http.DefaultClient, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := isObject(body); err != nil {
		t.Errorf("body %q is not a JSON object: %v", body, err)
	}
}

func TestCutMidBody(t *testing.T) {
	t.Parallel()
	srv := CutMidBody()
	defer srv.Close()
	resp, body, err := get(t, http.DefaultClient, srv.URL)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
	if resp.ContentLength != 1000 || len(body) != 10 {
		t.Errorf("Content-Length %d with %d bytes read, want 1000 with 10", resp.ContentLength, len(body))
	}
}

func TestRedirectLoop(t *testing.T) {
	t.Parallel()
	srv := RedirectLoop()
	defer srv.Close()
	resp, _, err := get(t, noRedirects(), srv.URL+"/oauth/token?x=1")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/oauth/token?x=1" {
		t.Errorf("got %d Location %q, want 302 to itself", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestHangUnblocksOnClose fails by hanging (until the test binary's
// deadline) if Close waits for a handler that is waiting.
func TestHangUnblocksOnClose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler func(done <-chan struct{}) http.Handler
	}{
		{"hang", hang},
		{"slow", func(done <-chan struct{}) http.Handler { return slow(time.Hour, done) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			entered := make(chan struct{})
			srv := startWithDone(func(done <-chan struct{}) http.Handler {
				h := tc.handler(done)
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					close(entered)
					h.ServeHTTP(w, r)
				})
			})
			errc := make(chan error, 1)
			go func() {
				resp, err := (&http.Client{Transport: &http.Transport{}}).Post(srv.URL, "text/plain", strings.NewReader("x"))
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			<-entered
			srv.Close()
			// The handler returned without writing, so the client sees an
			// empty 200 or a closed connection; either way Close returned.
			<-errc
		})
	}
}

func TestHangTimesOutClient(t *testing.T) {
	t.Parallel()
	srv := Hang()
	defer srv.Close()
	_, _, err := get(t, &http.Client{Timeout: 50 * time.Millisecond}, srv.URL)
	if err == nil {
		t.Fatal("Hang answered")
	}
}

func TestSelfSignedTLS(t *testing.T) {
	t.Parallel()
	srv := SelfSignedTLS()
	defer srv.Close()
	if _, _, err := get(t, &http.Client{Transport: &http.Transport{}}, srv.URL); err == nil {
		t.Fatal("self-signed certificate was trusted by default")
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := WriteCA(srv, path); err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("WriteCA wrote no certificate")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	_, body, err := get(t, c, srv.URL)
	if err != nil {
		t.Fatalf("with the written CA: %v", err)
	}
	if err := isObject(body); err != nil {
		t.Error(err)
	}
}

func TestWriteCAPlainServer(t *testing.T) {
	t.Parallel()
	srv := Token()
	defer srv.Close()
	if err := WriteCA(srv, filepath.Join(t.TempDir(), "ca.pem")); err == nil {
		t.Error("WriteCA of a plain HTTP server succeeded")
	}
}
