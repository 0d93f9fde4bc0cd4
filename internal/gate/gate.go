// Package gate is the conformance gate as a library: it starts the target
// (TARGET, or the bundled mock), checks it once (preflight), runs the
// profile's rules with bounded concurrency through internal/conform, and
// turns the verdicts into the report files. The tokenharness binary is a thin
// layer over Run, so a gate needs neither Go nor the source tree; the Ginkgo
// suite in specs/ shares Start, Result, Finish and Write.
package gate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	gtypes "github.com/onsi/ginkgo/v2/types"

	"tokenharness/internal/conform"
	"tokenharness/internal/oauth"
	"tokenharness/internal/probe"
	"tokenharness/internal/redact"
	"tokenharness/internal/rules"
	"tokenharness/internal/target"
	"tokenharness/reports"
	"tokenharness/reports/html"
	"tokenharness/reports/junit"
)

// Options is one gate run. Config is resolved once (internal/plan) and
// validated by the caller; Run does not read the environment.
type Options struct {
	Config target.Config
	// Mock is MockAuto, MockContainer or MockInProcess (used without TARGET).
	Mock string
	// Procs bounds how many rules run at once.
	Procs int
	// Labels is a Ginkgo label filter over the rules' labels (rules.Rule.Labels).
	Labels string
	// Timeout bounds the whole run; rules not judged by then are inconclusive.
	Timeout time.Duration
	// Progress gets one line per phase and per rule; nil discards them.
	Progress io.Writer
}

// ParseLabels checks a label filter before any work starts.
func ParseLabels(expr string) (func([]string) bool, error) {
	if expr == "" {
		return func([]string) bool { return true }, nil
	}
	f, err := gtypes.ParseLabelFilter(expr)
	if err != nil {
		return nil, fmt.Errorf("%w: LABELS %q: %v", target.ErrConfig, expr, firstLine(err.Error()))
	}
	return f, nil
}

