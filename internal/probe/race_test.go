package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tokenharness/internal/hostile"
	"tokenharness/internal/oauth"
)

func raceRequests(url string, n int) []oauth.Request {
	rs := make([]oauth.Request, n)
	for i := range rs {
		rs[i] = tokenRequest(url)
		rs[i].Body = fmt.Sprintf("grant_type=authorization_code&code=abc&n=%d", i)
	}
	return rs
}

// hostileCase is a misbehaving server and the client options to meet it.
type hostileCase struct {
	name string
	srv  func() *httptest.Server
	opts []Option
}

// answerCases are the servers that answer over plain HTTP in a way both
// releases (last bytes and the HTTP/2 single packet) must class as Do does.
func answerCases() []hostileCase {
	short := WithTimeout(300 * time.Millisecond)
	return []hostileCase{
		{"valid token response", hostile.Token, nil},
		{"hang", hostile.Hang, []Option{short}},
		{"slow beyond the timeout", func() *httptest.Server { return hostile.Slow(time.Hour) }, []Option{short}},
		{"html login page", hostile.HTML, nil},
		{"empty body", hostile.Empty, nil},
		{"huge body over the default cap", func() *httptest.Server { return hostile.Huge(3 << 20) }, nil},
		{"body over a small cap", func() *httptest.Server { return hostile.Huge(1000) }, []Option{WithMaxBody(999)}},
		{"body exactly at the cap", func() *httptest.Server { return hostile.Huge(1000) }, []Option{WithMaxBody(1000)}},
		{"redirect loop", hostile.RedirectLoop, nil},
	}
}

// A raced exchange is bounded and classed exactly as Do's: same class,
// status, body and truncation against every misbehaving server.
func TestRaceClassesLikeDo(t *testing.T) {
	t.Parallel()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	tlsSrv := hostile.SelfSignedTLS()
	defer tlsSrv.Close()
	if err := hostile.WriteCA(tlsSrv, ca); err != nil {
		t.Fatal(err)
	}
	tests := append(answerCases(),
		hostileCase{"connection cut mid-body", hostile.CutMidBody, nil},
		hostileCase{"self-signed certificate", hostile.SelfSignedTLS, nil},
		hostileCase{"self-signed certificate, insecure", hostile.SelfSignedTLS, []Option{WithInsecureSkipVerify()}},
		hostileCase{"private CA", func() *httptest.Server { return tlsSrv }, []Option{WithCAFile(ca)}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tt.srv()
			if srv != tlsSrv {
				defer srv.Close()
			}
			c := mustNew(t, tt.opts...)
			want := c.Do(context.Background(), tokenRequest(srv.URL+"/oauth/token"))
			res := c.Race(context.Background(), raceRequests(srv.URL+"/oauth/token", 3))
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
					len(x.Response.Body) != len(want.Response.Body) || x.Response.Truncated != want.Response.Truncated) {
					t.Errorf("racer %d: %d, %d bytes, truncated %v; Do's %d, %d bytes, truncated %v", i,
						x.Response.Status, len(x.Response.Body), x.Response.Truncated,
						want.Response.Status, len(want.Response.Body), want.Response.Truncated)
				}
				if x.Duration <= 0 {
					t.Errorf("racer %d: Duration = %v", i, x.Duration)
				}
			}
		})
	}
}

func TestRaceRefusedAndBadURL(t *testing.T) {
	t.Parallel()
	res := mustNew(t).Race(context.Background(), []oauth.Request{
		tokenRequest(refusedURL(t)), tokenRequest("ftp://127.0.0.1/x"), tokenRequest("http://127.0.0.1:bad/x"),
	})
	for i, want := range []string{ClassRefused, ClassRequest, ClassRequest} {
		if got := res.Exchanges[i].Class; got != want {
			t.Errorf("request %d: Class = %q (%s), want %q", i, got, res.Exchanges[i].Err, want)
		}
	}
	if res.Released != 0 || res.Spread != 0 {
		t.Errorf("Released %d, Spread %v; want nothing released", res.Released, res.Spread)
	}
}

func TestRaceCanceledByCaller(t *testing.T) {
	t.Parallel()
	srv := hostile.Hang()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := mustNew(t)
	c.beforeRelease = cancel
	res := c.Race(ctx, raceRequests(srv.URL, 4))
	for i, x := range res.Exchanges {
		if x.Class != ClassCanceled {
			t.Errorf("racer %d: Class = %q (%s), want %q", i, x.Class, x.Err, ClassCanceled)
		}
	}
}

