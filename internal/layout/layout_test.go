package layout

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "tokenharness"

// forbidden maps a package to module packages (or external prefixes) that
// must not appear among its non-test dependencies.
var forbidden = map[string][]string{
	"internal/oauth":   {module + "/"},
	"internal/redact":  {module + "/"},
	"fixtures":         {module + "/"},
	"internal/rules":   {module + "/internal/probe", module + "/internal/codes", module + "/internal/conform", module + "/mockserver", "github.com/onsi/", "github.com/tsenart/"},
	"internal/probe":   {module + "/internal/rules", module + "/mockserver", module + "/specs"},
	"internal/codes":   {module + "/internal/rules", module + "/mockserver", module + "/specs"},
	"internal/target":  {module + "/internal/rules", module + "/mockserver", module + "/specs"},
	"internal/conform": {module + "/mockserver", "github.com/onsi/"},
	// The mock reaches package reports only for its vocabulary (rules'
	// levels and policy modes are reports types); no renderer or gate.
	"mockserver":               {module + "/internal/conform", module + "/internal/probe", module + "/internal/codes", module + "/specs", module + "/load", module + "/reports/"},
	"mockserver/mockcontainer": {module + "/mockserver"},
	"reports":                  {module + "/specs", module + "/load", module + "/mockserver", module + "/internal/conform", "github.com/onsi/"},
	"reports/junit":            {module + "/specs", module + "/load", module + "/mockserver", module + "/internal/conform"},
	"reports/html":             {module + "/specs", module + "/load", module + "/mockserver", module + "/internal/conform"},
	"reports/compare":          {module + "/specs", module + "/load", module + "/mockserver", module + "/internal/conform"},
	"load":                     {module + "/specs", module + "/mockserver", module + "/internal/conform"},
	"load/tokenpool":           {module + "/specs", module + "/mockserver", module + "/internal/conform"},
	"load/shard":               {module + "/specs", module + "/mockserver", module + "/internal/conform"},
}

func TestImportGraph(t *testing.T) {
	for pkg, bans := range forbidden {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", module+"/"+pkg).Output()
			if err != nil {
				var stderr string
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("go list %s: %v %s", pkg, err, stderr)
			}
			dec := json.NewDecoder(strings.NewReader(string(out)))
			for dec.More() {
				var p struct{ ImportPath string }
				if err := dec.Decode(&p); err != nil {
					t.Fatal(err)
				}
				if p.ImportPath == module+"/"+pkg {
					continue
				}
				for _, ban := range bans {
					if strings.HasPrefix(p.ImportPath, ban) {
						t.Errorf("%s depends on %s (forbidden: %s)", pkg, p.ImportPath, ban)
					}
				}
			}
		})
	}
}

// TestNothingImportsCmd: cmd/ packages are adapters; libraries never depend on them.
func TestNothingImportsCmd(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		for _, imp := range strings.Fields(imports) {
			if strings.HasPrefix(imp, module+"/cmd/") {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
}
