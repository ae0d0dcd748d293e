//go:build !linux

package spiretest

import "syscall"

// dieWithParent has no portable equivalent outside Linux: cleanups end the
// daemons.
func dieWithParent(*syscall.SysProcAttr) {}
