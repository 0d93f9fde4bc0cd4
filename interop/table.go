package interop

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"tokenharness/reports"
)

// Row is one line of the expected table: the verdict of one rule against
// one server under one profile, and for a verdict that is not a plain pass
// or skip, why it is right.
type Row struct {
	Server, Profile, Rule string
	Status                reports.Status
	// Justification quotes the sentence that makes a failure real and says
	// what the server did. Required for NeedsJustification statuses.
	Justification string
}

// Key identifies a row.
func (r Row) Key() string { return r.Server + "\t" + r.Profile + "\t" + r.Rule }

func (r Row) line() string { return r.Key() + "\t" + string(r.Status) }

// NeedsJustification reports whether status claims something about the
// server (a failure or a warning) or about the run (inconclusive) that a
// reader must be able to check.
func NeedsJustification(status reports.Status) bool {
	switch status {
	case reports.StatusFailed, reports.StatusWarned, reports.StatusInconclusive:
		return true
	}
	return false
}

const tableHeader = "# server\tprofile\trule\tstatus\tjustification (required for failed, warned, inconclusive: the sentence, and what the server did)"

// ReadTable parses a table; lines starting with # and blank lines are skipped.
func ReadTable(r io.Reader) ([]Row, error) {
	var out []Row
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 5)
		if len(f) < 4 {
			return nil, fmt.Errorf("line %d: want server, profile, rule, status[, justification] separated by tabs", n)
		}
		row := Row{Server: f[0], Profile: f[1], Rule: f[2], Status: reports.Status(f[3])}
		if len(f) == 5 {
			row.Justification = strings.TrimSpace(f[4])
		}
		out = append(out, row)
	}
	return out, sc.Err()
}

// ReadTableFile reads path; a missing file is an empty table.
func ReadTableFile(path string) ([]Row, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTable(f)
}

// WriteTable writes rows in order, with the header.
func WriteTable(w io.Writer, rows []Row) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, tableHeader)
	for _, r := range rows {
		line := r.line()
		if r.Justification != "" {
			line += "\t" + r.Justification
		}
		fmt.Fprintln(bw, line)
	}
	return bw.Flush()
}

// Merge returns got with each row's justification taken from the expected
// row of the same key: statuses are rewritten, justifications kept.
func Merge(expected, got []Row) []Row {
	just := map[string]string{}
	for _, r := range expected {
		just[r.Key()] = r.Justification
	}
	out := make([]Row, len(got))
	for i, r := range got {
		r.Justification = just[r.Key()]
		out[i] = r
	}
	return out
}

// Diff lists, as unified-diff-like lines, every row whose status differs,
// is missing, or is new; empty when the tables agree on statuses.
func Diff(expected, got []Row) []string {
	exp := map[string]Row{}
	for _, r := range expected {
		exp[r.Key()] = r
	}
	seen := map[string]bool{}
	var out []string
	for _, g := range got {
		seen[g.Key()] = true
		e, ok := exp[g.Key()]
		switch {
		case !ok:
			out = append(out, "+ "+g.line()+"   (new row)")
		case e.Status != g.Status:
			out = append(out, "- "+e.line(), "+ "+g.line())
		}
	}
	var gone []string
	for k, e := range exp {
		if !seen[k] {
			gone = append(gone, "- "+e.line()+"   (no longer produced)")
		}
	}
	sort.Strings(gone)
	return append(out, gone...)
}

// Unjustified lists the rows whose status needs a justification they lack.
func Unjustified(rows []Row) []string {
	var out []string
	for _, r := range rows {
		if NeedsJustification(r.Status) && r.Justification == "" {
			out = append(out, r.line())
		}
	}
	return out
}
