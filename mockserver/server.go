// Package mockserver is the reference OAuth 2.0 token server tokenharness is
// checked against: POST /oauth/token (authorization_code and refresh_token
// grants, RFC 6749 §4.1.3 and §6), an auto-approving GET /oauth/authorize
// (§4.1.1) and GET /healthz, fully conformant for every profile in
// internal/rules (rfc6749, commoninja, dressipi, oauth21).
//
// Every conformance rule has a fault switch ("quirk") named by its rule ID
// that breaks that rule. Wire faults are declared on the rule
// (rules.Rule.Fault) and applied by one writer (reply.go); behavioural
// faults are switched at the line that enforces the rule, which names the
// rule value (q.On(rules.CodeSingleUse.ID)). Quirks are enabled for the
// whole server (WithQuirks), per client (the fixtures' quirks: list) or per
// request (the Tokenharness-Quirk header, honoured only under
// WithQuirksFromHeader).
//
// The mock never shares validation code with the checker: it imports
// internal/rules only for IDs, wire faults and profile declarations.
//
// State is in memory, in sharded maps; a janitor forgets expired codes and
// tokens. The clock is injectable (WithClock) so expiry is tested without
// sleeping.
package mockserver

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
)

// Endpoint paths.
const (
	PathToken     = "/oauth/token"
	PathAuthorize = "/oauth/authorize"
	PathHealth    = "/healthz"
)

// MaxBodyBytes bounds a token request body; a larger one gets 413.
const MaxBodyBytes = 64 << 10

// DefaultRaceWindow is how long the race quirks hold a checked code or
// token before marking it, so concurrent requests all pass the check, when
// Config.RaceWindow is unset: wide enough for any racer to hit.
const DefaultRaceWindow = 25 * time.Millisecond

// spinBelow is the window under which hold busy-waits instead of sleeping:
// a timer sleep lasts tens of microseconds or more whatever it is asked
// for, so only a spin gives a microsecond window that is what it says.
const spinBelow = time.Millisecond

// hold keeps the check-then-act window of a race quirk open for d, on the
// CPU the way a server computing between its check and its write would.
// Zero returns at once: the window is then a bare unlock-and-relock.
func hold(d time.Duration) {
	if d <= 0 {
		return
	}
	if d >= spinBelow {
		time.Sleep(d)
		return
	}
	for start := time.Now(); time.Since(start) < d; {
	}
}

// Server is the mock token server, an http.Handler. Close stops its janitor.
type Server struct {
	cfg     Config
	beh     behaviour
	clients map[string]*Client
	// clientQuirks is true when some fixture client has quirks, so the
	// request's client must be known before parsing.
	clientQuirks bool
	faults       faults
	global       quirkSet
	fromHeader   bool
	now          func() time.Time
	// sleep holds a race quirk's window open (hold; tests swap in a barrier).
	sleep      func(time.Duration)
	raceWindow time.Duration
	raceCheck  func(grant any)
	log        *slog.Logger
	red        *redact.Redactor
	store      *store
	dpop       *dpopState
	jtis       jtiSet // used client assertion jtis (client_jwt.go)
	// jwtKeys are each private_key_jwt client's parsed jwt_keys, read once
	// here rather than on every assertion.
	jwtKeys map[string][]any
	device  deviceStore // device authorization sessions (device.go)

	stop      chan struct{}
	closeOnce sync.Once
	done      sync.WaitGroup
}

// Option configures a Server.
type Option func(*options)

type options struct {
	now        func() time.Time
	quirks     []rules.ID
	fromHeader bool
	log        *slog.Logger
	janitor    time.Duration
	raceCheck  func(grant any)
}

// WithClock sets the clock codes and tokens expire by (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithQuirks switches faults on for every request; ids are rule or VAR-*
// variation IDs.
func WithQuirks(ids ...rules.ID) Option {
	return func(o *options) { o.quirks = append(o.quirks, ids...) }
}

// WithQuirksFromHeader honours the Tokenharness-Quirk request header.
func WithQuirksFromHeader() Option { return func(o *options) { o.fromHeader = true } }

// WithLogger sets the structured logger (default: discard). Secrets are
// never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithJanitorInterval sets how often expired state is swept (default 10s;
// 0 or less disables the janitor).
func WithJanitorInterval(d time.Duration) Option { return func(o *options) { o.janitor = d } }

// WithRaceChecks calls f whenever a code redemption or a refresh takes
// its grant's lock for the check that the race quirks split from the act
// (f gets a value identifying the code or refresh token, comparable). The
// race detection benchmark uses it to measure how close together the
// racers reach that check. f runs under the lock: keep it short.
func WithRaceChecks(f func(grant any)) Option { return func(o *options) { o.raceCheck = f } }

// DefaultJanitorInterval is how often the janitor sweeps by default.
const DefaultJanitorInterval = 10 * time.Second

