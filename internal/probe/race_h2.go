package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

// How a race was released (RaceResult.Via).
const (
	// ViaH2 is the single-packet release: every request is a stream of one
	// HTTP/2 connection, and the frames that end them (a DATA frame with
	// END_STREAM holding each body's last byte) leave in one write, so one
	// TCP segment completes them all at the server's one read.
	ViaH2 = "h2 single packet"
	// ViaHTTP1 is last-byte synchronisation over one HTTP/1.1 connection
	// per request: the last bytes leave in one write per connection.
	ViaHTTP1 = "http/1.1 last byte"
)

// h2Detect bounds how long Race waits for a server's HTTP/2 SETTINGS on a
// cleartext connection before deciding it speaks HTTP/1.1 only. An
// HTTP/1.1 server answers the preface's "PRI * HTTP/2.0" request line with
// an HTTP/1.1 status at once; this is for one that waits instead.
const h2Detect = time.Second

// h2Window is the flow-control window Race grants the server, per stream
// and for the connection: responses are capped by maxBody, never by flow
// control, and Race never has to send a WINDOW_UPDATE.
const h2Window = 1 << 30

// raceH2 races the requests as streams of one HTTP/2 connection and
// reports true, or reports false, having changed no racer, when it cannot:
// the target does not speak HTTP/2 (ALPN for https, a prior-knowledge
// preface for http; remembered per target), allows fewer concurrent
// streams than there are requests, or a request's body does not fit the
// connection's first flow-control window. Race then falls back to HTTP/1.1.
//
// The release is the "single-packet attack": HEADERS and all of each body
// but its last byte go first; after the settle, the END_STREAM DATA frames
// of every stream are written with one write. A server that speaks HTTP/2
// (Go's net/http among them) has started each stream's handler at its
// HEADERS, parked reading the body; the one read that takes in the packet
// wakes them all, a few microseconds apart instead of one system call
// apart per connection.
func (c *Client) raceH2(ctx context.Context, racers []*racer) (RaceResult, bool) {
	if c.raceHTTP1 || len(racers) == 0 {
		return RaceResult{}, false
	}
	first := racers[0]
	total := 0
	for _, r := range racers {
		if r.err != nil || r.addr != first.addr || r.https != first.https {
			return RaceResult{}, false
		}
		total += len(r.x.Request.Body)
	}
	key := map[bool]string{true: "https://", false: "http://"}[first.https] + first.addr
	v, known := c.h2.Load(key)
	if known && !v.(bool) {
		return RaceResult{}, false
	}
	// Every other race is released by last-byte synchronisation instead:
	// see Race.
	if c.races.Add(1)%2 == 0 {
		return RaceResult{}, false
	}
	h, speaks, err := c.dialH2(ctx, first)
	if err != nil || !speaks {
		if err == nil {
			c.h2.Store(key, false)
		}
		// A failure to connect is reported by the HTTP/1.1 path, which
		// meets it again and classes it as Do does.
		return RaceResult{}, false
	}
	c.h2.Store(key, true)
	if h.maxStreams < uint32(len(racers)) || total > 65535 {
		h.conn.Close()
		return RaceResult{}, false
	}
	for _, r := range racers {
		if uint32(len(r.x.Request.Body)) > min(h.streamWindow, 16384) {
			h.conn.Close()
			return RaceResult{}, false
		}
	}
	return c.raceStreams(ctx, h, racers), true
}

// h2conn is one HTTP/2 connection of a race and its streams' state.
type h2conn struct {
	conn         net.Conn
	fr           *http2.Framer // reads; writes go through write
	wmu          sync.Mutex
	maxStreams   uint32
	streamWindow uint32
	maxBody      int64

	// Written by the read loop only, read after it ended (loopDone).
	streams  map[uint32]*h2stream
	open     int
	allDone  chan struct{}
	loopDone chan struct{}
}

// h2stream is one request's stream.
type h2stream struct {
	r       *racer
	status  int
	header  http.Header
	body    []byte
	err     error
	ended   bool
	started bool // a final (non-1xx) HEADERS arrived
}

var h2Preface = []byte(http2.ClientPreface)

