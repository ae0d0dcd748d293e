package sdk

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the plugin when the broker dies, even by
// SIGKILL, so no plugin outlives it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
