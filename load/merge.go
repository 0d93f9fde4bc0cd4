package load

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"tokenharness/load/shard"
	"tokenharness/reports"
)

// Merge combines the run directories of the shards of one run into outDir:
// it decodes every shard's raw results in this one process, sorts them, and
// computes the report exactly as a single run's (vegeta's Metrics cannot be
// merged, load/LOAD.md §4). The shards must be all of 0/n … n-1/n of one profile
// with the same parameters, or the totals would not be the run's.
//
// Duplicate access tokens are detected within each shard only: results.bin
// holds no token, so a token issued once to each of two shards is not seen.
func Merge(outDir string, dirs ...string) (*reports.Load, error) {
	return MergeWith(outDir, MergeOptions{}, dirs...)
}

// MergeOptions relax Merge's checks.
type MergeOptions struct {
	// AllowSkew merges shards whose attacks did not begin together (see
	// SkewTolerance); the report's shard_skew says so, and its rates
	// understate what the shards sent together.
	AllowSkew bool
}

// MergeWith is Merge with options. Shards whose attacks began further apart
// than SkewTolerance are refused unless o.AllowSkew: their requests were
// not sent together, so the merged rate would be a fraction of the one
// asked for and the latencies would not be those of the whole load.
func MergeWith(outDir string, o MergeOptions, dirs ...string) (*reports.Load, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("load: merge: no shard directories given")
	}
	infos := make([]RunInfo, len(dirs))
	var why []string
	stoppedEarly := false
	for i, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, RunFile))
		if err != nil {
			return nil, fmt.Errorf("load: merge: %w (is %s a load run directory?)", err, d)
		}
		if err := json.Unmarshal(b, &infos[i]); err != nil {
			return nil, fmt.Errorf("load: merge: %s: %w", filepath.Join(d, RunFile), err)
		}
		rep, err := reports.ReadLoad(filepath.Join(d, ReportJSON))
		if err != nil {
			return nil, fmt.Errorf("load: merge: %w (did shard %s finish?)", err, d)
		}
		if !rep.Valid {
			why = append(why, fmt.Sprintf("shard %s: %s", infos[i].Shard, rep.InvalidWhy))
		}
		if _, ok := rep.Params.Extra[extraStoppedAt]; ok {
			stoppedEarly = true // a ramp shard stopped at its knee: fewer requests is expected
		}
	}
	first := infos[0]
	pr, err := ByName(first.Profile)
	if err != nil {
		return nil, fmt.Errorf("load: merge: %w", err)
	}
	if err := sameRun(infos); err != nil {
		return nil, err
	}

	results, err := shard.Merge(dirs...)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	skew, err := shardSkew(pr, infos, results)
	if err != nil {
		return nil, err
	}
	if skew != nil && skew.SkewMS > skew.ToleranceMS {
		if !o.AllowSkew {
			apart := ""
			if !skew.Overlap {
				apart = ", one after the other"
			}
			return nil, fmt.Errorf("load: merge: the shards did not run together: their attacks began %s apart%s (tolerance %s); start every shard with the same START_AT, or merge anyway with --allow-skew",
				msDuration(skew.SkewMS), apart, msDuration(skew.ToleranceMS))
		}
		skew.Allowed = true
	}

	start, span := first.StartedAt, first.Params.Duration
	if len(results) > 0 {
		start = results[0].Timestamp
		span = max(span, results[len(results)-1].Timestamp.Sub(start))
	}
	an := newAnalyzer(start, span, first.Params.RacePolicy)

	startedAt := first.StartedAt
	for _, in := range infos {
		if in.StartedAt.Before(startedAt) {
			startedAt = in.StartedAt
		}
	}
	info := first
	info.Shard, info.Hits, info.StartedAt = "", first.WholeHits, startedAt
	out, err := newSink(outDir, pr.Name+" merged", info)
	if err != nil {
		return nil, err
	}
	defer out.abort()
	for i := range results {
		r := &results[i]
		a, ok := parseAnnotation(r.Headers.Get(AnnotationHeader))
		if !ok {
			return nil, fmt.Errorf("load: merge: a result in %s lacks its %s header: not written by tokenharness load", r.Attack, AnnotationHeader)
		}
		an.add(r, a)
		if err := out.add(r); err != nil {
			return nil, err
		}
	}

	// The run resolved its thresholds from the user's overrides; the limits
	// it recorded are the result, applied on top to keep them exact.
	ths, err := resolve(pr, first.Overrides)
	if err != nil {
		return nil, fmt.Errorf("load: merge: %w", err)
	}
	for i := range ths {
		if v, ok := first.Limits[ths[i].Metric.Name]; ok {
			ths[i].Limit = v
		}
	}
	l := &reports.Load{
		APIVersion: reports.APIVersion, Kind: reports.KindLoad, Profile: pr.Name,
		Target: first.Target, TargetKind: first.TargetKind, StartedAt: startedAt, FinishedAt: an.lastEnd,
		Valid: true, Shards: len(dirs), ShardSkew: skew, Params: reportParams(pr, first.Params, ths, shard.Whole),
	}
	if l.FinishedAt.IsZero() {
		l.FinishedAt = startedAt
	}
	an.fill(l)
	switch {
	case len(why) > 0:
		l.Valid, l.InvalidWhy = false, strings.Join(why, "; ")
	case l.Requests != first.WholeHits && !stoppedEarly:
		l.Valid = false
		l.InvalidWhy = fmt.Sprintf("the shards sent %d of %d scheduled requests", l.Requests, first.WholeHits)
	}
	finish(l, pr, first.Params, ths, first.MaxLag)
	if err := out.close(l); err != nil {
		return nil, err
	}
	return l, nil
}