// dialH2 connects and exchanges SETTINGS. speaks is false, with the
// connection closed, when the server does not speak HTTP/2; err is set,
// likewise, when the connection could not be made at all.
func (c *Client) dialH2(ctx context.Context, r *racer) (h *h2conn, speaks bool, err error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", r.addr)
	if err != nil {
		return nil, false, err
	}
	fail := func(err error) (*h2conn, bool, error) {
		_ = conn.Close()
		return nil, false, err
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if r.https {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.tls != nil {
			cfg = c.tls.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = r.host
		}
		cfg.NextProtos = []string{"h2", "http/1.1"}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(err)
		}
		if tc.ConnectionState().NegotiatedProtocol != "h2" {
			return fail(nil)
		}
		conn = tc
	}
	var buf bytes.Buffer
	buf.Write(h2Preface)
	wf := http2.NewFramer(&buf, nil)
	_ = wf.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2Window},
	)
	_ = wf.WriteWindowUpdate(0, h2Window-65535)
	if _, err := conn.Write(buf.Bytes()); err != nil {
		return fail(err)
	}
	detect := time.Now().Add(h2Detect)
	if !deadline.IsZero() && deadline.Before(detect) {
		detect = deadline
	}
	_ = conn.SetReadDeadline(detect)
	fr := http2.NewFramer(nil, conn)
	f, err := fr.ReadFrame()
	sf, ok := f.(*http2.SettingsFrame)
	if err != nil || !ok || sf.IsAck() {
		// An HTTP/1.1 answer to the preface, silence, or a close: not HTTP/2.
		return fail(nil)
	}
	_ = conn.SetReadDeadline(deadline)
	h = &h2conn{
		conn: conn, fr: fr, maxStreams: ^uint32(0), streamWindow: 65535, maxBody: c.maxBody,
		streams: map[uint32]*h2stream{}, allDone: make(chan struct{}), loopDone: make(chan struct{}),
	}
	_ = sf.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			h.maxStreams = s.Val
		case http2.SettingInitialWindowSize:
			h.streamWindow = s.Val
		}
		return nil
	})
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	fr.MaxHeaderListSize = 1 << 20
	if err := h.write(func(f *http2.Framer) error { return f.WriteSettingsAck() }); err != nil {
		return fail(err)
	}
	return h, true, nil
}

// write composes frames with f and sends them in one write.
func (h *h2conn) write(f func(*http2.Framer) error) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	var buf bytes.Buffer
	if err := f(http2.NewFramer(&buf, nil)); err != nil {
		return err
	}
	_, err := h.conn.Write(buf.Bytes())
	return err
}

// raceStreams sends every request as a stream, releases them in one
// packet, and reads the answers into the racers.
func (c *Client) raceStreams(ctx context.Context, h *h2conn, racers []*racer) RaceResult {
	stop := context.AfterFunc(ctx, func() { _ = h.conn.Close() })
	defer stop()
	defer h.conn.Close()

	for i, r := range racers {
		h.streams[uint32(2*i+1)] = &h2stream{r: r}
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	err := h.write(func(f *http2.Framer) error {
		for i, r := range racers {
			id := uint32(2*i + 1)
			hbuf.Reset()
			for _, hf := range h2Fields(r) {
				_ = enc.WriteField(hf)
			}
			if err := writeHeaderBlock(f, id, hbuf.Bytes()); err != nil {
				return err
			}
			if body := r.x.Request.Body; len(body) > 1 {
				if err := f.WriteData(id, false, []byte(body[:len(body)-1])); err != nil {
					return err
				}
			}
		}
		return nil
	})
	h.open = len(racers)
	go h.readLoop()
	res := RaceResult{Via: ViaH2}
	if err == nil {
		c.awaitRelease(ctx)
		err = h.write(func(f *http2.Framer) error {
			for i, r := range racers {
				var last []byte
				if body := r.x.Request.Body; body != "" {
					last = []byte(body[len(body)-1:])
				}
				if err := f.WriteData(uint32(2*i+1), true, last); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		now := time.Now()
		for _, r := range racers {
			r.released = now
		}
		res.Released = len(racers)
		select {
		case <-h.allDone:
		case <-ctx.Done():
		}
	}
	_ = h.conn.Close()
	<-h.loopDone
	for _, s := range h.streams {
		r := s.r
		switch {
		case err != nil && !s.started:
			// The requests could not be sent or released: each failed.
			r.err = err
		case s.started:
			c.h2Response(s)
		default:
			// No answer: the stream's failure, or the connection's.
			r.readErr = s.err
			if r.readErr == nil {
				r.readErr = fmt.Errorf("the HTTP/2 stream ended without an answer: %w", net.ErrClosed)
			}
		}
	}
	return res
}

// h2Response records a stream's answer in its racer as read does for
// HTTP/1.1: capped body, redirects classed.
func (c *Client) h2Response(s *h2stream) {
	r, x := s.r, s.r.x
	x.Response = &oauth.Response{Status: s.status, Header: s.header, Body: s.body}
	switch {
	case int64(len(s.body)) > c.maxBody:
		x.Response.Body = s.body[:c.maxBody]
		x.Response.Truncated = true
		r.readErr, r.readClass = fmt.Errorf("more than %d bytes", c.maxBody), ErrBodyTooLarge
	case s.status >= 300 && s.status < 400 && s.header.Get("Location") != "":
		r.readErr, r.readClass = fmt.Errorf("status %d to %s: point TARGET at the URL that answers",
			s.status, redact.String(s.header.Get("Location"))), ErrRedirect
	case s.err != nil:
		// Cut after the headers.
		r.readErr = s.err
	}
}

// h2Fields is r's request as HTTP/2 header fields: the pseudo-headers,
// then its headers as HTTP/1.1 would have sent them, less the
// connection-specific ones HTTP/2 forbids.
func h2Fields(r *racer) []hpack.HeaderField {
	req := r.req
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	fs := []hpack.HeaderField{
		{Name: ":method", Value: req.Method},
		{Name: ":scheme", Value: req.URL.Scheme},
		{Name: ":authority", Value: host},
		{Name: ":path", Value: req.URL.RequestURI()},
	}
	for k, vs := range req.Header {
		lk := strings.ToLower(k)
		switch lk {
		case "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "content-length":
			continue
		}
		for _, v := range vs {
			fs = append(fs, hpack.HeaderField{Name: lk, Value: v})
		}
	}
	if body := r.x.Request.Body; body != "" || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		fs = append(fs, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(body))})
	}
	return fs
}

// writeHeaderBlock writes a header block as HEADERS and as many
// CONTINUATION frames as the minimum frame size needs.
func writeHeaderBlock(f *http2.Framer, id uint32, block []byte) error {
	const max = 16384
	frag := block[:min(len(block), max)]
	rest := block[len(frag):]
	if err := f.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: frag, EndHeaders: len(rest) == 0}); err != nil {
		return err
	}
	for len(rest) > 0 {
		frag, rest = rest[:min(len(rest), max)], rest[min(len(rest), max):]
		if err := f.WriteContinuation(id, len(rest) == 0, frag); err != nil {
			return err
		}
	}
	return nil
}

