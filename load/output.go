package load

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"tokenharness/load/shard"
	"tokenharness/reports"
	"tokenharness/reports/html"
)

// Files a run directory holds.
const (
	ResultsFile = shard.ResultsFile // vegeta gob results, bodies stripped
	ReportJSON  = "report.json"     // reports.Load
	ReportHTML  = "report.html"     // reports/html.Load
	PlotHTML    = "plot.html"       // vegeta's offline latency plot
	RunFile     = "run.json"        // RunInfo: what merge needs to rebuild the report
)

// RunInfo is written first into a run directory: the resolved parameters
// and limits, so that merge can judge shards' results exactly as a single
// run would be judged.
type RunInfo struct {
	Profile string             `json:"profile"`
	Params  Params             `json:"params"`
	Limits  map[string]float64 `json:"limits"`
	// Overrides are the limits the user set (THRESHOLDS), which merge
	// judges as required exactly as the run did.
	Overrides  map[string]float64 `json:"overrides,omitempty"`
	Shard      string             `json:"shard,omitempty"`
	Target     string             `json:"target"`
	TargetKind string             `json:"target_kind"`
	MaxLag     time.Duration      `json:"max_lag_ns"`
	StartedAt  time.Time          `json:"started_at"`
	// Hits is this shard's scheduled requests; WholeHits the whole run's.
	Hits      uint64 `json:"hits"`
	WholeHits uint64 `json:"whole_hits"`
}

// Dir is where a profile's run writes: REPORT_DIR/load/<profile>, and a
// shard's own sub-directory below it so that shards started side by side
// do not overwrite each other.
func Dir(reportDir, profile string, s shard.Shard) string {
	d := filepath.Join(reportDir, "load", profile)
	if s.Sharded() {
		d = filepath.Join(d, s.Name())
	}
	return d
}

// sink writes a run directory: results as they arrive, then the reports.
type sink struct {
	dir    string
	f      *os.File
	bw     *bufio.Writer
	enc    vegeta.Encoder
	plot   *plot.Plot
	closed bool
}

func newSink(dir, title string, info RunInfo) (*sink, error) {
	if err := reports.WriteJSON(filepath.Join(dir, RunFile), info); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, ResultsFile))
	if err != nil {
		return nil, fmt.Errorf("load: results file: %w", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	return &sink{
		dir: dir, f: f, bw: bw, enc: vegeta.NewEncoder(bw),
		plot: plot.New(plot.Title("tokenharness load: "+title), plot.Downsample(4000), plot.Label(plotLabel)),
	}, nil
}

// plotLabel splits vegeta's plot by the harness's reading, so expected
// race losers are not drawn as errors; vegeta colours labels containing
// "ERROR" as failures.
func plotLabel(r *vegeta.Result) string {
	a, _ := parseAnnotation(r.Headers.Get(AnnotationHeader))
	switch {
	case a.Notes.Has(NoteRaceLoser):
		return "race loser (expected)"
	case a.failed():
		return "ERROR"
	}
	return "OK"
}

// add writes one stripped, annotated result.
func (s *sink) add(r *vegeta.Result) error {
	if r.Body != nil {
		return errors.New("load: refusing to write a result with a body: it may hold live tokens")
	}
	if err := s.enc.Encode(r); err != nil {
		return fmt.Errorf("load: write results: %w", err)
	}
	// The plot needs every seq of an attack; it never fails for results of
	// one attack in any order, and a plot is not worth failing a run for.
	_ = s.plot.Add(r)
	return nil
}

// close finishes results.bin and writes report.json, report.html and
// plot.html.
func (s *sink) close(l *reports.Load) error {
	s.closed = true
	err := errors.Join(s.bw.Flush(), s.f.Close())
	if err != nil {
		return fmt.Errorf("load: write results: %w", err)
	}
	return writeReports(s.dir, l, s.plot)
}

// abort closes the results file if close was never reached.
func (s *sink) abort() {
	if !s.closed {
		s.f.Close()
	}
}

func writeReports(dir string, l *reports.Load, p *plot.Plot) error {
	if err := reports.WriteJSON(filepath.Join(dir, ReportJSON), l); err != nil {
		return err
	}
	p.Close()
	var plotPage bytes.Buffer
	if _, err := p.WriteTo(&plotPage); err != nil {
		return fmt.Errorf("load: render %s: %w", PlotHTML, err)
	}
	if err := reports.WriteFile(filepath.Join(dir, PlotHTML), plotPage.Bytes()); err != nil {
		return err
	}
	// Last, so the page links every file beside it (plot.html included).
	if err := html.WriteReport(dir); err != nil {
		return fmt.Errorf("load: render %s: %w", ReportHTML, err)
	}
	return nil
}
