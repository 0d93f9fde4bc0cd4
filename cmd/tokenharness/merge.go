package main

// mergeCmd is not built yet.
func mergeCmd(args []string) int { return exitConfig }
