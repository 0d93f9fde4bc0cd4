package html

import (
	"fmt"
	"io"
	"time"

	"tokenharness/reports"
)

// IndexEntry is one run on the index page.
type IndexEntry struct {
	Kind      string // conformance or load
	Profile   string
	Verdict   reports.Verdict
	Target    string
	StartedAt time.Time
	// Headline is the run in one line: rule counts, or p99 and throughput.
	Headline string
	// Location is the run's directory relative to the index
	// ("load/herd", "load/herd/shard-1-of-2"); Href is its report.html and
	// JSONHref its report.json, both relative to the index.
	Location, Href, JSONHref string
	// Error is set when the report could not be read or rendered; the entry
	// is still listed so a broken run is not mistaken for a missing one.
	Error string
}

// EntryFor summarises a report (*reports.Conformance or *reports.Load) for
// the index page. Hrefs are left to the caller.
func EntryFor(report any) (IndexEntry, error) {
	switch r := report.(type) {
	case *reports.Conformance:
		s := reports.Summarize(r.Rules)
		return IndexEntry{
			Kind: reports.KindConformance, Profile: r.Profile, Verdict: r.Verdict, Target: r.Target, StartedAt: r.StartedAt,
			Headline: fmt.Sprintf("%d rules: %d passed, %d failed, %d inconclusive, %d warned, %d waived, %d skipped",
				s.Total, s.Passed, s.Failed, s.Inconclusive, s.Warned, s.Waived, s.Skipped),
		}, nil
	case *reports.Load:
		o := r.Outcomes
		outcomes := fmt.Sprintf("%s succeeded · %s expected failures · %s unexpected failures",
			fmtCount(o.Succeeded), fmtCount(o.ExpectedFailures), fmtCount(o.UnexpectedFailures))
		if o.Succeeded+o.ExpectedFailures+o.UnexpectedFailures == 0 && r.Requests > 0 {
			outcomes = fmtPct(r.SuccessRatio) + " ok" // a report from before outcomes were recorded
		}
		return IndexEntry{
			Kind: reports.KindLoad, Profile: r.Profile, Verdict: r.Verdict, Target: r.Target, StartedAt: r.StartedAt,
			Headline: fmt.Sprintf("%s requests · %s · %s req/s succeeded · p50 %s · p99 %s",
				fmtCount(r.Requests), outcomes, fmtNum(r.Throughput), fmtMS(r.Latency.P50), fmtMS(r.Latency.P99)),
		}, nil
	}
	return IndexEntry{}, fmt.Errorf("html: index entry: report is %T, want *reports.Conformance or *reports.Load", report)
}

type indexView struct {
	page
	Verdict     reports.Verdict
	VerdictText string
	Entries     []indexRow
}

type indexRow struct {
	IndexEntry
	Started string
}

// Index writes the page that lists every run in a report directory, with
// the worst verdict among them at the top.
func Index(w io.Writer, entries []IndexEntry) error {
	v := indexView{page: page{Title: "Runs", Kind: "index", Subtitle: "report index"}}
	counts := map[reports.Verdict]int{}
	for _, e := range entries {
		e.Target, e.Headline, e.Error = clean(e.Target), clean(e.Headline), clean(e.Error)
		if e.Error != "" {
			e.Verdict = reports.VerdictError
		}
		counts[e.Verdict]++
		v.Entries = append(v.Entries, indexRow{IndexEntry: e, Started: fmtTime(e.StartedAt)})
	}
	switch {
	case len(entries) == 0:
		v.Verdict, v.VerdictText = "none", "No reports found in this directory."
	case counts[reports.VerdictError] > 0:
		v.Verdict = reports.VerdictError
		v.VerdictText = fmt.Sprintf("%d of %d runs could not be judged.", counts[reports.VerdictError], len(entries))
	case counts[reports.VerdictFail] > 0:
		v.Verdict = reports.VerdictFail
		v.VerdictText = fmt.Sprintf("%d of %d runs failed.", counts[reports.VerdictFail], len(entries))
	case counts[reports.VerdictInconclusive] > 0:
		v.Verdict = reports.VerdictInconclusive
		v.VerdictText = fmt.Sprintf("Nothing failed, but %d of %d runs could not judge a check they were asked for.",
			counts[reports.VerdictInconclusive], len(entries))
	default:
		v.Verdict = reports.VerdictPass
		v.VerdictText = fmt.Sprintf("All %d runs passed.", len(entries))
	}
	return render(w, "index", v)
}
