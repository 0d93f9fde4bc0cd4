// Package layout holds no code: its test enforces the module's import
// graph (STYLE.md §2.1), the way import-boss does in Kubernetes. Above all
// the checker (rules, conform, probe) must never import the mock server:
// they share vocabulary, never the logic that decides validity, or a shared
// bug would hide itself.
package layout
