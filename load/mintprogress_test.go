package load

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes buffer safe for the reporter's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMintProgressReportsWhileMinting: a pool that takes more than a second
// to mint says how far it is, how fast, and how long is left.
func TestMintProgressReportsWhileMinting(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	m := startMintProgress(&out, "the token pool", 10)
	for range 4 {
		m.add()
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "ready") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	m.end()
	got := out.String()
	if !strings.Contains(got, "minting the token pool: 4/10 ready") || !strings.Contains(got, "left") {
		t.Fatalf("progress line %q: want the count, rate and time left", got)
	}
	silent := startMintProgress(nil, "x", 10)
	silent.add()
	silent.end()
}
