package tsmls

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// startTimeout bounds npm ci plus the first answer of a fresh process.
	startTimeout = 5 * time.Minute
	// minNode is the oldest Node.js that ts-mls's @noble dependencies support.
	minNodeMajor, minNodeMinor = 20, 19
)

// Start installs the peer's node modules if needed, starts `node peer.mjs`
// and stops it when the test ends. It skips the test under -short and where
// Node.js 20.19+ or npm is missing, and fails it if installation fails.
func Start(t testing.TB) *Peer {
	t.Helper()
	if testing.Short() {
		t.Skip("ts-mls peer not started under -short: run without -short to interoperate with ts-mls")
	}
	if err := checkNode(t.Context()); err != nil {
		t.Skip(err.Error())
	}
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	dir := nodeDir()
	if err := install(ctx, dir); err != nil {
		t.Fatalf("install the ts-mls peer: %v", err)
	}
	p, err := start(dir)
	if err != nil {
		t.Fatalf("start the ts-mls peer: %v", err)
	}
	t.Cleanup(p.stop)
	if _, err := p.Version(ctx); err != nil {
		t.Fatalf("ts-mls peer does not answer: %v", err)
	}
	return p
}

// nodeDir is the node project beside this source file, wherever the
// importing test runs from.
func nodeDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node")
}

func checkNode(ctx context.Context) error {
	if _, err := exec.LookPath("npm"); err != nil {
		return errors.New("ts-mls peer needs npm on PATH: install Node.js 20.19 or later to interoperate with ts-mls")
	}
	out, err := exec.CommandContext(ctx, "node", "--version").Output()
	if err != nil {
		return fmt.Errorf("ts-mls peer needs node on PATH (%v): install Node.js 20.19 or later to interoperate with ts-mls", err)
	}
	version := strings.TrimSpace(string(out))
	if !nodeRecentEnough(version) {
		return fmt.Errorf("ts-mls peer needs Node.js %d.%d or later, found %q: upgrade node to interoperate with ts-mls", minNodeMajor, minNodeMinor, version)
	}
	return nil
}

// nodeRecentEnough reads `node --version` output such as "v20.19.2".
func nodeRecentEnough(version string) bool {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return major > minNodeMajor || (major == minNodeMajor && minor >= minNodeMinor)
}
