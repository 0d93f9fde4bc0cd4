package main

// verdictCmd is not built yet.
func verdictCmd(args []string) int { return exitConfig }
