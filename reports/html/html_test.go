package html

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"tokenharness/internal/oauth"
	"tokenharness/internal/redact"
	"tokenharness/reports"
	"tokenharness/reports/reportstest"
)

func renderConformance(t *testing.T, c *reports.Conformance, opts ...Option) string {
	t.Helper()
	var b bytes.Buffer
	if err := Conformance(&b, c, opts...); err != nil {
		t.Fatalf("Conformance: %v", err)
	}
	return b.String()
}

func renderLoad(t *testing.T, l *reports.Load, opts ...Option) string {
	t.Helper()
	var b bytes.Buffer
	if err := Load(&b, l, opts...); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return b.String()
}

func renderIndex(t *testing.T, entries []IndexEntry) string {
	t.Helper()
	var b bytes.Buffer
	if err := Index(&b, entries); err != nil {
		t.Fatalf("Index: %v", err)
	}
	return b.String()
}

// svgOf returns the <svg> element with the given chart class.
func svgOf(t *testing.T, page, class string) string {
	t.Helper()
	start := strings.Index(page, `<svg class="chart `+class+`"`)
	if start < 0 {
		t.Fatalf("no <svg class=\"chart %s\"> in the page", class)
	}
	end := strings.Index(page[start:], "</svg>")
	if end < 0 {
		t.Fatalf("chart %s is not closed", class)
	}
	return page[start : start+end]
}

