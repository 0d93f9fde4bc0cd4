package mockserver

import (
	"strings"
	"testing"
	"time"

	"tokenharness/internal/rules"
)

// The race quirks hold their window for exactly what the configuration
// says, the default when it says nothing, and 0 when asked for 0.
func TestRaceWindowConfigured(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		set  *time.Duration
		want time.Duration
	}{
		{"unset", nil, DefaultRaceWindow},
		{"zero", new(time.Duration(0)), 0},
		{"one microsecond", new(time.Microsecond), time.Microsecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadTest(rules.OAuth21, "")
			if err != nil {
				t.Fatal(err)
			}
			cfg.RaceWindow = tt.set
			h := newHarnessCfg(t, cfg, WithQuirks(rules.CodeRace.ID, rules.RefreshRace.ID))
			var held []time.Duration
			h.srv.sleep = func(d time.Duration) { held = append(held, d) }
			rt := h.tokens(codeOpts{}).str("refresh_token")
			h.refresh(rt)
			if len(held) != 2 || held[0] != tt.want || held[1] != tt.want {
				t.Errorf("windows held = %v, want [%v %v] (code race, refresh race)", held, tt.want, tt.want)
			}
		})
	}
}

func TestRaceWindowFromFixtures(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig([]byte("race_window: 5us\nclients: [{id: a, secret: s, redirect_uris: ['http://127.0.0.1/cb']}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RaceWindow == nil || *cfg.RaceWindow != 5*time.Microsecond {
		t.Fatalf("race_window = %v, want 5µs", cfg.RaceWindow)
	}
	cfg.Profile = rules.RFC6749
	*cfg.RaceWindow = -time.Microsecond
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "race_window -1µs is negative") {
		t.Errorf("Validate = %v, want the negative race_window named", err)
	}
}

// hold keeps a window open at least as long as asked, short ones included.
func TestHold(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, time.Microsecond, 50 * time.Microsecond, 2 * time.Millisecond} {
		start := time.Now()
		hold(d)
		if got := time.Since(start); got < d {
			t.Errorf("hold(%v) returned after %v", d, got)
		}
	}
}
