package conform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"tokenharness/internal/codes"
	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
)

// env is one rule run's view of the target; it keeps every exchange.
type env struct {
	r     *Runner
	mu    sync.Mutex
	trail []*oauth.Exchange
	// nonce is the DPoP nonce the server last supplied (RFC 9449 §8).
	nonce string
}

var _ rules.Env = (*env)(nil)

func (e *env) Profile() rules.ProfileInfo { return e.r.profile }
func (e *env) Has(n rules.Need) bool      { return e.r.has(n) }
func (e *env) RedirectURI() string        { return e.r.cfg.RedirectURI }
func (e *env) Scope() string              { return e.r.cfg.Scope }

func (e *env) clientID(c rules.Client) (id, secret string) {
	switch c {
	case rules.Client2:
		return e.r.cfg.Client2ID, e.r.cfg.Client2Secret
	case rules.ClientRestricted:
		return e.r.cfg.RestrictedClientID, e.r.cfg.RestrictedClientSecret
	}
	return e.r.cfg.ClientID, e.r.cfg.ClientSecret
}

func (e *env) Code(ctx context.Context, o rules.CodeOptions) (*rules.Grant, error) {
	if !e.r.has(rules.NeedCode) {
		return nil, &rules.Unavailable{Reason: e.r.why(rules.NeedCode)}
	}
	if o.Client == 0 {
		o.Client = rules.Client1
	}
	id, _ := e.clientID(o.Client)
	g := &rules.Grant{Client: o.Client, RedirectURI: e.r.cfg.RedirectURI, Scope: o.Scope, Method: o.PKCE}
	if g.Scope == "" {
		g.Scope = e.r.cfg.Scope
	}
	if g.Method == "" {
		g.Method = e.r.profile.PKCE
		if g.Method == "" {
			// PKCE-unaware servers ignore the challenge, so sending one costs
			// nothing and lets PKCE-enforcing servers be checked too.
			g.Method = oauth.PKCES256
		}
	}
	req := codes.Request{ClientID: id, RedirectURI: g.RedirectURI, Scope: g.Scope, State: randomState(), Header: e.r.quirkHeader()}
	if g.Method != rules.PKCENone {
		g.Verifier = o.Verifier
		if g.Verifier == "" {
			v, err := codes.NewVerifier()
			if err != nil {
				return nil, fmt.Errorf("conform: %w", err)
			}
			g.Verifier = v
		}
		ch, err := codes.Challenge(g.Verifier, g.Method)
		if err != nil {
			return nil, fmt.Errorf("conform: %w", err)
		}
		g.Challenge, req.Challenge, req.Method = ch, ch, g.Method
		e.r.red.Add(g.Verifier)
	}
	if o.DPoPJKT {
		jkt, err := e.dpopJKT()
		if err != nil {
			return nil, fmt.Errorf("conform: %w", err)
		}
		req.DPoPJKT = jkt
	}
	code, err := e.r.codes.Code(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("obtaining a fresh code: %w", err)
	}
	e.r.red.Add(code)
	g.Code = code
	return g, nil
}

func (e *env) Do(ctx context.Context, r rules.Request) *oauth.Exchange {
	x := e.do(ctx, r)
	if nonceDemanded(r, x) {
		// RFC 9449 §8: the client retries with the nonce supplied; a fresh
		// proof, so the retry is judged on the rule's defect alone.
		r.Step += " (retried with the DPoP nonce supplied)"
		x = e.do(ctx, r)
	}
	return x
}

func (e *env) do(ctx context.Context, r rules.Request) *oauth.Exchange {
	req, err := e.buildChecked(r)
	if err != nil {
		x := &oauth.Exchange{Step: r.Step, Request: req, Err: err.Error()}
		e.mu.Lock()
		e.trail = append(e.trail, x)
		e.mu.Unlock()
		return x
	}
	x := e.r.client.Do(ctx, req)
	x.Step = r.Step
	e.learn(x)
	e.learnNonce(x)
	e.mu.Lock()
	e.trail = append(e.trail, x)
	e.mu.Unlock()
	return x
}

