// Command mockserver serves tokenharness's reference OAuth 2.0 token server
// (package mockserver) until SIGINT or SIGTERM. It only adapts flags and
// environment variables to mockserver.Config and runs an http.Server with
// timeouts and a bounded graceful shutdown.
//
//	mockserver -addr 127.0.0.1:9000 -profile dressipi -quirks-from-header
//
// On start it prints one line to stdout,
//
//	tokenharness mockserver: profile=<p> listening on http://<addr>
//
// with the real port when -addr ends in :0. Logs go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tokenharness/internal/rules"
	"tokenharness/mockserver"
)

// shutdownTimeout bounds the graceful shutdown: in-flight requests get this
// long to finish before connections are closed.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// settings are the parsed flags.
type settings struct {
	addr, profile, fixtures, quirks, apiKey, logLevel string
	quirksFromHeader, h2c                             bool
	codeTTL, accessTTL, refreshTTL, rotationGrace     optDuration
	raceWindow                                        optDuration
}

// optDuration is a duration flag that remembers whether it was given, so
// 0 can override a fixture (rotation grace 0) while unset keeps it.
type optDuration struct {
	d   time.Duration
	set bool
}

func (o *optDuration) String() string {
	if o == nil || !o.set {
		return ""
	}
	return o.d.String()
}

func (o *optDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration: use e.g. 60s, 1h or 720h")
	}
	if d < 0 {
		return errors.New("negative: use a duration of 0 or more")
	}
	o.d, o.set = d, true
	return nil
}

// usageError is a bad flag or environment value: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("mockserver", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&s.addr, "addr", env("ADDR", "127.0.0.1:9000"), "listen address; :0 picks a free port (env ADDR)")
	fs.StringVar(&s.profile, "profile", env("PROFILE", string(rules.RFC6749)), "profile to serve: "+strings.Join(rules.ProfileNames(), "|")+" (env PROFILE)")
	fs.StringVar(&s.fixtures, "fixtures", env("FIXTURES", ""), "clients fixture file; default the embedded fixtures/clients/<profile>.yaml (env FIXTURES)")
	fs.StringVar(&s.quirks, "quirks", env("QUIRKS", ""), "comma-separated rule or VAR-* ids whose faults are on for every request (env QUIRKS)")
	fs.BoolVar(&s.quirksFromHeader, "quirks-from-header", false, "honour the Tokenharness-Quirk request header (env QUIRKS_FROM_HEADER=true)")
	fs.BoolVar(&s.h2c, "h2c", false, "serve HTTP/2 over cleartext (prior knowledge) besides HTTP/1.1 (env H2C=true)")
	fs.StringVar(&s.apiKey, "api-key", env("API_KEY", ""), "require this x-api-key header on token requests (env API_KEY)")
	fs.StringVar(&s.logLevel, "log-level", env("LOG_LEVEL", "info"), "debug|info|warn|error; debug logs every request (env LOG_LEVEL)")
	durations := []struct {
		name, env, doc string
		v              *optDuration
	}{
		{"code-ttl", "CODE_TTL", "authorization code lifetime", &s.codeTTL},
		{"access-ttl", "ACCESS_TTL", "access token lifetime (expires_in)", &s.accessTTL},
		{"refresh-ttl", "REFRESH_TTL", "refresh token lifetime", &s.refreshTTL},
		{"rotation-grace", "ROTATION_GRACE", "how long a rotated-out refresh token is still accepted", &s.rotationGrace},
		{"race-window", "RACE_WINDOW", "check-then-act window of the race quirks, e.g. 1us; 0 is a bare unlock-and-relock", &s.raceWindow},
	}
	for _, d := range durations {
		fs.Var(d.v, d.name, d.doc+"; default from the fixtures (env "+d.env+")")
	}
	if v := getenv("QUIRKS_FROM_HEADER"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, usagef("mockserver: env QUIRKS_FROM_HEADER=%q is not a boolean: use true or false", v)
		}
		s.quirksFromHeader = b
	}
	if v := getenv("H2C"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, usagef("mockserver: env H2C=%q is not a boolean: use true or false", v)
		}
		s.h2c = b
	}
	for _, d := range durations {
		if v := getenv(d.env); v != "" {
			if err := d.v.Set(v); err != nil {
				return s, usagef("mockserver: env %s=%q is %v", d.env, v, err)
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintf(stderr, "usage: mockserver [flags]\n\nServes tokenharness's reference token server: POST %s, GET %s, GET %s.\nFlags override their environment variables.\n\n",
				mockserver.PathToken, mockserver.PathAuthorize, mockserver.PathHealth)
			fs.PrintDefaults()
			return s, err
		}
		return s, usagef("mockserver: %v: run mockserver -h for the flags", err)
	}
	if fs.NArg() > 0 {
		return s, usagef("mockserver: unexpected argument %q: mockserver takes flags only (mockserver -h)", fs.Arg(0))
	}
	return s, nil
}

func logLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, usagef("mockserver: -log-level %q is not one of debug|info|warn|error", s)
}

// config builds the server configuration and options from s.
func config(s settings, log *slog.Logger) (mockserver.Config, []mockserver.Option, error) {
	cfg, err := mockserver.LoadConfig(rules.Profile(s.profile), s.fixtures)
	if err != nil {
		return cfg, nil, usagef("%v", err)
	}
	for _, o := range []struct {
		v   optDuration
		dst *time.Duration
	}{{s.codeTTL, &cfg.CodeTTL}, {s.accessTTL, &cfg.AccessTTL}, {s.refreshTTL, &cfg.RefreshTTL}, {s.rotationGrace, &cfg.RotationGrace}} {
		if o.v.set {
			*o.dst = o.v.d
		}
	}
	if s.raceWindow.set {
		cfg.RaceWindow = new(s.raceWindow.d)
	}
	if s.apiKey != "" {
		cfg.APIKey = s.apiKey
	}
	var ids []string
	for _, q := range strings.Split(s.quirks, ",") {
		if q = strings.TrimSpace(q); q != "" {
			ids = append(ids, q)
		}
	}
	if err := rules.ValidateQuirks(ids); err != nil {
		return cfg, nil, usagef("mockserver: -quirks: %v", err)
	}
	quirks := make([]rules.ID, len(ids))
	for i, id := range ids {
		quirks[i] = rules.ID(id)
	}
	opts := []mockserver.Option{mockserver.WithQuirks(quirks...), mockserver.WithLogger(log)}
	if s.quirksFromHeader {
		opts = append(opts, mockserver.WithQuirksFromHeader())
	}
	return cfg, opts, nil
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	s, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	level, err := logLevel(s.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, opts, err := config(s, log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	mock, err := mockserver.New(cfg, opts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer mock.Close()

	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		fmt.Fprintf(stderr, "mockserver: cannot listen on %s: %v: pick another -addr (or ADDR)\n", s.addr, err)
		return 1
	}
	srv := mockserver.NewHTTPServer(s.addr, mock, log)
	if s.h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "tokenharness mockserver: profile=%s listening on http://%s\n", cfg.Profile, ln.Addr())

	select {
	case err := <-served:
		log.Error("server stopped", "error", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("graceful shutdown timed out; closing connections", "error", err)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("server stopped", "error", err)
		return 1
	}
	log.Info("stopped")
	return 0
}
