package load

import (
	"math"
	"sort"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/lttb"

	"tokenharness/reports"
)

// analyzer turns annotated results into the figures of a reports.Load. The
// live run and `tokenharness merge` feed it the same way (the merge from
// the decoded results.bin of every shard), so a merged report is computed
// exactly as a single run's, not averaged from per-shard summaries.
//
// Latencies go into log histograms (see logHist): bounded memory for a long
// soak, percentiles within 0.5%, and shards that add up exactly.
type analyzer struct {
	start time.Time     // series origin: the attack's start
	width time.Duration // series interval

	buckets []bucketAcc
	lat     logHist // ms from the intended send time; requests actually sent
	lag     logHist // ms scheduled → sent
	points  []scatterPoint
	// stride thins the scatter once it holds maxPoints: only every
	// stride-th sent request is kept, so a long run's chart stays bounded.
	stride, seen uint64

	requests, failures, sent uint64
	succeeded                uint64
	codes                    map[string]uint64
	classes                  map[string]uint64 // unexpected failures by class
	expected                 map[string]uint64 // expected failures (race losers) by class
	// successful refreshes by what they did to the refresh token
	rotated, sameToken, noToken uint64
	spentRotated                uint64 // rotated tokens spent on their first use
	race                        map[raceKey]*raceAcc
	dead, dup, exhausted        uint64
	dpopBound, dpopNotBound     uint64

	racePolicy string // how multi-winner race groups are judged

	firstSend, lastSend, lastEnd time.Time
	hist                         []uint64
}

type bucketAcc struct {
	scheduled, sent uint64
	lat             logHist
	errors          map[string]uint64
	codes           map[string]uint64
}

// raceKey names a race group: group ids are per shard, and a merged run
// tells shards apart by attack name.
type raceKey struct {
	attack string
	id     int
}

type raceAcc struct {
	won      uint16
	distinct uint16 // winners that got a new refresh token no earlier winner got
	rotated  bool
}

type scatterPoint struct {
	t, ms float32
	ok    bool
}

// histBoundsMS are the latency histogram's upper bounds; the last bucket
// is everything slower.
var histBoundsMS = []float64{0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, math.Inf(1)}

// seriesWidth picks an interval that gives at most about 120 points, fine
// enough to see a spike's recovery in a 10 s run.
func seriesWidth(span time.Duration) time.Duration {
	for _, w := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second} {
		if span <= 120*w {
			return w
		}
	}
	return time.Minute
}

func newAnalyzer(start time.Time, span time.Duration, racePolicy string) *analyzer {
	return &analyzer{
		start:      start,
		racePolicy: racePolicy,
		width:      seriesWidth(span),
		codes:      map[string]uint64{},
		classes:    map[string]uint64{},
		expected:   map[string]uint64{},
		race:       map[raceKey]*raceAcc{},
		hist:       make([]uint64, len(histBoundsMS)),
	}
}