func TestConformancePageStructure(t *testing.T) {
	t.Parallel()
	c := reportstest.Conformance()
	page := renderConformance(t, c)

	nonPassed := c.Summary.Total - c.Summary.Passed
	deviations := countDeviations(c)
	if nonPassed == 0 || deviations == 0 || c.Summary.Failed == 0 || c.Summary.Skipped == 0 {
		t.Fatalf("sample is not varied enough to test with: %+v", c.Summary)
	}
	for _, tc := range []struct {
		description string
		needle      string
		want        int
	}{
		{"one verdict banner, failed", `<section id="verdict" class="verdict verdict-fail">`, 1},
		{"one rules table", `id="rules"`, 1},
		{"one row per rule", `<tr class="rule status-`, len(c.Rules)},
		{"failed rows are marked", `<tr class="rule status-failed `, c.Summary.Failed},
		{"details for every non-passed rule", `<details class="rule-details"`, nonPassed},
		{"failed rules start unfolded", `<details class="rule-details" open>`, min(c.Summary.Failed, openLimit)},
		{"one row per deviation", `<tr class="deviation">`, deviations},
		{"skipped rules say why", "Skipped because", c.Summary.Skipped},
		{"status bar", `<svg class="chart status-bar"`, 1},
		{"request evidence", `<div class="pre-label">Request</div>`, countEvidence(c)},
	} {
		if got := strings.Count(page, tc.needle); got != tc.want {
			t.Errorf("%s: %q appears %d times, want %d", tc.description, tc.needle, got, tc.want)
		}
	}
	for _, want := range []string{
		rules0(c, reports.StatusFailed).ID,
		`href="https://www.rfc-editor.org/rfc/rfc6749#section-`, // source linked to its section
		"RFC 6749 §",
		`<span class="chip m-warn">warn</span>`,
		"needs a second client",
		"POST " + reportstest.TargetURL,
		"200 OK",
		`&#34;token_type&#34;: &#34;Bearer&#34;`, // response JSON shown indented
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Failed rules come first: the first rule row is a failed one.
	if first := strings.Index(page, `<tr class="rule status-`); !strings.HasPrefix(page[first:], `<tr class="rule status-failed `) {
		t.Errorf("first rule row is %.40q, want a failed rule first", page[first:])
	}
}

func rules0(c *reports.Conformance, status reports.Status) reports.RuleResult {
	for _, r := range c.Rules {
		if r.Status == status {
			return r
		}
	}
	return reports.RuleResult{}
}

func countDeviations(c *reports.Conformance) int {
	n := 0
	for _, r := range c.Rules {
		if r.PolicyMode == "warn" || r.PolicyMode == "waive" {
			n++
		}
	}
	return n
}

func countEvidence(c *reports.Conformance) int {
	n := 0
	for _, r := range c.Rules {
		if r.Status != reports.StatusPassed {
			n += len(r.Evidence)
		}
	}
	return n
}

// TestConformanceCapabilities: the header says which grants the target
// declared, which were exercised and why the others were not.
func TestConformanceCapabilities(t *testing.T) {
	t.Parallel()
	c := reportstest.Conformance()
	if strings.Contains(renderConformance(t, c), `id="grants"`) {
		t.Error("a report without capabilities shows a grants row")
	}
	c.Capabilities = &reports.Capabilities{Grants: []string{"client_credentials"}, ClientAuth: "client_secret_basic",
		Exercised: []string{"client_credentials"}, NotExercised: []reports.NotExercised{{Grant: "authorization_code", Reason: "not declared: the target's GRANTS do not include it"}}}
	page := renderConformance(t, c)
	for _, want := range []string{
		`<dd id="grants"><code>client_credentials</code></dd>`,
		`<dd id="exercised"><code>client_credentials</code></dd>`,
		`<tr><td><code>authorization_code</code></td><td>not declared: the target&#39;s GRANTS do not include it</td></tr>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestConformanceVerdictBanner(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		description string
		mutate      func(*reports.Conformance)
		want        []string
	}{
		{"pass", func(c *reports.Conformance) {
			c.Rules = c.Rules[len(c.Rules)-1:]
			c.Rules[0].Status = reports.StatusPassed
		},
			[]string{`verdict-pass`, ">PASS<", "No enforced MUST or DOC rule failed."}},
		{"error shows the harness error", func(c *reports.Conformance) {
			c.HarnessError = "target: TARGET is not a URL: set TARGET=https://host/oauth/token"
		},
			[]string{`verdict-error`, ">ERROR<", `id="harness-error"`, "TARGET is not a URL"}},
		{"server log shown when present", func(c *reports.Conformance) { c.ServerLog = "mock: POST /oauth/token 200" },
			[]string{`id="server-log"`, "mock: POST /oauth/token 200"}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			c := reportstest.Conformance()
			tc.mutate(c)
			c.Finalize()
			page := renderConformance(t, c)
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

func TestLoadPageStructure(t *testing.T) {
	t.Parallel()
	l := reportstest.Load(60, 2000)
	page := renderLoad(t, l, WithLinks(Link{Label: "vegeta latency plot", Href: PlotHTML}))

	lat := svgOf(t, page, "latency-over-time")
	if got := strings.Count(lat, "<circle "); got != len(l.Scatter)+2 { // +2: legend dots
		t.Errorf("latency chart has %d circles, want %d scatter points + 2 legend dots", got, len(l.Scatter))
	}
	failed := 0
	for _, p := range l.Scatter {
		if !p.OK {
			failed++
		}
	}
	failedGroup := lat[strings.Index(lat, `<g class="scatter failed"`):]
	failedGroup = failedGroup[:strings.Index(failedGroup, "</g>")]
	if got := strings.Count(failedGroup, "<circle "); got != failed || failed == 0 {
		t.Errorf("failed scatter group has %d points, want %d (> 0)", got, failed)
	}
	for _, line := range []string{`class="line p50"`, `class="line p99"`} {
		if !strings.Contains(lat, line) {
			t.Errorf("latency chart lacks %s", line)
		}
	}
	if got := strings.Count(svgOf(t, page, "latency-histogram"), `<rect class="bar"`); got != len(l.Histogram) {
		t.Errorf("histogram has %d bars, want %d", got, len(l.Histogram))
	}
	tp := svgOf(t, page, "throughput")
	for _, line := range []string{`class="line requested"`, `class="line sent"`, `class="line succeeded"`} {
		if !strings.Contains(tp, line) {
			t.Errorf("throughput chart lacks %s", line)
		}
	}
	if got := strings.Count(svgOf(t, page, "race-winners"), `<rect class="bar"`); got != len(l.Correctness.RaceWinners) {
		t.Errorf("race chart has %d bars, want %d", got, len(l.Correctness.RaceWinners))
	}
	for _, class := range []string{"status-over-time", "errors-over-time"} {
		if !strings.Contains(svgOf(t, page, class), `<rect class="bar"`) {
			t.Errorf("%s chart has no bars", class)
		}
	}
	for _, tc := range []struct {
		description string
		needle      string
		want        int
	}{
		{"fail banner", `<section id="verdict" class="verdict verdict-fail">`, 1},
		{"one row per threshold", `<tr class="threshold `, len(l.Thresholds)},
		{"failed thresholds marked", `<tr class="threshold failed">`, 1},
		{"percentile table", `id="percentiles"`, 1},
		{"params table", `id="params"`, 1},
		{"correctness table", `id="correctness"`, 1},
		{"vegeta plot linked", `<a href="plot.html">vegeta latency plot</a>`, 1},
		{"no invalid banner on a valid run", `id="invalid"`, 0},
	} {
		if got := strings.Count(page, tc.needle); got != tc.want {
			t.Errorf("%s: %q appears %d times, want %d", tc.description, tc.needle, got, tc.want)
		}
	}
	for _, want := range []string{"multi_winner_groups", "rotation-race", "generator lag", "racers", "threshold p99_ms"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestLoadPageFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		description string
		mutate      func(*reports.Load)
		want        []string
	}{
		{"invalid run gets a banner", func(l *reports.Load) {
			l.Valid, l.InvalidWhy = false, "generator lag p99 812 ms exceeded 10 ms: add workers or lower RATE"
		}, []string{`id="invalid"`, "generator lag p99 812 ms exceeded 10 ms"}},
		{"knee", func(l *reports.Load) { l.Knee = &reports.Knee{Rate: 850, Reason: "p99 above 50 ms"} },
			[]string{`id="knee"`, "850 req/s", "p99 above 50 ms"}},
		{"recovered", func(l *reports.Load) { l.Recovery = &reports.Recovery{Seconds: 3.5, Recovered: true} },
			[]string{`id="recovery"`, "3.50 s"}},
		{"not recovered", func(l *reports.Load) { l.Recovery = &reports.Recovery{Seconds: 30} },
			[]string{`id="recovery"`, "did not recover"}},
		{"no race outside rotation profiles", func(l *reports.Load) { l.Correctness = reports.Correctness{} },
			[]string{"No rotation races in this run."}},
		{"groups where the server did not rotate", func(l *reports.Load) {
			l.Correctness.RaceWinners = map[string]uint64{"1": 10, "4-not-rotated": 5}
		}, []string{"4 winners (not rotated)", "1 winner", `Groups marked &#34;not rotated&#34;`}},
		{"DPoP binding counted where proofs were sent", func(l *reports.Load) {
			l.Correctness.DPoPBound, l.Correctness.DPoPNotBound = 90, 10
		}, []string{"<tr><td>DPoP-bound access tokens", `<tr class="bad"><td>DPoP proofs answered unbound`}},
		{"unmeasured threshold", func(l *reports.Load) {
			l.Thresholds = append(l.Thresholds, reports.Threshold{Name: "recovery_s", Limit: 10, Observed: -1})
		}, []string{"not measured"}},
		{"outcomes: expected failures apart from unexpected ones", func(l *reports.Load) {
			l.Outcomes = reports.Outcomes{Succeeded: 250, ExpectedFailures: 740, ExpectedClasses: map[string]uint64{"invalid_grant": 740},
				UnexpectedFailures: 10}
			l.Requests = 1000
		}, []string{"250</div><div class=\"tile-l\">succeeded", "740</div><div class=\"tile-l\">expected failures",
			"race losers&#39; invalid_grant · 74.00% of requests", `tile t-failed"><div class="tile-n">10</div><div class="tile-l">unexpected failures`}},
		{"a race against a server that does not rotate", func(l *reports.Load) {
			l.Verdict = reports.VerdictInconclusive
			l.Thresholds = []reports.Threshold{{Name: "race_winners", Limit: 1, Observed: -1, Status: reports.StatusNotApplicable,
				Required: true, Reason: "the server did not rotate: 40 returned none"}}
		}, []string{"verdict-inconclusive", "could not judge what it was asked for: race_winners (not_applicable)",
			`<tr class="threshold not_applicable">`, `<span class="chip s-not_applicable">not_applicable</span>`,
			"the server did not rotate: 40 returned none", "required"}},
		{"a figure just over its limit does not print as the limit", func(l *reports.Load) {
			l.Thresholds = []reports.Threshold{{Name: "error_rate", Limit: 0.01, Observed: 0.0101, Status: reports.StatusFailed}}
		}, []string{`<td class="num">0.0101</td>`}},
		{"invalid run judged as error", func(l *reports.Load) {
			l.Verdict, l.Valid, l.InvalidWhy = reports.VerdictError, false, "generator lag p99 250 ms above 100 ms"
		}, []string{"verdict-error", "not a valid measurement, so it was not judged: generator lag p99 250 ms above 100 ms"}},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			l := reportstest.Load(10, 50)
			tc.mutate(l)
			page := renderLoad(t, l)
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

// TestEmptyReportsRender holds the renderers to sane output for reports
// with nothing in them: no panic, no NaN or Inf in the SVG, a placeholder
// where a chart has no data.
func TestEmptyReportsRender(t *testing.T) {
	t.Parallel()
	empty := &reports.Conformance{APIVersion: reports.APIVersion, Kind: reports.KindConformance, Profile: "rfc6749"}
	empty.Finalize()
	harnessErr := &reports.Conformance{HarnessError: "codes: CODE_CMD exited 1"}
	harnessErr.Finalize()
	odd := reportstest.Load(3, 3)
	odd.Series[1].P99 = math.NaN() // cannot come from JSON, but may from a buggy producer in process
	odd.Scatter[0].LatencyMS = math.Inf(1)
	odd.Histogram = []reports.HistBucket{{LeMS: 1}}

	pages := map[string]string{
		"conformance without rules": renderConformance(t, empty),
		"harness error":             renderConformance(t, harnessErr),
		"sparse load":               renderLoad(t, reportstest.Sparse()),
		"zero load":                 renderLoad(t, &reports.Load{}),
		"non-finite load":           renderLoad(t, odd),
		"one-bucket load":           renderLoad(t, reportstest.Load(1, 1)),
		"empty index":               renderIndex(t, nil),
	}
	for name, page := range pages {
		// "0000000" catches float noise in labels (0.30000000000000004).
		for _, bad := range []string{"NaN", "Inf", "<no value>", "ZgotmplZ", "0000000"} {
			if strings.Contains(page, bad) {
				i := strings.Index(page, bad)
				t.Errorf("%s: page contains %q near %q", name, bad, page[max(0, i-80):min(len(page), i+20)])
			}
		}
	}
	for _, want := range []string{"No rules were run.", `<tr class="empty-row">`} {
		if !strings.Contains(pages["conformance without rules"], want) {
			t.Errorf("empty conformance page lacks %q", want)
		}
	}
	for _, want := range []string{"no requests recorded", "no latency histogram recorded", "no intervals recorded", "This profile declares no thresholds."} {
		if !strings.Contains(pages["sparse load"], want) {
			t.Errorf("sparse load page lacks %q", want)
		}
	}
	if !strings.Contains(pages["empty index"], "No reports yet") {
		t.Errorf("empty index lacks its placeholder")
	}
}

func TestNilReports(t *testing.T) {
	t.Parallel()
	if err := Conformance(&bytes.Buffer{}, nil); err == nil {
		t.Error("Conformance(nil) returned no error")
	}
	if err := Load(&bytes.Buffer{}, nil); err == nil {
		t.Error("Load(nil) returned no error")
	}
}

var (
	tagRE  = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9:-]*)((?:"[^"]*"|'[^']*'|[^>"'])*)>`)
	attrRE = regexp.MustCompile(`([a-zA-Z:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
)

// assertFetchesNothing fails if the page would load anything when opened:
// no script, no external style or font, no element with a src, and no
// attribute holding a URL other than a plain <a href> a reader may follow.
func assertFetchesNothing(t *testing.T, name, page string) {
	t.Helper()
	lower := strings.ToLower(page)
	for _, banned := range []string{"<script", "<iframe", "<img", "<object", "<embed", "<image", "@import", "url(", "@font-face"} {
		if strings.Contains(lower, banned) {
			t.Errorf("%s: page contains %q", name, banned)
		}
	}
	tags := tagRE.FindAllStringSubmatch(page, -1)
	if len(tags) < 20 {
		t.Fatalf("%s: found only %d tags: the scanner is broken", name, len(tags))
	}
	for _, tag := range tags {
		el := strings.ToLower(tag[1])
		for _, a := range attrRE.FindAllStringSubmatch(tag[2], -1) {
			attr, val := strings.ToLower(a[1]), strings.ToLower(strings.Trim(a[2], `"'`))
			if el == "link" && attr == "href" && val != "data:," {
				t.Errorf("%s: <link href=%q> loads a resource", name, val)
			}
			if attr == "src" || attr == "srcset" || attr == "xlink:href" || attr == "poster" || attr == "action" {
				t.Errorf("%s: <%s %s=%q> loads a resource", name, el, attr, val)
			}
			if (strings.Contains(val, "//") || strings.HasPrefix(val, "http:") || strings.HasPrefix(val, "https:")) && !(el == "a" && attr == "href") {
				t.Errorf("%s: <%s %s=%q> holds a URL outside a plain link", name, el, attr, val)
			}
		}
	}
}

func TestOutputFetchesNothing(t *testing.T) {
	t.Parallel()
	c := reportstest.Conformance()
	l := reportstest.Load(60, 500)
	ce, _ := EntryFor(c)
	le, _ := EntryFor(l)
	ce.Href, le.Href = "conformance/report.html", "load/rotation-race/report.html"
	for name, page := range map[string]string{
		"conformance": renderConformance(t, c, WithLinks(Link{"junit.xml", JUnitXML})),
		"load":        renderLoad(t, l, WithLinks(Link{"vegeta latency plot", PlotHTML})),
		"index":       renderIndex(t, []IndexEntry{ce, le}),
	} {
		assertFetchesNothing(t, name, page)
	}
}

// TestNoAbsoluteURLsOfItsOwn renders reports that carry no URL in their
// data and checks the output has none at all: the templates add no
// http(s) address (not even an SVG namespace), so any URL on a page came
// from the report.
func TestNoAbsoluteURLsOfItsOwn(t *testing.T) {
	t.Parallel()
	c := reportstest.Conformance()
	c.Target = "in-process mock"
	for i := range c.Rules {
		c.Rules[i].SourceURL = ""
		c.Rules[i].Quote = ""
		for j := range c.Rules[i].Evidence {
			c.Rules[i].Evidence[j].Request.URL = "/oauth/token"
			c.Rules[i].Evidence[j].Request.Body = "grant_type=authorization_code"
		}
	}
	l := reportstest.Load(30, 300)
	l.Target = "in-process mock"
	ce, _ := EntryFor(c)
	le, _ := EntryFor(l)
	for name, page := range map[string]string{
		"conformance": renderConformance(t, c),
		"load":        renderLoad(t, l),
		"index":       renderIndex(t, []IndexEntry{ce, le}),
	} {
		if m := regexp.MustCompile(`(?i)https?:`).FindStringIndex(page); m != nil {
			t.Errorf("%s: page contains a URL: %q", name, page[max(0, m[0]-60):min(len(page), m[1]+40)])
		}
	}
}

// TestSecretsNeverRendered plants live-looking secrets in a report's
// evidence, as a producer that forgot to redact would leave them, and checks
// none reaches the page.
func TestSecretsNeverRendered(t *testing.T) {
	t.Parallel()
	const (
		clientSecret = "CS-planted-4f1b9e"
		code         = "CODE-planted-77a1"
		refresh      = "RT-planted-0b3c5d"
		access       = "AT-planted-9e8d7c"
		verifier     = "VERIFIER-planted-aa55aa55aa55"
		basic        = "Y2xpZW50OlNFQ1JFVC1wbGFudGVk" // client:SECRET-planted
		cookie       = "session-planted-c00c1e"
		registered   = "opaque-planted-value-4242" // known only by value
	)
	redact.Default.Add(registered)
	c := reportstest.Conformance()
	r := &c.Rules[0]
	r.Status = reports.StatusFailed
	r.Violation = "refresh token " + registered + " was accepted twice"
	r.Reason = "access_token=" + access
	r.Evidence = []oauth.Exchange{{
		Step: "refresh",
		Request: oauth.Request{
			Method: http.MethodPost, URL: reportstest.TargetURL + "?code=" + code,
			Header: http.Header{"Authorization": {"Basic " + basic}, "Cookie": {cookie}},
			Body:   "grant_type=refresh_token&refresh_token=" + refresh + "&client_secret=" + clientSecret + "&code_verifier=" + verifier,
		},
		Response: &oauth.Response{
			Status: 200,
			Header: http.Header{"Set-Cookie": {cookie}},
			Body:   []byte(`{"access_token":"` + access + `","refresh_token":"` + refresh + `","token_type":"Bearer"}`),
		},
	}, {
		Step:     "form-encoded response",
		Request:  oauth.Request{Method: http.MethodPost, URL: reportstest.TargetURL, Body: "code=" + code},
		Response: &oauth.Response{Status: 200, Body: []byte("access_token=" + access + "&token_type=bearer")},
	}}
	c.ServerLog = "issued refresh_token=" + refresh + " to client"
	c.Finalize()
	page := renderConformance(t, c)
	for _, s := range []string{clientSecret, code, refresh, access, verifier, basic, cookie, registered} {
		if strings.Contains(page, s) {
			i := strings.Index(page, s)
			t.Errorf("secret %q is on the page: %q", s, page[max(0, i-60):min(len(page), i+40)])
		}
	}
	if !strings.Contains(page, "Basic "+redact.Mask) {
		t.Errorf("the page should keep the auth scheme and mask the credential (Basic %s)", redact.Mask)
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	c := reportstest.Conformance()
	l := reportstest.Load(5, 10)
	ce, err := EntryFor(c)
	if err != nil {
		t.Fatal(err)
	}
	le, err := EntryFor(l)
	if err != nil {
		t.Fatal(err)
	}
	ce.Href, le.Href = "conformance/report.html", "load/rotation-race/report.html"
	broken := IndexEntry{Kind: "load", Profile: "load/spike", Error: "reports: invalid load report: verdict \"meh\""}
	if _, err := EntryFor(42); err == nil {
		t.Error("EntryFor(42) returned no error")
	}
	for _, tc := range []struct {
		description string
		entries     []IndexEntry
		verdict     string
	}{
		{"all pass", []IndexEntry{{Kind: "load", Profile: "herd", Verdict: "pass"}}, "pass"},
		{"one fail", []IndexEntry{ce, le}, "fail"},
		{"a broken report is an error", []IndexEntry{ce, le, broken}, "error"},
		{"nothing", nil, "none"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			page := renderIndex(t, tc.entries)
			if want := `class="verdict verdict-` + tc.verdict + `"`; !strings.Contains(page, want) {
				t.Errorf("index lacks %s", want)
			}
			if got := strings.Count(page, `<tr class="run `); got != len(tc.entries) {
				t.Errorf("index has %d run rows, want %d", got, len(tc.entries))
			}
		})
	}
	page := renderIndex(t, []IndexEntry{ce, le, broken})
	for _, want := range []string{`href="conformance/report.html"`, `href="load/rotation-race/report.html"`, "verdict &#34;meh&#34;", "rules:", "p99"} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %q", want)
		}
	}
}

