package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

// RaceResult is what one Race observed.
type RaceResult struct {
	// Exchanges holds one exchange per request, in request order; each is
	// bounded and classified as Do's are.
	Exchanges []*oauth.Exchange
	// Released is how many requests had their last byte sent; the others
	// failed before the release (refused, TLS, a cut while sending).
	Released int
	// Spread is the time from the first to the last last-byte write
	// returning: how far apart the requests became complete at the server's
	// door. Zero when fewer than two were released, and for ViaH2, whose
	// one write completes every request.
	Spread time.Duration
	// Via says how the requests were released: ViaH2 or ViaHTTP1.
	Via string
}

// settle is how long Race waits between sending every request but its
// last byte and releasing the last bytes: the server reads each prefix
// and parks waiting for the rest, so at the release every request is one
// byte from complete rather than still having its headers parsed.
const settle = 2 * time.Millisecond

// awaitRelease waits out the settle (or ctx) once every request but its
// last bytes is sent, then runs the test hook that precedes the release;
// both releases (last bytes over HTTP/1.1, END_STREAM frames over HTTP/2)
// go through it.
func (c *Client) awaitRelease(ctx context.Context) {
	if ctx.Err() == nil {
		t := time.NewTimer(settle)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if c.beforeRelease != nil {
		c.beforeRelease()
	}
}

// Race sends reqs so that they complete at the server together. When the
// target speaks HTTP/2, every other call sends them as streams of one
// connection and completes them all with one write (raceH2, Via ViaH2);
// the other calls, and every call against an HTTP/1.1-only target, use
// last-byte synchronisation. Neither release measured better everywhere:
// against Go's net/http on 2 loaded cores (BenchmarkRaceDetection), last
// bytes caught 5-50µs windows about twice as often per race as the single
// packet, while under the same load the single packet caught fosite's
// authorization-code race (over h2c) in 7 of 20 runs where last bytes
// caught it in none; and across a network only the single packet escapes
// the network's jitter. Alternating keeps both chances.
//
// Last-byte synchronisation opens one HTTP/1.1 connection per request
// (TCP, then TLS for https with the Client's CA and verification
// settings), writes each request but its last byte, waits for the server
// to take the prefixes in, then writes every last byte in one loop, and
// reads each response. The requests then become complete at the server
// one write apart (Spread measures it), not whenever a scheduler gets
// round to goroutines each sending a whole request.
//
// The whole race is bounded by the Client's timeout, bodies by its cap,
// and failures are classed as Do classes them. Race connects directly: a
// proxy from the environment would re-time the requests, defeating the
// point. It never returns nil exchanges.
func (c *Client) Race(ctx context.Context, reqs []oauth.Request) RaceResult {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	racers := make([]*racer, len(reqs))
	for i, req := range reqs {
		racers[i] = c.newRacer(ctx, req)
	}
	if res, ok := c.raceH2(ctx, racers); ok {
		return c.finish(ctx, start, racers, res)
	}
	// A caller's cancel or the deadline unblocks every read and write.
	stop := context.AfterFunc(ctx, func() {
		for _, r := range racers {
			r.close()
		}
	})
	defer stop()
	defer func() {
		for _, r := range racers {
			r.close()
		}
	}()

	var wg sync.WaitGroup
	for _, r := range racers {
		if r.err != nil {
			continue
		}
		wg.Go(func() { r.open(ctx, c.tls) })
	}
	wg.Wait()
	// The readers wait for their responses before the release, so that
	// after it the racer needs no CPU the server could use: an in-process
	// or same-host server has the cores to itself at the moment that counts.
	var readers sync.WaitGroup
	for _, r := range racers {
		if r.err == nil {
			readers.Go(func() { c.read(r) })
		}
	}
	c.awaitRelease(ctx)
	res := RaceResult{Released: release(racers), Via: ViaHTTP1}
	var first, last time.Time
	for _, r := range racers {
		if r.released.IsZero() {
			continue
		}
		if first.IsZero() || r.released.Before(first) {
			first = r.released
		}
		if r.released.After(last) {
			last = r.released
		}
	}
	if res.Released > 1 {
		res.Spread = last.Sub(first)
	}
	readers.Wait()
	return c.finish(ctx, start, racers, res)
}

// finish records each racer's outcome in its exchange.
func (c *Client) finish(ctx context.Context, start time.Time, racers []*racer, res RaceResult) RaceResult {
	res.Exchanges = make([]*oauth.Exchange, len(racers))
	for i, r := range racers {
		if r.err == nil {
			r.err, r.class = r.readErr, r.readClass
		}
		if r.err != nil {
			c.failRacer(ctx, r)
		}
		r.x.Duration = time.Since(start)
		res.Exchanges[i] = r.x
	}
	return res
}

// release writes every ready racer's last byte from its own goroutine,
// all parked on one channel and let go by closing it, and returns how many
// were written. BenchmarkRaceRelease (race_test.go) measures this against
// one loop of writes and against one writer per CPU. On a 2-core VM at a
// load of about 2, for 16 racers, the goroutines' spread was p50 165-175µs
// and p90 250-280µs, the loop's p50 about 230µs and p90 630-810µs: each
// write is a system call of 10-30µs there, and the goroutines overlap them.
// (Under a load of 9 the loop had come out ahead, 168µs against 469µs.)
func release(racers []*racer) int {
	gate := make(chan struct{})
	var ready, done sync.WaitGroup
	for _, r := range racers {
		if r.err != nil {
			continue
		}
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-gate
			_, err := r.conn.Write(r.wire[len(r.wire)-1:])
			if err != nil {
				// Its reader is waiting: closing the connection ends it.
				r.err = err
				r.close()
				return
			}
			r.released = time.Now()
		})
	}
	ready.Wait()
	close(gate)
	done.Wait()
	n := 0
	for _, r := range racers {
		if !r.released.IsZero() {
			n++
		}
	}
	return n
}

