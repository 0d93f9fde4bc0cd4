package rules

import (
	"strings"
	"testing"
)

func TestCatalogueIsWellFormed(t *testing.T) {
	t.Parallel()
	seen := map[ID]bool{}
	known := map[Profile]bool{}
	for _, p := range ProfileInfos {
		known[p.Name] = true
	}
	for _, r := range All() {
		if !r.ID.Valid() || strings.HasPrefix(string(r.ID), "VAR-") {
			t.Errorf("%q: ID does not follow the rule grammar", r.ID)
		}
		if seen[r.ID] {
			t.Errorf("%s: duplicate ID", r.ID)
		}
		seen[r.ID] = true
		if r.Source.Section == "" || r.Source.Doc == "" || r.Source.Quote == "" {
			t.Errorf("%s: source needs doc, section and quote", r.ID)
		}
		if (r.Send == nil) == (r.Flow == nil) {
			t.Errorf("%s: exactly one of Send and Flow must be set", r.ID)
		}
		if r.Summary == "" || strings.Contains(strings.ToLower(r.Summary), "should") {
			t.Errorf("%s: summary must be present tense without 'should': %q", r.ID, r.Summary)
		}
		switch r.Level {
		case MUST, SHOULD, MAY, DOC:
		default:
			t.Errorf("%s: level %q", r.ID, r.Level)
		}
		if len(r.Profiles) == 0 {
			t.Errorf("%s: in no profile", r.ID)
		}
		for p, pol := range r.Profiles {
			if !known[p] {
				t.Errorf("%s: unknown profile %q", r.ID, p)
			}
			if pol.Mode != ModeEnforce && pol.Reason == "" {
				t.Errorf("%s: %s policy in %s needs a reason", r.ID, pol.Mode, p)
			}
		}
		if r.Flow == nil && len(r.Expect) == 0 {
			t.Errorf("%s: a Send rule needs expectations", r.ID)
		}
		// A rule must be enforced somewhere so the self-check can kill it.
		enforced := false
		for _, pol := range r.Profiles {
			enforced = enforced || pol.Mode == ModeEnforce
		}
		if !enforced {
			t.Errorf("%s: enforced in no profile", r.ID)
		}
	}
	for _, v := range Variations() {
		if !v.ID.Valid() || !strings.HasPrefix(string(v.ID), "VAR-") {
			t.Errorf("%q: variation IDs are VAR-*", v.ID)
		}
		if seen[v.ID] {
			t.Errorf("%s: duplicate ID", v.ID)
		}
		seen[v.ID] = true
		if v.Why == "" || len(v.Profiles) == 0 {
			t.Errorf("%s: needs Why and Profiles", v.ID)
		}
	}
}

// TestLabelsUseTheVocabulary freezes the label vocabulary: a label outside
// it would silently escape --label-filter expressions users have written.
func TestLabelsUseTheVocabulary(t *testing.T) {
	t.Parallel()
	prefixes := []string{"rule:", "profile:", "level:", "source:", "needs:"}
	plain := map[string]bool{"race": true, "slow": true}
	for _, r := range All() {
		for _, l := range r.Labels() {
			ok := plain[l]
			for _, p := range prefixes {
				ok = ok || strings.HasPrefix(l, p)
			}
			if !ok || strings.ContainsAny(l, "&|!,()/{}[]") {
				t.Errorf("%s: label %q is outside the vocabulary", r.ID, l)
			}
		}
	}
}

func TestEveryProfileHasRules(t *testing.T) {
	t.Parallel()
	for _, p := range ProfileInfos {
		if n := len(For(p.Name)); n < 20 {
			t.Errorf("profile %s has %d rules; expected the core set", p.Name, n)
		}
	}
}

func TestValidateQuirks(t *testing.T) {
	t.Parallel()
	if err := ValidateQuirks([]string{string(NoStore.ID), string(VarNoCharset.ID)}); err != nil {
		t.Fatal(err)
	}
	if err := ValidateQuirks([]string{"RFC6749-9.9-NOPE"}); err == nil || !strings.Contains(err.Error(), "RFC6749-9.9-NOPE") {
		t.Fatalf("unknown quirk: got %v", err)
	}
}
