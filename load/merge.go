package load

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
		Valid: true, Shards: len(dirs), Params: reportParams(pr, first.Params, ths, shard.Whole),
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
		case in.Params != first.Params:
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
