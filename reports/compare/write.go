package compare

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"tokenharness/reports"
)

// Write prints the result as aligned tables: a heading with the number of
// regressions, then one row per metric (load) or per changed rule
// (conformance), then notes.
func (r Result) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	n := r.Regressions()
	verdict := "no regression"
	if n > 0 {
		verdict = fmt.Sprintf("%d %s", n, plural(n, "regression", "regressions"))
	}
	fmt.Fprintf(tw, "%s profile %s: %s (%d compared)\n\n", r.Kind, r.Profile, verdict, r.Compared)
	if len(r.Metrics) > 0 {
		fmt.Fprintln(tw, "METRIC\tBASELINE\tCURRENT\tCHANGE\tTOLERANCE\tRESULT")
		for _, m := range r.Metrics {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.value(m.Baseline), m.value(m.Current),
				m.delta(), m.limit(), result(m.Regressed, m.Note))
		}
	}
	if len(r.Thresholds) > 0 {
		fmt.Fprintln(tw, "\nFAILED THRESHOLD\tLIMIT\tOBSERVED\tIN BASELINE\tRESULT")
		for _, t := range r.Thresholds {
			verdict := "REGRESSED"
			if !t.Regressed {
				verdict = "not new (failed in the baseline too)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, number(t.Limit), number(t.Observed), t.Baseline, verdict)
		}
	}
	if r.Kind == "conformance" {
		if len(r.Rules) == 0 {
			fmt.Fprintln(tw, "no rule changed status")
		} else {
			fmt.Fprintln(tw, "RULE\tBASELINE\tCURRENT\tRESULT")
			for _, c := range r.Rules {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, orAbsent(c.Baseline), orAbsent(c.Current), result(c.Regressed, ""))
			}
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(tw, "\nnotes:")
		for _, note := range r.Notes {
			fmt.Fprintf(tw, "  - %s\n", note)
		}
	}
	return tw.Flush()
}

func result(regressed bool, note string) string {
	s := "ok"
	if regressed {
		s = "REGRESSED"
	}
	if note != "" {
		s += " (" + note + ")"
	}
	return s
}

func orAbsent(status reports.Status) string {
	if status == "" {
		return "(absent)"
	}
	return string(status)
}

// value formats a metric's baseline or current figure: ratios as percent.
func (m Metric) value(v float64) string {
	if m.Unit == Points {
		return strconv.FormatFloat(v*100, 'f', 2, 64) + "%"
	}
	return number(v)
}

func (m Metric) delta() string {
	if m.Note != "" && m.Delta == 0 {
		return "—"
	}
	switch m.Unit {
	case Percent:
		return signed(m.Delta, 1) + "%"
	case Points:
		return signed(m.Delta, 2) + " pts"
	}
	return signed(m.Delta, 0)
}

func (m Metric) limit() string {
	sign := "+"
	if m.Worse == "down" {
		sign = "-"
	}
	switch m.Unit {
	case Percent:
		return sign + number(m.Limit) + "%"
	case Points:
		return sign + number(m.Limit) + " pts"
	}
	return sign + number(m.Limit)
}

func signed(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if v >= 0 && !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s
}

// number writes a figure with up to three decimals and no trailing zeros.
func number(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	return strings.TrimRight(strings.TrimRight(s, "0"), ".")
}

// Texts are the metric's figures as Write prints them: baseline, current,
// change and tolerance (ratios in percent), for other renderings.
func (m Metric) Texts() (baseline, current, change, tolerance string) {
	return m.value(m.Baseline), m.value(m.Current), m.delta(), m.limit()
}
