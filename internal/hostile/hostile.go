// Package hostile provides token endpoints that misbehave on purpose, as
// httptest servers: they hang, cut the connection mid-body, answer HTML, an
// empty body, gigabytes of JSON, invalid UTF-8, the wrong JSON types, a
// redirect loop, a slow answer or a self-signed certificate. The probe's
// tests and the end-to-end tests use them to prove that the harness bounds
// every exchange and names what went wrong instead of hanging or crashing.
//
// Every constructor returns a started server; the caller must Close it.
// Close never blocks on a misbehaving handler: handlers that wait also
// watch a channel that closing the server's listener closes.
package hostile

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"
)

// TokenResponse is a valid RFC 6749 §5.1 access token response body.
const TokenResponse = `{"access_token":"hostile-access-token-0001","token_type":"Bearer","expires_in":3600,"refresh_token":"hostile-refresh-token-0001","scope":"read"}`

// ValidTokenBody returns a fresh copy of TokenResponse as bytes.
func ValidTokenBody() []byte { return []byte(TokenResponse) }

// WriteToken answers w with TokenResponse and the headers RFC 6749 §5.1
// requires (JSON, Cache-Control: no-store, Pragma: no-cache).
func WriteToken(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, TokenResponse)
}

// Token is a well-behaved token endpoint answering TokenResponse to
// anything: the control case next to the hostile ones.
func Token() *httptest.Server {
	return newServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { WriteToken(w) }))
}

// Hang accepts requests and never answers; it unblocks when the request is
// cancelled or the server is closed.
func Hang() *httptest.Server {
	return startWithDone(hang)
}

func hang(done <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	})
}

// CutMidBody promises Content-Length 1000, sends 10 bytes and closes the
// connection.
func CutMidBody() *httptest.Server {
	return newServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, "hijack unsupported", http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		// Written raw so the server cannot fix up the length for us.
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + TokenResponse[:10])
		_ = buf.Flush()
	}))
}

// LoginPage is the body HTML serves.
const LoginPage = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form method=\"post\" action=\"/login\"><input name=\"user\"><input name=\"password\" type=\"password\"></form></body></html>\n"

// HTML answers 200 with a text/html login page, as an SSO front door does
// when it intercepts the token endpoint.
func HTML() *httptest.Server {
	return newServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, LoginPage)
	}))
}

// Empty answers 200 application/json with an empty body.
func Empty() *httptest.Server {
	return newServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	}))
}

// hugeChunk is how much Huge writes at a time.
const hugeChunk = 32 << 10

// Huge answers 200 application/json with exactly n bytes of one valid JSON
// object (a token response padded by a long string member), streamed; n
// smaller than the unpadded response yields the unpadded response. It stops
// writing as soon as the client goes away.
func Huge(n int64) *httptest.Server {
	head := TokenResponse[:len(TokenResponse)-1] + `,"padding":"`
	const tail = `"}`
	pad := n - int64(len(head)+len(tail))
	if pad < 0 {
		pad = 0
	}
	return newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(int64(len(head)+len(tail))+pad))
		if _, err := io.WriteString(w, head); err != nil {
			return
		}
		chunk := []byte(strings.Repeat("x", hugeChunk))
		for left := pad; left > 0; left -= int64(len(chunk)) {
			if r.Context().Err() != nil {
				return
			}
			if left < int64(len(chunk)) {
				chunk = chunk[:left]
			}
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, tail)
	}))
}

// InvalidUTF8 answers 200 application/json whose access_token holds bytes
// that are not UTF-8.
func InvalidUTF8() *httptest.Server {
	return jsonServer(http.StatusOK, "{\"access_token\":\"\xff\xfe\xfd\",\"token_type\":\"Bearer\",\"expires_in\":3600}")
}

// WrongTypes answers 200 JSON with access_token a number, expires_in a
// string and token_type an array.
func WrongTypes() *httptest.Server {
	return jsonServer(http.StatusOK, `{"access_token":12345,"token_type":["Bearer"],"expires_in":"3600"}`)
}

// InvalidJSON answers 200 application/json with a truncated JSON object.
func InvalidJSON() *httptest.Server {
	return jsonServer(http.StatusOK, `{"access_token":"abc","token_type":"Bearer",`)
}

// RedirectLoop answers every request with 302 to its own URL.
func RedirectLoop() *httptest.Server {
	return newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", r.URL.RequestURI())
		w.WriteHeader(http.StatusFound)
	}))
}

// Slow answers TokenResponse after d, or gives up when the request is
// cancelled or the server closed.
func Slow(d time.Duration) *httptest.Server {
	return startWithDone(func(done <-chan struct{}) http.Handler { return slow(d, done) })
}

func slow(d time.Duration, done <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			WriteToken(w)
		case <-r.Context().Done():
		case <-done:
		}
	})
}

// SelfSignedTLS is an HTTPS token endpoint answering TokenResponse with a
// certificate no system trusts; WriteCA exports it for a CA file option.
func SelfSignedTLS() *httptest.Server {
	srv := unstarted(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { WriteToken(w) }))
	srv.StartTLS()
	return srv
}

// WriteCA writes the certificate of TLS server srv as PEM to path (mode
// 0600), for use as a trusted root.
func WriteCA(srv *httptest.Server, path string) error {
	cert := srv.Certificate()
	if cert == nil {
		return errors.New("hostile: WriteCA: server has no TLS certificate: start it with SelfSignedTLS")
	}
	return os.WriteFile(path, CertPEM(cert), 0o600)
}

// CertPEM encodes cert as a PEM block.
func CertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

func jsonServer(status int, body string) *httptest.Server {
	return newServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
}

func newServer(h http.Handler) *httptest.Server {
	srv := unstarted(h)
	srv.Start()
	return srv
}

// unstarted builds a server that does not log: clients hanging up on
// hostile servers, or rejecting their certificate, is the expected case.
func unstarted(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return srv
}

// startWithDone starts a server whose handler can wait on done, which is
// closed when the server's listener is. httptest.Server.Close closes the
// listener first and then waits for active requests, so a waiting handler
// returns and Close cannot hang.
func startWithDone(h func(done <-chan struct{}) http.Handler) *httptest.Server {
	done := make(chan struct{})
	srv := unstarted(h(done))
	srv.Listener = &notifyListener{Listener: srv.Listener, done: done}
	srv.Start()
	return srv
}

// notifyListener closes done when it is closed.
type notifyListener struct {
	net.Listener
	once sync.Once
	done chan struct{}
}

func (l *notifyListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}
