// Package probe sends one bounded request to a token endpoint and records
// what came back as an oauth.Exchange. Every exchange is bounded in time
// (the whole exchange, body included) and in size (the body is read up to
// a cap and no further); redirects are recorded, never followed; and every
// way an exchange can fail has a named class (timeout, conn_cut, refused,
// tls, dns, body_too_large, redirect, …) that reports show. A Client is
// safe for concurrent use and tuned for it, so the load side shares it.
// Client.Race sends several requests last-byte synchronised, for the rules
// that race requests for one code or token.
package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
)

// Defaults for a Client.
const (
	DefaultTimeout = 10 * time.Second
	DefaultMaxBody = 1 << 20
)

// UserAgent identifies the harness to the target unless the request sets one.
const UserAgent = "tokenharness/1 (+conformance probe)"

// Client sends bounded requests. Build it with New.
type Client struct {
	http    *http.Client
	timeout time.Duration
	maxBody int64
	// tls is what Race's own connections use: the transport's settings.
	tls *tls.Config
	// beforeRelease, when set (by tests), runs in Race after every prefix
	// is written and before any last byte is.
	beforeRelease func()
	// raceHTTP1 keeps Race to HTTP/1.1 (WithRaceHTTP1).
	raceHTTP1 bool
	// h2 remembers, per scheme and host:port, whether the target spoke
	// HTTP/2 to Race (bool).
	h2 sync.Map
	// races counts Race's calls: against a target that speaks HTTP/2 it
	// alternates between the two releases.
	races atomic.Uint64
}

type options struct {
	timeout  time.Duration
	maxBody  int64
	caFile   string
	insecure bool
	client   *http.Client
	h1Race   bool
}

// Option configures a Client.
type Option func(*options) error

// WithTimeout bounds each whole exchange: connecting, sending, and reading
// the response body (default 10 s).
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("timeout %v is not positive: use e.g. 10s", d)
		}
		o.timeout = d
		return nil
	}
}

// WithMaxBody caps how many response body bytes are read (default 1 MiB);
// a longer body is truncated and classed body_too_large.
func WithMaxBody(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("max body %d is not positive", n)
		}
		o.maxBody = n
		return nil
	}
}

// WithCAFile trusts the PEM certificates in path in addition to the system
// roots, for targets behind a private CA.
func WithCAFile(path string) Option {
	return func(o *options) error { o.caFile = path; return nil }
}

// WithInsecureSkipVerify accepts any server certificate. For test servers
// only: a token endpoint without verified TLS can be impersonated.
func WithInsecureSkipVerify() Option {
	return func(o *options) error { o.insecure = true; return nil }
}

// WithRaceHTTP1 makes Race use last-byte synchronisation over HTTP/1.1
// even against a target that speaks HTTP/2, where it would otherwise send
// every request as a stream of one connection and release them in one
// packet.
func WithRaceHTTP1() Option {
	return func(o *options) error { o.h1Race = true; return nil }
}

// WithHTTPClient sends through c instead of the Client's own tuned
// transport. The probe still never follows redirects (it uses a copy of c
// with its own CheckRedirect) and still applies its own timeout; it cannot
// be combined with WithCAFile or WithInsecureSkipVerify, which configure
// the probe's own transport.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("WithHTTPClient: client is nil")
		}
		o.client = c
		return nil
	}
}

// New builds a Client.
func New(opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout, maxBody: DefaultMaxBody}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("probe: %w", err)
		}
	}
	var hc http.Client
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.client != nil {
		if o.caFile != "" || o.insecure {
			return nil, errors.New("probe: WithCAFile and WithInsecureSkipVerify configure the probe's own transport: " +
				"do not combine them with WithHTTPClient, configure that client's transport instead")
		}
		hc = *o.client
		if tr, ok := hc.Transport.(*http.Transport); ok && tr.TLSClientConfig != nil {
			tlsCfg = tr.TLSClientConfig.Clone()
		}
	} else {
		tr, err := transport(o)
		if err != nil {
			return nil, err
		}
		hc.Transport = tr
		tlsCfg = tr.TLSClientConfig.Clone()
	}
	// A token endpoint answers directly. Recording the 3xx instead of
	// following it also means a redirect loop can never hang a run.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{http: &hc, timeout: o.timeout, maxBody: o.maxBody, tls: tlsCfg, raceHTTP1: o.h1Race}, nil
}

