package target

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML configuration file at path over Default. Unknown
// keys are an error naming the allowed ones.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Default(), fmt.Errorf("%w: CONFIG file: %w", ErrConfig, err)
	}
	c, err := Parse(b, path)
	// A key file named in the CONFIG file lives beside it, wherever the
	// run starts from.
	if err == nil && c.JWTKeyFile != "" && !filepath.IsAbs(c.JWTKeyFile) {
		c.JWTKeyFile = filepath.Join(filepath.Dir(path), c.JWTKeyFile)
	}
	return c, err
}

// Parse reads a YAML configuration over Default; name is where it came
// from, for messages.
func Parse(b []byte, name string) (Config, error) {
	c := Default()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: "+format, append([]any{ErrConfig, name}, a...)...)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return c, bad("%s", oneLine(err))
	}
	if len(doc.Content) == 0 {
		c.file = name
		return c, nil // an empty file sets nothing
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return c, bad("line %d: the file must be a mapping of keys to values, like target: https://…", root.Line)
	}
	var set uint64
	// Durations are parsed here, so a bad value gets this package's
	// message rather than YAML's; everything else decodes into c.
	durations := map[string]*yaml.Node{}
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: root.Tag}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		idx := keyIndex(k.Value)
		if idx < 0 {
			return c, bad("line %d: unknown key %q%s: allowed keys are %s", k.Line, k.Value, suggest(k.Value), allowedKeys())
		}
		if set&(1<<idx) != 0 {
			return c, bad("line %d: key %q appears twice", k.Line, k.Value)
		}
		set |= 1 << idx
		if k.Value == "timeout" || k.Value == "race_budget" {
			durations[k.Value] = v
			continue
		}
		rest.Content = append(rest.Content, k, v)
	}
	if err := rest.Decode(&c); err != nil {
		return c, bad("%s", oneLine(err))
	}
	c.file, c.fromFile = name, set
	for key, dst := range map[string]*time.Duration{"timeout": &c.Timeout, "race_budget": &c.RaceBudget} {
		v, ok := durations[key]
		if !ok {
			continue
		}
		d, err := time.ParseDuration(strings.TrimSpace(v.Value))
		if err != nil {
			example := map[string]string{"timeout": "10s", "race_budget": DefaultRaceBudget.String()}[key]
			return c, bad("%s %q is not a duration: use e.g. %s: %s", key, v.Value, key, example)
		}
		*dst = d
	}
	return c, nil
}

// oneLine flattens YAML's multi-line errors ("yaml: unmarshal errors:\n  line 3: …").
func oneLine(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func allowedKeys() string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.YAML
	}
	return strings.Join(names, ", ")
}

// suggest names the allowed key closest to a misspelt one, if any is close.
func suggest(key string) string {
	best, bestDist := "", 3
	for _, k := range Keys {
		if d := distance(strings.ToLower(key), k.YAML); d < bestDist {
			best, bestDist = k.YAML, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sortedHeaderNames returns the names of h in a stable order.
func sortedHeaderNames(h map[string]string) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