// readLoop reads the server's frames until the connection ends, filling
// in the streams; allDone closes when every stream has ended.
func (h *h2conn) readLoop() {
	defer close(h.loopDone)
	end := func(s *h2stream) {
		if s.ended {
			return
		}
		s.ended = true
		if h.open--; h.open == 0 {
			close(h.allDone)
		}
	}
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			for _, s := range h.streams {
				if !s.ended && s.err == nil {
					s.err = err
				}
			}
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = h.write(func(f *http2.Framer) error { return f.WriteSettingsAck() })
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = h.write(func(fr *http2.Framer) error { return fr.WritePing(true, f.Data) })
			}
		case *http2.GoAwayFrame:
			for id, s := range h.streams {
				if id > f.LastStreamID && !s.ended {
					s.err = fmt.Errorf("the server sent GOAWAY (%v) before taking the stream: %w", f.ErrCode, net.ErrClosed)
					end(s)
				}
			}
		case *http2.RSTStreamFrame:
			if s := h.streams[f.StreamID]; s != nil && !s.ended {
				s.err = fmt.Errorf("the server reset the stream (%v): %w", f.ErrCode, errStreamReset)
				end(s)
			}
		case *http2.MetaHeadersFrame:
			s := h.streams[f.StreamID]
			if s == nil || s.ended {
				continue
			}
			if !s.started {
				status, err := strconv.Atoi(f.PseudoValue("status"))
				switch {
				case err != nil || f.Truncated:
					s.err = fmt.Errorf("malformed HTTP/2 response headers (status %q)", f.PseudoValue("status"))
					end(s)
					continue
				case status >= 100 && status < 200:
					continue // interim; the final answer follows
				}
				s.started, s.status, s.header = true, status, http.Header{}
				for _, hf := range f.RegularFields() {
					s.header.Add(http.CanonicalHeaderKey(hf.Name), hf.Value)
				}
			}
			if f.StreamEnded() {
				end(s)
			}
		case *http2.DataFrame:
			s := h.streams[f.StreamID]
			if s == nil || s.ended {
				continue
			}
			if room := h.maxBody + 1 - int64(len(s.body)); room > 0 {
				d := f.Data()
				s.body = append(s.body, d[:min(int64(len(d)), room)]...)
			}
			if f.StreamEnded() {
				end(s)
			}
		}
	}
}

// errStreamReset classes as a cut connection: the server dropped the
// exchange mid-way.
var errStreamReset = fmt.Errorf("stream reset: %w", syscall.ECONNRESET)
