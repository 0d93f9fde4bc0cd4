package html

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"sort"
	"strings"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
	"tokenharness/reports"
)

// conformanceView is the conformance page's data, every text redacted.
type conformanceView struct {
	page
	Profile, Target, TargetKind, TargetNote, ClientAuth string
	Started, Finished, Duration                         string
	Verdict                                             reports.Verdict
	VerdictText, HarnessError                           string
	Summary                                             reports.Summary
	StatusBar                                           template.HTML
	Deviations                                          []ruleView
	Rules                                               []ruleView
	ServerLog                                           string
	// Grants, Exercised and NotExercised show what the target declared and
	// what the run did not check; HasCapabilities is false for reports
	// written before GRANTS existed.
	HasCapabilities   bool
	Grants, Exercised string
	NotExercised      []reports.NotExercised
	// DPoP says whether the run exercised DPoP (RFC 9449); empty for
	// reports written before DPOP existed.
	DPoP string
}

type ruleView struct {
	ID, Level, Status, Summary string
	SourceDoc, SourceSection   string
	SourceURL                  string
	Quote                      string
	PolicyMode, PolicyReason   string
	Expects                    []string
	Reason, Violation, Class   string
	Duration                   string
	Evidence                   []exchangeView
	// Brief is the one line shown on the closed <details>.
	Brief string
	// Open unfolds the details on load; see openLimit.
	Open bool
}

type exchangeView struct {
	Step, Method, URL, RequestHeaders, RequestBody string
	HasResponse                                    bool
	Status                                         string
	ResponseHeaders, ResponseBody                  string
	Truncated                                      bool
	Duration, Class, Err                           string
}

// openLimit is how many failed rules start unfolded: a handful reads like a
// diagnosis, a page of them like a wall.
const openLimit = 3

// statusOrder puts what needs attention first; within a status the
// producer's (catalogue) order is kept.
var statusOrder = map[reports.Status]int{
	reports.StatusFailed: 0, reports.StatusInconclusive: 1, reports.StatusWarned: 2, reports.StatusSkipped: 3,
	reports.StatusWaived: 4, reports.StatusPassed: 5,
}

// Conformance writes r as a self-contained HTML page: the verdict, counts,
// the profile's declared deviations (warn and waive), and one row per rule
// whose non-passed rows unfold to the evidence.
func Conformance(w io.Writer, r *reports.Conformance, opts ...Option) error {
	if r == nil {
		return fmt.Errorf("html: conformance report is nil")
	}
	o := collect(opts)
	v := conformanceView{
		page: page{
			Title: "Conformance · " + orDash(r.Profile), Kind: reports.KindConformance,
			Subtitle: "token endpoint conformance report", Links: o.links,
		},
		Profile: clean(r.Profile), Target: clean(r.Target), TargetKind: clean(r.TargetKind),
		TargetNote: clean(r.TargetNote), ClientAuth: clean(r.ClientAuth),
		Started: fmtTime(r.StartedAt), Finished: fmtTime(r.FinishedAt),
		Duration: fmtDuration(r.FinishedAt.Sub(r.StartedAt)),
		Verdict:  r.Verdict, HarnessError: clean(r.HarnessError),
		Summary:   reports.Summarize(r.Rules),
		ServerLog: clean(r.ServerLog),
	}
	if cp := r.Capabilities; cp != nil {
		v.HasCapabilities = true
		v.Grants = clean(strings.Join(cp.Grants, ", "))
		v.Exercised = clean(strings.Join(cp.Exercised, ", "))
		for _, n := range cp.NotExercised {
			v.NotExercised = append(v.NotExercised, reports.NotExercised{Grant: clean(n.Grant), Reason: clean(n.Reason)})
		}
		if b := cp.DPoP; b != nil {
			v.DPoP = "exercised"
			if !b.Exercised {
				v.DPoP = clean("not exercised: " + b.Reason)
			}
		}
	}
	v.StatusBar = statusBar(v.Summary)
	v.VerdictText = conformanceVerdictText(r.Verdict, v.Summary)

	rules := make([]reports.RuleResult, len(r.Rules))
	copy(rules, r.Rules)
	sort.SliceStable(rules, func(i, j int) bool { return rank(rules[i].Status) < rank(rules[j].Status) })
	opened := 0
	for _, rr := range rules {
		rv := newRuleView(rr)
		if rr.Status == reports.StatusFailed && opened < openLimit {
			rv.Open = true
			opened++
		}
		v.Rules = append(v.Rules, rv)
		if rr.PolicyMode == reports.PolicyWarn || rr.PolicyMode == reports.PolicyWaive {
			v.Deviations = append(v.Deviations, rv)
		}
	}
	sort.SliceStable(v.Deviations, func(i, j int) bool { return v.Deviations[i].ID < v.Deviations[j].ID })
	return render(w, "conformance", v)
}

