package rules

import (
	"context"
	"slices"
	"strings"

	"tokenharness/internal/oauth"
)

// Scope at the token endpoint (RFC 6749 §3.3, §5.2 invalid_scope, §6).

// scopeDocsSilent waives scope rules for the vendor documents, which define
// no scope parameter at their token endpoints.
func scopeDocsSilent() Profiles {
	const why = " document defines no scope parameter at the token endpoint"
	return Everywhere().With(Commoninja, Waive("the commoninja"+why)).With(Dressipi, Waive("the dressipi"+why))
}

// scopeNotGranted judges tokens issued in answer to a request for scope
// asked, of which extra may not be granted (never granted, beyond the
// client's, or malformed). §3.3 lets a server "fully or partially ignore the
// scope requested by the client", so tokens pass when the response names
// the scope issued and it leaves extra out; §5.1 makes a response without
// "scope" state that the requested scope was granted, extra included.
// A refusal is for the rule's Expect to judge.
func scopeNotGranted(x *oauth.Exchange, asked, extra string) Outcome {
	if !Won(x) {
		return Judge(x)
	}
	granted, said := x.Response.String(oauth.ParamScope)
	switch {
	case !said:
		return Violated(x, "the request asking for %q was answered with tokens and no scope member, which under RFC 6749 §5.1 means the requested scope, %q included, was granted; a server that ignored it must say which scope it issued", asked, extra)
	case slices.Contains(strings.Fields(granted), extra):
		return Violated(x, "the token was issued with scope %q, which includes %q", granted, extra)
	}
	return Outcome{Note: "the server ignored " + extra + " and issued scope " + granted}
}

var (
	InvalidScope = Rule{
		ID: "RFC6749-5.2-INVALID-SCOPE", Level: MUST,
		Source:   rfc6749("5.2", `invalid_scope The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner.`),
		Summary:  "a refresh asking for a malformed scope is refused, or the malformed scope ignored and the issued scope said",
		Profiles: scopeDocsSilent(), Needs: []Need{NeedCode, NeedGrantRefresh},
		// '"' is outside scope-token (%x21 / %x23-5B / %x5D-7E, §3.3).
		// invalid_request ("otherwise malformed") is an allowed refusal too;
		// so is ignoring the scope (§3.3), said in "scope".
		Flow: func(ctx context.Context, e Env) Outcome {
			_, x, rt, err := Tokens(ctx, e, CodeOptions{})
			if err != nil || rt == "" {
				return setupNoRefresh(x, err)
			}
			const malformed = `read"tokenharness`
			r := Refresh(e, rt)
			r.Step = "refresh asking for scope " + malformed
			r.Form.Set(oauth.ParamScope, malformed)
			return scopeNotGranted(e.Do(ctx, r), malformed, malformed)
		},
		Expect: []Check{Rejected(oauth.ErrInvalidScope, oauth.ErrInvalidRequest)},
	}
	// Only the rotating profile: a server that keeps its refresh token
	// issues none to judge (the rule skips), so the rfc6749 mock could not
	// show the rule failing.
	RotatedScopeKept = Rule{
		ID: "RFC6749-6-ROTATED-SCOPE-KEPT", Level: MUST,
		Source:   rfc6749("6", `If a new refresh token is issued, the refresh token scope MUST be identical to that of the refresh token included by the client in the request.`),
		Summary:  "a refresh token rotated on a narrowed refresh keeps the original scope",
		Profiles: Only(OAuth21), Needs: []Need{NeedCode, NeedGrantRefresh, NeedScope},
		Flow: func(ctx context.Context, e Env) Outcome {
			scopes := strings.Fields(e.Scope())
			if len(scopes) < 2 {
				return Outcome{Skip: "needs a SCOPE of two or more scope tokens, to narrow one refresh and ask for the whole scope again"}
			}
			_, x, rt, err := Tokens(ctx, e, CodeOptions{Scope: e.Scope()})
			if err != nil || rt == "" {
				return setupNoRefresh(x, err)
			}
			r := Refresh(e, rt)
			r.Step = "refresh asking for a narrower scope"
			r.Form.Set(oauth.ParamScope, scopes[0])
			x = e.Do(ctx, r)
			if err := Success().Fn(x); err != nil {
				return Inconclusive(x, "the narrowed refresh issued no tokens: %v", err)
			}
			next := Str(x, oauth.ParamRefreshToken)
			if next == "" || next == rt {
				return Outcome{Skip: "the narrowed refresh issued no new refresh token, so its scope cannot be judged"}
			}
			r = Refresh(e, next)
			r.Step = "refresh with the new refresh token asking for the original scope"
			r.Form.Set(oauth.ParamScope, e.Scope())
			return Judge(e.Do(ctx, r))
		},
		Expect: []Check{Success()},
	}
)

var scopeRules = []Rule{InvalidScope, RotatedScopeKept}
