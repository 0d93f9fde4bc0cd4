//go:build !unix

package codes

import "os/exec"

// killProcessGroup keeps exec's default: cancelling kills the shell only.
func killProcessGroup(*exec.Cmd) {}
