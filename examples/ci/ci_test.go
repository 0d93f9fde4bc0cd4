// Package ci holds CI examples for the gate (github-actions.yml,
// gitlab-ci.yml); this test keeps them valid YAML and in step with the
// command's flags and the report layout.
package ci

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"tokenharness/internal/plan"
	"tokenharness/reports/html"
)

// gateLines finds the tokenharness conformance command lines in any string
// of a YAML document (a run: step, a script: item).
func gateLines(node *yaml.Node) []string {
	var out []string
	if node.Kind == yaml.ScalarNode && strings.Contains(node.Value, "tokenharness\" conformance") ||
		node.Kind == yaml.ScalarNode && strings.Contains(node.Value, "tokenharness conformance") {
		out = append(out, node.Value)
	}
	for _, c := range node.Content {
		out = append(out, gateLines(c)...)
	}
	return out
}

var flagPattern = regexp.MustCompile(`--([a-z0-9-]+)`)

func TestExamples(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, v := range plan.ConformanceVars() {
		known[plan.FlagName(v)] = true
	}
	junit := "conformance/" + html.JUnitXML
	for _, file := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("%s is not YAML: %v", file, err)
			}
			lines := gateLines(&doc)
			if len(lines) != 1 {
				t.Fatalf("%s: want one tokenharness conformance command, found %d", file, len(lines))
			}
			var flags []string
			for _, m := range flagPattern.FindAllStringSubmatch(lines[0], -1) {
				flags = append(flags, m[1])
				if !known[m[1]] {
					t.Errorf("%s: --%s is not a flag of tokenharness conformance", file, m[1])
				}
			}
			if !slices.Contains(flags, "target") || !slices.Contains(flags, "report-dir") {
				t.Errorf("%s: the command sets no --target or --report-dir: %q", file, lines[0])
			}
			if !strings.Contains(string(b), "reports/"+junit) {
				t.Errorf("%s does not publish reports/%s", file, junit)
			}
			if strings.Contains(lines[0], "CLIENT_SECRET") || strings.Contains(lines[0], "client-secret") {
				t.Errorf("%s: the secret belongs in the CI's secret store and the environment, not on the command line", file)
			}
		})
	}
}
