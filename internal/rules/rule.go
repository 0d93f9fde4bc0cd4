// Package rules is the conformance catalogue: every behaviour a black-box
// client can check at an OAuth 2.0 token endpoint, declared once as a Rule
// value. The Ginkgo specs, the JUnit/JSON/HTML reports and the mock server's
// fault switches ("quirks") all key on Rule.ID.
//
// Sources: RFC 6749 (https://www.rfc-editor.org/rfc/rfc6749), RFC 7636 PKCE
// (https://www.rfc-editor.org/rfc/rfc7636), RFC 9700 OAuth 2.0 Security BCP
// (https://www.rfc-editor.org/rfc/rfc9700), and the commoninja and dressipi
// token endpoint documents.
//
// A rule is data plus a flow over Env; Env is implemented by package
// conform. Nothing here sends HTTP or decides how a server validates a
// request, so the checker never shares validation code with the mock.
package rules

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"tokenharness/internal/oauth"
	"tokenharness/reports"
)

// ID is a rule's stable name: grep-equal across code, spec text, reports and
// mock quirks. See idGrammar.
type ID string

var idGrammar = regexp.MustCompile(`^((RFC\d{4}|OAUTH21|OIDC|COMMONINJA|DRESSIPI|TH)-[0-9A-Z.]+-[A-Z0-9]+(-[A-Z0-9]+)*|VAR-[A-Z0-9]+(-[A-Z0-9]+)*)$`)

// Valid reports whether id follows the ID grammar.
func (id ID) Valid() bool { return idGrammar.MatchString(string(id)) }

// Level is how strongly the source states the rule: the reports
// vocabulary, named here so rule declarations read "Level: MUST".
type Level = reports.Level

const (
	MUST   = reports.LevelMUST
	SHOULD = reports.LevelSHOULD
	MAY    = reports.LevelMAY
	DOC    = reports.LevelDOC
)

// Source is where a rule comes from.
type Source struct {
	Doc     string `json:"doc"`     // "RFC 6749", "commoninja token endpoint"
	Section string `json:"section"` // "5.1"
	URL     string `json:"url"`
	Quote   string `json:"quote"` // the sentence the rule enforces
}

// Need is a precondition a rule has on the run's configuration. A rule whose
// need is unmet is reported as skipped with Need.Why, never silently passed.
type Need string

const (
	NeedCode    Need = "code"    // a source of fresh authorization codes (CODE_CMD or AUTHORIZE_URL)
	NeedSecret  Need = "secret"  // the client is confidential: it authenticates with a secret or a key
	NeedPublic  Need = "public"  // the client is public (CLIENT_AUTH=none)
	NeedBasic   Need = "basic"   // the client may use client_secret_basic
	NeedClient2 Need = "client2" // a second registered client (CLIENT2_ID)
	NeedScope   Need = "scope"   // a configured SCOPE to request and widen
	NeedAPIKey  Need = "apikey"  // an x-api-key header among HEADERS
	// NeedJWT is a client that authenticates with a JWT client assertion
	// (CLIENT_AUTH=private_key_jwt|client_secret_jwt); NeedPassword one
	// that sends its client password as such (client_secret_basic|post).
	NeedJWT      Need = "jwt"
	NeedPassword Need = "password"
	// NeedRestricted is a registered client the target does not allow the
	// client_credentials grant (RESTRICTED_CLIENT_ID).
	NeedRestricted Need = "restricted"
	// The grants a target declares it serves (GRANTS). NeedCode implies
	// NeedGrantCode: a code source is of no use for an undeclared grant.
	NeedGrantCode              Need = "grant-authorization-code"
	NeedGrantRefresh           Need = "grant-refresh-token"
	NeedGrantClientCredentials Need = "grant-client-credentials"
	// NeedDPoP is a target that declares DPoP support (DPOP=true, RFC 9449).
	NeedDPoP Need = "dpop"
	// NeedDPoPJKT is a target whose code source forwards dpop_jkt to the
	// authorization request and whose server binds codes with it
	// (DPOP_JKT=true, RFC 9449 §10). Only the declaration can say so: a
	// code source that drops the parameter yields unbound codes, which a
	// compliant server rightly redeems with any key.
	NeedDPoPJKT Need = "dpop-jkt"
)

