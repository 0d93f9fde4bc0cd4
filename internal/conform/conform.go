// Package conform runs rules from internal/rules against a target: it
// implements rules.Env over a bounded HTTP client (internal/probe) and a
// code source (internal/codes), applies the profile's policy to what each
// rule observed, and returns a Verdict with redacted evidence. It contains no
// Ginkgo: the specs are a thin adapter over Runner.Run.
package conform

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/probe"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
)

// ruleTimeout bounds one rule, whatever the target does: a rule makes at
// most a handful of exchanges, each bounded by the probe's own timeout.
const ruleTimeout = 90 * time.Second

// Verdict is the outcome of one rule against one target under one profile.
type Verdict struct {
	Rule   rules.ID       `json:"rule"`
	Level  rules.Level    `json:"level"`
	Status reports.Status `json:"status"`
	Policy rules.Policy   `json:"policy"`
	// Violated is true when the rule's checks failed, whatever the policy made
	// of it; the self-check counts a mutant as killed by this.
	Violated  bool   `json:"violated"`
	Reason    string `json:"reason,omitempty"`
	Violation string `json:"violation,omitempty"`
	Check     string `json:"check,omitempty"`
	Class     string `json:"class,omitempty"`
	Note      string `json:"note,omitempty"`
	// Evidence is every exchange the rule made, redacted; for rules that
	// repeat (races), the deciding attempt's, the others summed up in Note.
	Evidence []oauth.Exchange `json:"evidence,omitempty"`
	Duration time.Duration    `json:"duration_ns"`
}

// Runner checks rules against one configured target.
type Runner struct {
	cfg     target.Config
	profile rules.ProfileInfo
	client  *probe.Client
	codes   codes.Source
	red     *redact.Redactor
	// dpop holds the run's DPoP keys when the target declares DPoP.
	dpop *dpopKeys
	jwt  jwtState // client assertion keys (jwt.go)
}

// Option configures a Runner.
type Option func(*Runner)

// WithCodeSource overrides the code source derived from the configuration.
func WithCodeSource(s codes.Source) Option { return func(r *Runner) { r.codes = s } }

// WithRedactor sets the redactor evidence is masked with. By default each
// Runner has its own, seeded with the configuration's secrets: the secrets
// it learns (codes, tokens, verifiers) belong to its run.
func WithRedactor(red *redact.Redactor) Option { return func(r *Runner) { r.red = red } }

// New builds a Runner for a validated configuration.
func New(cfg target.Config, opts ...Option) (*Runner, error) {
	info, err := rules.Info(rules.Profile(cfg.Profile))
	if err != nil {
		return nil, fmt.Errorf("conform: %w", err)
	}
	popts := []probe.Option{probe.WithTimeout(cfg.Timeout)}
	if cfg.CAFile != "" {
		popts = append(popts, probe.WithCAFile(cfg.CAFile))
	}
	if cfg.Insecure {
		popts = append(popts, probe.WithInsecureSkipVerify())
	}
	client, err := probe.New(popts...)
	if err != nil {
		return nil, fmt.Errorf("conform: %w", err)
	}
	r := &Runner{cfg: cfg, profile: info, client: client, red: &redact.Redactor{}}
	switch {
	case cfg.CodeCmd != "":
		r.codes = codes.Command(cfg.CodeCmd)
	case cfg.AuthorizeURL != "":
		// The authorization request is a request like any other: TIMEOUT
		// bounds it, so a silent target costs one timeout here too.
		hc := *client.HTTP()
		hc.Timeout = client.Timeout()
		r.codes = codes.Authorize(cfg.AuthorizeURL, &hc)
	}
	if cfg.DPoP {
		if r.dpop, err = newDPoPKeys(cfg); err != nil {
			return nil, fmt.Errorf("conform: %w", err)
		}
	}
	for _, o := range opts {
		o(r)
	}
	cfg.RegisterSecrets(r.red)
	return r, nil
}

// Close releases the runner's idle connections.
func (r *Runner) Close() { r.client.HTTP().CloseIdleConnections() }

