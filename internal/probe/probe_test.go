package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tokenharness/internal/hostile"
	"tokenharness/internal/oauth"
)

func mustNew(t testing.TB, opts ...Option) *Client {
	t.Helper()
	c, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tokenRequest(url string) oauth.Request {
	return oauth.Request{
		Method: http.MethodPost, URL: url,
		Header: http.Header{"Content-Type": {oauth.MediaForm}},
		Body:   "grant_type=authorization_code&code=abc",
	}
}

// refusedURL returns a URL on 127.0.0.1 where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/oauth/token"
}

func TestDoHostile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		srv       func() *httptest.Server
		opts      []Option
		wantClass string
		// wantStatus 0 means no response at all.
		wantStatus   int
		wantResponse string // ClassifyResponse of what arrived
		wantBodyLen  int    // -1: don't care
		wantTrunc    bool
	}{
		{"valid token response", hostile.Token, nil, "", 200, "", len(hostile.TokenResponse), false},
		{"hang", hostile.Hang, []Option{WithTimeout(100 * time.Millisecond)}, ClassTimeout, 0, "", -1, false},
		{"slow beyond the timeout", func() *httptest.Server { return hostile.Slow(time.Hour) },
			[]Option{WithTimeout(100 * time.Millisecond)}, ClassTimeout, 0, "", -1, false},
		{"slow within the timeout", func() *httptest.Server { return hostile.Slow(10 * time.Millisecond) },
			nil, "", 200, "", len(hostile.TokenResponse), false},
		{"connection cut mid-body", hostile.CutMidBody, nil, ClassConnCut, 200, ClassNotJSON, 10, false},
		{"html login page", hostile.HTML, nil, "", 200, ClassHTML, len(hostile.LoginPage), false},
		{"empty body", hostile.Empty, nil, "", 200, ClassEmpty, 0, false},
		{"invalid utf-8", hostile.InvalidUTF8, nil, "", 200, ClassInvalidUTF8, -1, false},
		{"invalid json", hostile.InvalidJSON, nil, "", 200, ClassNotJSON, -1, false},
		{"wrong json types are still an object", hostile.WrongTypes, nil, "", 200, "", -1, false},
		{"huge body over the default cap", func() *httptest.Server { return hostile.Huge(3 << 20) },
			nil, ClassBodyTooLarge, 200, ClassBodyTooLarge, DefaultMaxBody, true},
		{"body over a small cap", func() *httptest.Server { return hostile.Huge(1000) },
			[]Option{WithMaxBody(999)}, ClassBodyTooLarge, 200, ClassBodyTooLarge, 999, true},
		{"body exactly at the cap", func() *httptest.Server { return hostile.Huge(1000) },
			[]Option{WithMaxBody(1000)}, "", 200, "", 1000, false},
		{"redirect loop", hostile.RedirectLoop, nil, ClassRedirect, 302, ClassEmpty, 0, false},
		{"self-signed certificate", hostile.SelfSignedTLS, nil, ClassTLS, 0, "", -1, false},
		{"self-signed certificate, insecure", hostile.SelfSignedTLS, []Option{WithInsecureSkipVerify()}, "", 200, "", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tt.srv()
			defer srv.Close()
			c := mustNew(t, tt.opts...)
			x := c.Do(context.Background(), tokenRequest(srv.URL+"/oauth/token"))
			if x == nil {
				t.Fatal("Do returned nil")
			}
			if x.Class != tt.wantClass {
				t.Errorf("Class = %q (Err %q), want %q", x.Class, x.Err, tt.wantClass)
			}
			if (x.Err == "") != (tt.wantClass == "") {
				t.Errorf("Err = %q with Class %q", x.Err, x.Class)
			}
			if tt.wantClass != "" && !strings.HasPrefix(x.Err, tt.wantClass+":") {
				t.Errorf("Err = %q, want it to start with the class", x.Err)
			}
			if x.Duration <= 0 {
				t.Errorf("Duration = %v, want > 0", x.Duration)
			}
			if tt.wantStatus == 0 {
				if x.Response != nil {
					t.Fatalf("Response = %d, want none", x.Response.Status)
				}
				return
			}
			if x.Response == nil {
				t.Fatalf("no Response (class %q: %s), want status %d", x.Class, x.Err, tt.wantStatus)
			}
			if x.Response.Status != tt.wantStatus {
				t.Errorf("Status = %d, want %d", x.Response.Status, tt.wantStatus)
			}
			if got := ClassifyResponse(x.Response); got != tt.wantResponse {
				t.Errorf("ClassifyResponse = %q, want %q", got, tt.wantResponse)
			}
			if tt.wantBodyLen >= 0 && len(x.Response.Body) != tt.wantBodyLen {
				t.Errorf("len(Body) = %d, want %d", len(x.Response.Body), tt.wantBodyLen)
			}
			if x.Response.Truncated != tt.wantTrunc {
				t.Errorf("Truncated = %v, want %v", x.Response.Truncated, tt.wantTrunc)
			}
		})
	}
}