// The point of Race: when the last bytes are released, every request is
// already at the server but its last byte. The server here reads each
// connection raw; at the release hook every connection must hold exactly
// its request minus one byte, and afterwards the whole request, which it
// answers.
func TestRaceLastByteSynchronised(t *testing.T) {
	t.Parallel()
	const n = 16
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make(chan net.Conn, n)
	go func() {
		for range n {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	var (
		mu       sync.Mutex
		answered sync.WaitGroup
		problems []string
		accepted []net.Conn
		readers  []*bufio.Reader
	)
	report := func(format string, a ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	// The server speaks HTTP/1.1 only, raw: no HTTP/2 probe to answer.
	c := mustNew(t, WithTimeout(10*time.Second), WithRaceHTTP1())
	reqs := raceRequests("http://"+ln.Addr().String()+"/oauth/token", n)
	c.beforeRelease = func() {
		for range n {
			conn := <-conns
			br := bufio.NewReader(conn)
			accepted, readers = append(accepted, conn), append(readers, br)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			// Headers complete; the body one byte short.
			req, err := http.ReadRequest(br)
			if err != nil {
				report("reading a prefix: %v", err)
				continue
			}
			body := make([]byte, req.ContentLength-1)
			if _, err := io.ReadFull(br, body); err != nil {
				report("reading the body but its last byte: %v", err)
				continue
			}
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if b, err := br.ReadByte(); err == nil {
				report("the last byte %q arrived before the release", b)
			} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				report("waiting for the last byte: %v", err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			// After the release: the last byte comes; echo the body back.
			answered.Go(func() {
				last, err := br.ReadByte()
				if err != nil {
					report("no last byte after the release: %v", err)
					return
				}
				echo := string(append(body, last))
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(echo), echo)
			})
		}
	}
	res := c.Race(context.Background(), reqs)
	answered.Wait()
	for _, conn := range accepted {
		conn.Close()
	}
	if len(problems) > 0 {
		t.Fatalf("%d problems, first: %s", len(problems), problems[0])
	}
	if res.Released != n || res.Spread <= 0 {
		t.Errorf("Released = %d, Spread = %v; want %d released over a measured spread", res.Released, res.Spread, n)
	}
	for i, x := range res.Exchanges {
		if x.Class != "" || x.Response == nil || string(x.Response.Body) != reqs[i].Body {
			t.Errorf("racer %d: class %q (%s), response %+v; want its own body echoed", i, x.Class, x.Err, x.Response)
		}
	}
}

// releaseLoop and releasePerCPU are the alternatives to release that
// BenchmarkRaceRelease measures: one loop writing every last byte in turn,
// and one writer per CPU taking every GOMAXPROCS-th racer.
func releaseLoop(racers []*racer) int {
	for _, r := range racers {
		_, r.err = r.conn.Write(r.wire[len(r.wire)-1:])
		r.released = time.Now()
	}
	return len(racers)
}

func releasePerCPU(racers []*racer) int {
	w := runtime.GOMAXPROCS(0)
	gate := make(chan struct{})
	var ready, done sync.WaitGroup
	for k := range w {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-gate
			for i := k; i < len(racers); i += w {
				_, racers[i].err = racers[i].conn.Write(racers[i].wire[len(racers[i].wire)-1:])
				racers[i].released = time.Now()
			}
		})
	}
	ready.Wait()
	close(gate)
	done.Wait()
	return len(racers)
}

// BenchmarkRaceRelease compares the spread (first to last last-byte write)
// of three ways to release 16 racers; release uses the one with the
// smallest.
func BenchmarkRaceRelease(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	c := mustNew(b)
	for _, way := range []struct {
		name    string
		release func([]*racer) int
	}{{"goroutines", release}, {"loop", releaseLoop}, {"per-cpu", releasePerCPU}} {
		b.Run(way.name, func(b *testing.B) {
			var spreads []time.Duration
			// Each iteration's time is mostly connecting and settling; the
			// figures are the spread metrics.
			for b.Loop() {
				ctx := context.Background()
				racers := make([]*racer, 16)
				for i, req := range raceRequests(srv.URL, len(racers)) {
					racers[i] = c.newRacer(ctx, req)
					racers[i].open(ctx, c.tls)
					if racers[i].err != nil {
						b.Fatal(racers[i].err)
					}
				}
				time.Sleep(settle)
				way.release(racers)
				first, last := racers[0].released, racers[0].released
				for _, r := range racers {
					first, last = minTime(first, r.released), maxTime(last, r.released)
					r.close()
				}
				spreads = append(spreads, last.Sub(first))
			}
			slices.Sort(spreads)
			b.ReportMetric(float64(spreads[len(spreads)/2].Microseconds()), "p50-spread-µs")
			b.ReportMetric(float64(spreads[len(spreads)*9/10].Microseconds()), "p90-spread-µs")
		})
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
