package mockserver

import (
	"slices"
	"strings"
)

// parseScope splits a space-delimited scope (RFC 6749 §3.3) into its
// tokens; ok is false if a token has a character outside NQCHAR.
func parseScope(s string) (tokens []string, ok bool) {
	for _, t := range strings.Split(s, " ") {
		if t == "" {
			continue
		}
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return nil, false
			}
		}
		if !slices.Contains(tokens, t) {
			tokens = append(tokens, t)
		}
	}
	return tokens, true
}

// subset reports whether every token of want is in have.
func subset(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
