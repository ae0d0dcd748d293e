package tsmls

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestInstallOncePerLockFile: concurrent installers serialize, a matching
// marker needs no npm at all, and a changed manifest installs again.
func TestInstallOncePerLockFile(t *testing.T) {
	if testing.Short() {
		t.Skip("npm ci not run under -short: run without -short to test the ts-mls peer installer")
	}
	if err := checkNode(t.Context()); err != nil {
		t.Skip(err.Error())
	}
	dir := t.TempDir()
	for _, name := range manifests {
		data, err := os.ReadFile(filepath.Join(nodeDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = install(t.Context(), dir) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ts-mls", "package.json")); err != nil {
		t.Fatalf("ts-mls not installed: %v", err)
	}

	t.Setenv("PATH", t.TempDir()) // no npm from here on
	if err := install(t.Context(), dir); err != nil {
		t.Fatalf("install with a matching marker ran npm: %v", err)
	}

	manifest := filepath.Join(dir, "package.json")
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	err = install(t.Context(), dir)
	if err == nil || !strings.HasPrefix(err.Error(), "npm ci in "+dir+" failed (it needs the npm registry once per lock file): ") {
		t.Fatalf("install after a manifest change: err = %v, want npm ci to run and fail without npm", err)
	}
}
