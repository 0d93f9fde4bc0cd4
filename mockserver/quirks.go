package mockserver

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"tokenharness/internal/oauth"
	"tokenharness/internal/rules"
)

// quirkSet is the fault switches active for one request: the server's
// global quirks, the client's fixture quirks and, under
// -quirks-from-header, the request's Tokenharness-Quirk header. A handful
// at most, so a slice beats a map.
type quirkSet []rules.ID

// On reports whether the quirk named id is active. Behavioural quirks are
// consulted at the line that enforces their rule, naming the rule value:
// q.On(rules.CodeSingleUse.ID).
func (q quirkSet) On(id rules.ID) bool { return slices.Contains(q, id) }

// with returns q plus ids, without duplicates; q itself is not modified,
// since the global set is shared by every request.
func (q quirkSet) with(ids []rules.ID) quirkSet {
	if len(ids) == 0 {
		return q
	}
	out := slices.Clip(q)
	for _, id := range ids {
		if !out.On(id) {
			out = append(out, id)
		}
	}
	return out
}

// faults caches every rule's and variation's wire fault by quirk id, so the
// hot path does not rebuild the catalogue per request.
type faults map[rules.ID]rules.Fault

func loadFaults() faults {
	fs := faults{}
	for _, r := range rules.All() {
		fs[r.ID], _ = rules.FaultOf(r.ID)
	}
	for _, v := range rules.Variations() {
		fs[v.ID], _ = rules.FaultOf(v.ID)
	}
	return fs
}

// errUnknownQuirk is wrapped by headerQuirks for ids that name no rule.
var errUnknownQuirk = errors.New("unknown quirk")

// headerQuirks parses the Tokenharness-Quirk header: comma-separated ids.
func (fs faults) headerQuirks(h http.Header) ([]rules.ID, error) {
	vs := h.Values(oauth.HeaderQuirk)
	if len(vs) == 0 {
		return nil, nil
	}
	var ids []rules.ID
	for _, v := range vs {
		for _, part := range strings.Split(v, ",") {
			id := rules.ID(strings.TrimSpace(part))
			if id == "" {
				continue
			}
			if _, ok := fs[id]; !ok {
				return nil, fmt.Errorf("%w %s in %s: quirks are rule IDs (RFC6749-5.1-NO-STORE, ...) or VAR-* variation IDs", errUnknownQuirk, id, oauth.HeaderQuirk)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}
