//go:build !linux

package sdk

import "os/exec"

// dieWithParent has no portable equivalent outside Linux; go-plugin's own
// cleanup ends plugins when the broker exits normally.
func dieWithParent(*exec.Cmd) {}
