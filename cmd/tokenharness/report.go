package main

// reportCmd is not built yet.
func reportCmd(args []string) int { return exitConfig }