// New validates cfg and returns a Server serving it.
func New(cfg Config, opts ...Option) (*Server, error) {
	o := options{now: time.Now, log: slog.New(slog.DiscardHandler), janitor: DefaultJanitorInterval}
	for _, opt := range opts {
		opt(&o)
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("mockserver: %w", err)
	}
	beh, err := behaviourOf(cfg.Profile)
	if err != nil {
		return nil, fmt.Errorf("mockserver: %w", err)
	}
	ids := make([]string, len(o.quirks))
	for i, q := range o.quirks {
		ids[i] = string(q)
	}
	if err := rules.ValidateQuirks(ids); err != nil {
		return nil, fmt.Errorf("mockserver: %w", err)
	}
	if len(cfg.JWTKey) == 0 {
		cfg.JWTKey = make([]byte, 32)
		_, _ = rand.Read(cfg.JWTKey)
	}
	s := &Server{
		cfg: cfg, beh: beh, clients: map[string]*Client{},
		faults: loadFaults(), global: quirkSet(nil).with(o.quirks), fromHeader: o.fromHeader,
		now: o.now, sleep: hold, raceWindow: *cfg.RaceWindow, raceCheck: o.raceCheck, log: o.log, red: &redact.Redactor{}, store: newStore(), dpop: newDPoPState(),
		stop: make(chan struct{}),
	}
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		s.clients[c.ID] = c
		s.clientQuirks = s.clientQuirks || len(c.Quirks) > 0
		s.red.Add(c.Secret)
		s.red.AddBasic(c.ID, c.Secret)
		if len(c.JWTKeys) > 0 {
			keys, err := c.publicKeys() // Validate parsed them already
			if err != nil {
				return nil, fmt.Errorf("mockserver: client %s: %w", c.ID, err)
			}
			if s.jwtKeys == nil {
				s.jwtKeys = map[string][]any{}
			}
			s.jwtKeys[c.ID] = keys
		}
	}
	s.red.Add(cfg.APIKey)
	if o.janitor > 0 {
		s.done.Add(1)
		go s.janitor(o.janitor)
	}
	s.log.Info("mockserver ready", "profile", cfg.Profile, "clients", len(cfg.Clients),
		"quirks", s.global, "quirks_from_header", s.fromHeader, "api_key", cfg.APIKey != "")
	return s, nil
}

// Profile is the profile the server serves.
func (s *Server) Profile() rules.Profile { return s.cfg.Profile }

// Close stops the janitor. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.stop) })
	s.done.Wait()
}

// Stats counts the codes, refresh tokens and token families held.
func (s *Server) Stats() Stats { return s.store.stats() }

// Sweep forgets everything expired now, as the janitor does on each tick.
func (s *Server) Sweep() {
	s.store.sweep(s.now())
	s.device.sweep(s.now())
}

func (s *Server) janitor(every time.Duration) {
	defer s.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// ServeHTTP routes to the token, authorize and health endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A panic is a bug in the mock, never the client's fault: log it
		// and answer 500 so tests and fuzzing see it, instead of a cut
		// connection.
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			w.WriteHeader(http.StatusInternalServerError)
		}
	}()
	switch r.URL.Path {
	case PathToken:
		s.serveToken(w, r)
	case PathAuthorize:
		s.serveAuthorize(w, r)
	case PathDeviceAuthorization:
		s.serveDeviceAuthorization(w, r)
	case PathDeviceVerify:
		s.serveDeviceVerify(w, r)
	case PathHealth:
		w.Header().Set(oauth.HeaderContentType, "application/json")
		w.Header().Set(oauth.HeaderCacheControl, "no-store")
		_, _ = fmt.Fprintf(w, `{"status":"ok","profile":%q}`, s.cfg.Profile)
	default:
		rep := fail(oauth.ErrInvalidRequest, "no such endpoint: use "+PathToken+", "+PathAuthorize+" or "+PathHealth)
		rep.status = http.StatusNotFound
		s.write(w, rep, nil)
	}
}

// requestQuirks is the global set plus the request's header quirks, when
// they are honoured.
func (s *Server) requestQuirks(r *http.Request) (quirkSet, error) {
	if !s.fromHeader {
		return s.global, nil
	}
	ids, err := s.faults.headerQuirks(r.Header)
	if err != nil {
		return nil, err
	}
	return s.global.with(ids), nil
}

// clientQuirksOf adds the fixture quirks of the client named id, if any.
func (s *Server) clientQuirksOf(q quirkSet, id string) quirkSet {
	if c, ok := s.clients[id]; ok {
		return q.with(c.Quirks)
	}
	return q
}

// accessActive reports whether an access token the server issued is
// unexpired and its family not revoked.
func (s *Server) accessActive(tok string) bool {
	id := tok
	if s.beh.jwtAccess {
		var ok bool
		if id, ok = jwtID(s.cfg.JWTKey, tok); !ok {
			return false
		}
	}
	famID, exp, ok := parseAccessID(id)
	if !ok || !s.now().Before(exp) {
		return false
	}
	f, ok := s.store.families.get(famID)
	return ok && !f.revoked.Load()
}

// NewHTTPServer wraps h in an http.Server with the timeouts and limits the
// mock is run with, so a slow or hostile client cannot hold it.
func NewHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
