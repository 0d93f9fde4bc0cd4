// Package tokenpool holds the live refresh tokens a load run spends: minted
// up front (the pool is sized for the run before the first request), lent
// out one slot at a time, and handed back with the rotated token a refresh
// returned (RFC 9700 §4.14.2, https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2),
// so the next request on that slot uses the new one.
//
// A pool never runs dry silently: a Take that finds no idle slot is counted
// as exhausted, and a slot whose token the server rejected is retired and
// counted as dead rather than retried.
package tokenpool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Pool lends refresh tokens by slot. Ownership is the synchronisation: a
// slot's token and state are touched only by whoever holds the slot, and the
// idle queue (a channel) hands the slot over with a happens-before edge, so
// no lock is held on the request path.
type Pool struct {
	tokens []string
	fresh  []bool // the slot's token came from a rotation and is not used yet
	idle   chan int32

	exhausted atomic.Uint64
	retired   atomic.Uint64
	rotated   atomic.Uint64
}

// New returns a pool over the given tokens, all idle.
func New(tokens []string) *Pool {
	p := &Pool{
		tokens: append([]string(nil), tokens...),
		fresh:  make([]bool, len(tokens)),
		idle:   make(chan int32, len(tokens)),
	}
	for i := range tokens {
		p.idle <- int32(i)
	}
	return p
}

// Len is the number of slots the pool was made with.
func (p *Pool) Len() int { return len(p.tokens) }

// Take lends an idle slot and its current token. It never blocks: when every
// slot is out or retired it counts an exhaustion and returns ok == false, so
// the caller can send a request marked as such instead of stalling the
// attack or failing it.
func (p *Pool) Take() (slot int, token string, ok bool) {
	select {
	case s := <-p.idle:
		return int(s), p.tokens[s], true
	default:
		p.exhausted.Add(1)
		return -1, "", false
	}
}

// Fresh reports whether the held slot's token came from a successful
// rotation and has not been used since; a rejection of such a token is a
// token that died after a successful refresh.
func (p *Pool) Fresh(slot int) bool { return p.fresh[slot] }

// Token returns the held slot's current token.
func (p *Pool) Token(slot int) string { return p.tokens[slot] }

// Put returns a held slot. A non-empty next that differs from the slot's
// token is the rotated token and replaces it; an empty next (a server that
// does not rotate, or a failed request) keeps the current one.
// It reports whether the token rotated.
func (p *Pool) Put(slot int, next string) (rotated bool) {
	rotated = next != "" && next != p.tokens[slot]
	if rotated {
		p.tokens[slot] = next
		p.rotated.Add(1)
	}
	p.fresh[slot] = rotated
	p.idle <- int32(slot)
	return rotated
}

// Retire drops a held slot whose token the server no longer accepts.
func (p *Pool) Retire(slot int) {
	p.tokens[slot] = ""
	p.fresh[slot] = false
	p.retired.Add(1)
}

// Stats are the pool's counters.
type Stats struct {
	Slots int
	Idle  int // slots ready to lend now

	Exhausted uint64 // Takes that found no idle slot
	Retired   uint64 // slots dropped because their token was rejected
	Rotated   uint64 // Puts that carried a new token
}

// Stats returns the counters so far.
func (p *Pool) Stats() Stats {
	return Stats{Slots: len(p.tokens), Idle: len(p.idle), Exhausted: p.exhausted.Load(), Retired: p.retired.Load(), Rotated: p.rotated.Load()}
}

// Sealed is a read-only list of one-shot items (refresh tokens a race spends
// once, authorization codes), drawn in order by index. Reading needs no
// lock because nothing writes after construction.
type Sealed[T any] struct {
	items     []T
	next      atomic.Uint64
	exhausted atomic.Uint64
}

// NewSealed returns a one-shot list over items.
func NewSealed[T any](items []T) *Sealed[T] {
	return &Sealed[T]{items: append([]T(nil), items...)}
}

// Len is the number of items.
func (s *Sealed[T]) Len() int { return len(s.items) }

// Draw returns item i to be spent; ok is false, and an exhaustion is
// counted, past the end.
func (s *Sealed[T]) Draw(i uint64) (item T, ok bool) {
	if i >= uint64(len(s.items)) {
		s.exhausted.Add(1)
		return item, false
	}
	return s.items[i], true
}

// Get returns item i without spending it (to compare a response against
// the token that was sent); ok is false past the end.
func (s *Sealed[T]) Get(i uint64) (item T, ok bool) {
	if i >= uint64(len(s.items)) {
		return item, false
	}
	return s.items[i], true
}

// Next draws the next unused item.
func (s *Sealed[T]) Next() (index uint64, item T, ok bool) {
	i := s.next.Add(1) - 1
	item, ok = s.Draw(i)
	return i, item, ok
}

// Exhausted counts draws past the end.
func (s *Sealed[T]) Exhausted() uint64 { return s.exhausted.Load() }

// ErrMint is wrapped by Mint's error when the target would not issue a
// token; the pool is never started short.
var ErrMint = errors.New("tokenpool: mint")

// Mint calls mint n times on up to workers goroutines and returns the n
// results in order. It stops at the first error, so a misconfigured run
// fails before any load is sent rather than running on a short pool.
func Mint[T any](ctx context.Context, n, workers int, mint func(ctx context.Context, i int) (T, error)) ([]T, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: %d items requested; want ≥ 0", ErrMint, n)
	}
	workers = max(1, min(workers, n))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	out := make([]T, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				v, err := mint(ctx, i)
				if err != nil {
					cancel(fmt.Errorf("%w: item %d of %d: %w", ErrMint, i+1, n, err))
					return
				}
				out[i] = v
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// Live returns the tokens of the slots not retired, in slot order. Only
// when no slot is out (the attack is over): a lent slot's token is its
// holder's.
func (p *Pool) Live() []string {
	out := make([]string, 0, len(p.tokens))
	for _, t := range p.tokens {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}