// sameRun checks the shards belong together: one profile, one set of
// parameters and limits, and each of 0/n … n-1/n exactly once.
func sameRun(infos []RunInfo) error {
	first := infos[0]
	n := uint64(1)
	if s, err := shard.Parse(first.Shard); err == nil {
		n = s.N
	}
	if uint64(len(infos)) != n {
		return fmt.Errorf("load: merge: got %d shard directories for a run split %d ways; pass all of them", len(infos), n)
	}
	seen := make([]bool, n)
	for _, in := range infos {
		s, err := shard.Parse(in.Shard)
		if err != nil {
			return fmt.Errorf("load: merge: %w", err)
		}
		switch {
		case in.Profile != first.Profile:
			return fmt.Errorf("load: merge: profiles differ: %s and %s", first.Profile, in.Profile)
		case shared(in.Params) != shared(first.Params):
			return fmt.Errorf("load: merge: shard %s ran with different parameters than shard %s", in.Shard, first.Shard)
		case s.N != n && !(n == 1 && !s.Sharded()):
			return fmt.Errorf("load: merge: shard %s is not one of %d", in.Shard, n)
		case seen[s.I]:
			return fmt.Errorf("load: merge: shard %s given twice", in.Shard)
		}
		seen[s.I] = true
		if !mapsEqual(in.Limits, first.Limits) || !mapsEqual(in.Overrides, first.Overrides) {
			return fmt.Errorf("load: merge: shard %s ran with different thresholds than shard %s", in.Shard, first.Shard)
		}
	}
	if i := slices.Index(seen, false); i >= 0 {
		return fmt.Errorf("load: merge: shard %d/%d is missing", i, n)
	}
	return nil
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// SkewTolerance is how far apart shards' attacks may begin and still be
// merged as one run: 5% of the schedule's span (the merged rate then
// understates the one sent by at most that much), and at least 20 ms.
func SkewTolerance(span time.Duration) time.Duration {
	return max(span/20, 20*time.Millisecond)
}

// shardSkew measures when each shard's attack began: its earliest result
// carries its first hit's intended send time (results are re-timed from
// it), less that hit's offset in the shard's schedule. The shards' windows
// (attack start to last response) overlap when the last to begin did so
// before the first to finish was done. Shards that sent nothing are left
// out; nil when fewer than two shards sent anything.
func shardSkew(pr Profile, infos []RunInfo, results []vegeta.Result) (*reports.ShardSkew, error) {
	type window struct{ first, end time.Time }
	wins := map[string]*window{}
	for i := range results {
		r := &results[i]
		w := wins[r.Attack]
		if w == nil {
			w = &window{first: r.Timestamp}
			wins[r.Attack] = w
		}
		if r.Timestamp.Before(w.first) {
			w.first = r.Timestamp
		}
		if e := r.Timestamp.Add(r.Latency); e.After(w.end) {
			w.end = e
		}
	}
	var lo, hi, firstEnd time.Time
	var span time.Duration
	n := 0
	for _, in := range infos {
		s, err := shard.Parse(in.Shard)
		if err != nil {
			return nil, fmt.Errorf("load: merge: %w", err)
		}
		w, ok := wins[attackName(Config{Profile: pr, Shard: s})]
		if !ok {
			continue
		}
		group := uint64(1)
		if pr.Workload == Race {
			group = uint64(max(in.Params.GroupSize, 1))
		}
		whole := pr.Pacer(in.Params)
		span = whole.Span()
		at0, _ := s.Split(whole, group).At(0)
		began := w.first.Add(-at0)
		if n == 0 || began.Before(lo) {
			lo = began
		}
		if n == 0 || began.After(hi) {
			hi = began
		}
		if n == 0 || w.end.Before(firstEnd) {
			firstEnd = w.end
		}
		n++
	}
	if n < 2 {
		return nil, nil
	}
	return &reports.ShardSkew{SkewMS: round3(ms(hi.Sub(lo))), ToleranceMS: ms(SkewTolerance(span)), Overlap: hi.Before(firstEnd)}, nil
}

func msDuration(v float64) time.Duration {
	return time.Duration(v * float64(time.Millisecond)).Round(time.Millisecond)
}

// shared is what shards of one run share: each shard sizes its own pool
// from the latency it measured (poolsize.go), so a measured pool's size and
// derivation may differ between them.
func shared(p Params) Params {
	if p.PoolSizing != "" {
		p.Clients, p.PoolSizing = 0, ""
	}
	return p
}
