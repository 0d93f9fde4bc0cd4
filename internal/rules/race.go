package rules

import (
	"context"
	"fmt"

	"tokenharness/internal/oauth"
)

// Concurrent redemption: two requests racing for one code or one refresh
// token. At most one may win; a check-then-set without a lock lets both.

// raceWidth requests race, raceAttempts times with fresh grants: a
// get-then-delete store loses a race only now and then, and two racers in
// one try missed such a server in a cross-check; 3×8 caught it.
const (
	raceWidth    = 8
	raceAttempts = 3
)

func judgeRace(xs []*oauth.Exchange, what string) Outcome {
	won := 0
	for _, x := range xs {
		if Won(x) {
			won++
		}
	}
	if won > 1 {
		return Violated(nil, "%d of %d simultaneous %s succeeded; at most one may", won, len(xs), what)
	}
	return Outcome{Note: fmt.Sprintf("%d of %d simultaneous %s succeeded", won, len(xs), what)}
}

var (
	CodeRace = Rule{
		ID: "RFC6749-4.1.2-CODE-RACE", Level: MUST,
		Source:   rfc6749("4.1.2", `If an authorization code is used more than once, the authorization server MUST deny the request`),
		Summary:  "of simultaneous redemptions of one code, at most one succeeds",
		Profiles: Everywhere(), Needs: []Need{NeedCode}, Race: true,
		Flow: func(ctx context.Context, e Env) Outcome {
			var o Outcome
			for range raceAttempts {
				g, err := e.Code(ctx, CodeOptions{})
				if err != nil {
					return SetupFailed(nil, err)
				}
				rs := make([]Request, raceWidth)
				for i := range rs {
					rs[i] = Redeem(g)
					rs[i].Step = "racing redemption"
				}
				if o = judgeRace(e.Race(ctx, rs...), "redemptions of one code"); o.Violation != nil {
					return o
				}
			}
			return o
		},
	}
	RefreshRace = Rule{
		ID: "RFC9700-4.14.2-REFRESH-RACE", Level: MUST,
		Source:   rfc9700("4.14.2", `Refresh token rotation: ... the previous refresh token is invalidated`),
		Summary:  "of simultaneous refreshes with one rotating token, at most one succeeds",
		Profiles: rotationProfiles, Needs: []Need{NeedCode, NeedGrantRefresh}, Race: true,
		Flow: func(ctx context.Context, e Env) Outcome {
			var o Outcome
			for range raceAttempts {
				_, x, rt, err := Tokens(ctx, e, CodeOptions{})
				if err != nil || rt == "" {
					return setupNoRefresh(x, err)
				}
				rs := make([]Request, raceWidth)
				for i := range rs {
					rs[i] = Refresh(e, rt)
					rs[i].Step = "racing refresh"
				}
				if o = judgeRace(e.Race(ctx, rs...), "refreshes of one token"); o.Violation != nil {
					return o
				}
			}
			return o
		},
	}
)

var race = []Rule{CodeRace, RefreshRace}
