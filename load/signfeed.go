package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tokenharness/internal/jwtsign"
	"tokenharness/internal/oauth"
	"tokenharness/internal/target"
)

// Signing makes every request of an m2m run carry freshly signed JWTs: a
// client assertion (RFC 7523 §2.2, private_key_jwt) in place of the client
// secret, a DPoP proof (RFC 9449 §4), or both. Each needs its own jti and a
// fresh iat, so each request is signed for itself; the signing is done by
// a signer ahead of the schedule (signFeed), not by vegeta's workers.
type Signing struct {
	// Assertion signs the client assertions; nil keeps secret
	// authentication. One key for every client of the run (iss and sub
	// are each client's id).
	Assertion *jwtsign.Key
	// Audience is the assertions' aud; empty is the token URL.
	Audience string
	// DPoP signs the proofs; nil sends none.
	DPoP *jwtsign.Key
	// Workers sign concurrently before the attack; zero is GOMAXPROCS.
	// While the attack runs, half of them (at least one) go on signing,
	// leaving the generator the rest of the machine.
	Workers int
	// Lead is how far ahead of the schedule requests are signed: the feed
	// holds the requests of Lead at the run's rate (at most maxSignAhead),
	// so a run no longer than Lead is signed whole before the attack (a
	// pre-signed pool) and a longer one keeps signing while it runs (a
	// concurrent minter). A JWT is then up to about Lead old when sent:
	// lower Lead for a server that wants fresher iat. Zero is
	// DefaultSignLead.
	Lead time.Duration
}

func (s *Signing) on() bool { return s != nil && (s.Assertion != nil || s.DPoP != nil) }

// Bounds of the signer: how far ahead it signs and how long the attack
// waits for the first Lead's worth.
const (
	DefaultSignLead   = 30 * time.Second
	MaxSignLead       = 10 * time.Minute
	minSignAhead      = 256
	maxSignAhead      = 100_000 // about 1.5 KB each (ES256 assertion + proof): 150 MB at most
	signPrefillWithin = time.Minute
)

// signedItem is one request's signed material, for client, and the whole
// request built from it (by the signer, not by vegeta's workers).
type signedItem struct {
	client           int
	assertion, proof string
	target           vegeta.Target
}

// signFeed signs requests ahead of the schedule: workers fill a channel of
// capacity lead × rate, first before the attack (prefill), then as the
// targeter drains it. The targeter takes a signed request without waiting;
// when the feed is empty it signs one itself (counted as inline: that
// signing was on the critical path). The workers sign exactly the run's
// scheduled requests, and stop when the run does.
type signFeed struct {
	ch      chan signedItem
	sign    func(k uint64) (signedItem, error)
	total   uint64
	workers int
	// stream is how many workers go on once the first lead is signed.
	stream    int
	prefilled atomic.Bool
	k         atomic.Uint64 // next request to sign
	inline    atomic.Uint64

	errOnce sync.Once
	err     error
	errSet  atomic.Bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
	stopM  sync.Once
}

// newSignFeed is a feed for total requests of the clients, in turn, at up
// to rate requests per second; build, when set, makes each item's request.
// It does not start signing: see start.
func newSignFeed(s *Signing, tokenURL string, clients []Credential, total uint64, rate float64,
	build func(client int, assertion, proof string) vegeta.Target) (*signFeed, error) {
	if s.Lead < 0 || s.Lead > MaxSignLead {
		return nil, fmt.Errorf("load: signing lead %s is not in [0, %s]", s.Lead, MaxSignLead)
	}
	if s.Workers < 0 || s.Workers > 256 {
		return nil, fmt.Errorf("load: signing workers %d is not in [0, 256]", s.Workers)
	}
	lead := s.Lead
	if lead == 0 {
		lead = DefaultSignLead
	}
	workers := s.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	capacity := min(max(int(rate*lead.Seconds()), minSignAhead), maxSignAhead)
	capacity = int(min(uint64(capacity), max(total, 1)))

	htu, err := jwtsign.ProofURL(tokenURL)
	if err != nil {
		return nil, fmt.Errorf("load: token URL: %w", err)
	}
	aud := s.Audience
	if aud == "" {
		aud = htu
	}
	// An assertion outlives its wait in the feed by the default lifetime.
	life := jwtsign.DefaultLifetime + lead
	n := uint64(len(clients))
	f := &signFeed{ch: make(chan signedItem, capacity), total: total, workers: workers, stream: max(1, workers/2)}
	f.sign = func(k uint64) (signedItem, error) {
		it := signedItem{client: int(k % n)}
		var err error
		if s.Assertion != nil {
			id := clients[it.client].ID
			if it.assertion, err = jwtsign.SignAssertion(*s.Assertion, jwtsign.Assertion{ClientID: id, Audience: aud, Lifetime: life}); err != nil {
				return it, fmt.Errorf("load: sign a client assertion: %w", err)
			}
		}
		if s.DPoP != nil {
			if it.proof, err = jwtsign.SignProof(*s.DPoP, jwtsign.Proof{Method: http.MethodPost, URL: htu}); err != nil {
				return it, fmt.Errorf("load: sign a DPoP proof: %w", err)
			}
		}
		if build != nil {
			it.target = build(it.client, it.assertion, it.proof)
			it.assertion, it.proof = "", "" // in the target now
		}
		return it, nil
	}
	// One signature now: a key that cannot sign is a configuration error
	// before any work, not a run of failures.
	if _, err := f.sign(0); err != nil {
		return nil, err
	}
	return f, nil
}

