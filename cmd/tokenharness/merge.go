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
// shards could not be merged or judged.
func mergeCmd(args []string) int {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	out := fs.String("out", "", "directory for the merged results.bin, report.json, report.html and plot.html")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tokenharness merge -out DIR shard-dir...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if *out == "" || fs.NArg() == 0 {
		fs.Usage()
		return exitConfig
	}
	l, err := load.Merge(*out, fs.Args()...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitConfig
	}
	printLoad(os.Stdout, l, *out)
	return load.ExitCode(l)
}
