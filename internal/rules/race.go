package rules

import (
	"context"
	"fmt"

	"tokenharness/internal/oauth"
)

// Concurrent redemption: two requests racing for one code or one refresh
// token. At most one may win; a check-then-set without a lock lets both.

// raceWidth is how many requests race; two is enough to show the bug and
// keeps the rule cheap against a real server.
const raceWidth = 2

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
			g, err := e.Code(ctx, CodeOptions{})
			if err != nil {
				return SetupFailed(nil, err)
			}
			rs := make([]Request, raceWidth)
			for i := range rs {
				rs[i] = Redeem(g)
				rs[i].Step = "racing redemption"
			}
			return judgeRace(e.Race(ctx, rs...), "redemptions of one code")
		},
	}
	RefreshRace = Rule{
		ID: "RFC9700-4.14.2-REFRESH-RACE", Level: MUST,
		Source:   rfc9700("4.14.2", `Refresh token rotation: ... the previous refresh token is invalidated`),
		Summary:  "of simultaneous refreshes with one rotating token, at most one succeeds",
		Profiles: rotationProfiles, Needs: []Need{NeedCode}, Race: true,
		Flow: func(ctx context.Context, e Env) Outcome {
			_, x, rt, err := Tokens(ctx, e, CodeOptions{})
			if err != nil || rt == "" {
				return setupNoRefresh(x, err)
			}
			rs := make([]Request, raceWidth)
			for i := range rs {
				rs[i] = Refresh(e, rt)
				rs[i].Step = "racing refresh"
			}
			return judgeRace(e.Race(ctx, rs...), "refreshes of one token")
		},
	}
)

var race = []Rule{CodeRace, RefreshRace}