func writeReport(t *testing.T, path string, v any) {
	t.Helper()
	if err := reports.WriteJSON(path, v); err != nil {
		t.Fatal(err)
	}
}

func TestWriteDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeReport(t, filepath.Join(dir, "conformance", ReportJSON), reportstest.Conformance())
	if err := os.WriteFile(filepath.Join(dir, "conformance", JUnitXML), []byte("<testsuites/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeReport(t, filepath.Join(dir, "load", "rotation-race", ReportJSON), reportstest.Load(10, 100))
	herd := reportstest.Sparse()
	writeReport(t, filepath.Join(dir, "load", "herd", ReportJSON), herd)
	if err := os.WriteFile(filepath.Join(dir, "load", "herd", PlotHTML), []byte("<html></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "load", "spike"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "load", "spike", ReportJSON), []byte(`{"api_version":"tokenharness/v0","kind":"load"}`), 0o644); err != nil {
		t.Fatal(err)
	}

	err := WriteDir(dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join("spike", ReportJSON)) {
		t.Errorf("WriteDir error = %v, want one naming the broken spike report", err)
	}
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatalf("reading %s: %v", rel, err)
		}
		return string(b)
	}
	index := read(IndexHTML)
	if got := strings.Count(index, `<tr class="run `); got != 4 {
		t.Errorf("index lists %d runs, want 4 (3 good, 1 broken)", got)
	}
	order := []string{"conformance/report.html", "load/herd/report.html", "load/rotation-race/report.html", "tokenharness/v0"}
	last := -1
	for _, s := range order {
		i := strings.Index(index, s)
		if i < 0 || i < last {
			t.Errorf("index order: %q at %d, previous at %d; want conformance first, then load by path", s, i, last)
		}
		last = i
	}
	if !strings.Contains(read("conformance/report.html"), `<a href="junit.xml">junit.xml</a>`) {
		t.Error("conformance page does not link its junit.xml")
	}
	if !strings.Contains(read("load/herd/report.html"), `<a href="plot.html">vegeta latency plot</a>`) {
		t.Error("herd page does not link vegeta's plot.html")
	}
	if strings.Contains(read("load/rotation-race/report.html"), "plot.html") {
		t.Error("rotation-race page links a plot.html that does not exist")
	}
	if !strings.Contains(index, "load/herd/</div>") {
		t.Error("index does not show the run's directory")
	}
	if _, err := os.Stat(filepath.Join(dir, "load", "spike", ReportHTML)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a report.html was written for the broken report (stat: %v)", err)
	}
}

func TestWriteReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeReport(t, filepath.Join(dir, ReportJSON), reportstest.Load(5, 10))
	if err := os.WriteFile(filepath.Join(dir, PlotHTML), []byte("<html></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(dir); err != nil {
		t.Fatalf("WriteReport: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `<a href="plot.html">`) {
		t.Error("report.html does not link the plot.html beside it")
	}
	if err := WriteReport(t.TempDir()); err == nil {
		t.Error("WriteReport of a directory without report.json returned no error")
	}
}

func TestWriteDirNothingToDo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		description string
		dir         func(t *testing.T) string
		want        string
	}{
		{"missing dir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "make conformance"},
		{"empty dir", func(t *testing.T) string { return t.TempDir() }, "no report.json"},
		{"a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "f")
			os.WriteFile(p, nil, 0o644)
			return p
		}, "not a directory"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			err := WriteDir(tc.dir(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteDir = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestNiceTicks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		description    string
		lo, hi         float64
		n              int
		wantLo, wantHi float64
	}{
		{"ms range", 0, 47.3, 6, 0, 50},
		{"zero range", 0, 0, 6, 0, 1},
		{"flat non-zero", 5, 5, 6, 2, 8},
		{"reversed", 10, 0, 6, 0, 10},
		{"NaN", math.NaN(), math.NaN(), 6, 0, 1},
		{"large counts", 0, 12345, 6, 0, 14000},
		{"small", 0, 0.037, 6, 0, 0.04},
	} {
		t.Run(tc.description, func(t *testing.T) {
			t.Parallel()
			ticks, lo, hi := niceTicks(tc.lo, tc.hi, tc.n)
			if math.Abs(lo-tc.wantLo) > 1e-9 || math.Abs(hi-tc.wantHi) > 1e-9 {
				t.Errorf("range = [%v, %v], want [%v, %v]", lo, hi, tc.wantLo, tc.wantHi)
			}
			if len(ticks) < 2 || len(ticks) > 2*tc.n+3 {
				t.Errorf("got %d ticks, want between 2 and %d", len(ticks), 2*tc.n+3)
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		got, want string
	}{
		{fmtNum(0), "0"},
		{fmtNum(0.4123), "0.412"},
		{fmtNum(3.14159), "3.14"},
		{fmtNum(3), "3"},
		{fmtNum(100), "100"},
		{fmtNum(42.25), "42.2"},
		{fmtNum(1234567), "1,234,567"},
		{fmtNum(math.NaN()), "0"},
		{fmtCount(1000), "1,000"},
		{fmtCount(999), "999"},
		{fmtPct(0.99991), "99.99%"},
		{fmtMS(12.34), "12.3 ms"},
		{fmtDuration(1500 * time.Millisecond), "1.5s"},
		{fmtDuration(5 * time.Minute), "5m0s"},
		{fmtDuration(-time.Second), "0s"},
		{fmtTime(time.Time{}), "—"},
		{tickLabel(0.25, []float64{0, 0.05}), "0.25"},
		{tickLabel(20000, []float64{0, 5000}), "20k"},
		{group("-1234"), "-1,234"},
		{trimZeros("0.500"), "0.5"},
		{trimZeros("2.00"), "2"},
		{trimZeros("1,200"), "1,200"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	l := reportstest.Load(600, 5000)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Load(&buf, l); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}

func TestLoadPageCapacity(t *testing.T) {
	t.Parallel()
	l := reportstest.Load(10, 50)
	l.Profile = "capacity"
	l.Capacity = &reports.Capacity{Rate: 175, Bound: reports.CapacityExact, Reason: "175 req/s met the SLO, 188 req/s did not",
		SLOP99MS: 50, SLOErrorRate: 0.01, Steps: []reports.CapacityStep{
			{Rate: 100, Requests: 100, P99MS: 11, Passed: true},
			{Rate: 200, Requests: 200, P99MS: 212, Why: "p99 212.0 ms > 50ms"},
			{Rate: 175, Requests: 175, P99MS: 37, Passed: true},
			{Rate: 188, Requests: 188, P99MS: 75, Why: "p99 74.8 ms > 50ms"},
		}}
	page := renderLoad(t, l)
	if n := strings.Count(page, `<tr class="step`); n != 4 {
		t.Errorf("%d capacity steps shown, want 4", n)
	}
	if n := strings.Count(page, `<tr class="step bad"`); n != 2 {
		t.Errorf("%d broken steps shown, want 2", n)
	}
	if !strings.Contains(page, "<strong>175 req/s</strong>") || !strings.Contains(page, "p99 74.8 ms &gt; 50ms") {
		t.Error("the capacity and the evidence of a broken step are not shown")
	}
	l.Capacity = nil
	if strings.Contains(renderLoad(t, l), `id="capacity"`) {
		t.Error("a report without a capacity shows a capacity section")
	}
}
