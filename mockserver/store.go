package mockserver

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// The store keeps what the mock issued, in memory. Maps are sharded so
// concurrent requests for different codes and tokens rarely share a lock;
// the state of one code or one token family has its own mutex, which is
// where single use and rotation are decided.

const shardCount = 64 // a power of two

type shard[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
	_  [40]byte // keep neighbouring shards' locks off one cache line
}

// shardedMap is a map split into shardCount independently locked maps.
type shardedMap[K comparable, V any] struct {
	seed   maphash.Seed
	shards [shardCount]shard[K, V]
}

func newShardedMap[K comparable, V any]() *shardedMap[K, V] {
	m := &shardedMap[K, V]{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].m = map[K]V{}
	}
	return m
}

func (m *shardedMap[K, V]) shard(k K) *shard[K, V] {
	return &m.shards[maphash.Comparable(m.seed, k)&(shardCount-1)]
}

func (m *shardedMap[K, V]) get(k K) (V, bool) {
	s := m.shard(k)
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	return v, ok
}

func (m *shardedMap[K, V]) put(k K, v V) {
	s := m.shard(k)
	s.mu.Lock()
	s.m[k] = v
	s.mu.Unlock()
}

func (m *shardedMap[K, V]) del(k K) {
	s := m.shard(k)
	s.mu.Lock()
	delete(s.m, k)
	s.mu.Unlock()
}

func (m *shardedMap[K, V]) len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// sweep deletes every entry drop selects, one shard at a time so requests
// to other shards proceed meanwhile.
func (m *shardedMap[K, V]) sweep(drop func(V) bool) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, v := range s.m {
			if drop(v) {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

// codeGrant is an issued authorization code and what it is bound to.
type codeGrant struct {
	client        string
	redirectURI   string
	redirectGiven bool // redirect_uri was in the authorization request
	scope         string
	challenge     string
	method        string
	// jkt is the authorization request's dpop_jkt (RFC 9449 §10), the
	// thumbprint of the DPoP key the code may only be redeemed with; ""
	// when the code is unbound.
	jkt     string
	expires time.Time

	mu   sync.Mutex
	used bool
	// issued are the families redeemed from this code (more than one only
	// under a fault), revoked if the code is replayed.
	issued []*family
}

// family is every token descended from one code redemption. Refresh
// rotation and reuse detection are decided under its mutex; revoking it
// invalidates its refresh tokens and, since access tokens name their
// family, its access tokens too.
type family struct {
	id     uint64
	client string
	scope  string

	revoked atomic.Bool

	mu      sync.Mutex
	current string // the active refresh token
	// retired are rotated-out refresh tokens still remembered for reuse
	// detection, oldest first. Bounded: under a rotation-heavy load one
	// family would otherwise grow without limit.
	retired []string
	// expires is when the last token of the family expires; the janitor
	// forgets the family after it.
	expires time.Time
	// jkt is the DPoP key thumbprint a public client's refresh tokens are
	// bound to (RFC 9449 §5); nil when unbound. Set once, by the first
	// proofed response (dpop.go), and read without the family's lock.
	jkt atomic.Pointer[string]
}

// maxRetired bounds the rotated-out tokens remembered per family. A token
// older than that is forgotten: presenting it is an unknown token
// (invalid_grant) rather than detected reuse.
const maxRetired = 32

// refreshGrant is one refresh token.
type refreshGrant struct {
	fam     *family
	expires time.Time
	// retiredAt is zero while the token is its family's active one; set
	// under fam.mu when it is rotated out.
	retiredAt time.Time
}

type store struct {
	codes    *shardedMap[string, *codeGrant]
	refresh  *shardedMap[string, *refreshGrant]
	families *shardedMap[uint64, *family]
	lastID   atomic.Uint64
}

func newStore() *store {
	return &store{
		codes:    newShardedMap[string, *codeGrant](),
		refresh:  newShardedMap[string, *refreshGrant](),
		families: newShardedMap[uint64, *family](),
	}
}

// newFamily registers a family living at least until expires, so the
// janitor cannot forget it before its first tokens are issued.
func (st *store) newFamily(client, scope string, expires time.Time) *family {
	f := &family{id: st.lastID.Add(1), client: client, scope: scope, expires: expires}
	st.families.put(f.id, f)
	return f
}

// issueRefresh registers a new refresh token as f's active one; the caller
// holds f.mu.
func (st *store) issueRefresh(f *family, token string, expires time.Time) {
	st.refresh.put(token, &refreshGrant{fam: f, expires: expires})
	f.current = token
	f.extend(expires)
}

// retire rotates old out of f, forgetting the oldest remembered token when
// the bound is reached; the caller holds f.mu.
func (st *store) retire(f *family, old *refreshGrant, token string, now time.Time) {
	old.retiredAt = now
	f.retired = append(f.retired, token)
	if len(f.retired) > maxRetired {
		st.refresh.del(f.retired[0])
		f.retired = append(f.retired[:0], f.retired[1:]...)
	}
}

// extend makes f live at least until t; the caller holds f.mu.
func (f *family) extend(t time.Time) {
	if t.After(f.expires) {
		f.expires = t
	}
}

// revoke invalidates every token of f. Its records stay until the next
// sweep; lookups see the flag first.
func (f *family) revoke() { f.revoked.Store(true) }

// sweep forgets expired codes, expired refresh tokens, revoked families and
// families whose every token has expired, bounding memory by what is live.
func (st *store) sweep(now time.Time) {
	st.codes.sweep(func(c *codeGrant) bool { return !now.Before(c.expires) })
	st.refresh.sweep(func(r *refreshGrant) bool { return r.fam.revoked.Load() || !now.Before(r.expires) })
	st.families.sweep(func(f *family) bool {
		if f.revoked.Load() {
			return true
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return !now.Before(f.expires)
	})
}

// Stats counts what the store holds, for tests and memory checks.
type Stats struct {
	Codes         int `json:"codes"`
	RefreshTokens int `json:"refresh_tokens"`
	Families      int `json:"families"`
}

func (st *store) stats() Stats {
	return Stats{Codes: st.codes.len(), RefreshTokens: st.refresh.len(), Families: st.families.len()}
}
