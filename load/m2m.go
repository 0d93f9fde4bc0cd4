package load

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tokenharness/internal/oauth"
	"tokenharness/reports"
)

// M2M is the machine-to-machine storm: many clients each running the
// client_credentials grant (RFC 6749 §4.4) at an open-model constant rate.
// There is no token pool to mint: every request is complete before the
// attack (secret authentication) or is completed ahead of the schedule by
// the signer (JWT client assertions, DPoP proofs: signfeed.go).
var M2M = Profile{
	Name: "m2m",
	Doc: "machine-to-machine storm: CLIENTS clients, taken in turn, each request a client_credentials grant " +
		"(with SCOPE when set) at the open-model constant rate RATE. Against the bundled mock CLIENTS (default 50) " +
		"client_credentials clients are registered in it; against a TARGET the clients are CLIENT_ID or the " +
		"M2M_CLIENTS_FILE list. CLIENT_AUTH=private_key_jwt (JWT_KEY_FILE) authenticates each request with a fresh " +
		"client assertion (RFC 7523) and DPOP=true adds a fresh DPoP proof (RFC 9449), both signed ahead of the " +
		"schedule so the signing stays off the generator's critical path. Catches latency collapse, " +
		"access tokens issued twice, and DPoP binding that fails under a storm of token requests.",
	Workload: ClientCredentials,
	Defaults: Params{Rate: 1000, Duration: 10 * time.Second, Workers: defaultWorkers, Timeout: defaultTimeout},
	Pacer:    func(p Params) Schedule { return Constant(p.Rate, p.Duration) },
	// latency_drift_ms applies (THRESHOLDS=latency_drift_ms=50) but is not
	// declared: a storm's p99 is judged whole, and its drift over a
	// ten-second run is noise.
	Thresholds: []Threshold{Max(P99, 250), Max(ErrorRate, 0.01), Max(DuplicateAccessTokens, 0).Headline(), Max(ErrorGrowth, 0.01),
		Max(DPoPUnbound, 0)},
}

// ClientCredentials is the m2m workload: each request a client_credentials
// grant by one of the run's clients, in turn.
const ClientCredentials Workload = "client_credentials"

// Credential is one client of an m2m run. Secret is empty for a client
// that authenticates with a JWT assertion only.
type Credential struct {
	ID     string
	Secret string
}

// DefaultMockM2MClients is how many client_credentials clients the bundled
// mock registers for an m2m run that leaves CLIENTS at zero.
const DefaultMockM2MClients = 50

// MaxM2MClients bounds how many clients an m2m run spreads over (every
// client's request is prepared before the attack).
const MaxM2MClients = 100_000

// SyntheticClients are n client_credentials clients with random secrets,
// for registering in the bundled mock: "<prefix>0001", "<prefix>0002", …
func SyntheticClients(prefix string, n int) []Credential {
	out := make([]Credential, n)
	for i := range out {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		out[i] = Credential{ID: fmt.Sprintf("%s%04d", prefix, i+1), Secret: "m2m-" + hex.EncodeToString(b)}
	}
	return out
}

// m2mClients are the clients of an m2m run: cfg.M2MClients, or the
// endpoint's own client, the first n of them when n > 0.
func m2mClients(cfg Config, n int) ([]Credential, error) {
	cs := cfg.M2MClients
	if len(cs) == 0 {
		if cfg.Endpoint.ClientID == "" {
			return nil, fmt.Errorf("load: profile %s: no client: set CLIENT_ID (and CLIENT_SECRET) or M2M_CLIENTS_FILE", cfg.Profile.Name)
		}
		cs = []Credential{{ID: cfg.Endpoint.ClientID, Secret: cfg.Endpoint.ClientSecret}}
	}
	switch {
	case len(cs) > MaxM2MClients:
		return nil, fmt.Errorf("load: profile %s: %d clients is over the limit of %d", cfg.Profile.Name, len(cs), MaxM2MClients)
	case n > len(cs):
		return nil, fmt.Errorf("load: profile %s: CLIENTS=%d, but the clients configured (CLIENT_ID, or one a line in "+
			"M2M_CLIENTS_FILE) number %d: list more, or lower CLIENTS", cfg.Profile.Name, n, len(cs))
	case n > 0:
		cs = cs[:n]
	}
	for i, c := range cs {
		if c.ID == "" {
			return nil, fmt.Errorf("load: profile %s: client %d has no client_id", cfg.Profile.Name, i+1)
		}
	}
	return cs, nil
}

