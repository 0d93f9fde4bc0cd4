package rules

import (
	_ "embed"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// traceability.yaml is the matrix of every normative sentence the profiles
// cite; see its header for the format.
//
//go:embed traceability.yaml
var traceabilityYAML []byte

// traceRow is one sentence of the matrix.
type traceRow struct {
	Doc        string   `yaml:"doc"`
	Section    string   `yaml:"section"`
	Keyword    string   `yaml:"keyword"`
	Sentence   string   `yaml:"sentence"`
	Status     string   `yaml:"status"`
	Rules      []ID     `yaml:"rules"`
	Deviations []ID     `yaml:"deviations"`
	Reason     string   `yaml:"reason"`
	Note       string   `yaml:"note"`
	norm       string   // normalised sentence, for quote matching
	cited      []string // rules whose Source quote traces here
}

const (
	statusTested      = "tested"
	statusNotTestable = "not-testable"
	statusBindsClient = "binds-client"
	statusDeviation   = "deviation"
)

var traceKeywords = map[string]bool{
	"MUST": true, "MUST NOT": true, "REQUIRED": true, "SHOULD": true, "SHOULD NOT": true,
	"RECOMMENDED": true, "NOT RECOMMENDED": true, "MAY": true, "none": true, "DOC": true,
}

// vendorProfile names the profile whose document a row comes from.
var vendorProfile = map[string]Profile{commoninjaDoc: Commoninja, dressipiDoc: Dressipi}

// docProfile names the profile a document's sentences are enforced in: a
// rule enforcing such a sentence must run there.
var docProfile = map[string]Profile{commoninjaDoc: Commoninja, dressipiDoc: Dressipi, oauth21Doc: OAuth21}

func loadMatrix(t *testing.T) []*traceRow {
	t.Helper()
	var rows []*traceRow
	dec := yaml.NewDecoder(strings.NewReader(string(traceabilityYAML)))
	dec.KnownFields(true)
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("traceability.yaml: %v", err)
	}
	for _, r := range rows {
		r.norm = normQuote(r.Sentence)
	}
	return rows
}