// transport is tuned for many concurrent exchanges with one host: the load
// side drives hundreds of workers through it.
func transport(o options) (*http.Transport, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pemBytes, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("probe: CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("probe: CA file %s holds no PEM certificate", o.caFile)
		}
		tlsCfg.RootCAs = pool
	}
	if o.insecure {
		tlsCfg.InsecureSkipVerify = true
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// What is recorded is what the server sent: no transparent gzip,
		// and no Accept-Encoding the request did not ask for.
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
	}, nil
}

// HTTP returns the underlying client (redirects not followed, no
// timeout of its own: bound requests with a context).
func (c *Client) HTTP() *http.Client { return c.http }

// Timeout is the bound on one exchange.
func (c *Client) Timeout() time.Duration { return c.timeout }

// MaxBody is the response body cap.
func (c *Client) MaxBody() int64 { return c.maxBody }

// Do sends req and returns what happened. It never returns nil and never
// panics: a failure is recorded in Class and Err. Response is set whenever
// a status line arrived, even if the body was then cut, timed out or
// exceeded the cap (Truncated): the status and headers are evidence too.
func (c *Client) Do(ctx context.Context, req oauth.Request) *oauth.Exchange {
	x, _ := c.exchange(ctx, req)
	return x
}

// normalize fills in what every request the probe sends carries: POST
// unless told otherwise, and the harness's User-Agent, on a copy of the
// headers so the caller's stay untouched.
func normalize(req oauth.Request) oauth.Request {
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	return req
}

// exchange is Do that also returns the failure as an error wrapping its
// class sentinel and its cause.
func (c *Client) exchange(ctx context.Context, req oauth.Request) (x *oauth.Exchange, _ *exchangeError) {
	req = normalize(req)
	x = &oauth.Exchange{Request: req}
	start := time.Now()
	defer func() { x.Duration = time.Since(start) }()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return x, fail(x, ErrRequest, err)
	}
	hreq.Header = req.Header.Clone()
	resp, err := c.http.Do(hreq)
	if err != nil {
		return x, c.failTransport(ctx, x, err)
	}
	defer resp.Body.Close()
	x.Response = &oauth.Response{Status: resp.StatusCode, Header: resp.Header}
	b, err := readCapped(resp.Body, resp.ContentLength, c.maxBody)
	x.Response.Body = b
	switch {
	case err != nil:
		return x, c.failTransport(ctx, x, err)
	case int64(len(b)) > c.maxBody:
		x.Response.Body = b[:c.maxBody]
		x.Response.Truncated = true
		return x, fail(x, ErrBodyTooLarge, fmt.Errorf("more than %d bytes", c.maxBody))
	case isRedirect(resp):
		return x, fail(x, ErrRedirect, fmt.Errorf("status %d to %s: point TARGET at the URL that answers",
			resp.StatusCode, redact.String(resp.Header.Get("Location"))))
	}
	return x, nil
}

func (c *Client) failTransport(ctx context.Context, x *oauth.Exchange, err error) *exchangeError {
	f := classify(err, ctx.Err())
	if f == ErrTimeout {
		err = fmt.Errorf("%v elapsed: %w", c.timeout, err)
	}
	return fail(x, f, err)
}

// readCapped reads at most max+1 bytes, so a body over the cap is detected
// without reading it all.
func readCapped(r io.Reader, contentLength, max int64) ([]byte, error) {
	var buf bytes.Buffer
	if contentLength > 0 && contentLength <= max {
		buf.Grow(int(contentLength))
	}
	_, err := buf.ReadFrom(io.LimitReader(r, max+1))
	return buf.Bytes(), err
}

func isRedirect(resp *http.Response) bool {
	return resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != ""
}

// fail records class f and its cause in x and returns them as one error.
// The URL the http package prefixes is dropped: it is in the Request
// already, and may carry secrets.
func fail(x *oauth.Exchange, f *Failure, cause error) *exchangeError {
	var uerr *url.Error
	if errors.As(cause, &uerr) {
		cause = uerr.Err
	}
	err := &exchangeError{class: f, cause: cause}
	x.Class = f.class
	x.Err = err.Error()
	return err
}

// exchangeError is a failed exchange: its class and what caused it.
type exchangeError struct {
	class *Failure
	cause error
}

func (e *exchangeError) Error() string   { return e.class.text + ": " + e.cause.Error() }
func (e *exchangeError) Unwrap() []error { return []error{e.class, e.cause} }