// Preflight checks, before any rule, that the target is an OAuth token
// endpoint that answers, so a wrong path, an HTML page, a hung server or a
// broken code source costs one line instead of dozens of failed rules. It
// sends one real token request -- a refresh with a token no server issued,
// authenticated as the run's client -- and wants a JSON object carrying
// "error" (or tokens), whatever the status; then it asks the code source,
// if any, for one code.
func (r *Runner) Preflight(ctx context.Context) error {
	if err := r.client.Preflight(ctx, r.cfg.Target); err != nil {
		return err
	}
	if err := r.Alive(ctx); err != nil {
		return err
	}
	if !r.has(rules.NeedCode) {
		// No code source, or a target that does not declare the
		// authorization_code grant: the rules that need codes skip.
		return nil
	}
	e := &env{r: r}
	if _, err := e.Code(ctx, rules.CodeOptions{}); err != nil {
		src := "AUTHORIZE_URL"
		if r.cfg.CodeCmd != "" {
			src = "CODE_CMD"
		}
		return fmt.Errorf("%s cannot mint a fresh authorization code: %s: fix it so it yields one code per call", src, r.red.String(err.Error()))
	}
	return nil
}

// Alive sends the preflight's token request and reports, in one line, why
// the answer is not an OAuth token endpoint's; nil when it is.
func (r *Runner) Alive(ctx context.Context) error {
	e := &env{r: r}
	x := e.Do(ctx, rules.Request{Step: "preflight", Form: url.Values{
		oauth.ParamGrantType: {oauth.GrantRefreshToken}, oauth.ParamRefreshToken: {"tokenharness-preflight-unknown-refresh-token"}}})
	shown := r.red.String(r.cfg.Target)
	resp, err := x.Got()
	if err != nil {
		return fmt.Errorf("target %s did not answer a token request (%s): check TARGET and the network, or raise TIMEOUT", shown, r.red.String(err.Error()))
	}
	obj, err := resp.Object()
	_, hasError := obj[oauth.ParamError].(string)
	_, hasToken := obj[oauth.ParamAccessToken]
	if err != nil || !hasError && !hasToken {
		what := resp.MediaType()
		if what == "" {
			what = "no Content-Type"
		}
		return fmt.Errorf("target %s does not answer like an OAuth token endpoint: a token request got status %d (%s) %q, not a JSON object with \"error\" or tokens: check the path in TARGET",
			shown, resp.Status, what, oauth.OneLine(r.red.String(string(resp.Body)), 80))
	}
	return nil
}

