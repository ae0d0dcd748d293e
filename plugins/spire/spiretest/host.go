package spiretest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxSocketPath is the room for a unix socket path (sun_path, with its
// terminating NUL).
const maxSocketPath = 107

// shortTempDir makes a directory whose socket paths fit in sun_path; the
// test's own TempDir is often too deep.
func shortTempDir() (string, error) {
	for _, base := range []string{os.TempDir(), "/tmp"} {
		dir, err := os.MkdirTemp(base, "spt")
		if err != nil {
			continue
		}
		if len(filepath.Join(dir, "a.sock")) <= maxSocketPath {
			return dir, nil
		}
		_ = os.RemoveAll(dir)
	}
	return "", errors.New("no temporary directory short enough for unix sockets (108 bytes): set TMPDIR to a short path")
}

// freePort finds a loopback TCP port nobody listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logSays reports whether a daemon's log mentions text.
func logSays(path, text string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(data), text)
}

// dumpLogs shows the tail of both logs when a test failed.
func (e *Env) dumpLogs(t testing.TB) {
	for _, path := range []string{e.layout.ServerLog, e.layout.AgentLog} {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("spiretest: last lines of %s:\n%s", filepath.Base(path), strings.Join(lines, "\n"))
	}
}
