package mockserver

import (
	"fmt"
	"net"

	"tokenharness/internal/rules"
)

// Local is the bundled mock serving on a loopback port in this process.
type Local struct {
	// Base is its URL without a path: Base+PathToken is the token endpoint,
	// Base+PathAuthorize the auto-approving authorize endpoint.
	Base   string
	Server *Server
	close  func()
}

// Close stops serving and releases the mock.
func (l *Local) Close() { l.close() }

// StartLocal serves the mock for profile (its fixture clients) on
// 127.0.0.1:<free port> with the production server's timeouts: the one way
// the harness's commands and tests start the mock in process.
func StartLocal(profile rules.Profile, opts ...Option) (*Local, error) {
	cfg, err := LoadConfig(profile, "")
	if err != nil {
		return nil, err
	}
	srv, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("mockserver: listen on loopback: %w", err)
	}
	hs := NewHTTPServer(ln.Addr().String(), srv, nil)
	go func() { _ = hs.Serve(ln) }()
	return &Local{Base: "http://" + ln.Addr().String(), Server: srv, close: func() {
		_ = hs.Close()
		srv.Close()
	}}, nil
}