// Grant is the grant type a grant need stands for, or "".
func (n Need) Grant() string {
	switch n {
	case NeedGrantCode:
		return oauth.GrantAuthorizationCode
	case NeedGrantRefresh:
		return oauth.GrantRefreshToken
	case NeedGrantClientCredentials:
		return oauth.GrantClientCredentials
	case NeedGrantDevice:
		return oauth.GrantDeviceCode
	}
	return ""
}

// Why says how to satisfy n, for skip reasons.
func (n Need) Why() string {
	switch n {
	case NeedCode:
		return "needs fresh authorization codes: set CODE_CMD or AUTHORIZE_URL"
	case NeedSecret:
		return "needs a confidential client: set CLIENT_SECRET and CLIENT_AUTH=client_secret_basic|client_secret_post|client_secret_jwt, or CLIENT_AUTH=private_key_jwt and JWT_KEY_FILE"
	case NeedPublic:
		return "needs a public client: set CLIENT_ID to a public client and CLIENT_AUTH=none (the bundled mock's: CONFIG=fixtures/targets/mock-oauth21-public.yaml)"
	case NeedBasic:
		return "needs a client that authenticates with client_secret_basic: set CLIENT_AUTH=client_secret_basic"
	case NeedClient2:
		return "needs a second client: set CLIENT2_ID (and CLIENT2_SECRET for a confidential one)"
	case NeedScope:
		return "needs a scope to request: set SCOPE"
	case NeedAPIKey:
		return "needs an API key header: set HEADERS='x-api-key: ...'"
	case NeedDPoP:
		return "needs a target that declares DPoP (RFC 9449): set DPOP=true (optionally DPOP_KEY_FILE and DPOP_ALG; the bundled mock's: CONFIG=fixtures/targets/mock-rfc6749-dpop.yaml)"
	case NeedDPoPJKT:
		return "needs a code source that binds codes to the DPoP key (RFC 9449 §10): set DPOP_JKT=true when the server supports dpop_jkt and the code source forwards it " +
			"(AUTHORIZE_URL sends it; a CODE_CMD must pass OAUTH_DPOP_JKT on as the authorization request's dpop_jkt; the bundled mock's: CONFIG=fixtures/targets/mock-rfc6749-dpop.yaml)"
	case NeedJWT:
		return "needs a client that authenticates with a JWT client assertion: set CLIENT_AUTH=private_key_jwt and JWT_KEY_FILE, or CLIENT_AUTH=client_secret_jwt and CLIENT_SECRET (the bundled mock's: CONFIG=fixtures/targets/mock-rfc6749-jwt.yaml)"
	case NeedPassword:
		return "needs a client that sends its client password: set CLIENT_SECRET and CLIENT_AUTH=client_secret_basic|client_secret_post"
	case NeedRestricted:
		return "needs a client the target does not allow the client_credentials grant: set RESTRICTED_CLIENT_ID (and RESTRICTED_CLIENT_SECRET)"
	}
	if g := n.Grant(); g != "" {
		return UndeclaredGrant(g)
	}
	if w := deviceWhy(n); w != "" {
		return w
	}
	return "needs " + string(n)
}

// UndeclaredGrant is the skip reason of a rule for grant type g, which the
// target does not declare.
func UndeclaredGrant(g string) string {
	example := oauth.GrantClientCredentials
	if !slices.Contains(oauth.DefaultGrants, g) {
		example = g
	}
	return "the target does not declare the " + g + " grant: set GRANTS to the grants it serves, including " + g + " (e.g. GRANTS=" + strings.Join(oauth.DefaultGrants, ",") + "," + example + ")"
}

// Check is one expectation on an exchange. Desc is shown in reports; Fn
// returns nil when the exchange meets it, or says what differed.
type Check struct {
	Desc string
	Fn   func(x *oauth.Exchange) error
}

// Flow drives a rule against a target and returns the exchange to judge.
type Flow func(ctx context.Context, e Env) Outcome

// Rule is one declared conformance rule.
type Rule struct {
	ID       ID
	Source   Source
	Level    Level
	Summary  string // present tense, behaviour not test
	Profiles Profiles
	Needs    []Need
	// Send is a single exchange built on a fresh starting state; Flow is a
	// multi-step flow. Exactly one is set.
	Send   *Send
	Flow   Flow
	Expect []Check
	// Fault is the wire-level fault the mock applies when this rule's quirk
	// is on; zero for behavioural faults, which sit at the mock's enforcement line.
	Fault Fault
	// Race marks rules that send concurrent requests.
	Race bool
}