func (e *env) Race(ctx context.Context, rs ...rules.Request) rules.RaceResult {
	reqs := make([]oauth.Request, len(rs))
	for i, r := range rs {
		reqs[i] = e.build(r)
	}
	res := e.r.client.Race(ctx, reqs)
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, x := range res.Exchanges {
		x.Step = rs[i].Step
		e.learn(x)
		e.trail = append(e.trail, x)
	}
	return rules.RaceResult{Exchanges: res.Exchanges, Spread: res.Spread, Via: res.Via}
}

func (e *env) RaceBudget() rules.RaceBudget {
	return rules.RaceBudget{Attempts: e.r.cfg.RaceAttempts, Time: e.r.cfg.RaceBudget}
}

// learn registers the secrets a response carries, so they are masked by
// value wherever else they may turn up.
func (e *env) learn(x *oauth.Exchange) {
	if x.Response == nil {
		return
	}
	obj, err := x.Response.Object()
	if err != nil {
		return
	}
	for _, k := range redact.SecretParams {
		if s, ok := obj[k].(string); ok {
			e.r.red.Add(s)
		}
	}
}

// build turns a rule's request into the HTTP request to send.
func (e *env) build(r rules.Request) oauth.Request {
	req, _ := e.buildChecked(r)
	return req
}

// buildChecked is build, failing when the request's DPoP proof cannot be
// signed.
func (e *env) buildChecked(r rules.Request) (oauth.Request, error) {
	req := e.buildHTTP(r)
	if r.DPoP != nil {
		p, err := e.proof(r.DPoP, req.Method)
		if err != nil {
			return req, fmt.Errorf("signing the DPoP proof: %w", err)
		}
		req.Header.Set(oauth.HeaderDPoP, p)
		if r.DPoP.Defect == rules.DPoPTwoHeaders {
			second, err := e.proof(&rules.DPoPProof{}, req.Method)
			if err != nil {
				return req, fmt.Errorf("signing the DPoP proof: %w", err)
			}
			req.Header.Add(oauth.HeaderDPoP, second)
		}
	}
	return req, nil
}

