package load

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tokenharness/internal/oauth"
	"tokenharness/load/tokenpool"
)

// Endpoint is how to talk to the token endpoint: the parts of the run's
// target configuration that shape a request.
type Endpoint struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Auth         oauth.AuthMethod
	RedirectURI  string
	// Scope is sent with client_credentials requests (the m2m profile);
	// empty sends none.
	Scope string
	// Header is sent with every request (the target's HEADERS).
	Header http.Header
	// TLS is the client TLS configuration (CA_FILE, INSECURE); nil is Go's default.
	TLS *tls.Config
}

// Code is one fresh authorization code with the PKCE verifier it was
// requested with.
type Code struct {
	Code     string
	Verifier string
}

// Fragments in a result's URL say what the request was; Go's client never
// sends a fragment, and vegeta keeps the target URL in Result.URL, so this
// is how a result is tied back to its slot (load/LOAD.md §2).
const (
	fragSlot      = "#s=" // a pooled refresh, slot id follows
	fragRace      = "#r=" // a raced refresh, group id follows
	fragCode      = "#c=" // a code exchange, code index follows
	fragExhausted = "#pool-exhausted"
)

// exhaustedMethod is not a valid HTTP method, so a request built from it
// fails inside vegeta before any I/O: the scheduled hit is recorded, marked,
// and nothing reaches the target. Returning an error from the targeter
// instead would stop the whole attack (load/LOAD.md §3).
const exhaustedMethod = "POOL EXHAUSTED"

// requests builds token requests. Everything that does not depend on the
// token is computed once; a request costs one body allocation, because the
// targeter's time counts as latency (load/LOAD.md §3).
type requests struct {
	url     string
	header  http.Header // shared read-only: vegeta copies it into each request
	refresh []byte      // body prefix up to "refresh_token="
	code    []byte      // body prefix up to "code="
	verify  []byte      // "&code_verifier=" with redirect_uri before it
}

func newRequests(e Endpoint) *requests {
	h := http.Header{}
	for k, vs := range e.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	h.Set(oauth.HeaderContentType, oauth.MediaForm)
	h.Set("Accept", oauth.MediaJSON)

	// authParams adds the client's credentials to a body, by method.
	authParams := func(b []byte) []byte { return b }
	switch e.Auth {
	case oauth.AuthBasic, "":
		h.Set(oauth.HeaderAuthorization, oauth.BasicAuthorization(e.ClientID, e.ClientSecret))
	case oauth.AuthPost:
		authParams = func(b []byte) []byte {
			b = appendParam(b, oauth.ParamClientID, e.ClientID)
			return appendParam(b, oauth.ParamClientSecret, e.ClientSecret)
		}
	case oauth.AuthNone:
		authParams = func(b []byte) []byte { return appendParam(b, oauth.ParamClientID, e.ClientID) }
	}

	r := &requests{url: e.TokenURL, header: h}
	r.refresh = appendParam(nil, oauth.ParamGrantType, oauth.GrantRefreshToken)
	r.refresh = authParams(r.refresh)
	r.refresh = append(r.refresh, "&"+oauth.ParamRefreshToken+"="...)

	r.code = appendParam(nil, oauth.ParamGrantType, oauth.GrantAuthorizationCode)
	r.code = authParams(r.code)
	if e.RedirectURI != "" {
		r.code = appendParam(r.code, oauth.ParamRedirectURI, e.RedirectURI)
	}
	r.code = append(r.code, "&"+oauth.ParamCode+"="...)
	r.verify = []byte("&" + oauth.ParamCodeVerifier + "=")
	return r
}

func appendParam(b []byte, k, v string) []byte {
	if len(b) > 0 {
		b = append(b, '&')
	}
	b = append(b, k...)
	b = append(b, '=')
	return append(b, url.QueryEscape(v)...)
}

// appendEscaped form-encodes v; tokens are almost always URL-safe already,
// so the common case copies bytes without the allocation QueryEscape makes.
func appendEscaped(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return append(b, url.QueryEscape(v)...)
		}
	}
	return append(b, v...)
}

func (r *requests) refreshBody(token string) []byte {
	b := make([]byte, 0, len(r.refresh)+len(token)+8)
	b = append(b, r.refresh...)
	return appendEscaped(b, token)
}

