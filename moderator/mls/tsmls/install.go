package tsmls

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// installMarker sits inside node_modules and holds the digest of the
// manifest files that node_modules was installed from.
const installMarker = ".slimid-install-digest"

// manifests are the files that decide what npm ci installs.
var manifests = []string{"package.json", "package-lock.json", ".npmrc"}

// install makes dir/node_modules match the committed lock file. It runs
// npm ci only when the marker's digest differs from the manifests', so a
// machine that installed once works offline; a file lock serializes the
// test binaries of parallel packages that would otherwise install at once.
func install(ctx context.Context, dir string) error {
	want, err := manifestDigest(dir)
	if err != nil {
		return err
	}
	marker := filepath.Join(dir, "node_modules", installMarker)
	if installed(marker, want) {
		return nil
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".install.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if installed(marker, want) {
		return nil
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--prefer-offline", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s failed (it needs the npm registry once per lock file): %v: %s", dir, err, tail(out, 2000))
	}
	if err := os.WriteFile(marker, []byte(want), 0o600); err != nil {
		return fmt.Errorf("record the installed lock file digest: %w", err)
	}
	return nil
}

func installed(marker, want string) bool {
	got, err := os.ReadFile(marker)
	return err == nil && string(got) == want
}

func manifestDigest(dir string) (string, error) {
	h := sha256.New()
	for _, name := range manifests {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("read the ts-mls peer manifest: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lockFile takes an exclusive lock on path, polling so that ctx can end
// the wait; the returned function releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the install lock: %w", err)
	}
	for {
		err := tryLock(f)
		if err == nil {
			return func() { unlock(f); f.Close() }, nil
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for another npm ci to finish: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var errLocked = errors.New("held by another process")

// tail keeps the end of a command's output, where npm puts its error.
func tail(out []byte, n int) string {
	out = bytes.TrimSpace(out)
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return string(out)
}
