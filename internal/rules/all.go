package rules

import (
	"fmt"
	"slices"
)

// All returns every rule, in catalogue order. It builds a new slice on
// each call so callers may sort or filter it freely.
func All() []Rule {
	var out []Rule
	for _, area := range [][]Rule{successResponse, errorResponse, clientAuth, codeGrant, pkce, pkceBinding, refresh, scopeRules, badInput, race, clientCredentials, device, dpopRules, clientJWT, oauth21Rules, commoninjaRules, dressipiRules} {
		out = append(out, area...)
	}
	return out
}

// For returns the rules of profile p, in catalogue order.
func For(p Profile) []Rule {
	var out []Rule
	for _, r := range All() {
		if _, ok := r.Profiles[p]; ok {
			out = append(out, r)
		}
	}
	return out
}

// ByID finds a rule.
func ByID(id ID) (Rule, bool) {
	for _, r := range All() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// VariationByID finds a variation.
func VariationByID(id ID) (Variation, bool) {
	for _, v := range Variations() {
		if v.ID == id {
			return v, true
		}
	}
	return Variation{}, false
}

// VariationsFor returns the variations legal in profile p.
func VariationsFor(p Profile) []Variation {
	var out []Variation
	for _, v := range Variations() {
		if slices.Contains(v.Profiles, p) {
			out = append(out, v)
		}
	}
	return out
}

// FaultOf returns the wire fault switched on by quirk id, which names a rule
// or a variation; ok is false for unknown ids.
func FaultOf(id ID) (f Fault, ok bool) {
	if r, found := ByID(id); found {
		return r.Fault, true
	}
	if v, found := VariationByID(id); found {
		return v.Fault, true
	}
	return Fault{}, false
}

// ValidateQuirks returns an error naming the first id that is neither a
// rule nor a variation.
func ValidateQuirks(ids []string) error {
	for _, id := range ids {
		if _, ok := FaultOf(ID(id)); !ok {
			return fmt.Errorf("rules: unknown quirk %q: quirks are rule IDs (RFC6749-5.1-NO-STORE, ...) or VAR-* variation IDs", id)
		}
	}
	return nil
}
