// Package shard splits one load run across processes and puts the pieces
// back together. SHARD=i/n gives process i (0-based, as Kubernetes'
// JOB_COMPLETION_INDEX) every n-th group of the run's schedule and 1/n of its
// token pool; Merge decodes every shard's raw vegeta results in one process
// and sorts them, because vegeta's Metrics (t-digest percentiles) cannot be
// merged after the fact (load/LOAD.md §4) and `vegeta report` does not sort
// concatenated files.
package shard

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Shard is process I of N. The zero value is "not sharded" and behaves as 0/1.
type Shard struct {
	I, N uint64
}

// Whole is the unsharded run.
var Whole = Shard{I: 0, N: 1}

// ErrSyntax is wrapped by Parse's errors.
var ErrSyntax = errors.New("shard: want i/n with 0 ≤ i < n, e.g. SHARD=0/2")

// Parse reads "i/n". An empty string is Whole.
func Parse(s string) (Shard, error) {
	if strings.TrimSpace(s) == "" {
		return Whole, nil
	}
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("%w: got %q", ErrSyntax, s)
	}
	i, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 32)
	n, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 32)
	if err1 != nil || err2 != nil || n == 0 || i >= n {
		return Shard{}, fmt.Errorf("%w: got %q", ErrSyntax, s)
	}
	return Shard{I: i, N: n}, nil
}

func (s Shard) norm() Shard {
	if s.N == 0 {
		return Whole
	}
	return s
}

// Sharded reports whether the run is split at all.
func (s Shard) Sharded() bool { return s.norm().N > 1 }

// String is "i/n", or "" for the whole run.
func (s Shard) String() string {
	if !s.Sharded() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.I, s.N)
}

// Name is a file-system and attack name for the shard: "shard-1-of-4".
// vegeta's plot loses points when two shards share an attack name
// (load/LOAD.md §5), so every shard's results carry their own.
func (s Shard) Name() string {
	s = s.norm()
	return fmt.Sprintf("shard-%d-of-%d", s.I, s.N)
}

// Part is this shard's share of total items (tokens, clients) when the
// items are dealt out one at a time: the first total mod n shards get one
// more. The parts of all shards add up to total.
func (s Shard) Part(total int) int {
	s = s.norm()
	if total <= 0 {
		return 0
	}
	n, i := int(s.N), int(s.I)
	p := total / n
	if i < total%n {
		p++
	}
	return p
}

// Schedule is what a load schedule provides; load.Schedule satisfies it.
type Schedule interface {
	At(n uint64) (time.Duration, bool)
	Hits() uint64
	Span() time.Duration
}

// Split returns this shard's part of a schedule: every n-th group of group
// consecutive hits, starting with group i. Interleaving, rather than dividing
// the rate, keeps each hit at its intended time and makes the shards' hits
// add up to exactly the whole schedule's however n divides the rate; group
// keeps a rotation race's concurrent refreshes in one process.
func (s Shard) Split(inner Schedule, group uint64) Schedule {
	s = s.norm()
	if s.N == 1 {
		return inner
	}
	return interleaved{inner: inner, Shard: s, group: max(group, 1)}
}

type interleaved struct {
	inner Schedule
	Shard
	group uint64
}

func (s interleaved) global(n uint64) uint64 {
	return ((n/s.group)*s.N+s.I)*s.group + n%s.group
}

func (s interleaved) At(n uint64) (time.Duration, bool) {
	if n >= s.Hits() {
		return 0, false
	}
	return s.inner.At(s.global(n))
}

func (s interleaved) Hits() uint64 {
	groups := s.inner.Hits() / s.group
	mine := groups / s.N
	if groups%s.N > s.I {
		mine++
	}
	return mine * s.group
}

func (s interleaved) Span() time.Duration { return s.inner.Span() }

// ResultsFile is the name of the raw results in a run directory.
const ResultsFile = "results.bin"

// Decode reads every result of one vegeta results file (gob, JSON or CSV,
// detected as `vegeta report` does). An empty file holds no results: a
// shard can be given no requests at all when there are more shards than
// race groups.
func Decode(r io.Reader, each func(*vegeta.Result) error) error {
	br := bufio.NewReader(r)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return nil
	}
	dec := vegeta.DecoderFor(br)
	if dec == nil {
		return errors.New("shard: not a vegeta results file (gob, json or csv)")
	}
	for {
		var res vegeta.Result
		if err := dec.Decode(&res); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("shard: decode result: %w", err)
		}
		if err := each(&res); err != nil {
			return err
		}
	}
}

// Merge decodes the results of every shard directory and returns them in
// one slice sorted by timestamp (stable, so each shard keeps its own order).
func Merge(dirs ...string) ([]vegeta.Result, error) {
	if len(dirs) == 0 {
		return nil, errors.New("shard: merge: no shard directories given")
	}
	var all []vegeta.Result
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, ResultsFile))
		if err != nil {
			return nil, fmt.Errorf("shard: merge: %w", err)
		}
		err = Decode(f, func(r *vegeta.Result) error {
			all = append(all, *r)
			return nil
		})
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("shard: merge %s: %w", d, err)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Timestamp.Before(all[j].Timestamp) })
	return all, nil
}
