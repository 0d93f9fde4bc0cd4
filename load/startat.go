package load

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Bounds on START_AT: a start already this far in the past means the
// process came too late to run with the others; one further ahead than
// MaxStartAhead is more likely a typo than a plan.
const (
	StartAtPastSlack = 5 * time.Second
	MaxStartAhead    = time.Hour
)

// ParseStartAt reads START_AT: an RFC 3339 time (2026-11-26T15:00:00Z,
// fractions allowed) or an offset from now ("+30s"). It is resolved once,
// when the process starts, so every shard given the same RFC 3339 time
// begins its attack at the same instant. Empty is the zero time: start as
// soon as the token pool is minted.
func ParseStartAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	var at time.Time
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("load: START_AT=%q: want an RFC 3339 time (2026-11-26T15:00:00Z) or an offset such as +30s", s)
		}
		at = now.Add(d)
	} else {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("load: START_AT=%q: want an RFC 3339 time (2026-11-26T15:00:00Z) or an offset such as +30s", s)
		}
		at = t
	}
	switch {
	case at.Before(now.Add(-StartAtPastSlack)):
		return time.Time{}, fmt.Errorf("load: START_AT=%s is %s in the past: this process is too late to start with the other shards",
			at.UTC().Format(time.RFC3339Nano), now.Sub(at).Round(time.Second))
	case at.After(now.Add(MaxStartAhead)):
		return time.Time{}, fmt.Errorf("load: START_AT=%s is %s ahead, more than %s: a typo?",
			at.UTC().Format(time.RFC3339Nano), at.Sub(now).Round(time.Second), MaxStartAhead)
	}
	return at, nil
}

// waitStart blocks until at (the zero time: not at all), saying on w how
// long it waits, or that minting the pool ran past it and the attack starts
// late (merge then reports the shards' skew).
func waitStart(ctx context.Context, at time.Time, w io.Writer) error {
	if at.IsZero() {
		return nil
	}
	d := time.Until(at)
	if d <= 0 {
		if w != nil {
			fmt.Fprintf(w, "load: the token pool was ready %s after START_AT=%s: starting late\n",
				(-d).Round(time.Millisecond), at.UTC().Format(time.RFC3339Nano))
		}
		return nil
	}
	if w != nil {
		fmt.Fprintf(w, "load: waiting %s for START_AT=%s\n", d.Round(time.Millisecond), at.UTC().Format(time.RFC3339Nano))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("load: stopped while waiting for START_AT: %w", ctx.Err())
	}
}
