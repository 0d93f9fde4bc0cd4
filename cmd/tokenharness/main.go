// Command tokenharness is a thin adapter from flags and environment to the
// tokenharness libraries, in the style of vegeta's command map: each
// subcommand lives in its own file and does no work of its own.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
)

// Exit statuses shared by every subcommand.
const (
	exitOK     = 0
	exitFailed = 1 // a gate failed: a MUST rule, a load threshold, a regression
	exitConfig = 2 // bad configuration or a harness error; nothing was judged
	// 3 is reports.ExitCode of verdict "inconclusive": nothing failed, but a
	// gating rule or a required check could not be judged, so a gate must
	// not read it as a pass.
)

type command struct {
	doc string
	run func(args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"conformance": {"check TARGET (or the bundled mock) against PROFILE; exit 0 pass, 1 a gating rule failed, 2 config/harness error, 3 a gating rule could not be judged", conformanceCmd},
		"verdict":     {"read a conformance report, print the verdict, exit with its status", verdictCmd},
		"config":      {"resolve the run configuration as conformance does and print it, secrets masked; writes nothing", configCmd},
		"rules":       {"list the rules: ID, level, profiles and policies, the mock's fault switch", rulesCmd},
		"image":       {"build the mock server image (FROM scratch, nothing pulled)", imageCmd},
		"load":        {"run a load profile against a target; exit 0 pass, 1 a threshold failed, 2 config/harness error, 3 a required check could not be judged", loadCmd},
		"merge":       {"merge shard results into one load report", mergeCmd},
		"compare":     {"compare a report against a baseline; exit 1 on regression", compareCmd},
		"report":      {"render HTML and the index page for a report directory", reportCmd},
		"version":     {"print the version", versionCmd},
		"help":        {"list the commands", helpCmd},
	}
}

func usage() { usageTo(os.Stderr) }

func usageTo(w io.Writer) {
	cmds := commands()
	fmt.Fprintln(w, "usage: tokenharness <command> [flags]    (tokenharness <command> -h lists a command's flags)\n\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, cmds[n].doc)
	}
}

func helpCmd([]string) int { usageTo(os.Stdout); return exitOK }

// version is set at build time (-ldflags "-X main.version=..."); a plain
// build reports the module's VCS information when it has any.
var version = ""

func versionCmd([]string) int {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "" {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += " " + s.Value
			}
		}
	}
	if strings.TrimSpace(v) == "" || v == "(devel)" {
		v = "devel"
	}
	fmt.Println("tokenharness", strings.TrimSpace(v), runtime.Version())
	return exitOK
}

func main() {
	flag.Usage = usage
	flag.Parse()
	if flag.NArg() == 0 {
		usage()
		os.Exit(exitConfig)
	}
	c, ok := commands()[flag.Arg(0)]
	if !ok {
		fmt.Fprintf(os.Stderr, "tokenharness: unknown command %q; 'tokenharness help' lists the commands\n", flag.Arg(0))
		os.Exit(exitConfig)
	}
	os.Exit(c.run(flag.Args()[1:]))
}
