//go:build unix

package codes

import (
	"os/exec"
	"syscall"
)

// killProcessGroup runs cmd in its own process group and makes cancelling
// it kill the whole group: `sh -c "curl …"` would otherwise leave curl
// running after sh is killed.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
