package mockserver

import (
	"net/http"
	"testing"
	"time"

	"tokenharness/internal/rules"
)

func TestExpiry(t *testing.T) {
	t.Parallel()
	t.Run("code", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, rules.RFC6749)
		g := h.code(codeOpts{})
		h.clock.Advance(h.srv.cfg.CodeTTL)
		if got := h.redeem(g).summary(); got != "400 invalid_grant" {
			t.Errorf("code at its expiry: got %s, want 400 invalid_grant", got)
		}
		g = h.code(codeOpts{})
		h.clock.Advance(h.srv.cfg.CodeTTL - time.Second)
		if got := h.redeem(g).summary(); got != "200 tokens" {
			t.Errorf("code just before expiry: got %s", got)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, rules.RFC6749)
		rt := h.tokens(codeOpts{}).str("refresh_token")
		h.clock.Advance(h.srv.cfg.RefreshTTL - time.Second)
		if got := h.refresh(rt).summary(); got != "200 tokens" {
			t.Errorf("refresh just before expiry: got %s", got)
		}
		h.clock.Advance(time.Second)
		if got := h.refresh(rt).summary(); got != "400 invalid_grant" {
			t.Errorf("refresh at expiry: got %s, want 400 invalid_grant", got)
		}
	})
	for _, p := range profiles() {
		t.Run("access/"+string(p), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, p)
			at := h.tokens(codeOpts{}).str("access_token")
			if !h.srv.accessActive(at) {
				t.Fatal("a fresh access token is not active")
			}
			h.clock.Advance(h.srv.cfg.AccessTTL)
			if h.srv.accessActive(at) {
				t.Error("an access token is active past its lifetime")
			}
			if h.srv.accessActive(at + "x") {
				t.Error("a mangled access token is active")
			}
		})
	}
}

// A replayed code revokes everything issued from it, access tokens too.
func TestReplayRevokesEverythingIssued(t *testing.T) {
	t.Parallel()
	for _, p := range profiles() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, p)
			g := h.code(codeOpts{})
			first := h.redeem(g)
			at, rt := first.str("access_token"), first.str("refresh_token")
			if got := h.redeem(g).summary(); got != "400 invalid_grant" {
				t.Fatalf("replay: got %s", got)
			}
			if h.srv.accessActive(at) {
				t.Error("the access token issued from a replayed code is still active")
			}
			if got := h.refresh(rt).summary(); got != "400 invalid_grant" {
				t.Errorf("refresh token issued from a replayed code: got %s", got)
			}
		})
	}
}

// Reusing a rotated-out refresh token revokes the whole family: the active
// refresh token and the access tokens.
func TestReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	for _, p := range []rules.Profile{rules.OAuth21, rules.Dressipi} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, p)
			rt := h.tokens(codeOpts{}).str("refresh_token")
			r1 := h.refresh(rt)
			r2 := h.refresh(r1.str("refresh_token"))
			active, at := r2.str("refresh_token"), r2.str("access_token")
			if got := h.refresh(rt).summary(); got != "400 invalid_grant" {
				t.Fatalf("reuse: got %s", got)
			}
			if got := h.refresh(active).summary(); got != "400 invalid_grant" {
				t.Errorf("active token after reuse: got %s, want 400 invalid_grant", got)
			}
			if h.srv.accessActive(at) {
				t.Error("an access token of the revoked family is still active")
			}
		})
	}
}

