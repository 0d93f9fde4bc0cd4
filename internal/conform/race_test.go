package conform

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// Env.Race sends over the probe's racer, labels each exchange with its
// step, learns the secrets the responses carry, and the verdict shows the
// evidence the rule chose rather than the whole trail.
func TestRaceEvidence(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tok-race-` + string(rune('a'+n.Add(1))) + `-0123456789","token_type":"Bearer"}`))
	}))
	defer srv.Close()
	cfg := target.Default()
	cfg.Profile, cfg.Target, cfg.ClientID, cfg.ClientAuth = "rfc6749", srv.URL+"/oauth/token", "c", oauth.AuthNone
	cfg.RaceAttempts = 7
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var budget rules.RaceBudget
	flow := func(ctx context.Context, e rules.Env) rules.Outcome {
		budget = e.RaceBudget()
		e.Do(ctx, rules.Request{Step: "setup"})
		res := e.Race(ctx, rules.Request{Step: "one"}, rules.Request{Step: "two"})
		return rules.Outcome{Note: "raced", Evidence: res.Exchanges[1:]}
	}
	v := r.Run(context.Background(), rules.Rule{ID: "TH-TEST-RACE", Level: rules.MUST, Flow: flow, Race: true,
		Profiles: rules.Profiles{rules.RFC6749: rules.Enforce}})
	if v.Status != reports.StatusPassed {
		t.Fatalf("status %s: %s", v.Status, v)
	}
	if budget != (rules.RaceBudget{Attempts: 7, Time: target.DefaultRaceBudget}) {
		t.Errorf("RaceBudget = %+v, want the configuration's", budget)
	}
	if len(v.Evidence) != 1 || v.Evidence[0].Step != "two" {
		t.Fatalf("evidence = %d exchanges (%v), want only the chosen one, step two", len(v.Evidence), v.Evidence)
	}
	if body := string(v.Evidence[0].Response.Body); !strings.Contains(body, redact.Mask) || strings.Contains(body, "tok-race-") {
		t.Errorf("raced token not redacted: %s", body)
	}
}
