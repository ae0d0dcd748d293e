package spiretest

import "syscall"

// dieWithParent kills the daemon if the test binary dies without running
// its cleanups (a panic, a timeout).
func dieWithParent(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
