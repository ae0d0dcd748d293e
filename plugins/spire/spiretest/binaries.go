package spiretest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Version is the SPIRE release the harness runs, pinned by the tools module
// in testdata/tools/spire.
const Version = "v1.13.3"

// BinDirEnv names the environment variable that overrides where the SPIRE
// binaries are cached (and built when absent).
const BinDirEnv = "SLIMID_SPIRE_BIN_DIR"

// BuildTimeout bounds a cold build of both binaries (about 12 minutes on
// two cores).
const BuildTimeout = 25 * time.Minute

const (
	serverBinary = "spire-server"
	agentBinary  = "spire-agent"
	toolsModule  = "testdata/tools/spire"
	lockName     = ".build.lock"
)

// Binaries returns the paths of spire-server and spire-agent, building them
// first when they are absent. It skips under -short.
func Binaries(t testing.TB) (server, agent string) {
	t.Helper()
	skipShort(t)
	dir, err := BinDir()
	if err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	if !present(dir) {
		t.Logf("spiretest: building SPIRE %s into %s (a cold build takes 5-12 min; prebuild with `go run ./plugins/spire/spiretest/cmd/spirebuild`)", Version, dir)
	}
	ctx, cancel := context.WithTimeout(t.Context(), BuildTimeout)
	defer cancel()
	start := time.Now()
	if err := Build(ctx, dir, io.Discard); err != nil {
		t.Fatalf("spiretest: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("spiretest: SPIRE binaries ready after %s", d.Round(time.Second))
	}
	return filepath.Join(dir, serverBinary), filepath.Join(dir, agentBinary)
}

// BinDir is where the binaries live: $SLIMID_SPIRE_BIN_DIR, else
// ${XDG_CACHE_HOME:-~/.cache}/slimid/spire-<Version>.
func BinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return filepath.Abs(dir)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory: %v (set %s)", err, BinDirEnv)
	}
	return filepath.Join(cache, "slimid", "spire-"+Version), nil
}

// Build makes sure dir holds both binaries, building them from the tools
// module when absent. Concurrent callers, in this process or others, build
// once: they wait on a file lock in dir. Build output goes to log.
func Build(ctx context.Context, dir string, log io.Writer) error {
	if present(dir) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create %s: %v", dir, err)
	}
	unlock, err := lock(ctx, filepath.Join(dir, lockName))
	if err != nil {
		return err
	}
	defer unlock()
	if present(dir) {
		return nil // another process built them while we waited
	}
	module, err := findToolsModule()
	if err != nil {
		return err
	}
	// Build into a scratch directory and move the results into place, so
	// that a half-written binary is never taken for a finished one.
	scratch, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return fmt.Errorf("create a build directory in %s: %v", dir, err)
	}
	defer os.RemoveAll(scratch)
	cmd := exec.CommandContext(ctx, "go", "build", "-buildvcs=false", "-ldflags=-s -w", "-o", scratch+string(filepath.Separator),
		"github.com/spiffe/spire/cmd/spire-server", "github.com/spiffe/spire/cmd/spire-agent")
	cmd.Dir = module
	// cgo is required: the sqlite datastore compiles without it but the
	// server then refuses to start.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOWORK=off")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("build SPIRE %s in %s: gave up: %v", Version, module, ctx.Err())
		}
		return fmt.Errorf("build SPIRE %s in %s: %v (run the build by hand: cd %s && CGO_ENABLED=1 go build ./...)", Version, module, err, module)
	}
	// The agent goes last: present() checks both, so the server alone is
	// never taken for a complete set.
	for _, name := range []string{serverBinary, agentBinary} {
		if err := os.Rename(filepath.Join(scratch, name), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("install %s into %s: %v", name, dir, err)
		}
	}
	return nil
}

// present reports whether both binaries are in dir.
func present(dir string) bool {
	for _, name := range []string{serverBinary, agentBinary} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// lock takes an exclusive flock on path, polling so that ctx can end the
// wait.
func lock(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open build lock %s: %v", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %v", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("wait for another SPIRE build holding %s: %v", path, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// findToolsModule walks up from the working directory to the repository
// root that holds the SPIRE tools module.
func findToolsModule() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the SPIRE tools module: %v", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, toolsModule)
		if _, err := os.Stat(filepath.Join(candidate, "go.mod")); err == nil {
			return candidate, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no %s/go.mod above %s: run from inside the slimid repository or set %s to a directory holding spire-server and spire-agent", toolsModule, wd, BinDirEnv)
		}
	}
}
