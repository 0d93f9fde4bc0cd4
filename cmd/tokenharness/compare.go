package main

// compareCmd is not built yet.
func compareCmd(args []string) int { return exitConfig }