// ccRequests builds the client_credentials requests of an m2m run: one
// complete target per client (secret authentication), or the parts a
// signed request is completed from.
type ccRequests struct {
	url     string
	urls    []string      // per client: url + "#m=<i>"
	header  []http.Header // per client, shared read-only (vegeta copies them)
	bodies  [][]byte      // per client: the whole body, or its prefix before client_assertion
	targets []vegeta.Target
	signed  bool // bodies end in "client_assertion=", to be completed
}

func newCCRequests(e Endpoint, scope string, clients []Credential, assertions bool) *ccRequests {
	r := &ccRequests{url: e.TokenURL, urls: urls(e.TokenURL, fragClient, len(clients)), signed: assertions,
		header: make([]http.Header, len(clients)), bodies: make([][]byte, len(clients)), targets: make([]vegeta.Target, len(clients))}
	base := http.Header{}
	for k, vs := range e.Header {
		base[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	base.Set(oauth.HeaderContentType, oauth.MediaForm)
	base.Set("Accept", oauth.MediaJSON)
	for i, c := range clients {
		h := base.Clone()
		b := appendParam(nil, oauth.ParamGrantType, oauth.GrantClientCredentials)
		if scope != "" {
			b = appendParam(b, oauth.ParamScope, scope)
		}
		switch {
		case assertions: // private_key_jwt (RFC 7523 §2.2); client_id helps servers find the key
			b = appendParam(b, oauth.ParamClientID, c.ID)
			b = appendParam(b, oauth.ParamClientAssertionType, oauth.ClientAssertionTypeJWT)
			b = append(b, "&"+oauth.ParamClientAssertion+"="...)
		case e.Auth == oauth.AuthPost:
			b = appendParam(b, oauth.ParamClientID, c.ID)
			b = appendParam(b, oauth.ParamClientSecret, c.Secret)
		case e.Auth == oauth.AuthNone:
			b = appendParam(b, oauth.ParamClientID, c.ID)
		default:
			h.Set(oauth.HeaderAuthorization, oauth.BasicAuthorization(c.ID, c.Secret))
		}
		r.header[i], r.bodies[i] = h, b
		r.targets[i] = vegeta.Target{Method: http.MethodPost, URL: r.urls[i], Header: h, Body: b}
	}
	return r
}

// signedTarget completes client i's request with an assertion and a proof
// (either may be empty).
func (r *ccRequests) signedTarget(i int, assertion, proof string) vegeta.Target {
	body := r.bodies[i]
	if assertion != "" {
		b := make([]byte, 0, len(body)+len(assertion))
		b = append(b, body...)
		body = append(b, assertion...) // base64url and dots: nothing to escape
	}
	h := r.header[i]
	if proof != "" {
		h = h.Clone()
		h[headerDPoP] = []string{proof}
	}
	return vegeta.Target{Method: http.MethodPost, URL: r.urls[i], Header: h, Body: body}
}

// headerDPoP is the DPoP header's canonical form, as vegeta's targets set
// headers directly in the map.
var headerDPoP = http.CanonicalHeaderKey(oauth.HeaderDPoP)

// fragClient marks an m2m request: the client's index follows.
const fragClient = "#m="

// m2mTarget is the m2m part of the targeter: client n mod len in turn,
// a prepared target, or one completed from the signer's feed.
func (t *targeter) m2mTarget(tgt *vegeta.Target) {
	n := t.n.Add(1) - 1
	if t.feed == nil {
		*tgt = t.cc.targets[n%uint64(len(t.cc.targets))]
		return
	}
	it, ok := t.feed.next()
	if !ok {
		*tgt = t.exhausted
		return
	}
	*tgt = it.target
}

// m2mExtra records an m2m run's client and signing set-up in the report.
func m2mExtra(extra map[string]any, clients int, s *Signing, f *signFeed) {
	extra["m2m_clients"] = clients
	auth := "client secret"
	if s != nil && s.Assertion != nil {
		auth = "private_key_jwt " + string(s.Assertion.Alg)
	}
	extra["client_auth"] = auth
	if s != nil && s.DPoP != nil {
		extra["dpop"] = string(s.DPoP.Alg)
	}
	if f != nil {
		extra["signed_ahead"] = f.ahead()
		extra["signed_inline"] = f.inline.Load()
		extra["signer_workers"] = f.workers
		extra["signer_workers_during_attack"] = f.stream
		if e := f.failed(); e != nil {
			extra["signer_error"] = e.Error()
		}
	}
}

// errNoCodeSource is why a profile that mints refresh tokens cannot run.
var errNoCodeSource = errors.New("load: no code source: set CODE_CMD (a command printing one fresh code) or AUTHORIZE_URL " +
	"(an auto-approving authorize endpoint) so the token pool can be minted")

// prepareM2M readies an m2m run: every client's request built, and with
// Signing the signer started and its first lead signed before the attack.
func prepareM2M(ctx context.Context, cfg Config, pl Plan, req *requests) (*prepared, error) {
	startedAt := time.Now()
	tg := newTargeter(req, ClientCredentials)
	tg.cc = newCCRequests(cfg.Endpoint, cfg.Endpoint.Scope, pl.M2M, cfg.Signing != nil && cfg.Signing.Assertion != nil)
	pre := &prepared{cfg: cfg, pl: pl, tg: tg, startedAt: startedAt}
	if !cfg.Signing.on() {
		return pre, nil
	}
	// This shard's rate (the schedule is constant).
	rate := float64(pl.Schedule.Hits()) / pl.Params.Duration.Seconds()
	f, err := newSignFeed(cfg.Signing, cfg.Endpoint.TokenURL, pl.M2M, pl.Schedule.Hits(), rate, tg.cc.signedTarget)
	if err != nil {
		return nil, err
	}
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "load: signing %d requests ahead with %d workers before the attack\n", f.ahead(), f.workers)
	}
	if err := f.start(ctx, rate, signPrefillWithin); err != nil {
		return nil, err
	}
	tg.feed, pre.feed, tg.dpop = f, f, cfg.Signing.DPoP != nil
	return pre, nil
}

