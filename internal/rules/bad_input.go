package rules

import (
	"context"
	"strings"

	"tokenharness/internal/oauth"
)

// Request syntax and hostile input (RFC 6749 §3.2, §4.1.3; harness robustness).

// hugeBodySize is the size of the oversized request body: far beyond any
// legitimate token request, small enough to send in well under a second.
const hugeBodySize = 10 << 20

var (
	// The sentence binds the client; RFC 6749 states no server duty to
	// refuse other methods, so a GET that issues tokens is a SHOULD finding.
	PostOnly = Rule{
		ID: "RFC6749-3.2-POST-ONLY", Level: SHOULD,
		Source:  rfc6749("3.2", `The client MUST use the HTTP "POST" method when making access token requests.`),
		Summary: "a GET request to the token endpoint issues no tokens",
		Profiles: Everywhere().With(Commoninja,
			Warn("the commoninja document's heading says GET /oauth/token while every example uses POST")),
		Needs: []Need{NeedCode},
		Send: redeemWith("redeem with GET and the parameters in the query", func(r *Request) {
			r.Method = "GET"
		}),
		Expect: []Check{NotIssued()},
	}
	FormEncoded = Rule{
		ID: "RFC6749-4.1.3-FORM-ENCODED", Level: SHOULD,
		Source:   rfc6749("4.1.3", `The client makes a request to the token endpoint by sending the following parameters using the "application/x-www-form-urlencoded" format`),
		Summary:  "a JSON request body is rejected with invalid_request",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Send:   redeemWith("redeem with a JSON body", func(r *Request) { r.JSON = true }),
		Expect: []Check{Rejected(oauth.ErrInvalidRequest)},
	}
	WrongContentType = Rule{
		ID: "TH-INPUT-WRONG-CONTENT-TYPE", Level: SHOULD,
		Source:   harness("input", `A body labelled with another media type is not a form, whatever it contains.`),
		Summary:  "a form body labelled text/plain is rejected with invalid_request",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Send:   redeemWith("redeem labelled text/plain", func(r *Request) { r.ContentType = "text/plain" }),
		Expect: []Check{Rejected(oauth.ErrInvalidRequest)},
	}
	// The sentence binds whoever sends parameters: the client's requests and
	// the server's responses. Rejecting a client's repeated parameter is the
	// server's good practice, not its obligation, so it is a SHOULD here
	// (as RFC6749-5.2-ONE-AUTH-METHOD is for the same reason).
	DuplicateParams = Rule{
		ID: "RFC6749-3.2-NO-DUPLICATE-PARAMS", Level: SHOULD,
		Source:   rfc6749("3.2", `Request and response parameters MUST NOT be included more than once.`),
		Summary:  "a request repeating a parameter is rejected with invalid_request",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Send: redeemWith("redeem with grant_type twice", func(r *Request) {
			r.Form.Add(oauth.ParamGrantType, oauth.GrantAuthorizationCode)
		}),
		Expect: []Check{Rejected(oauth.ErrInvalidRequest)},
	}
	// §3.2 fixes no answer for an empty parameter, only that it is the
	// answer to the parameter's absence: the rule sends both and compares.
	EmptyParamOmitted = Rule{
		ID: "RFC6749-3.2-EMPTY-PARAM-OMITTED", Level: MUST,
		Source:   rfc6749("3.2", `Parameters sent without a value MUST be treated as if they were omitted from the request.`),
		Summary:  "an empty grant_type gets the same answer as no grant_type",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Flow: func(ctx context.Context, e Env) Outcome {
			g, err := e.Code(ctx, CodeOptions{})
			if err != nil {
				return SetupFailed(nil, err)
			}
			omitted := Redeem(g)
			omitted.Step = "redeem without grant_type"
			omitted.Form.Del(oauth.ParamGrantType)
			base := e.Do(ctx, omitted)
			b, err := base.Got()
			if err != nil || b.Status >= 500 {
				return Inconclusive(base, "the request without grant_type, the answer to compare with, got %s", answerOf(base))
			}
			empty := Redeem(g)
			empty.Step = "redeem with grant_type="
			empty.Form.Set(oauth.ParamGrantType, "")
			x := e.Do(ctx, empty)
			if answerOf(x) != answerOf(base) {
				return Violated(x, "an empty grant_type got %s, but no grant_type got %s", answerOf(x), answerOf(base))
			}
			return Outcome{Note: "both got " + answerOf(x)}
		},
	}
	UnknownParamsIgnored = Rule{
		ID: "RFC6749-3.2-UNKNOWN-PARAMS-IGNORED", Level: MUST,
		Source:   rfc6749("3.2", `The authorization server MUST ignore unrecognized request parameters.`),
		Summary:  "unrecognised request parameters are ignored",
		Profiles: Everywhere(), Needs: []Need{NeedCode},
		Send: redeemWith("redeem with an unknown parameter", func(r *Request) {
			r.Form.Set("tokenharness_unknown", "ignored")
		}),
		Expect: []Check{Success()},
	}
	HugeBody = Rule{
		ID: "TH-INPUT-HUGE-BODY", Level: SHOULD,
		Source:   harness("input", `A token endpoint bounds what it reads: an oversized body is refused with a 4xx, not a crash, a 5xx or a hang.`),
		Summary:  "a 10 MB request body is refused with a 4xx",
		Profiles: Everywhere(),
		Send: &Send{From: FromNothing, Build: func(s *State) Request {
			r := unknownCode(s)
			r.Step = "send a 10 MB body"
			r.Form.Set("tokenharness_padding", strings.Repeat("a", hugeBodySize))
			return r
		}},
		Expect: []Check{ClientError()},
	}
	InvalidUTF8 = Rule{
		ID: "TH-INPUT-INVALID-UTF8", Level: SHOULD,
		Source:   harness("input", `Malformed input is the client's error: invalid UTF-8 in a parameter gets a 4xx §5.2 error.`),
		Summary:  "invalid UTF-8 in a parameter is rejected with a 4xx error",
		Profiles: Everywhere(), Needs: []Need{NeedGrantCode},
		Send: &Send{From: FromNothing, Build: func(s *State) Request {
			r := unknownCode(s)
			r.Step = "send a code with invalid UTF-8"
			r.Form.Set(oauth.ParamCode, "\xff\xfe\xfd-tokenharness")
			return r
		}},
		Expect: []Check{Rejected(oauth.ErrInvalidRequest, oauth.ErrInvalidGrant)},
	}
)

var badInput = []Rule{PostOnly, FormEncoded, WrongContentType, DuplicateParams, EmptyParamOmitted, UnknownParamsIgnored, HugeBody, InvalidUTF8}
