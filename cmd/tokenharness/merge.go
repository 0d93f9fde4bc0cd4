package main

import (
	"flag"
	"fmt"
	"os"

	"tokenharness/load"
)

// mergeCmd combines the run directories of a sharded load run
// (SHARD=0/n … n-1/n) into one report: `tokenharness merge -out DIR
// shard-dir...`. It exits like load: 0 pass, 1 a threshold broke, 2 the
// shards could not be merged (among them shards that did not run together,
// unless -allow-skew) or judged.
func mergeCmd(args []string) int {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	out := fs.String("out", "", "directory for the merged results.bin, report.json, report.html and plot.html")
	allowSkew := fs.Bool("allow-skew", false, "merge shards that did not start together (the report's shard_skew says so)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tokenharness merge [-allow-skew] -out DIR shard-dir...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return exitConfig
	}
	l, err := load.MergeWith(*out, load.MergeOptions{AllowSkew: *allowSkew}, fs.Args()...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitConfig
	}
	printLoad(os.Stdout, l, *out)
	return load.ExitCode(l)
}
