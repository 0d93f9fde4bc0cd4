package main

// loadCmd is not built yet.
func loadCmd(args []string) int { return exitConfig }
