package rules

import (
	"context"
	"fmt"
	"strings"
	"time"

	"tokenharness/internal/oauth"
)

// Concurrent redemption: many requests racing for one code or one refresh
// token. At most one may win; a check-then-act without a lock lets several.
//
// Such a window can be a microsecond wide, and whether one race hits it is
// luck, so a rule races again with a fresh grant until one race has two
// winners or the run's RaceBudget is spent. Env.Race releases the requests
// last-byte synchronised; raceWidth of them per race give many pairs a
// chance to meet in the window.
const raceWidth = 16

// raceSetup reaches a fresh starting state and builds the racing requests.
// On failure it returns the exchange that stood in the way (may be nil).
type raceSetup func(ctx context.Context) (rs []Request, setup *oauth.Exchange, err error)

// maxSetupFailures ends the attempts early when setup failed this many
// times in a row: a broken precondition does not mend by spending the budget.
const maxSetupFailures = 3

// raceRepeatedly races until a race has more than one winner (violated),
// or the budget is spent: passed when some race completed, inconclusive
// when none did. Evidence is the deciding attempt's exchanges (the
// violating one, else the last), with one Note line per attempt.
func raceRepeatedly(ctx context.Context, e Env, what string, setup raceSetup) Outcome {
	b := e.RaceBudget()
	attempts := max(b.Attempts, 1)
	start := time.Now()
	var (
		lines                []string
		evidence             []*oauth.Exchange
		completed, failedRow int
		lastSetup            Outcome
	)
	note := func() string { return strings.Join(lines, "\n") }
	for i := 1; i <= attempts && ctx.Err() == nil; i++ {
		if i > 1 && time.Since(start) >= b.Time {
			lines = append(lines, fmt.Sprintf("race budget of %v spent after %d attempts", b.Time, i-1))
			break
		}
		rs, sx, err := setup(ctx)
		if err != nil {
			lastSetup = SetupFailed(sx, err)
			if lastSetup.Skip != "" {
				return lastSetup
			}
			lines = append(lines, fmt.Sprintf("attempt %d/%d: %s", i, attempts, lastSetup.Inconclusive))
			evidence = nil
			if sx != nil {
				evidence = []*oauth.Exchange{sx}
			}
			if failedRow++; failedRow >= maxSetupFailures && completed == 0 {
				break
			}
			continue
		}
		failedRow = 0
		res := e.Race(ctx, rs...)
		spread := res.Spread.Round(time.Microsecond)
		won, answered := 0, 0
		for _, x := range res.Exchanges {
			// A win or a refusal is the server deciding; a 5xx or a
			// transport failure decides nothing.
			if x.Response != nil && x.Response.Status < 500 {
				answered++
			}
			if Won(x) {
				won++
			}
		}
		evidence = append([]*oauth.Exchange(nil), res.Exchanges...)
		if sx != nil {
			evidence = append([]*oauth.Exchange{sx}, evidence...)
		}
		line := fmt.Sprintf("attempt %d/%d: %d of %d won, spread %v", i, attempts, won, len(rs), spread)
		if res.Via != "" {
			line += ", via " + res.Via
		}
		if answered < len(rs) {
			line += fmt.Sprintf(", %d undecided (5xx or no answer)", len(rs)-answered)
		}
		lines = append(lines, line)
		if won > 1 {
			how := fmt.Sprintf("arrival spread %v", spread)
			if res.Via != "" {
				how += ", via " + res.Via
			}
			o := Violated(nil, "attempt %d/%d: %d of %d simultaneous %s succeeded (%s); at most one may",
				i, attempts, won, len(rs), what, how)
			o.Note, o.Evidence = note(), evidence
			return o
		}
		if answered > 0 {
			completed++
		}
	}
	if completed == 0 {
		judged := lastSetup.Judged
		if judged == nil && len(evidence) > 0 {
			judged = evidence[len(evidence)-1]
		}
		o := Inconclusive(judged, "no race could be completed: %s",
			firstNonEmpty(lastSetup.Inconclusive, "no racer got a decision (2xx or 4xx) from the server"))
		o.Note, o.Evidence = note(), evidence
		return o
	}
	return Outcome{Note: fmt.Sprintf("%d races, each of %d simultaneous %s, had at most one winner\n%s",
		completed, raceWidth, what, note()), Evidence: evidence}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// racing builds raceWidth copies of r for step.
func racing(r Request, step string) []Request {
	rs := make([]Request, raceWidth)
	for i := range rs {
		rs[i] = r
		rs[i].Step = step
	}
	return rs
}

var (
	CodeRace = Rule{
		ID: "RFC6749-4.1.2-CODE-RACE", Level: MUST,
		Source:   rfc6749("4.1.2", `If an authorization code is used more than once, the authorization server MUST deny the request`),
		Summary:  "of simultaneous redemptions of one code, at most one succeeds",
		Profiles: Everywhere(), Needs: []Need{NeedCode}, Race: true,
		Flow: func(ctx context.Context, e Env) Outcome {
			return raceRepeatedly(ctx, e, "redemptions of one code", func(ctx context.Context) ([]Request, *oauth.Exchange, error) {
				g, err := e.Code(ctx, CodeOptions{})
				if err != nil {
					return nil, nil, err
				}
				return racing(Redeem(g), "racing redemption"), nil, nil
			})
		},
	}
	RefreshRace = Rule{
		ID: "RFC9700-4.14.2-REFRESH-RACE", Level: MUST,
		Source:   rfc9700("4.14.2", `Refresh token rotation: ... the previous refresh token is invalidated`),
		Summary:  "of simultaneous refreshes with one rotating token, at most one succeeds",
		Profiles: rotationProfiles, Needs: rotationNeeds, Race: true,
		Flow: func(ctx context.Context, e Env) Outcome {
			return raceRepeatedly(ctx, e, "refreshes of one token", func(ctx context.Context) ([]Request, *oauth.Exchange, error) {
				_, x, rt, err := Tokens(ctx, e, CodeOptions{})
				if err != nil {
					return nil, x, err
				}
				if rt == "" {
					return nil, x, &Unavailable{Reason: "the code exchange issued no refresh_token, so refresh behaviour cannot be checked"}
				}
				return racing(Refresh(e, rt), "racing refresh"), x, nil
			})
		},
	}
)

var race = []Rule{CodeRace, RefreshRace}