func (a *analyzer) bucket(t time.Time) *bucketAcc {
	i := max(int(t.Sub(a.start)/a.width), 0)
	for len(a.buckets) <= i {
		a.buckets = append(a.buckets, bucketAcc{errors: map[string]uint64{}, codes: map[string]uint64{}})
	}
	return &a.buckets[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// add takes one result whose Timestamp is its intended send time and whose
// Latency runs from there.
func (a *analyzer) add(r *vegeta.Result, an annotation) {
	a.requests++
	kind, id := parseFragment(r.URL)
	code := strconv.Itoa(int(r.Code))
	a.codes[code]++

	b := a.bucket(r.Timestamp)
	b.scheduled++
	b.codes[code]++

	failed := an.failed()
	switch {
	case an.Class == ClassPoolExhausted:
		// Never sent: neither the server's success nor its failure.
	case failed:
		a.failures++
		a.classes[an.Class]++
		b.errors[an.Class]++
	case an.Class == ClassOK:
		a.succeeded++
		if kind == kindSlot || kind == kindRace {
			switch {
			case an.Notes.Has(NoteRotated):
				a.rotated++
			case an.Notes.Has(NoteSameRefreshToken):
				a.sameToken++
			default:
				a.noToken++
			}
		}
	default:
		a.expected[an.Class]++ // a race loser: predicted, neither success nor error
	}
	if an.Notes.Has(NoteDeadAfterRefresh) {
		a.dead++
	}
	if an.Notes.Has(NoteSpentRotated) {
		a.spentRotated++
	}
	if an.Notes.Has(NoteDuplicateAccessToken) {
		a.dup++
	}
	if an.Notes.Has(NoteDPoPBound) {
		a.dpopBound++
	}
	if an.Notes.Has(NoteDPoPNotBound) {
		a.dpopNotBound++
	}
	if kind == kindRace {
		k := raceKey{r.Attack, id}
		g := a.race[k]
		if g == nil {
			g = &raceAcc{}
			a.race[k] = g
		}
		if an.Class == ClassOK {
			g.won++
			g.rotated = g.rotated || an.Notes.Has(NoteRotated)
			if !an.Notes.Has(NoteSameRotation) {
				g.distinct++
			}
		}
	}
	if kind == kindExhausted {
		a.exhausted++
		return // never sent: no latency, no lag
	}

	a.sent++
	sentAt := r.Timestamp.Add(an.Lag)
	a.bucket(sentAt).sent++
	end := r.Timestamp.Add(r.Latency)
	if a.firstSend.IsZero() || sentAt.Before(a.firstSend) {
		a.firstSend = sentAt
	}
	if sentAt.After(a.lastSend) {
		a.lastSend = sentAt
	}
	if end.After(a.lastEnd) {
		a.lastEnd = end
	}
	l := ms(r.Latency)
	a.lat.add(l)
	a.lag.add(ms(an.Lag))
	b.lat.add(l)
	a.scatterAdd(scatterPoint{t: float32(r.Timestamp.Sub(a.start).Seconds()), ms: float32(l), ok: !failed})
	a.hist[sort.SearchFloat64s(histBoundsMS, l)]++
}

// maxPoints bounds the scatter kept before downsampling.
const maxPoints = 1 << 20

// scatterAdd keeps every stride-th point; when the scatter is full it keeps
// every other point it has and doubles the stride. Failures are always
// kept (until they alone fill it): a rare error must stay visible.
func (a *analyzer) scatterAdd(p scatterPoint) {
	a.seen++
	if a.stride == 0 {
		a.stride = 1
	}
	if p.ok && a.seen%a.stride != 0 {
		return
	}
	if len(a.points) >= maxPoints {
		kept := a.points[:0]
		for i, q := range a.points {
			if !q.ok || i%2 == 0 {
				kept = append(kept, q)
			}
		}
		a.points = kept
		a.stride *= 2
	}
	if len(a.points) < maxPoints {
		a.points = append(a.points, p)
	}
}

// fill writes the analyzer's figures into l.
func (a *analyzer) fill(l *reports.Load) {
	l.Requests = a.requests
	l.StatusCodes = a.codes
	l.ErrorClasses = a.classes
	l.Latency = a.lat.percentiles()
	l.GeneratorLag = a.lag.percentiles()
	if a.sent > 0 {
		l.SuccessRatio = round3(float64(a.sent-a.failures) / float64(a.sent))
	}
	l.Outcomes = reports.Outcomes{Succeeded: a.succeeded, UnexpectedFailures: a.failures, Unsent: a.exhausted}
	for _, n := range a.expected {
		l.Outcomes.ExpectedFailures += n
	}
	if len(a.expected) > 0 {
		l.Outcomes.ExpectedClasses = a.expected
	}
	if d := a.lastSend.Sub(a.firstSend).Seconds(); a.sent > 1 && d > 0 {
		l.Rate = round3(float64(a.sent-1) / d)
	}
	if d := a.lastEnd.Sub(a.firstSend).Seconds(); d > 0 {
		l.Throughput = round3(float64(a.sent-a.failures) / d)
	}

	c := &l.Correctness
	c.DeadAfterRefresh, c.DuplicateAccessTokens, c.PoolExhausted = a.dead, a.dup, a.exhausted
	c.RefreshesRotated, c.RefreshesSameToken, c.RefreshesNoNewToken = a.rotated, a.sameToken, a.noToken
	c.RotatedTokensSpent = a.spentRotated
	c.DPoPBound, c.DPoPNotBound = a.dpopBound, a.dpopNotBound
	c.RaceGroups = uint64(len(a.race))
	if len(a.race) > 0 {
		c.RaceWinners = map[string]uint64{}
		for _, g := range a.race {
			k := strconv.Itoa(int(g.won))
			oneRotation := a.racePolicy == RaceGrace && g.distinct <= 1
			switch {
			case g.won > 0 && !g.rotated:
				k += "-not-rotated" // no rotation: the race rule does not apply
			case g.won > 1 && oneRotation:
				k += "-one-rotation" // grace policy: one rotation answered again
			case g.won > 1:
				c.MultiWinnerGroups++
			}
			c.RaceWinners[k]++
		}
	}

	w := a.width.Seconds()
	l.Series = make([]reports.Bucket, len(a.buckets))
	for i, b := range a.buckets {
		p := b.lat.percentiles()
		s := reports.Bucket{T: round3(float64(i) * w), Requested: round3(float64(b.scheduled) / w),
			Rate: round3(float64(b.sent) / w), P50: p.P50, P99: p.P99}
		if len(b.errors) > 0 {
			s.Errors = b.errors
		}
		if len(b.codes) > 0 {
			s.Codes = b.codes
		}
		l.Series[i] = s
	}

	l.Histogram = a.histogram(l.Latency.Max)
	l.Scatter = a.scatter(1000)
}

// histogram lists the buckets from the first to the last one used. The
// overflow bucket's bound is the slowest latency seen (JSON has no
// infinity).
func (a *analyzer) histogram(maxMS float64) []reports.HistBucket {
	lo, hi := -1, -1
	for i, n := range a.hist {
		if n > 0 {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		return []reports.HistBucket{}
	}
	out := make([]reports.HistBucket, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		le := histBoundsMS[i]
		if math.IsInf(le, 1) {
			le = maxMS
		}
		out = append(out, reports.HistBucket{LeMS: le, Count: a.hist[i]})
	}
	return out
}

// scatter downsamples individual latencies with vegeta's LTTB, separately
// for successes and failures so rare failures are not averaged away.
func (a *analyzer) scatter(threshold int) []reports.Point {
	var out []reports.Point
	for _, ok := range []bool{true, false} {
		var ps []lttb.Point
		for _, p := range a.points {
			if p.ok == ok {
				ps = append(ps, lttb.Point{X: float64(p.t), Y: float64(p.ms)})
			}
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].X < ps[j].X })
		i := 0
		ds, err := lttb.Downsample(len(ps), threshold, func(count int) ([]lttb.Point, error) {
			n := min(count, len(ps)-i)
			chunk := ps[i : i+n]
			i += n
			return chunk, nil
		})
		if err != nil {
			ds = ps
		}
		for _, p := range ds {
			out = append(out, reports.Point{T: round3(p.X), LatencyMS: round3(p.Y), OK: ok})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}
