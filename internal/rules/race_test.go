package rules

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"tokenharness/internal/oauth"
)

// raceEnv is an Env whose races are scripted: race i (from 1) has wins[i-1]
// winners, the others refused; codes fail where codeErr says.
type raceEnv struct {
	budget  RaceBudget
	wins    []int
	status  int // status of the losers (default 400)
	codeErr func(i int) error
	codes   int
	races   int
}

func (e *raceEnv) Profile() ProfileInfo   { return ProfileInfo{Name: RFC6749} }
func (e *raceEnv) Has(Need) bool          { return true }
func (e *raceEnv) RedirectURI() string    { return "" }
func (e *raceEnv) Scope() string          { return "" }
func (e *raceEnv) RaceBudget() RaceBudget { return e.budget }
func (e *raceEnv) Code(context.Context, CodeOptions) (*Grant, error) {
	e.codes++
	if e.codeErr != nil {
		if err := e.codeErr(e.codes); err != nil {
			return nil, err
		}
	}
	return &Grant{Code: "c", Client: Client1, Method: PKCENone}, nil
}
func (e *raceEnv) Do(context.Context, Request) *oauth.Exchange {
	return resp(200, oauth.MediaJSON, tokenBody)
}
func (e *raceEnv) Race(_ context.Context, rs ...Request) RaceResult {
	e.races++
	won := 0
	if e.races <= len(e.wins) {
		won = e.wins[e.races-1]
	}
	lose := e.status
	if lose == 0 {
		lose = 400
	}
	out := make([]*oauth.Exchange, len(rs))
	for i := range rs {
		out[i] = resp(lose, oauth.MediaJSON, `{"error":"invalid_grant"}`)
		if i < won {
			out[i] = resp(200, oauth.MediaJSON, tokenBody)
		}
		out[i].Step = rs[i].Step
	}
	return RaceResult{Exchanges: out, Spread: 38 * time.Microsecond}
}

func TestRaceRepeatedly(t *testing.T) {
	t.Parallel()
	budget := RaceBudget{Attempts: 20, Time: time.Minute}
	t.Run("stops at the first double win", func(t *testing.T) {
		t.Parallel()
		e := &raceEnv{budget: budget, wins: []int{1, 0, 1, 1, 1, 1, 2, 5}}
		o := CodeRace.Run(context.Background(), e)
		if o.Violation == nil || e.races != 7 {
			t.Fatalf("violation %v after %d races, want one at race 7", o.Violation, e.races)
		}
		if want := "attempt 7/20: 2 of 16 simultaneous redemptions of one code succeeded (arrival spread 38µs)"; !strings.Contains(o.Violation.Error(), want) {
			t.Errorf("violation %q, want it to say %q", o.Violation, want)
		}
		if len(o.Evidence) != raceWidth {
			t.Errorf("%d exchanges of evidence, want the violating race's %d", len(o.Evidence), raceWidth)
		}
		if lines := strings.Split(o.Note, "\n"); len(lines) != 7 || lines[6] != "attempt 7/20: 2 of 16 won, spread 38µs" {
			t.Errorf("note = %q, want one line per attempt", o.Note)
		}
	})
	t.Run("spends the attempts, then passes with a note", func(t *testing.T) {
		t.Parallel()
		e := &raceEnv{budget: budget}
		o := RefreshRace.Run(context.Background(), e)
		if o.Violation != nil || o.Inconclusive != "" || e.races != 20 {
			t.Fatalf("outcome %+v after %d races, want a pass after 20", o, e.races)
		}
		if !strings.HasPrefix(o.Note, "20 races, each of 16 simultaneous refreshes of one token, had at most one winner") {
			t.Errorf("note = %q", o.Note)
		}
		if len(o.Evidence) != raceWidth+1 {
			t.Errorf("%d exchanges of evidence, want the last attempt's redemption and race", len(o.Evidence))
		}
	})
	t.Run("stops when the time is spent", func(t *testing.T) {
		t.Parallel()
		e := &raceEnv{budget: RaceBudget{Attempts: 1000, Time: time.Nanosecond}}
		o := CodeRace.Run(context.Background(), e)
		if o.Violation != nil || e.races != 1 || !strings.Contains(o.Note, "race budget of 1ns spent after 1 attempts") {
			t.Errorf("outcome %+v after %d races, want a pass after one", o, e.races)
		}
	})
	t.Run("setup failing every time is inconclusive", func(t *testing.T) {
		t.Parallel()
		e := &raceEnv{budget: budget, codeErr: func(int) error { return errors.New("authorize said no") }}
		o := CodeRace.Run(context.Background(), e)
		if o.Inconclusive == "" || o.Violation != nil || e.races != 0 || e.codes != maxSetupFailures {
			t.Errorf("outcome %+v after %d codes, %d races; want inconclusive after %d failed setups", o, e.codes, e.races, maxSetupFailures)
		}
	})
	t.Run("a setup that fails now and then does not decide", func(t *testing.T) {
		t.Parallel()
		e := &raceEnv{budget: budget, codeErr: func(i int) error {
			if i%2 == 0 {
				return errors.New("flaky")
			}
			return nil
		}}
		o := CodeRace.Run(context.Background(), e)
		if o.Violation != nil || o.Inconclusive != "" || e.races != 10 {
			t.Errorf("outcome %+v after %d races, want a pass after 10 races in 20 attempts", o, e.races)
		}
	})
	t.Run("an unavailable code source skips", func(t *testing.T) {
		t.Parallel()
		e := &raceEnv{budget: budget, codeErr: func(int) error { return &Unavailable{Reason: "no codes"} }}
		if o := CodeRace.Run(context.Background(), e); o.Skip != "no codes" {
			t.Errorf("outcome %+v, want skipped", o)
		}
	})
	t.Run("races answered only with 5xx are inconclusive", func(t *testing.T) {
		t.Parallel()
		e := &raceEnv{budget: RaceBudget{Attempts: 3, Time: time.Minute}, status: 503}
		o := CodeRace.Run(context.Background(), e)
		if o.Inconclusive == "" || e.races != 3 || !strings.Contains(o.Note, "16 undecided") {
			t.Errorf("outcome %+v after %d races, want inconclusive after 3", o, e.races)
		}
	})
}
