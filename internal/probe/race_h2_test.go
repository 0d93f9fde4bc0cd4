package probe

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tokenharness/internal/hostile"
)

// h2cCopy serves srv's handler again, on a server that speaks HTTP/2 over
// cleartext (prior knowledge) as well as HTTP/1.1.
func h2cCopy(t *testing.T, srv *httptest.Server) *httptest.Server {
	t.Helper()
	cp := httptest.NewUnstartedServer(srv.Config.Handler)
	cp.Config.ErrorLog = srv.Config.ErrorLog
	cp.Config.Protocols = new(http.Protocols)
	cp.Config.Protocols.SetHTTP1(true)
	cp.Config.Protocols.SetUnencryptedHTTP2(true)
	cp.Start()
	return cp
}

// Over HTTP/2 a raced exchange is bounded and classed as Do's are (Do
// speaking HTTP/1.1 to the same handler).
func TestRaceH2ClassesLikeDo(t *testing.T) {
	t.Parallel()
	for _, tt := range answerCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			orig := tt.srv()
			srv := h2cCopy(t, orig)
			defer srv.Close()
			// First: it ends the handlers that wait (hang, slow).
			defer orig.Close()
			c := mustNew(t, tt.opts...)
			want := c.Do(context.Background(), tokenRequest(srv.URL+"/oauth/token"))
			res := c.Race(context.Background(), raceRequests(srv.URL+"/oauth/token", 3))
			if res.Via != ViaH2 {
				t.Fatalf("Via = %q, want %q", res.Via, ViaH2)
			}
			if len(res.Exchanges) != 3 {
				t.Fatalf("%d exchanges, want 3", len(res.Exchanges))
			}
			for i, x := range res.Exchanges {
				if x.Class != want.Class {
					t.Errorf("racer %d: Class = %q (%s), Do's = %q (%s)", i, x.Class, x.Err, want.Class, want.Err)
				}
				if want.Class != "" && !strings.HasPrefix(x.Err, want.Class+":") {
					t.Errorf("racer %d: Err = %q, want it to start with the class", i, x.Err)
				}
				if (x.Response == nil) != (want.Response == nil) {
					t.Fatalf("racer %d: response %v, Do's %v", i, x.Response != nil, want.Response != nil)
				}
				if x.Response != nil && (x.Response.Status != want.Response.Status ||
					len(x.Response.Body) != len(want.Response.Body) || x.Response.Truncated != want.Response.Truncated ||
					x.Response.Header.Get("Content-Type") != want.Response.Header.Get("Content-Type")) {
					t.Errorf("racer %d: %d, %d bytes, truncated %v, %q; Do's %d, %d bytes, truncated %v, %q", i,
						x.Response.Status, len(x.Response.Body), x.Response.Truncated, x.Response.Header.Get("Content-Type"),
						want.Response.Status, len(want.Response.Body), want.Response.Truncated, want.Response.Header.Get("Content-Type"))
				}
				if x.Duration <= 0 {
					t.Errorf("racer %d: Duration = %v", i, x.Duration)
				}
			}
		})
	}
}

// Over https the racer asks for h2 by ALPN, and races over it when granted.
func TestRaceH2OverTLS(t *testing.T) {
	t.Parallel()
	var proto atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	reqs := raceRequests(srv.URL+"/oauth/token", 16)
	res := mustNew(t, WithInsecureSkipVerify()).Race(context.Background(), reqs)
	if res.Via != ViaH2 || res.Released != 16 || proto.Load() != "HTTP/2.0" {
		t.Fatalf("Via %q, released %d, server saw %v; want %q, 16, HTTP/2.0", res.Via, res.Released, proto.Load(), ViaH2)
	}
	for i, x := range res.Exchanges {
		if x.Class != "" || x.Response == nil || string(x.Response.Body) != reqs[i].Body {
			t.Errorf("racer %d: class %q (%s), response %+v; want its own body echoed", i, x.Class, x.Err, x.Response)
		}
	}
}

// Against a server that speaks HTTP/1.1 only, Race falls back to last-byte
// synchronisation, and asks only once per target.
func TestRaceFallsBackToHTTP1(t *testing.T) {
	t.Parallel()
	var pri, posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PRI" {
			pri.Add(1)
			http.Error(w, "no", http.StatusMethodNotAllowed)
			return
		}
		posts.Add(1)
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c := mustNew(t)
	for range 2 {
		reqs := raceRequests(srv.URL+"/oauth/token", 8)
		res := c.Race(context.Background(), reqs)
		if res.Via != ViaHTTP1 || res.Released != 8 {
			t.Fatalf("Via %q, released %d; want %q, 8", res.Via, res.Released, ViaHTTP1)
		}
		for i, x := range res.Exchanges {
			if x.Class != "" || x.Response == nil || string(x.Response.Body) != reqs[i].Body {
				t.Errorf("racer %d: class %q (%s), response %+v; want its own body echoed", i, x.Class, x.Err, x.Response)
			}
		}
	}
	if pri.Load() > 1 || posts.Load() != 16 {
		t.Errorf("%d HTTP/2 prefaces, %d requests; want at most 1 preface, 16 requests", pri.Load(), posts.Load())
	}
}