// racer is one request's connection and state.
type racer struct {
	x        *oauth.Exchange
	req      *http.Request
	wire     []byte // the request as sent, last byte included
	addr     string // host:port to dial
	host     string // for TLS server name
	https    bool
	mu       sync.Mutex
	conn     net.Conn
	closed   bool
	err      error     // a failure before the response; classed at the end
	class    *Failure  // set when err is already classed
	released time.Time // when the last byte's write returned
	// readErr and readClass are the reader's failure, kept apart from err:
	// the reader runs while release may still set err.
	readErr   error
	readClass *Failure
}

// newRacer renders req to bytes; a request that cannot be built fails
// with ErrRequest, as in Do.
func (c *Client) newRacer(ctx context.Context, req oauth.Request) *racer {
	req = normalize(req)
	r := &racer{x: &oauth.Exchange{Request: req}}
	var body *strings.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	var hreq *http.Request
	var err error
	if body != nil {
		hreq, err = http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	} else {
		hreq, err = http.NewRequestWithContext(ctx, req.Method, req.URL, nil)
	}
	if err == nil && hreq.URL.Scheme != "http" && hreq.URL.Scheme != "https" {
		err = fmt.Errorf("unsupported scheme %q: use http or https", hreq.URL.Scheme)
	}
	if err != nil {
		r.err, r.class = err, ErrRequest
		return r
	}
	hreq.Header = req.Header.Clone()
	var buf bytes.Buffer
	if err := hreq.Write(&buf); err != nil {
		r.err, r.class = err, ErrRequest
		return r
	}
	r.req, r.wire = hreq, buf.Bytes()
	r.https = hreq.URL.Scheme == "https"
	r.host = hreq.URL.Hostname()
	port := hreq.URL.Port()
	if port == "" {
		port = map[bool]string{true: "443", false: "80"}[r.https]
	}
	r.addr = net.JoinHostPort(r.host, port)
	return r
}

// open connects and sends all but the last byte.
func (r *racer) open(ctx context.Context, base *tls.Config) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", r.addr)
	if err != nil {
		r.err = err
		return
	}
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	if !r.setConn(conn) {
		return
	}
	if r.https {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if base != nil {
			cfg = base.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = r.host
		}
		// One request per connection, answered in HTTP/1.1 framing.
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(conn, cfg)
		if !r.setConn(tc) {
			return
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			r.err = err
			return
		}
	}
	if _, err := r.conn.Write(r.wire[:len(r.wire)-1]); err != nil {
		r.err = err
	}
}

// setConn records the open connection, unless the race was stopped
// meanwhile, in which case it closes it and reports false.
func (r *racer) setConn(conn net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		_ = conn.Close()
		r.err = net.ErrClosed
		return false
	}
	r.conn = conn
	return true
}

func (r *racer) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.conn != nil {
		_ = r.conn.Close()
	}
}

// read reads the response to r's request, as Do does after sending.
func (c *Client) read(r *racer) {
	resp, err := http.ReadResponse(bufio.NewReader(r.conn), r.req)
	if err != nil {
		r.readErr = err
		return
	}
	defer resp.Body.Close()
	x := r.x
	x.Response = &oauth.Response{Status: resp.StatusCode, Header: resp.Header}
	b, err := readCapped(resp.Body, resp.ContentLength, c.maxBody)
	x.Response.Body = b
	switch {
	case err != nil:
		r.readErr = err
	case int64(len(b)) > c.maxBody:
		x.Response.Body = b[:c.maxBody]
		x.Response.Truncated = true
		r.readErr, r.readClass = fmt.Errorf("more than %d bytes", c.maxBody), ErrBodyTooLarge
	case isRedirect(resp):
		r.readErr, r.readClass = fmt.Errorf("status %d to %s: point TARGET at the URL that answers",
			resp.StatusCode, redact.String(resp.Header.Get("Location"))), ErrRedirect
	}
}

// failRacer records r's failure in its exchange with Do's classes. A
// connection the race closed because the context ended is the context's
// failure (timeout or canceled), not a cut.
func (c *Client) failRacer(ctx context.Context, r *racer) {
	if r.class != nil {
		fail(r.x, r.class, r.err)
		return
	}
	err := r.err
	if ctx.Err() != nil && errors.Is(err, net.ErrClosed) {
		err = ctx.Err()
	}
	_ = c.failTransport(ctx, r.x, err)
}