// Run executes rule against the target and applies the profile's policy.
func (r *Runner) Run(ctx context.Context, rule rules.Rule) (v Verdict) {
	start := time.Now()
	pol, in := rule.Profiles[r.profile.Name]
	v = Verdict{Rule: rule.ID, Level: rule.Level, Policy: pol}
	// v is the named result, so the duration lands in what Run returns.
	defer func() { v.Duration = time.Since(start) }()
	if !in {
		v.Status, v.Reason = reports.StatusSkipped, fmt.Sprintf("not part of profile %s", r.profile.Name)
		return v
	}
	for _, n := range rule.Needs {
		if !r.has(n) {
			why := r.why(n)
			v.Status, v.Reason = reports.StatusSkipped, why
			if pol.Mode == rules.ModeWaive {
				v.Status, v.Reason = reports.StatusWaived, pol.Reason+" (not run: "+why+")"
			}
			return v
		}
	}
	timeout := ruleTimeout
	if rule.Race {
		// A race rule starts attempts until its budget is spent; the last
		// one still needs its ordinary bound.
		timeout += r.cfg.RaceBudget
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	e := &env{r: r}
	o := rule.Run(ctx, e)
	v.Evidence = e.evidence(r.red, o.Evidence)
	v.Note = r.red.String(o.Note)
	if o.Skip != "" {
		v.Status, v.Reason = reports.StatusSkipped, o.Skip
		return v
	}
	if o.Inconclusive != "" {
		v.Status, v.Reason, v.Class = reports.StatusInconclusive, r.red.String(o.Inconclusive), classOf(o.Judged)
		return v
	}
	if o.Violation == nil {
		v.Status = reports.StatusPassed
		if pol.Mode == rules.ModeWaive {
			v.Status, v.Reason = reports.StatusWaived, pol.Reason+" (the rule held anyway)"
		}
		return v
	}
	if classOf(o.Judged) == probe.ClassLocal {
		// The exchange never left this machine (no ephemeral port or file
		// descriptor): no evidence about the server either way.
		v.Status, v.Class = reports.StatusInconclusive, probe.ClassLocal
		v.Reason = "the harness's own machine could not open a connection, so the server was not asked: " + r.red.String(o.Violation.Error())
		return v
	}
	v.Violated = true
	v.Violation = r.red.String(o.Violation.Error())
	v.Check = o.Check
	v.Class = classOf(o.Judged)
	switch {
	case pol.Mode == rules.ModeWaive:
		v.Status, v.Reason = reports.StatusWaived, pol.Reason
	case pol.Mode == rules.ModeWarn:
		v.Status, v.Reason = reports.StatusWarned, pol.Reason
	case !rule.Level.Gates():
		v.Status, v.Reason = reports.StatusWarned, fmt.Sprintf("%s-level rule: reported, does not fail the run", rule.Level)
	default:
		v.Status, v.Reason = reports.StatusFailed, v.Violation
	}
	return v
}

func classOf(x *oauth.Exchange) string {
	if x == nil {
		return ""
	}
	if x.Class != "" {
		return x.Class
	}
	if x.Response != nil {
		return probe.ClassifyResponse(x.Response)
	}
	return ""
}

// why says how to satisfy n in this run: a code source is of no use to a
// target that does not declare the authorization_code grant, so NeedCode
// names GRANTS then.
func (r *Runner) why(n rules.Need) string {
	if n == rules.NeedCode && !r.cfg.Declares(oauth.GrantAuthorizationCode) {
		return rules.UndeclaredGrant(oauth.GrantAuthorizationCode)
	}
	return n.Why()
}

func (r *Runner) has(n rules.Need) bool {
	c := r.cfg
	if g := n.Grant(); g != "" {
		return c.Declares(g)
	}
	switch n {
	case rules.NeedCode:
		return r.codes != nil && c.Declares(oauth.GrantAuthorizationCode)
	case rules.NeedRestricted:
		return c.RestrictedClientID != ""
	case rules.NeedDPoP:
		return c.DPoP
	case rules.NeedDPoPJKT:
		return c.DPoP && c.DPoPJKT
	case rules.NeedSecret:
		return c.ClientAuth == oauth.AuthPrivateKeyJWT || c.ClientAuth != oauth.AuthNone && c.ClientSecret != ""
	case rules.NeedPassword:
		return (c.ClientAuth == oauth.AuthBasic || c.ClientAuth == oauth.AuthPost) && c.ClientSecret != ""
	case rules.NeedJWT:
		return c.ClientAuth.JWT()
	case rules.NeedPublic:
		return c.ClientAuth == oauth.AuthNone
	case rules.NeedBasic:
		return c.ClientAuth == oauth.AuthBasic
	case rules.NeedClient2:
		return c.Client2ID != ""
	case rules.NeedScope:
		return c.Scope != ""
	case rules.NeedAPIKey:
		for k := range c.Headers {
			if strings.EqualFold(k, "x-api-key") {
				return true
			}
		}
		return false
	}
	return r.hasDevice(n)
}

// quirkHeader carries the run's requested mock quirks, if any.
func (r *Runner) quirkHeader() http.Header {
	h := http.Header{}
	for k, v := range r.cfg.Headers {
		h.Set(k, v)
	}
	if len(r.cfg.Quirks) > 0 {
		h.Set(oauth.HeaderQuirk, strings.Join(r.cfg.Quirks, ","))
	}
	return h
}

func randomState() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// IsUnavailable reports whether err means a precondition is unmet.
func IsUnavailable(err error) bool {
	var u *rules.Unavailable
	return errors.As(err, &u)
}

// String summarises v for consoles and JUnit: status, what differed, and
// one line per (redacted) exchange.
func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", v.Rule, v.Status)
	if v.Violation != "" {
		fmt.Fprintf(&b, ": %s", v.Violation)
	} else if v.Reason != "" {
		fmt.Fprintf(&b, ": %s", v.Reason)
	}
	b.WriteString("\n")
	for _, x := range v.Evidence {
		b.WriteString("  " + x.Summary() + "\n")
	}
	return b.String()
}