// buildHTTP is the request without its DPoP proof.
func (e *env) buildHTTP(r rules.Request) oauth.Request {
	form := url.Values{}
	for k, vs := range r.Form {
		form[k] = append([]string(nil), vs...)
	}
	query := url.Values{}
	for k, vs := range r.Query {
		query[k] = append([]string(nil), vs...)
	}
	h := e.r.quirkHeader()
	for _, k := range r.OmitHeaders {
		h.Del(k)
	}
	for k, vs := range r.Header {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	if r.Client == 0 {
		r.Client = rules.Client1
	}
	id, secret := e.clientID(r.Client)
	method := e.r.cfg.ClientAuth
	if secret == "" && method != oauth.AuthPrivateKeyJWT {
		method = oauth.AuthNone
	}
	wrong := secret + "-tokenharness-wrong"
	jwt := false
	if method.JWT() {
		var err error
		if jwt, err = e.applyJWT(r.Auth, r.Assertion, id, secret, form, query, h); err != nil {
			// Validate loaded the key before the run: this is not expected.
			// The request goes without an assertion and the error is shown.
			h.Set("Tokenharness-Error", strings.Join(strings.Fields(err.Error()), " "))
		}
	}
	switch {
	case jwt:
		// authenticated with a client assertion above
	case r.Auth == rules.AuthConfigured:
		applyAuth(method, id, secret, form, h)
	case r.Auth == rules.AuthWrongSecret:
		applyAuth(method, id, wrong, form, h)
	case r.Auth == rules.AuthBasic:
		applyAuth(oauth.AuthBasic, id, secret, form, h)
	case r.Auth == rules.AuthBasicWrongSecret:
		applyAuth(oauth.AuthBasic, id, wrong, form, h)
	case r.Auth == rules.AuthPost:
		applyAuth(oauth.AuthPost, id, secret, form, h)
	case r.Auth == rules.AuthBoth:
		applyAuth(oauth.AuthBasic, id, secret, form, h)
		applyAuth(oauth.AuthPost, id, secret, form, h)
	case r.Auth == rules.AuthQuery:
		query.Set(oauth.ParamClientID, id)
		query.Set(oauth.ParamClientSecret, secret)
	case r.Auth == rules.AuthOmit:
	}
	req := oauth.Request{Method: r.Method, URL: e.r.cfg.Target, Header: h}
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	switch {
	case req.Method == http.MethodGet:
		for k, vs := range form {
			query[k] = append(query[k], vs...)
		}
	case r.Body != nil:
		req.Body = string(r.Body)
	case r.JSON:
		obj := map[string]string{}
		for k := range form {
			obj[k] = form.Get(k)
		}
		b, _ := json.Marshal(obj)
		req.Body = string(b)
		h.Set(oauth.HeaderContentType, oauth.MediaJSON)
	default:
		req.Body = form.Encode()
		h.Set(oauth.HeaderContentType, oauth.MediaForm)
	}
	if r.ContentType != "" {
		h.Set(oauth.HeaderContentType, r.ContentType)
	}
	if len(query) > 0 {
		sep := "?"
		if bytes.ContainsRune([]byte(req.URL), '?') {
			sep = "&"
		}
		req.URL += sep + query.Encode()
	}
	return req
}

// applyAuth adds client authentication as method m (RFC 6749 §2.3.1).
func applyAuth(m oauth.AuthMethod, id, secret string, form url.Values, h http.Header) {
	switch m {
	case oauth.AuthBasic:
		h.Set(oauth.HeaderAuthorization, oauth.BasicAuthorization(id, secret))
	case oauth.AuthPost:
		form.Set(oauth.ParamClientID, id)
		form.Set(oauth.ParamClientSecret, secret)
	case oauth.AuthNone:
		form.Set(oauth.ParamClientID, id)
	}
}

// evidence returns the trail, or the rule's chosen exchanges when it chose
// (o.Evidence), redacted, with huge bodies shortened.
func (e *env) evidence(red *redact.Redactor, chosen []*oauth.Exchange) []oauth.Exchange {
	e.mu.Lock()
	defer e.mu.Unlock()
	trail := e.trail
	if chosen != nil {
		trail = chosen
	}
	out := make([]oauth.Exchange, len(trail))
	for i, x := range trail {
		c := *x
		c.Request.URL = red.String(c.Request.URL)
		c.Request.Header = red.Header(c.Request.Header)
		c.Request.Body = redactShort(red, c.Request.Body)
		c.Err = red.String(c.Err)
		if x.Response != nil {
			resp := *x.Response
			resp.Header = red.Header(resp.Header)
			resp.Body = []byte(redactShort(red, string(resp.Body)))
			c.Response = &resp
		}
		out[i] = c
	}
	return out
}

// evidenceBodyMax keeps a 10 MB body from becoming a 10 MB report.
const evidenceBodyMax = 4 << 10

// redactMargin is how far past the cut redaction looks, so a secret that
// straddles the cut is masked whole before the text is shortened.
const redactMargin = 4 << 10

// redactShort masks secrets in s and shortens it to evidenceBodyMax.
func redactShort(red *redact.Redactor, s string) string {
	if len(s) <= evidenceBodyMax {
		return red.String(s)
	}
	head := red.String(s[:evidenceBodyMax+redactMargin])
	if len(head) > evidenceBodyMax {
		head = strings.ToValidUTF8(head[:evidenceBodyMax], "")
	}
	return fmt.Sprintf("%s… [%d bytes total]", head, len(s))
}
