package mockserver

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// benchWriter is a ResponseWriter that keeps nothing, so the handler
// benchmarks measure the handler rather than a recorder.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(s int)           { w.status = s }

func benchServer(b *testing.B, p rules.Profile) *harness {
	b.Helper()
	h := newHarness(b, p)
	h.srv.now = time.Now // real clock: the fake one's mutex is not what is measured
	return h
}

// tokenRequest is a reusable POST /oauth/token with a form body.
type tokenRequest struct {
	req  *http.Request
	body bytes.Reader
}

func newTokenRequest(authz string) *tokenRequest {
	u, _ := url.Parse("http://127.0.0.1" + PathToken)
	t := &tokenRequest{req: &http.Request{Method: http.MethodPost, URL: u, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}}
	t.req.Header.Set(oauth.HeaderContentType, oauth.MediaForm)
	if authz != "" {
		t.req.Header.Set(oauth.HeaderAuthorization, authz)
	}
	return t
}

func (t *tokenRequest) with(body []byte) *http.Request {
	t.body.Reset(body)
	t.req.Body = io.NopCloser(&t.body)
	t.req.ContentLength = int64(len(body))
	return t.req
}

// BenchmarkTokenHandler_Code measures one authorization_code redemption:
// Basic authentication, PKCE S256, single-use marking, token minting.
func BenchmarkTokenHandler_Code(b *testing.B) {
	h := benchServer(b, rules.RFC6749)
	codes := make([]string, b.N)
	exp := time.Now().Add(time.Hour)
	for i := range codes {
		codes[i] = randomToken()
		h.srv.store.codes.put(codes[i], &codeGrant{client: client1, redirectURI: callback, redirectGiven: true,
			scope: "read write", challenge: s256(verifier), method: oauth.PKCES256, expires: exp})
	}
	prefix := []byte("grant_type=authorization_code&redirect_uri=" + url.QueryEscape(callback) + "&code_verifier=" + verifier + "&code=")
	tr := newTokenRequest(basicHeader(client1, secret1))
	w := &benchWriter{h: http.Header{}}
	body := make([]byte, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		body = append(append(body[:0], prefix...), codes[i]...)
		clear(w.h)
		h.srv.ServeHTTP(w, tr.with(body))
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkTokenHandler_Refresh measures one refresh_token grant, without
// rotation (rfc6749), with rotation (oauth21), and in parallel with one
// token per goroutine (the sharded store under contention).
func BenchmarkTokenHandler_Refresh(b *testing.B) {
	b.Run("profile=rfc6749", func(b *testing.B) {
		h := benchServer(b, rules.RFC6749)
		rt := h.tokens(codeOpts{}).str(oauth.ParamRefreshToken)
		body := []byte(h.refreshForm(rt).Encode())
		tr := newTokenRequest(basicHeader(client1, secret1))
		w := &benchWriter{h: http.Header{}}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			clear(w.h)
			h.srv.ServeHTTP(w, tr.with(body))
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})
	b.Run("profile=oauth21-rotating", func(b *testing.B) {
		h := benchServer(b, rules.OAuth21)
		rt := h.tokens(codeOpts{}).str(oauth.ParamRefreshToken)
		tr := newTokenRequest(basicHeader(client1, secret1))
		prefix := []byte("grant_type=refresh_token&refresh_token=")
		body := make([]byte, 0, 128)
		w := &benchWriter{h: http.Header{}}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			// The rotated token is read from the store rather than from a
			// decoded response, which would be the client's cost.
			body = append(append(body[:0], prefix...), rt...)
			clear(w.h)
			h.srv.ServeHTTP(w, tr.with(body))
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			rg, _ := h.srv.store.refresh.get(rt)
			rg.fam.mu.Lock()
			rt = rg.fam.current
			rg.fam.mu.Unlock()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		h := benchServer(b, rules.RFC6749)
		var mu sync.Mutex
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			mu.Lock()
			hh := &harness{t: b, srv: h.srv, clock: h.clock, profile: h.profile}
			rt := hh.tokens(codeOpts{}).str(oauth.ParamRefreshToken)
			mu.Unlock()
			body := []byte(h.refreshForm(rt).Encode())
			tr := newTokenRequest(basicHeader(client1, secret1))
			w := &benchWriter{h: http.Header{}}
			for pb.Next() {
				clear(w.h)
				h.srv.ServeHTTP(w, tr.with(body))
				if w.status != http.StatusOK {
					b.Errorf("status %d", w.status)
					return
				}
			}
		})
	})
}

