package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"tokenharness/internal/rules"
)

// rulesCmd lists the catalogue: each rule's ID, level, the profiles it runs
// in with their policy, and the mock's fault switch (the quirk named by the
// rule's ID, wire or behavioural); then the legal variations.
func rulesCmd(args []string) int {
	fs, getenv := varFlags("rules", []string{"PROFILE"})
	if code, done := parseFlags(fs, args); done {
		return code
	}
	only := rules.Profile(getenv("PROFILE"))
	if only != "" {
		if _, err := rules.Info(only); err != nil {
			fmt.Fprintf(os.Stderr, "tokenharness rules: PROFILE %q is not one of %s\n", only, strings.Join(profileNames(), "|"))
			return exitConfig
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "RULE\tLEVEL\tPROFILES\tMOCK SWITCH")
	n := 0
	for _, r := range rules.All() {
		if _, in := r.Profiles[only]; only != "" && !in {
			continue
		}
		var ps []string
		for _, p := range r.Profiles.Names() {
			ps = append(ps, string(p)+"="+string(r.Profiles[p].Mode))
		}
		kind := "behavioural"
		if r.Fault.Wire() {
			kind = "wire"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\tQUIRKS=%s (%s)\n", r.ID, r.Level, strings.Join(ps, ","), r.ID, kind)
		n++
	}
	fmt.Fprintln(w, "\nVARIATION (legal; must stay green)\t\tPROFILES\tSWITCH")
	for _, v := range rules.Variations() {
		var ps []string
		for _, p := range v.Profiles {
			ps = append(ps, string(p))
		}
		// A client variation changes what the harness sends (a JWT
		// client's assertions), so QUIRKS switches it in the harness, not
		// the mock.
		who := "mock"
		if v.Client {
			who = "harness"
		}
		fmt.Fprintf(w, "%s\t\t%s\tQUIRKS=%s (%s)\n", v.ID, strings.Join(ps, ","), v.ID, who)
	}
	if err := w.Flush(); err != nil {
		return exitConfig
	}
	fmt.Printf("%d rules\n", n)
	return exitOK
}

func profileNames() []string {
	var out []string
	for _, p := range rules.ProfileNames() {
		out = append(out, string(p))
	}
	return out
}