func (r *requests) codeBody(c Code) []byte {
	b := make([]byte, 0, len(r.code)+len(c.Code)+len(r.verify)+len(c.Verifier)+8)
	b = append(b, r.code...)
	b = appendEscaped(b, c.Code)
	if c.Verifier != "" {
		b = append(b, r.verify...)
		b = appendEscaped(b, c.Verifier)
	}
	return b
}

// urls precomputes "<token url>#s=<i>" for each slot so the targeter does
// not format one per request.
func urls(base, frag string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = base + frag + strconv.Itoa(i)
	}
	return out
}

// targeter is the live-token targeter of one run. vegeta calls it from many
// workers at once; every field it touches is either read-only, atomic, or
// owned through the pool's slot hand-over.
type targeter struct {
	req       *requests
	workload  Workload
	pool      *tokenpool.Pool           // Refresh, Mixed
	slotURLs  []string                  // Refresh, Mixed: per slot; Race: per group
	races     *tokenpool.Sealed[string] // Race: one token per group
	group     uint64                    // Race: group size
	codes     *tokenpool.Sealed[Code]   // Mixed
	codeEvery uint64                    // Mixed
	cc        *ccRequests               // ClientCredentials
	feed      *signFeed                 // ClientCredentials with Signing
	dpop      bool                      // ClientCredentials: requests carry DPoP proofs
	n         atomic.Uint64             // targeter calls so far
	exhausted vegeta.Target
}

func newTargeter(req *requests, w Workload) *targeter {
	return &targeter{
		req: req, workload: w,
		exhausted: vegeta.Target{Method: exhaustedMethod, URL: req.url + fragExhausted},
	}
}

// Target implements vegeta.Targeter. It never returns an error: an error
// would stop the attack, so a missing token becomes a marked request.
func (t *targeter) Target(tgt *vegeta.Target) error {
	switch t.workload {
	case Race:
		n := t.n.Add(1) - 1
		g := n / t.group
		tok, ok := t.races.Draw(g)
		if !ok {
			*tgt = t.exhausted
			return nil
		}
		*tgt = vegeta.Target{Method: http.MethodPost, URL: t.slotURLs[g], Header: t.req.header, Body: t.req.refreshBody(tok)}
	case Mixed:
		if n := t.n.Add(1) - 1; n%t.codeEvery == 0 {
			i, c, ok := t.codes.Next()
			if !ok {
				*tgt = t.exhausted
				return nil
			}
			*tgt = vegeta.Target{Method: http.MethodPost, URL: t.req.url + fragCode + strconv.FormatUint(i, 10), Header: t.req.header, Body: t.req.codeBody(c)}
			return nil
		}
		t.refresh(tgt)
	case ClientCredentials:
		t.m2mTarget(tgt)
	default:
		t.refresh(tgt)
	}
	return nil
}

func (t *targeter) refresh(tgt *vegeta.Target) {
	slot, tok, ok := t.pool.Take()
	if !ok {
		*tgt = t.exhausted
		return
	}
	*tgt = vegeta.Target{Method: http.MethodPost, URL: t.slotURLs[slot], Header: t.req.header, Body: t.req.refreshBody(tok)}
}

// requestKind is what a result's URL fragment says the request was.
type requestKind uint8

const (
	kindUnknown requestKind = iota
	kindSlot
	kindRace
	kindCode
	kindExhausted
	kindClient // an m2m client_credentials request, client index follows
)

// parseFragment reads a result URL's fragment.
func parseFragment(u string) (requestKind, int) {
	i := strings.LastIndexByte(u, '#')
	if i < 0 {
		return kindUnknown, -1
	}
	f := u[i:]
	var k requestKind
	switch {
	case strings.HasPrefix(f, fragSlot):
		k = kindSlot
	case strings.HasPrefix(f, fragRace):
		k = kindRace
	case strings.HasPrefix(f, fragCode):
		k = kindCode
	case strings.HasPrefix(f, fragClient):
		k = kindClient
	case f == fragExhausted:
		return kindExhausted, -1
	default:
		return kindUnknown, -1
	}
	id, err := strconv.Atoi(f[3:])
	if err != nil {
		return kindUnknown, -1
	}
	return k, id
}