// loopbackWorkers is how many keep-alive clients drive each server.
const loopbackWorkers = 8

// loopbackRounds alternates the two servers this many times, so drift in
// the machine's load hits both alike.
const loopbackRounds = 4

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// BenchmarkLoopbackRefreshVsBare drives the mock's refresh grant and a bare
// net/http handler answering a token-shaped JSON body over real 127.0.0.1
// listeners, each with the same loopbackWorkers keep-alive clients and the
// same request count (b.N each, in loopbackRounds alternating rounds). It
// reports each side's req/s and their ratio: the share of a bare server's
// throughput the mock keeps. The clients share the machine with the
// servers, so the ratio is only meaningful on an otherwise idle machine.
func BenchmarkLoopbackRefreshVsBare(b *testing.B) {
	h := benchServer(b, rules.RFC6749)
	mockURL := serveLoopback(b, h.srv)
	bareURL := serveLoopback(b, bareTokenHandler())

	bodies := make([][]byte, loopbackWorkers)
	for i := range bodies {
		rt := h.tokens(codeOpts{}).str(oauth.ParamRefreshToken)
		bodies[i] = []byte(h.refreshForm(rt).Encode())
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: loopbackWorkers, MaxConnsPerHost: loopbackWorkers, DisableCompression: true,
	}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	authz := basicHeader(client1, secret1)

	drive := func(target string, n int) time.Duration {
		var next sync.WaitGroup
		jobs := make(chan struct{}, n)
		for range n {
			jobs <- struct{}{}
		}
		close(jobs)
		start := time.Now()
		for w := range loopbackWorkers {
			next.Add(1)
			go func() {
				defer next.Done()
				for range jobs {
					req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(bodies[w]))
					req.Header.Set(oauth.HeaderContentType, oauth.MediaForm)
					req.Header.Set(oauth.HeaderAuthorization, authz)
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Errorf("%s: status %d", target, res.StatusCode)
						return
					}
				}
			}()
		}
		next.Wait()
		return time.Since(start)
	}
	// Warm both: connections, pools, the JIT-free but cache-hungry rest.
	drive(mockURL, 2*loopbackWorkers)
	drive(bareURL, 2*loopbackWorkers)
	b.ResetTimer()
	var mock, bare time.Duration
	for i := range loopbackRounds {
		n := b.N/loopbackRounds + boolInt(i < b.N%loopbackRounds)
		mock += drive(mockURL, n)
		bare += drive(bareURL, n)
	}
	b.StopTimer()
	mockRate := float64(b.N) / mock.Seconds()
	bareRate := float64(b.N) / bare.Seconds()
	b.ReportMetric(mockRate, "mock_req/s")
	b.ReportMetric(bareRate, "bare_req/s")
	b.ReportMetric(mockRate/bareRate, "ratio")
}

// bareTokenHandler is the baseline: read the body, answer a fixed token
// response with the same headers the mock sends.
func bareTokenHandler() http.Handler {
	body := []byte(`{"access_token":"AAAAAAAAAAEAAAAAaVfsFSDMmrzH0fOa7B3y3dUvlyU","token_type":"Bearer","expires_in":3600,"scope":"read write"}`)
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set(oauth.HeaderContentType, "application/json;charset=UTF-8")
		h.Set(oauth.HeaderCacheControl, "no-store")
		h.Set(oauth.HeaderPragma, "no-cache")
		h.Set("Content-Length", length)
		_, _ = w.Write(body)
	})
}

func serveLoopback(b *testing.B, handler http.Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := NewHTTPServer("", handler, nil)
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String() + PathToken
}
