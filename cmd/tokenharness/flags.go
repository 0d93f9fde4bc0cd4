package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"tokenharness/internal/plan"
)

// varFlags declares one string flag per variable (TARGET → --target,
// CLIENT_ID → --client-id) and returns the lookup the libraries resolve
// from: a flag given on the command line wins, else the environment. So
// every input has one name in each world and one resolution (internal/plan).
func varFlags(name string, vars []string) (*flag.FlagSet, func(string) string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	vals := map[string]*string{}
	for _, v := range vars {
		vals[v] = fs.String(flagName(v), "", "(env "+v+")")
	}
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "usage: tokenharness %s [flags]\n\n%s\n\nflags (each falls back to its environment variable):\n", name, commands()[name].doc)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%-18s %s\n", f.Name, f.Usage)
		})
	}
	return fs, func(k string) string {
		if p, ok := vals[k]; ok && isSet(fs, flagName(k)) {
			return *p
		}
		return os.Getenv(k)
	}
}

func flagName(env string) string { return plan.FlagName(env) }

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseFlags parses args; done is true when the command must stop with code:
// 0 after -h, 2 after a bad flag or a stray argument (the flag package has
// already said which).
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitConfig, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "tokenharness %s: unexpected argument %q (flags take the form --name=value; -h lists them)\n", fs.Name(), fs.Arg(0))
		return exitConfig, true
	}
	return 0, false
}