func TestDoRefused(t *testing.T) {
	t.Parallel()
	x := mustNew(t).Do(context.Background(), tokenRequest(refusedURL(t)))
	if x.Class != ClassRefused || x.Response != nil {
		t.Errorf("Class = %q (Err %q), Response %v; want refused and no response", x.Class, x.Err, x.Response)
	}
}

func TestDoBadURL(t *testing.T) {
	t.Parallel()
	x := mustNew(t).Do(context.Background(), oauth.Request{URL: "http://[::1", Body: "x=1"})
	if x.Class != ClassRequest {
		t.Errorf("Class = %q (Err %q), want %q", x.Class, x.Err, ClassRequest)
	}
	if x.Request.Method != http.MethodPost {
		t.Errorf("Request.Method = %q, want the POST default recorded", x.Request.Method)
	}
}

func TestDoCanceledByCaller(t *testing.T) {
	t.Parallel()
	srv := hostile.Hang()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x := mustNew(t).Do(ctx, tokenRequest(srv.URL))
	if x.Class != ClassCanceled {
		t.Errorf("Class = %q (Err %q), want %q", x.Class, x.Err, ClassCanceled)
	}
}

func TestDoRecordsRequestAsSent(t *testing.T) {
	t.Parallel()
	var got struct {
		method, ua, ct, quirk, body, acceptEncoding string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.ua, got.ct = r.Method, r.UserAgent(), r.Header.Get("Content-Type")
		got.quirk, got.body, got.acceptEncoding = r.Header.Get(oauth.HeaderQuirk), string(b), r.Header.Get("Accept-Encoding")
		hostile.WriteToken(w)
	}))
	defer srv.Close()
	req := tokenRequest(srv.URL)
	req.Header.Set(oauth.HeaderQuirk, "RFC6749-5.1-NO-STORE")
	x := mustNew(t).Do(context.Background(), req)
	if x.Class != "" {
		t.Fatalf("Class = %q: %s", x.Class, x.Err)
	}
	if got.method != "POST" || got.body != req.Body || got.ct != oauth.MediaForm || got.quirk != "RFC6749-5.1-NO-STORE" {
		t.Errorf("server saw %+v, want the request as given", got)
	}
	if got.ua != UserAgent || x.Request.Header.Get("User-Agent") != UserAgent {
		t.Errorf("User-Agent sent %q, recorded %q; want %q both", got.ua, x.Request.Header.Get("User-Agent"), UserAgent)
	}
	if got.acceptEncoding != "" {
		t.Errorf("Accept-Encoding %q sent though the request set none", got.acceptEncoding)
	}
	if req.Header.Get("User-Agent") != "" {
		t.Error("Do modified the caller's header")
	}
	if x.Response.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("response headers not recorded: %v", x.Response.Header)
	}
}

func TestDoDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/elsewhere?code=secret-code-123", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	x := mustNew(t).Do(context.Background(), tokenRequest(srv.URL))
	if n := hits.Load(); n != 1 {
		t.Errorf("server hit %d times, want 1", n)
	}
	if x.Class != ClassRedirect || x.Response == nil || x.Response.Status != http.StatusTemporaryRedirect {
		t.Errorf("got class %q, response %+v; want redirect with the 307 recorded", x.Class, x.Response)
	}
	if strings.Contains(x.Err, "secret-code-123") {
		t.Errorf("Err leaks the code: %q", x.Err)
	}
}

