// Command tokenharness is a thin adapter from flags and environment to the
// tokenharness libraries, in the style of vegeta's command map: each
// subcommand lives in its own file and does no work of its own.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
)

// Exit statuses shared by every subcommand.
const (
	exitOK     = 0
	exitFailed = 1 // a gate failed: a MUST rule, a load threshold, a regression
	exitConfig = 2 // bad configuration or a harness error; nothing was judged
	// 3 is reports.ExitCode of verdict "inconclusive": the run completed
	// and nothing failed, but a check it was asked for could not be judged,
	// so a gate must not read it as a pass.
)

type command struct {
	doc string
	run func(args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"conformance": {"check TARGET (or the bundled mock) against PROFILE; exit 0 pass, 1 a gating rule failed, 2 config/harness error", conformanceCmd},
		"verdict":     {"read a conformance report, print the verdict, exit with its status", verdictCmd},
		"config":      {"validate the run configuration (TARGET, PROFILE, ...) and print it, secrets masked", configCmd},
		"image":       {"build the mock server image (FROM scratch, nothing pulled)", imageCmd},
		"load":        {"run a load profile against a target; exit 0 pass, 1 a threshold failed, 2 config/harness error, 3 a required check could not be judged", loadCmd},
		"merge":       {"merge shard results into one load report", mergeCmd},
		"compare":     {"compare a report against a baseline; exit 1 on regression", compareCmd},
		"report":      {"render HTML and the index page for a report directory", reportCmd},
	}
}

func main() {
	cmds := commands()
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: tokenharness <command> [flags]\n\ncommands:")
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, cmds[n].doc)
		}
	}
	flag.Parse()
	c, ok := cmds[flag.Arg(0)]
	if !ok {
		flag.Usage()
		os.Exit(exitConfig)
	}
	os.Exit(c.run(flag.Args()[1:]))
}