func TestRotationGrace(t *testing.T) {
	t.Parallel()
	cfg, err := loadTest(rules.OAuth21, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RotationGrace = 30 * time.Second
	h := newHarnessCfg(t, cfg)
	rt := h.tokens(codeOpts{}).str("refresh_token")
	next := h.refresh(rt).str("refresh_token")
	h.clock.Advance(29 * time.Second)
	retry := h.refresh(rt)
	if retry.status != http.StatusOK || retry.str("refresh_token") != next {
		t.Fatalf("retry within grace: %d %s, want 200 with the active token", retry.status, retry.body)
	}
	h.clock.Advance(time.Second)
	if got := h.refresh(rt).summary(); got != "400 invalid_grant" {
		t.Errorf("reuse after grace: got %s", got)
	}
	if got := h.refresh(next).summary(); got != "400 invalid_grant" {
		t.Errorf("active token after reuse past grace: got %s, want revoked", got)
	}
}

// The janitor forgets what expired, so memory is bounded by what is live.
func TestSweepEvictsExpired(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.OAuth21)
	for range 20 {
		h.code(codeOpts{})
		rt := h.tokens(codeOpts{}).str("refresh_token")
		h.refresh(rt)
	}
	g := h.code(codeOpts{})
	h.redeem(g)
	h.redeem(g) // replay: revokes a family
	before := h.srv.Stats()
	if before.Codes == 0 || before.RefreshTokens == 0 || before.Families == 0 {
		t.Fatalf("nothing stored: %+v", before)
	}
	h.srv.Sweep()
	if got := h.srv.Stats(); got.Families != before.Families-1 || got.Codes != before.Codes {
		t.Errorf("sweep before expiry: %+v -> %+v, want only the revoked family gone", before, got)
	}
	h.clock.Advance(h.srv.cfg.CodeTTL)
	h.srv.Sweep()
	if got := h.srv.Stats(); got.Codes != 0 || got.RefreshTokens == 0 {
		t.Errorf("after code expiry: %+v, want codes gone, refresh tokens kept", got)
	}
	h.clock.Advance(h.srv.cfg.RefreshTTL)
	h.srv.Sweep()
	if got := h.srv.Stats(); got != (Stats{}) {
		t.Errorf("after every expiry: %+v, want all zero", got)
	}
}

func TestJanitorRuns(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	cfg, err := loadTest(rules.RFC6749, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, WithClock(clock.Now), WithJanitorInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := &harness{t: t, srv: srv, clock: clock, profile: rules.RFC6749}
	h.tokens(codeOpts{})
	clock.Advance(cfg.RefreshTTL + cfg.AccessTTL)
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats() != (Stats{}) {
		if time.Now().After(deadline) {
			t.Fatalf("the janitor did not sweep within 5s: %+v", srv.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	srv.Close()
	srv.Close() // idempotent
}

// A long rotation chain keeps a bounded number of rotated-out tokens.
func TestRetiredTokensAreBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, rules.OAuth21)
	rt := h.tokens(codeOpts{}).str("refresh_token")
	for range 3 * maxRetired {
		r := h.refresh(rt)
		if r.status != 200 {
			t.Fatalf("refresh: %s", r.body)
		}
		rt = r.str("refresh_token")
	}
	if got := h.srv.Stats().RefreshTokens; got != maxRetired+1 {
		t.Errorf("refresh tokens held = %d, want %d (the active one and %d rotated out)", got, maxRetired+1, maxRetired)
	}
}

// One code, many simultaneous redemptions: exactly one wins.
func TestConcurrentRedemption(t *testing.T) {
	t.Parallel()
	const n = 100
	for _, p := range profiles() {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, p)
			g := h.code(codeOpts{})
			if got, want := race(h, n, func() *result { return h.redeem(g) }), "1 of 100 won"; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
	t.Run("with the race quirk", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, rules.RFC6749, WithQuirks(rules.CodeRace.ID))
		g := h.code(codeOpts{})
		if got, want := race(h, n, func() *result { return h.redeem(g) }), "100 of 100 won"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}

// One rotating refresh token, many simultaneous refreshes: exactly one wins.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	const n = 100
	for _, p := range []rules.Profile{rules.OAuth21, rules.Dressipi} {
		t.Run(string(p), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, p)
			rt := h.tokens(codeOpts{}).str("refresh_token")
			if got, want := race(h, n, func() *result { return h.refresh(rt) }), "1 of 100 won"; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
	t.Run("without rotation all win", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, rules.RFC6749)
		rt := h.tokens(codeOpts{}).str("refresh_token")
		if got, want := race(h, n, func() *result { return h.refresh(rt) }), "100 of 100 won"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("with the race quirk", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, rules.OAuth21, WithQuirks(rules.RefreshRace.ID))
		rt := h.tokens(codeOpts{}).str("refresh_token")
		if got, want := race(h, n, func() *result { return h.refresh(rt) }), "100 of 100 won"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
}