// start runs the workers and waits until the feed holds its first lead (or
// the whole run, if shorter), for at most within. It fails if a signature
// fails, if ctx ends, or if the lead cannot be signed in time, and, when
// the run is longer than the lead, if the workers signing during the run
// (at the rate the prefill showed) would not keep up with the rest of it:
// the feed would run dry and the signing land on the critical path.
func (f *signFeed) start(ctx context.Context, rate float64, within time.Duration) error {
	wctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for i := range f.workers {
		f.wg.Add(1)
		go f.work(wctx, i)
	}
	want := cap(f.ch)
	began := time.Now()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for len(f.ch) < want {
		select {
		case <-ctx.Done():
			f.stop()
			return ctx.Err()
		case <-deadline.C:
			got := len(f.ch)
			f.stop()
			return fmt.Errorf("load: signing ahead: only %d of the first %d requests signed in %s (%d workers): the signer cannot keep up; "+
				"lower RATE, or raise M2M_SIGN_WORKERS", got, want, within, f.workers)
		case <-tick.C:
		}
		if e := f.failed(); e != nil {
			f.stop()
			return e
		}
	}
	f.prefilled.Store(true)
	took := time.Since(began)
	signRate := float64(want) / took.Seconds() * float64(f.stream) / float64(f.workers)
	// The feed runs dry before the end if what is signed ahead plus what
	// the workers sign during the run falls short of the run.
	if runFor := float64(f.total) / rate; float64(want)+signRate*runFor < float64(f.total) {
		f.stop()
		return fmt.Errorf("load: signing ahead: the signer would sign %.0f requests/s with %d workers while the attack runs, "+
			"so with %d signed ahead it would run dry before the run's %d requests at RATE=%g, and the signing land on the "+
			"generator's critical path: lower RATE, raise M2M_SIGN_LEAD so the run is signed whole before it starts, raise "+
			"M2M_SIGN_WORKERS, or split with SHARD", signRate, f.stream, want, f.total, rate)
	}
	return nil
}

func (f *signFeed) work(ctx context.Context, i int) {
	defer f.wg.Done()
	for {
		if i >= f.stream && f.prefilled.Load() {
			return
		}
		k := f.k.Add(1) - 1
		if k >= f.total {
			return
		}
		it, err := f.sign(k)
		if err != nil {
			f.fail(err)
			return
		}
		select {
		case f.ch <- it:
		case <-ctx.Done():
			return
		}
	}
}

// next is the next signed request, without waiting; an empty feed signs
// one here (inline). ok is false only if that signature failed.
func (f *signFeed) next() (signedItem, bool) {
	select {
	case it := <-f.ch:
		return it, true
	default:
	}
	f.inline.Add(1)
	it, err := f.sign(f.k.Add(1) - 1)
	if err != nil {
		f.fail(err)
		return it, false
	}
	return it, true
}

func (f *signFeed) fail(err error) {
	f.errOnce.Do(func() { f.err = err; f.errSet.Store(true) })
}

func (f *signFeed) failed() error {
	if !f.errSet.Load() {
		return nil
	}
	return f.err
}

// ahead is the feed's capacity: how many requests are signed ahead.
func (f *signFeed) ahead() int { return cap(f.ch) }

// stop ends the workers and waits for them; safe to call more than once,
// and on a feed never started.
func (f *signFeed) stop() {
	if f == nil {
		return
	}
	f.stopM.Do(func() {
		if f.cancel != nil {
			f.cancel()
		}
		f.wg.Wait()
	})
}

// ErrSigningNotM2M refuses signing settings for a profile that does not sign.
var ErrSigningNotM2M = errors.New("load: CLIENT_AUTH=private_key_jwt and DPOP=true apply under load to profile m2m only: the other profiles do not sign their requests (unset them, or use LOAD_PROFILE=m2m)")

// SigningFromTarget is the m2m run's Signing from the run's one resolved
// configuration (internal/target): CLIENT_AUTH=private_key_jwt signs a
// client assertion per request with JWT_KEY_FILE (JWT_ALG, JWT_KID,
// JWT_AUDIENCE as the conformance run uses them), DPOP=true adds a proof
// per request signed with DPOP_KEY_FILE or a key generated for the run.
// Nil when the target declares neither. client_secret_jwt is refused: its
// key is each client's secret, and the signer holds one key for the run.
func SigningFromTarget(tc target.Config) (*Signing, error) {
	var s Signing
	switch tc.ClientAuth {
	case oauth.AuthPrivateKeyJWT:
		k, err := tc.AssertionKey("")
		if err != nil {
			return nil, fmt.Errorf("load: JWT_KEY_FILE: %w", err)
		}
		s.Assertion, s.Audience = &k, tc.JWTAudience
	case oauth.AuthSecretJWT:
		return nil, errors.New("load: CLIENT_AUTH=client_secret_jwt is not supported under load: m2m signs private_key_jwt assertions with one JWT_KEY_FILE for every client; use private_key_jwt or a client secret")
	}
	if tc.DPoP {
		k, err := tc.DPoPKey()
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		s.DPoP = &k
	}
	if !s.on() {
		return nil, nil
	}
	return &s, nil
}