// Run executes the rule's flow and applies Expect to the judged exchange.
func (r Rule) Run(ctx context.Context, e Env) Outcome {
	flow := r.Flow
	if r.Send != nil {
		flow = r.Send.flow()
	}
	o := flow(ctx, e)
	if o.Skip != "" || o.Inconclusive != "" || o.Violation != nil || o.Judged == nil {
		return o
	}
	for _, c := range r.Expect {
		if err := c.Fn(o.Judged); err != nil {
			o.Violation = fmt.Errorf("%s: %w", c.Desc, err)
			o.Check = c.Desc
			return o
		}
	}
	return o
}

// Grants are the grant types r exercises, from its needs: a code is the
// authorization_code grant, a grant need its grant.
func (r Rule) Grants() []string {
	var out []string
	for _, n := range r.Needs {
		g := n.Grant()
		if n == NeedCode {
			g = oauth.GrantAuthorizationCode
		}
		if g != "" && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// Expects lists the descriptions of r's checks, for reports.
func (r Rule) Expects() []string {
	out := make([]string, len(r.Expect))
	for i, c := range r.Expect {
		out[i] = c.Desc
	}
	return out
}

// SpecText is the Ginkgo spec text and JUnit test name: "<ID>: <Summary>".
func (r Rule) SpecText() string { return string(r.ID) + ": " + r.Summary }

// Labels are derived Ginkgo labels; nothing types them by hand.
func (r Rule) Labels() []string {
	ls := []string{"rule:" + string(r.ID), "level:" + string(r.Level), "source:" + sourceLabel(r.Source.Doc)}
	for _, p := range r.Profiles.Names() {
		ls = append(ls, "profile:"+string(p))
	}
	for _, n := range r.Needs {
		ls = append(ls, "needs:"+string(n))
	}
	if r.Race {
		ls = append(ls, "race")
	}
	return ls
}

// sourceLabel shortens a source document to a label value: "rfc6749",
// "commoninja", "tokenharness".
func sourceLabel(doc string) string {
	if num, ok := strings.CutPrefix(doc, "RFC "); ok {
		return "rfc" + num
	}
	return strings.ToLower(strings.Fields(doc + " x")[0])
}

// Outcome is what running a rule produced.
type Outcome struct {
	// Judged is the exchange the checks were applied to; nil for flows that
	// judge several exchanges themselves (races).
	Judged *oauth.Exchange
	// Violation says what differed from the rule; nil when the rule held.
	Violation error
	// Check is the description of the check that failed, if one did.
	Check string
	// Inconclusive says why the rule could not be judged although it ran:
	// reaching its starting state failed (a fresh code was not minted or not
	// redeemed, a precondition answered 5xx), so the exchange proves nothing
	// about the rule's sentence. Empty when the rule was judged.
	Inconclusive string
	// Skip is the reason the rule could not run; empty when it ran.
	Skip string
	// Note is extra evidence worth showing even when the rule held.
	Note string
	// Evidence, when set, is the exchanges the verdict shows instead of
	// every exchange the rule made: a flow that repeats (races) keeps the
	// attempt that decided and sums up the others in Note.
	Evidence []*oauth.Exchange
}

// Judge returns an outcome that applies the rule's checks to x.
func Judge(x *oauth.Exchange) Outcome { return Outcome{Judged: x} }

// Violated returns an outcome that failed with err, judged on x (may be nil).
func Violated(x *oauth.Exchange, format string, args ...any) Outcome {
	return Outcome{Judged: x, Violation: fmt.Errorf(format, args...)}
}

// Inconclusive returns an outcome that could not be judged, with the
// exchange that stood in the way (may be nil) and why.
func Inconclusive(x *oauth.Exchange, format string, args ...any) Outcome {
	return Outcome{Judged: x, Inconclusive: fmt.Sprintf(format, args...)}
}

// SetupFailed turns an error reaching a rule's starting state into an
// outcome: unavailable preconditions skip; anything else leaves the rule
// inconclusive, since a failed precondition is not evidence against the
// sentence the rule enforces (the rules that judge the precondition itself,
// such as RFC6749-5.1-ACCESS-TOKEN, judge it as their own exchange).
func SetupFailed(x *oauth.Exchange, err error) Outcome {
	var u *Unavailable
	if asUnavailable(err, &u) {
		return Outcome{Skip: u.Reason}
	}
	return Inconclusive(x, "setup: %v", err)
}

// Sorted returns rules ordered by ID.
func Sorted(rs []Rule) []Rule {
	out := append([]Rule(nil), rs...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
