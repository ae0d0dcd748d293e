package broker_test

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// exitWaiter returns a function that blocks until pid's whole thread group
// has exited, the kernel's own notion of a process exit.
func exitWaiter(t *testing.T, pid int) func() {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return func() {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, 10_000)
			if !errors.Is(err, unix.EINTR) {
				if err != nil || fds[0].Revents == 0 {
					t.Errorf("process %d did not exit: %v", pid, err)
				}
				return
			}
		}
	}
}