// normQuote reduces text to its words, lower case, one space apart, so a
// quote matches its sentence whatever the markup ({{RFC2616}} or
// [RFC2616]), quoting ("no-store" or `no-store`), punctuation or line
// breaks. Word order and spelling still have to agree.
func normQuote(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '%' {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// fragments splits a quote at its "..." elisions into normalised
// fragments; empty ones (a leading or trailing elision) are dropped.
func fragments(quote string) []string {
	var out []string
	for _, f := range strings.Split(strings.ReplaceAll(quote, "…", "..."), "...") {
		if n := normQuote(f); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func containsWords(sentence, fragment string) bool {
	return strings.Contains(" "+sentence+" ", " "+fragment+" ")
}

// traceRule finds the rows rule r's Source quote comes from: the row of the
// same document and section holding every fragment of the quote, or, for a
// quote elided across sentences, for each fragment the rows holding it.
// nil means some fragment is in no row.
func traceRule(rows []*traceRow, r Rule) []*traceRow {
	var same []*traceRow
	for _, row := range rows {
		if row.Doc == r.Source.Doc && row.Section == r.Source.Section {
			same = append(same, row)
		}
	}
	frags := fragments(r.Source.Quote)
	for _, row := range same {
		all := true
		for _, f := range frags {
			all = all && containsWords(row.norm, f)
		}
		if all {
			return []*traceRow{row}
		}
	}
	var out []*traceRow
	for _, f := range frags {
		found := false
		for _, row := range same {
			if containsWords(row.norm, f) {
				found = true
				if !slices.Contains(out, row) {
					out = append(out, row)
				}
			}
		}
		if !found {
			return nil
		}
	}
	return out
}

// TestTraceability checks the matrix against the catalogue in both
// directions: every rule's source is a sentence of the matrix that lists
// the rule; every testable sentence has a rule; every named rule exists; a
// rule resting only on sentences that bind the client does not gate; a
// vendor deviation is warned or waived, never enforced.
func TestTraceability(t *testing.T) {
	t.Parallel()
	rows := loadMatrix(t)
	byID := map[ID]Rule{}
	for _, r := range All() {
		byID[r.ID] = r
	}

	seen := map[string]bool{}
	for i, row := range rows {
		where := fmt.Sprintf("traceability.yaml row %d (%s §%s %.50q)", i+1, row.Doc, row.Section, row.Sentence)
		key := row.Doc + "\x00" + row.Section + "\x00" + row.norm
		if seen[key] {
			t.Errorf("%s: the sentence is listed twice", where)
		}
		seen[key] = true
		if row.Doc == "" || row.Section == "" || row.Sentence == "" {
			t.Errorf("%s: needs doc, section and sentence", where)
		}
		for _, k := range strings.Split(row.Keyword, "; ") {
			if !traceKeywords[k] {
				t.Errorf("%s: keyword %q is not one of MUST, MUST NOT, REQUIRED, SHOULD, SHOULD NOT, RECOMMENDED, NOT RECOMMENDED, MAY, none, DOC", where, k)
			}
		}
		for _, id := range append(append([]ID(nil), row.Rules...), row.Deviations...) {
			if _, ok := byID[id]; !ok {
				t.Errorf("%s: names rule %s, which does not exist", where, id)
			}
		}
		switch row.Status {
		case statusTested:
			if len(row.Rules) == 0 {
				t.Errorf("%s: testable but no rule enforces it", where)
			}
		case statusNotTestable:
			if row.Reason == "" || len(row.Rules) > 0 {
				t.Errorf("%s: not-testable needs a reason and no rules", where)
			}
		case statusBindsClient:
		case statusDeviation:
			if len(row.Deviations) == 0 {
				t.Errorf("%s: a deviation names the rules its profile warns or waives", where)
			}
		default:
			t.Errorf("%s: status %q is not tested, not-testable, binds-client or deviation", where, row.Status)
		}
		if p, ok := docProfile[row.Doc]; ok && row.Status == statusTested {
			enforced := false
			for _, id := range row.Rules {
				if r, ok := byID[id]; ok {
					pol, in := r.Profiles[p]
					if !in {
						t.Errorf("%s: rule %s is not in profile %s, so it cannot enforce this document's sentence", where, id, p)
					}
					enforced = enforced || in && pol.Mode == ModeEnforce
				}
			}
			if !enforced {
				t.Errorf("%s: no rule enforces it in profile %s (all warned or waived)", where, p)
			}
		}
		if p, vendor := vendorProfile[row.Doc]; vendor {
			for _, id := range row.Deviations {
				if pol, in := byID[id].Profiles[p]; in && pol.Mode == ModeEnforce || !in {
					t.Errorf("%s: deviation %s must be warned or waived in profile %s, got %v", where, id, p, pol.Mode)
				}
			}
		} else if len(row.Deviations) > 0 {
			t.Errorf("%s: deviations are for vendor documents", where)
		}
	}

	for _, r := range All() {
		traced := traceRule(rows, r)
		if traced == nil {
			t.Errorf("%s: its source (%s §%s %q) is not a sentence of traceability.yaml", r.ID, r.Source.Doc, r.Source.Section, r.Source.Quote)
			continue
		}
		listed, server := false, false
		for _, row := range traced {
			row.cited = append(row.cited, string(r.ID))
			listed = listed || slices.Contains(row.Rules, r.ID)
			server = server || row.Status != statusBindsClient
		}
		if !listed {
			t.Errorf("%s: its source is the sentence %.60q, whose row does not list it", r.ID, traced[0].Sentence)
		}
		if !server && r.Level.Gates() {
			t.Errorf("%s: gates (%s) on a sentence that binds the client (%.60q); a client-bound sentence may only back a SHOULD or MAY rule", r.ID, r.Level, traced[0].Sentence)
		}
	}

	c := countMatrix(rows)
	t.Logf("traceability: %s", c)
}

type matrixCounts struct {
	rows, sentences, normative                   int
	tested, notTestable, bindsClient, deviation  int
	byDoc                                        map[string]int
	normTested, normNotTestable, normBindsClient int
}

func (c matrixCounts) String() string {
	docs := make([]string, 0, len(c.byDoc))
	for d, n := range c.byDoc {
		docs = append(docs, fmt.Sprintf("%s %d", d, n))
	}
	sort.Strings(docs)
	return fmt.Sprintf("%d sentences (%s), of which %d carry a keyword; %d tested, %d not testable, %d bind the client, %d vendor deviations; keyword sentences: %d tested, %d not testable, %d bind the client",
		c.sentences, strings.Join(docs, ", "), c.normative, c.tested, c.notTestable, c.bindsClient, c.deviation,
		c.normTested, c.normNotTestable, c.normBindsClient)
}

// countMatrix counts the document sentences (the harness's own statements
// are not counted).
func countMatrix(rows []*traceRow) matrixCounts {
	c := matrixCounts{rows: len(rows), byDoc: map[string]int{}}
	for _, r := range rows {
		if r.Doc == harnessDoc {
			continue
		}
		c.sentences++
		c.byDoc[r.Doc]++
		kw := r.Keyword != "none" && r.Keyword != "DOC" && r.Keyword != "MAY"
		if kw {
			c.normative++
		}
		switch r.Status {
		case statusTested:
			c.tested++
			if kw {
				c.normTested++
			}
		case statusNotTestable:
			c.notTestable++
			if kw {
				c.normNotTestable++
			}
		case statusBindsClient:
			c.bindsClient++
			if kw {
				c.normBindsClient++
			}
		case statusDeviation:
			c.deviation++
		}
	}
	return c
}

func TestQuoteMatching(t *testing.T) {
	t.Parallel()
	rows := []*traceRow{{Doc: "RFC 6749", Section: "5.1", Status: statusTested,
		Sentence: `The authorization server MUST include the HTTP "Cache-Control" response header field {{RFC2616}} with a value of "no-store" in any response, as well as the "Pragma" response header field.`}}
	rows[0].norm = normQuote(rows[0].Sentence)
	for _, tc := range []struct {
		quote string
		ok    bool
	}{
		{"The authorization server MUST include the HTTP `Cache-Control` response header field [RFC2616]", true},
		{`... as well as the "Pragma" response header field.`, true},
		{`The authorization server MUST include ... the "Pragma" response header field`, true},
		{`The authorization server MUST include the "Pragma" header`, false},
		{`The authorization server SHOULD include`, false},
		{`MUST incl`, false}, // whole words only
	} {
		r := Rule{Source: Source{Doc: "RFC 6749", Section: "5.1", Quote: tc.quote}}
		if got := traceRule(rows, r) != nil; got != tc.ok {
			t.Errorf("%q: traced %v, want %v", tc.quote, got, tc.ok)
		}
	}
	r := Rule{Source: Source{Doc: "RFC 6749", Section: "5.2", Quote: "The authorization server MUST include"}}
	if traceRule(rows, r) != nil {
		t.Error("a quote traced to a row of another section")
	}
}