func TestWithCAFile(t *testing.T) {
	t.Parallel()
	srv := hostile.SelfSignedTLS()
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := hostile.WriteCA(srv, ca); err != nil {
		t.Fatal(err)
	}
	x := mustNew(t, WithCAFile(ca)).Do(context.Background(), tokenRequest(srv.URL))
	if x.Class != "" || x.Response == nil || x.Response.Status != 200 {
		t.Errorf("with the CA file: class %q (%s), want a 200", x.Class, x.Err)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"zero timeout", []Option{WithTimeout(0)}, "probe: timeout 0s is not positive"},
		{"zero max body", []Option{WithMaxBody(0)}, "probe: max body 0 is not positive"},
		{"missing CA file", []Option{WithCAFile(filepath.Join(dir, "missing.pem"))}, "probe: CA file: open"},
		{"CA file without PEM", []Option{WithCAFile(notPEM)}, "holds no PEM certificate"},
		{"nil http client", []Option{WithHTTPClient(nil)}, "client is nil"},
		{"http client with CA file", []Option{WithHTTPClient(&http.Client{}), WithCAFile(notPEM)}, "do not combine them with WithHTTPClient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v, %v; want error containing %q", c, err, tt.want)
			}
		})
	}
}

func TestWithHTTPClientNeverFollowsRedirects(t *testing.T) {
	t.Parallel()
	srv := hostile.RedirectLoop()
	defer srv.Close()
	given := &http.Client{}
	c := mustNew(t, WithHTTPClient(given), WithTimeout(5*time.Second))
	if given.CheckRedirect != nil {
		t.Error("New modified the caller's http.Client")
	}
	x := c.Do(context.Background(), tokenRequest(srv.URL))
	if x.Class != ClassRedirect {
		t.Errorf("Class = %q (%s), want redirect", x.Class, x.Err)
	}
}

func TestConcurrentDo(t *testing.T) {
	t.Parallel()
	srv := hostile.Token()
	defer srv.Close()
	c := mustNew(t)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if x := c.Do(context.Background(), tokenRequest(srv.URL)); x.Class != "" || ClassifyResponse(x.Response) != "" {
				errs <- x.Err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		ctxErr error
		want   *Failure
	}{
		{"our deadline", errors.New("whatever"), context.DeadlineExceeded, ErrTimeout},
		{"caller cancel", errors.New("whatever"), context.Canceled, ErrCanceled},
		{"dns", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, nil, ErrDNS},
		{"refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, nil, ErrRefused},
		{"reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, nil, ErrConnCut},
		{"unexpected EOF", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), nil, ErrConnCut},
		{"no ephemeral port", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, nil, ErrLocal},
		{"no file descriptor", &net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}, nil, ErrLocal},
		{"other", errors.New("something odd"), nil, ErrTransport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := classify(tt.err, tt.ctxErr); got != tt.want {
				t.Errorf("classify = %v, want %v", got.class, tt.want.class)
			}
		})
	}
}

func TestClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("plain"), ""},
		{ErrTLS, "tls"},
		{fmt.Errorf("probe: x: %w", ErrRedirect), "redirect"},
		{&exchangeError{class: ErrBodyTooLarge, cause: errors.New("big")}, "body_too_large"},
	}
	for _, tt := range tests {
		if got := Class(tt.err); got != tt.want {
			t.Errorf("Class(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if !strings.Contains(ErrTLS.Error(), "CA_FILE") || !strings.Contains(ErrTLS.Error(), "INSECURE") {
		t.Errorf("ErrTLS = %q, want it to name the CA file option and the insecure switch", ErrTLS)
	}
}

func TestClassifyResponse(t *testing.T) {
	t.Parallel()
	json := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name string
		r    *oauth.Response
		want string
	}{
		{"nil", nil, ""},
		{"object", &oauth.Response{Header: json, Body: []byte(`{"access_token":"a"}`)}, ""},
		{"object without content type", &oauth.Response{Body: []byte(` {"error":"invalid_grant"} `)}, ""},
		{"truncated", &oauth.Response{Header: json, Body: []byte(`{"a":`), Truncated: true}, ClassBodyTooLarge},
		{"empty", &oauth.Response{Header: json}, ClassEmpty},
		{"whitespace", &oauth.Response{Header: json, Body: []byte(" \n\t")}, ClassEmpty},
		{"invalid utf-8", &oauth.Response{Header: json, Body: []byte("{\"a\":\"\xff\"}")}, ClassInvalidUTF8},
		{"html by type", &oauth.Response{Header: http.Header{"Content-Type": {"text/html"}}, Body: []byte("hi")}, ClassHTML},
		{"html by body", &oauth.Response{Header: json, Body: []byte("\n<!doctype HTML><html></html>")}, ClassHTML},
		{"array", &oauth.Response{Header: json, Body: []byte(`[1,2]`)}, ClassNotJSON},
		{"string", &oauth.Response{Header: json, Body: []byte(`"token"`)}, ClassNotJSON},
		{"two objects", &oauth.Response{Header: json, Body: []byte(`{}{}`)}, ClassNotJSON},
		{"plain text", &oauth.Response{Body: []byte("access_token=abc")}, ClassNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ClassifyResponse(tt.r); got != tt.want {
				t.Errorf("ClassifyResponse = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	redirect := hostile.RedirectLoop()
	t.Cleanup(redirect.Close)
	tlsSrv := hostile.SelfSignedTLS()
	t.Cleanup(tlsSrv.Close)
	hang := hostile.Hang()
	t.Cleanup(hang.Close)
	refused := refusedURL(t)

	tests := []struct {
		name      string
		url       string
		opts      []Option
		wantClass error  // nil: reachable
		wantMsg   string // whole message, or a prefix ending in "…"
	}{
		{"404 counts as reachable", notFound.URL + "/oauth/token", nil, nil, ""},
		{"redirect counts as reachable", redirect.URL, nil, nil, ""},
		{"refused", refused, nil, ErrRefused,
			"target " + refused + " unreachable: connection refused: is the server running? check TARGET"},
		{"untrusted certificate", tlsSrv.URL, nil, ErrTLS, "target " + tlsSrv.URL + " unreachable: TLS: …"},
		{"timeout", hang.URL, []Option{WithTimeout(100 * time.Millisecond)}, ErrTimeout,
			"target " + hang.URL + " unreachable: no answer within 100ms: check TARGET and the network, or raise TIMEOUT"},
		{"not a URL", "localhost:8080/oauth/token", nil, ErrRequest,
			`target "localhost:8080/oauth/token" unreachable: not an absolute http(s) URL: use e.g. TARGET=https://auth.example.com/oauth/token`},
		{"empty", "", nil, ErrRequest, `target "" unreachable: …`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := mustNew(t, tt.opts...).Preflight(context.Background(), tt.url)
			if tt.wantClass == nil {
				if err != nil {
					t.Fatalf("Preflight = %v, want reachable", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Preflight = nil, want unreachable")
			}
			if !errors.Is(err, ErrUnreachable) || !errors.Is(err, tt.wantClass) {
				t.Errorf("Preflight = %v, want it to wrap ErrUnreachable and %v", err, tt.wantClass)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message has more than one line: %q", msg)
			}
			if prefix, ok := strings.CutSuffix(tt.wantMsg, "…"); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Errorf("message = %q, want prefix %q", msg, prefix)
				}
			} else if msg != tt.wantMsg {
				t.Errorf("message = %q\nwant      %q", msg, tt.wantMsg)
			}
		})
	}
}

func TestPreflightTLSHint(t *testing.T) {
	t.Parallel()
	srv := hostile.SelfSignedTLS()
	defer srv.Close()
	err := mustNew(t).Preflight(context.Background(), srv.URL)
	for _, want := range []string{"CA_FILE", "INSECURE", "certificate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Preflight = %v, want it to mention %s", err, want)
		}
	}
}

func BenchmarkDo(b *testing.B) {
	srv := hostile.Token()
	defer srv.Close()
	c := mustNew(b)
	req := tokenRequest(srv.URL + "/oauth/token")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if x := c.Do(ctx, req); x.Class != "" {
			b.Fatal(x.Err)
		}
	}
}

func BenchmarkDoParallel(b *testing.B) {
	srv := hostile.Token()
	defer srv.Close()
	c := mustNew(b)
	req := tokenRequest(srv.URL + "/oauth/token")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if x := c.Do(context.Background(), req); x.Class != "" {
				b.Error(x.Err)
				return
			}
		}
	})
}