// Run checks the target and returns the report; it always returns one. A
// harness failure (unreachable target, a code source that fails) is the
// report's HarnessError.
func Run(ctx context.Context, o Options) *reports.Conformance {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	cfg := o.Config
	profile := rules.Profile(cfg.Profile)
	c := &reports.Conformance{Profile: cfg.Profile, ClientAuth: string(cfg.ClientAuth), StartedAt: time.Now(), Target: redact.String(cfg.Target), TargetKind: "external",
		Capabilities: Capabilities(cfg, profile, nil)}
	fail := func(err error) *reports.Conformance {
		c.HarnessError = redact.String(err.Error())
		c.FinishedAt = time.Now()
		c.Finalize()
		return c
	}
	match, err := ParseLabels(o.Labels)
	if err != nil {
		return fail(err)
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	t, err := Start(ctx, cfg.Target, profile, o.Mock, progress)
	if err != nil {
		return fail(err)
	}
	defer t.Close()
	c.Target, c.TargetKind, c.TargetNote = redact.String(t.URL), t.Kind, t.Note
	runner, err := NewRunner(cfg, t)
	if err != nil {
		return fail(err)
	}
	defer runner.Close()
	// The preflight first, so a broken target or code source costs one line.
	if err := runner.Preflight(ctx); err != nil {
		return fail(err)
	}
	fmt.Fprintln(progress, "tokenharness:", t.Note)
	c.Rules = Check(ctx, runner, profile, match, o.Procs, progress)
	c.Capabilities = Capabilities(cfg, profile, c.Rules)
	c.FinishedAt = time.Now()
	Finish(c, t)
	return c
}

// NewRunner builds the conformance runner for cfg at the started target:
// the bundled mock's authorize endpoint is the code source unless the
// configuration names one.
func NewRunner(cfg target.Config, t *Target) (*conform.Runner, error) {
	cfg.Target = t.URL
	if t.AuthorizeURL != "" && cfg.AuthorizeURL == "" && cfg.CodeCmd == "" {
		cfg.AuthorizeURL = t.AuthorizeURL
	}
	mockDevice(&cfg, t)
	return conform.New(cfg, conform.WithRedactor(redact.Default))
}

// errTargetGone is the cause a run is cut short with when the target stops
// answering mid-run.
var errTargetGone = errors.New("the target stopped answering mid-run")

// transportClasses are failures that say nothing about OAuth: the target
// did not answer. One of them makes Check ask whether the target is still
// there.
var transportClasses = map[string]bool{probe.ClassTimeout: true, probe.ClassConnCut: true, probe.ClassRefused: true, probe.ClassCanceled: true}

// Check runs the profile's rules that match, at most procs at once, and
// returns one result per rule of the profile in catalogue order; rules the
// filter leaves out are skipped with that reason. When a rule meets a
// transport failure or cannot reach its starting state, Check sends the preflight's token request once more: a
// target that no longer answers it ends the run (in about two request
// timeouts), and every rule it leaves unjudged -- the ones that met the
// silence included -- is inconclusive, as are rules still running when ctx
// ends (SUITE_TIMEOUT).
func Check(ctx context.Context, runner *conform.Runner, profile rules.Profile, match func([]string) bool, procs int, progress io.Writer) []reports.RuleResult {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	all := rules.For(profile)
	out := make([]reports.RuleResult, len(all))
	sem := make(chan struct{}, max(procs, 1))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		done    int
		probing sync.Mutex
	)
	// notJudged says why a rule cut short by ctx was not judged.
	notJudged := func(started bool) string {
		when := "before the rule started"
		if started {
			when = "while the rule ran"
		}
		if errors.Is(context.Cause(ctx), errTargetGone) {
			return "not judged: the target stopped answering mid-run " + when
		}
		return "not judged: the run's time ran out (SUITE_TIMEOUT) " + when
	}
	for i, r := range all {
		if !match(r.Labels()) {
			out[i] = Result(profile, r, conform.Verdict{Rule: r.ID, Level: r.Level, Status: reports.StatusSkipped, Reason: "not selected by LABELS"})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i] = Result(profile, r, conform.Verdict{Rule: r.ID, Level: r.Level, Status: reports.StatusInconclusive, Reason: notJudged(false)})
				return
			}
			v := runner.Run(ctx, r)
			<-sem
			// A transport failure, or a rule whose setup failed (a code source
			// that timed out through the same silent target), asks whether
			// the target is still there.
			if (transportClasses[v.Class] || v.Status == reports.StatusInconclusive) && ctx.Err() == nil {
				probing.Lock()
				if ctx.Err() == nil {
					if err := runner.Alive(ctx); err != nil {
						fmt.Fprintln(progress, "tokenharness: stopping:", err)
						cancel(errTargetGone)
					}
				}
				probing.Unlock()
			}
			if ctx.Err() != nil && v.Status != reports.StatusPassed && v.Status != reports.StatusSkipped {
				// What the rule saw proves nothing: the target or the run's
				// time was gone.
				v.Status, v.Reason, v.Violated = reports.StatusInconclusive, notJudged(true)+" ("+v.Reason+")", false
			}
			out[i] = Result(profile, r, v)
			mu.Lock()
			done++
			fmt.Fprintf(progress, "  [%d/%d] %-12s %s\n", done, len(all), v.Status, r.ID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Result is a rule's verdict in the report's schema; evidence is kept for
// rules that did not pass.
func Result(profile rules.Profile, r rules.Rule, v conform.Verdict) reports.RuleResult {
	pol := r.Profiles[profile]
	out := reports.RuleResult{
		ID: string(r.ID), Level: r.Level, Summary: r.Summary,
		SourceDoc: r.Source.Doc, SourceSection: r.Source.Section, SourceURL: r.Source.URL, Quote: r.Source.Quote,
		PolicyMode: pol.Mode, PolicyReason: pol.Reason, Expects: r.Expects(),
		Status: v.Status, Reason: v.Reason, Violation: v.Violation, Class: v.Class,
		DurationMS: float64(v.Duration) / float64(time.Millisecond),
	}
	if v.Note != "" && out.Reason == "" {
		out.Reason = v.Note
	}
	if v.Status != reports.StatusPassed {
		out.Evidence = v.Evidence
	}
	return out
}

// Finish puts c's rules in catalogue order (whatever order they finished
// in, so two runs' reports diff cleanly), keeps the bundled mock's log when
// a rule failed, and derives the summary and verdict.
func Finish(c *reports.Conformance, t *Target) {
	order := map[string]int{}
	for i, r := range rules.All() {
		order[string(r.ID)] = i
	}
	slices.SortStableFunc(c.Rules, func(a, b reports.RuleResult) int { return cmp.Compare(order[a.ID], order[b.ID]) })
	c.Finalize()
	if c.Summary.Failed > 0 && t != nil && t.Log != nil {
		c.ServerLog = redact.String(t.Log())
	}
}

// Capabilities says which grants cfg declares and, given the run's results
// (nil: nothing was judged), which the run exercised: a declared grant at
// least one of whose rules ran. Every other grant the harness knows is
// listed as not exercised, with the reason: undeclared, or why its rules
// were skipped.
func Capabilities(cfg target.Config, profile rules.Profile, results []reports.RuleResult) *reports.Capabilities {
	c := &reports.Capabilities{Grants: cfg.DeclaredGrants(), ClientAuth: string(cfg.ClientAuth), Exercised: []string{}, NotExercised: []reports.NotExercised{}}
	c.DPoP = dpopCapability(cfg, profile, results)
	if results == nil {
		return c
	}
	byID := map[string]reports.RuleResult{}
	for _, r := range results {
		byID[r.ID] = r
	}
	for _, g := range oauth.Grants {
		if !cfg.Declares(g) {
			c.NotExercised = append(c.NotExercised, reports.NotExercised{Grant: g, Reason: "not declared: the target's GRANTS do not include it"})
			continue
		}
		ran, why := false, ""
		for _, r := range rules.For(profile) {
			res, ok := byID[string(r.ID)]
			if !ok || !slices.Contains(r.Grants(), g) {
				continue
			}
			skipped := res.Status == reports.StatusSkipped || res.Status == reports.StatusWaived && strings.Contains(res.Reason, "(not run: ")
			if !skipped {
				ran = true
				break
			}
			if why == "" {
				why = res.Reason
			}
		}
		switch {
		case ran:
			c.Exercised = append(c.Exercised, g)
		case why != "":
			c.NotExercised = append(c.NotExercised, reports.NotExercised{Grant: g, Reason: "declared, but every rule for it was skipped: " + why})
		default:
			c.NotExercised = append(c.NotExercised, reports.NotExercised{Grant: g, Reason: "declared, but no rule of profile " + string(profile) + " exercises it"})
		}
	}
	return c
}

// Write writes the run's three files into dir/conformance: report.json,
// junit.xml and report.html, all from c, so none of them can be left over
// from an earlier run, whatever c's verdict.
func Write(dir string, c *reports.Conformance) error {
	out := filepath.Join(dir, "conformance")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating the report directory %s: %w", out, err)
	}
	errs := []error{
		reports.WriteJSON(filepath.Join(out, html.ReportJSON), c),
		junit.Write(filepath.Join(out, html.JUnitXML), c),
	}
	// Last, so the page links the files beside it.
	if err := errors.Join(errs...); err != nil {
		for _, f := range []string{html.ReportJSON, html.JUnitXML, html.ReportHTML} {
			_ = os.Remove(filepath.Join(out, f))
		}
		return err
	}
	if err := html.WriteReport(out); err != nil {
		_ = os.Remove(filepath.Join(out, html.ReportHTML))
		return fmt.Errorf("writing report.html: %w", err)
	}
	return nil
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
