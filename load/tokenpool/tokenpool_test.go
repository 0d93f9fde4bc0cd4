package tokenpool

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestPool_LendsRotatesAndRetires(t *testing.T) {
	t.Parallel()
	p := New([]string{"a", "b"})
	s1, t1, ok1 := p.Take()
	s2, _, ok2 := p.Take()
	if !ok1 || !ok2 || s1 == s2 {
		t.Fatalf("Take twice = %d %v, %d %v", s1, ok1, s2, ok2)
	}
	if _, _, ok := p.Take(); ok {
		t.Fatal("Take from an empty pool succeeded")
	}
	if !p.Put(s1, t1+"-rotated") || !p.Fresh(s1) {
		t.Error("Put with a new token: want rotated and fresh")
	}
	s, tok, _ := p.Take()
	if s != s1 || tok != t1+"-rotated" {
		t.Errorf("Take after Put = %d %q, want the rotated token of slot %d", s, tok, s1)
	}
	if p.Put(s, "") || p.Fresh(s) {
		t.Error("Put without a new token: want not rotated, not fresh")
	}
	p.Retire(s2)
	got := p.Stats()
	want := Stats{Slots: 2, Idle: 1, Exhausted: 1, Retired: 1, Rotated: 1} // slot 1 was put back, slot 2 retired
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestPool_ConcurrentUseKeepsEverySlot(t *testing.T) {
	t.Parallel()
	p := New([]string{"a", "b", "c", "d"})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if s, tok, ok := p.Take(); ok {
					p.Put(s, tok+"x")
				}
			}
		})
	}
	wg.Wait()
	n := 0
	for {
		if _, _, ok := p.Take(); !ok {
			break
		}
		n++
	}
	if n != 4 {
		t.Errorf("%d slots idle after the storm, want 4", n)
	}
}

func TestSealed_CountsDrawsPastTheEnd(t *testing.T) {
	t.Parallel()
	s := NewSealed([]int{10, 20})
	for i, want := range []int{10, 20} {
		if _, v, ok := s.Next(); !ok || v != want {
			t.Errorf("Next #%d = %d %v, want %d", i, v, ok, want)
		}
	}
	if _, _, ok := s.Next(); ok {
		t.Error("Next past the end succeeded")
	}
	if v, ok := s.Get(1); !ok || v != 20 || s.Exhausted() != 1 {
		t.Errorf("Get(1) = %d %v, exhausted %d; want 20 true 1 (Get does not count)", v, ok, s.Exhausted())
	}
}

func TestMint(t *testing.T) {
	t.Parallel()
	got, err := Mint(context.Background(), 50, 4, func(_ context.Context, i int) (int, error) { return i * 2, nil })
	if err != nil || len(got) != 50 || got[49] != 98 {
		t.Fatalf("Mint = %v, %v", got, err)
	}
	boom := errors.New("boom")
	calls := 0
	var mu sync.Mutex
	_, err = Mint(context.Background(), 1000, 4, func(ctx context.Context, i int) (int, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		if i == 3 {
			return 0, boom
		}
		// Wait for the failure to cancel the rest, so the outcome does
		// not depend on how the scheduler orders the four workers.
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Second):
			return i, nil
		}
	})
	if !errors.Is(err, boom) || !errors.Is(err, ErrMint) {
		t.Errorf("Mint error = %v, want it to wrap ErrMint and the cause", err)
	}
	if calls >= 1000 {
		t.Errorf("Mint went on after an error: %d calls", calls)
	}
}