// The point of the HTTP/2 race: at the release every stream has its
// headers and all of its body but the last byte at the server, and one
// read then takes in every stream's end. The server here speaks raw
// frames.
func TestRaceH2SinglePacket(t *testing.T) {
	t.Parallel()
	const n = 16
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	var (
		mu       sync.Mutex
		problems []string
		served   = make(chan struct{})
	)
	report := func(problem string) {
		mu.Lock()
		problems = append(problems, problem)
		mu.Unlock()
	}
	var conn net.Conn
	c := mustNew(t, WithTimeout(10*time.Second))
	// The server side: preface and SETTINGS first, then the streams.
	bodies := map[uint32][]byte{}
	var fr *http2.Framer
	handshake := make(chan struct{})
	go func() {
		defer close(handshake)
		conn = <-accepted
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(conn, preface); err != nil || string(preface) != http2.ClientPreface {
			report("no client preface")
			return
		}
		fr = http2.NewFramer(conn, conn)
		_ = fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	}()
	c.beforeRelease = func() {
		<-handshake
		if fr == nil {
			return
		}
		fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		headers := 0
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		// Until every stream has its headers and its body less one byte.
		for headers < n || len(bodies) < n || func() bool {
			for _, b := range bodies {
				if len(b) < len("grant_type=authorization_code&code=abc&n=0")-1 {
					return true
				}
			}
			return false
		}() {
			f, err := fr.ReadFrame()
			if err != nil {
				report("reading the prefixes: " + err.Error())
				return
			}
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				headers++
				if f.StreamEnded() {
					report("a stream ended with its headers")
				}
				if f.PseudoValue("method") != http.MethodPost || f.PseudoValue("path") != "/oauth/token" {
					report("headers " + f.PseudoValue("method") + " " + f.PseudoValue("path"))
				}
				bodies[f.StreamID] = bodies[f.StreamID][:0:0]
			case *http2.DataFrame:
				if f.StreamEnded() {
					report("a stream ended before the release")
				}
				bodies[f.StreamID] = append(bodies[f.StreamID], f.Data()...)
			}
		}
		// Nothing more before the release.
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				break
			}
			if _, ok := f.(*http2.DataFrame); ok {
				report("DATA arrived before the release")
			}
		}
		go func() {
			defer close(served)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			// One read: every stream's end must be in it.
			buf := make([]byte, 64<<10)
			k, err := conn.Read(buf)
			if err != nil {
				report("reading the release: " + err.Error())
				return
			}
			rf := http2.NewFramer(nil, bytes.NewReader(buf[:k]))
			ended := 0
			for {
				f, err := rf.ReadFrame()
				if err != nil {
					break
				}
				if d, ok := f.(*http2.DataFrame); ok && d.StreamEnded() {
					ended++
					bodies[d.StreamID] = append(bodies[d.StreamID], d.Data()...)
				}
			}
			if ended != n {
				report("the release's first read ended some streams, not all")
			}
			var hb bytes.Buffer
			enc := hpack.NewEncoder(&hb)
			for id, b := range bodies {
				hb.Reset()
				_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
				_ = enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "text/plain"})
				_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true})
				_ = fr.WriteData(id, true, b)
			}
		}()
	}
	reqs := raceRequests("http://"+ln.Addr().String()+"/oauth/token", n)
	res := c.Race(context.Background(), reqs)
	<-served
	if conn != nil {
		conn.Close()
	}
	if len(problems) > 0 {
		t.Fatalf("%d problems, first: %s", len(problems), problems[0])
	}
	if res.Via != ViaH2 || res.Released != n || res.Spread != 0 {
		t.Errorf("Via %q, Released %d, Spread %v; want %q, %d, 0", res.Via, res.Released, res.Spread, ViaH2, n)
	}
	for i, x := range res.Exchanges {
		if x.Class != "" || x.Response == nil || string(x.Response.Body) != reqs[i].Body ||
			x.Response.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("racer %d: class %q (%s), response %+v; want its own body echoed", i, x.Class, x.Err, x.Response)
		}
	}
}

// Against a target that speaks HTTP/2, races alternate between the single
// packet and last-byte synchronisation, and both get every answer.
func TestRaceAlternatesAgainstH2(t *testing.T) {
	t.Parallel()
	orig := hostile.Token()
	srv := h2cCopy(t, orig)
	defer srv.Close()
	defer orig.Close()
	c := mustNew(t)
	for i, want := range []string{ViaH2, ViaHTTP1, ViaH2, ViaHTTP1} {
		res := c.Race(context.Background(), raceRequests(srv.URL+"/oauth/token", 4))
		if res.Via != want || res.Released != 4 {
			t.Errorf("race %d: Via %q, released %d; want %q, 4", i, res.Via, res.Released, want)
		}
		for j, x := range res.Exchanges {
			if x.Class != "" || x.Response == nil || x.Response.Status != http.StatusOK {
				t.Errorf("race %d, racer %d: class %q (%s), response %+v", i, j, x.Class, x.Err, x.Response)
			}
		}
	}
}
