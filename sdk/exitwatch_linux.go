package sdk

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// pidWatch follows a process through a pidfd (Linux 5.3+): its exit is seen
// at once, and Alive can ask the kernel synchronously.
type pidWatch struct {
	mu     sync.RWMutex
	fd     int
	exited chan struct{}
}

func watchPid(pid int) (*pidWatch, bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, false
	}
	w := &pidWatch{fd: fd, exited: make(chan struct{})}
	go w.wait()
	return w, true
}

func (w *pidWatch) wait() {
	for {
		_, err := w.poll(-1)
		if err == nil || !errors.Is(err, unix.EINTR) {
			break
		}
	}
	close(w.exited)
	w.mu.Lock()
	unix.Close(w.fd)
	w.fd = -1
	w.mu.Unlock()
}

func (w *pidWatch) poll(timeout int) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, timeout)
	return n > 0, err
}

// alive asks the kernel whether the process is still running (~0.4 µs).
func (w *pidWatch) alive() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.fd < 0 {
		return false
	}
	for {
		ready, err := w.poll(0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && !ready
	}
}