func rank(status reports.Status) int {
	if n, ok := statusOrder[status]; ok {
		return n
	}
	return -1 // an unknown status is a producer bug: show it first
}

func conformanceVerdictText(verdict reports.Verdict, s reports.Summary) string {
	switch verdict {
	case reports.VerdictPass:
		if s.Warned > 0 {
			return fmt.Sprintf("No enforced MUST or DOC rule failed; %d %s reported as warnings.", s.Warned, plural(s.Warned, "rule is", "rules are"))
		}
		return "No enforced MUST or DOC rule failed."
	case reports.VerdictFail:
		return fmt.Sprintf("%d enforced %s failed.", s.Failed, plural(s.Failed, "rule", "rules"))
	case reports.VerdictInconclusive:
		return fmt.Sprintf("No enforced rule failed, but %d enforced %s could not be judged (setup failed or a precondition answered 5xx): the run proves neither pass nor fail.",
			s.InconclusiveGating, plural(s.InconclusiveGating, "rule", "rules"))
	case reports.VerdictError:
		return "The harness could not judge the target; no rule verdict is meaningful."
	}
	return fmt.Sprintf("Unknown verdict %q.", verdict)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func newRuleView(r reports.RuleResult) ruleView {
	v := ruleView{
		ID: clean(r.ID), Level: clean(r.Level), Status: clean(r.Status), Summary: clean(r.Summary),
		SourceDoc: clean(r.SourceDoc), SourceSection: clean(r.SourceSection), SourceURL: clean(r.SourceURL),
		Quote: clean(r.Quote), PolicyMode: clean(r.PolicyMode), PolicyReason: clean(r.PolicyReason),
		Reason: clean(r.Reason), Violation: clean(r.Violation), Class: clean(r.Class),
		Duration: fmtMS(r.DurationMS),
	}
	for _, e := range r.Expects {
		v.Expects = append(v.Expects, clean(e))
	}
	for _, x := range r.Evidence {
		v.Evidence = append(v.Evidence, newExchangeView(x))
	}
	if v.Reason == v.Violation {
		v.Reason = "" // the suite repeats the violation as the reason of a failure
	}
	v.Brief = firstNonEmpty(v.Violation, v.Reason, "details")
	if i := strings.IndexByte(v.Brief, '\n'); i >= 0 {
		v.Brief = v.Brief[:i] + " …"
	}
	return v
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func newExchangeView(x oauth.Exchange) exchangeView {
	v := exchangeView{
		Step: clean(x.Step), Method: clean(x.Request.Method), URL: clean(x.Request.URL),
		RequestHeaders: headerText(x.Request.Header), RequestBody: clean(x.Request.Body),
		Class: clean(x.Class), Err: clean(x.Err),
	}
	if x.Duration > 0 {
		v.Duration = fmtDuration(x.Duration)
	}
	if x.Response != nil {
		v.HasResponse = true
		v.Status = fmt.Sprintf("%d %s", x.Response.Status, http.StatusText(x.Response.Status))
		v.ResponseHeaders = headerText(x.Response.Header)
		v.ResponseBody = clean(prettyJSON(x.Response.Body))
		v.Truncated = x.Response.Truncated
	}
	return v
}

// headerText writes headers one per line in sorted order, secret-bearing
// ones masked by name and every value by content.
func headerText(h http.Header) string {
	h = redact.Default.Header(h)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	return clean(strings.TrimSuffix(b.String(), "\n"))
}

// prettyJSON indents a JSON body for reading; anything else is shown as is.
// Indenting first also puts each member on its own line, where the
// redactor's member patterns find it.
func prettyJSON(body []byte) string {
	var out bytes.Buffer
	if json.Valid(body) && json.Indent(&out, body, "", "  ") == nil {
		return out.String()
	}
	return string(body)
}