// ParseClients reads an m2m clients list (M2M_CLIENTS_FILE): one client a
// line, "client_id client_secret" separated by blanks, or "client_id" alone
// for a client that authenticates with a JWT assertion; blank lines and
// lines starting with # are skipped.
func ParseClients(r io.Reader) ([]Credential, error) {
	var out []Credential
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) > 2 {
			return nil, fmt.Errorf("load: clients list line %d: want \"client_id [client_secret]\", got %d fields", line, len(f))
		}
		c := Credential{ID: f[0]}
		if len(f) == 2 {
			c.Secret = f[1]
		}
		if len(out) == MaxM2MClients {
			return nil, fmt.Errorf("load: clients list: more than %d clients", MaxM2MClients)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("load: clients list: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("load: clients list names no client")
	}
	return out, nil
}

// DPoPUnbound is the m2m profile's DPoP check: with proofs on, every access
// token should come back DPoP-bound (token_type DPoP, RFC 9449 §5). A
// server that binds none does not support DPoP (it may ignore the header,
// §5) and is not judged; one that binds some and not others under load is
// a failure.
var DPoPUnbound = Metric{Name: "dpop_unbound_tokens", Correctness: true, Profiles: []string{"m2m"},
	Doc: "access tokens issued for DPoP-proofed requests without token_type DPoP, by a server that bound others",
	Observe: func(l *reports.Load) Observation {
		c := l.Correctness
		switch {
		case c.DPoPBound+c.DPoPNotBound == 0 && l.Outcomes.Succeeded > 0:
			return notApplicable("the run sent no DPoP proofs (set DPOP=true): no token could be bound")
		case c.DPoPBound+c.DPoPNotBound == 0:
			return inconclusive("no access token was issued")
		case c.DPoPBound == 0:
			return notApplicable("the server bound none of %d access tokens to the DPoP key (token_type was never DPoP): "+
				"it does not support DPoP, which RFC 9449 §5 lets it ignore", c.DPoPNotBound)
		}
		return observed(count(c.DPoPNotBound), "%d of %d access tokens for DPoP-proofed requests not DPoP-bound",
			c.DPoPNotBound, c.DPoPBound+c.DPoPNotBound)
	}}
