package interop

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestTableRoundTrip(t *testing.T) {
	rows := []Row{
		{Server: "s", Profile: "rfc6749", Rule: "R-1", Status: "passed"},
		{Server: "s", Profile: "rfc6749", Rule: "R-2", Status: "failed", Justification: "the sentence; what the server did"},
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, rows); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTable(&buf)
	if err != nil || !reflect.DeepEqual(got, rows) {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, rows)
	}
	if _, err := ReadTable(strings.NewReader("s\trfc6749\tR-1\n")); err == nil {
		t.Error("a row with three fields was accepted")
	}
}

func TestTableMergeDiffUnjustified(t *testing.T) {
	expected := []Row{
		{Server: "s", Profile: "p", Rule: "A", Status: "failed", Justification: "why A fails"},
		{Server: "s", Profile: "p", Rule: "B", Status: "passed"},
		{Server: "s", Profile: "p", Rule: "GONE", Status: "passed"},
	}
	got := []Row{
		{Server: "s", Profile: "p", Rule: "A", Status: "passed"},
		{Server: "s", Profile: "p", Rule: "B", Status: "warned"},
		{Server: "s", Profile: "p", Rule: "NEW", Status: "inconclusive"},
	}
	d := strings.Join(Diff(expected, got), "\n")
	for _, want := range []string{"- s\tp\tA\tfailed", "+ s\tp\tA\tpassed", "+ s\tp\tB\twarned", "+ s\tp\tNEW\tinconclusive   (new row)", "- s\tp\tGONE\tpassed   (no longer produced)"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if d := Diff(expected, expected); len(d) != 0 {
		t.Errorf("a table differs from itself: %v", d)
	}
	merged := Merge(expected, got)
	if merged[0].Status != "passed" || merged[0].Justification != "why A fails" {
		t.Errorf("merge lost the justification or kept the old status: %+v", merged[0])
	}
	u := Unjustified(merged)
	if want := []string{"s\tp\tB\twarned", "s\tp\tNEW\tinconclusive"}; !reflect.DeepEqual(u, want) {
		t.Errorf("unjustified = %q, want %q", u, want)
	}
}

// TestIndependentOfTheMock: the interop tier exists to check the rules
// against servers that do not share the mock's reading of the RFCs.
func TestIndependentOfTheMock(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.ImportPath, "tokenharness/mockserver") {
			t.Errorf("interop depends on %s", p.ImportPath)
		}
	}
}
