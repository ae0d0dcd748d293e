package spiffehelper_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeMode is how files in cert_dir get replaced.
type writeMode string

const (
	// inPlace is what spiffe-helper does: truncate, then write, with no
	// atomicity; a reader can see an empty or half-written file.
	inPlace writeMode = "in-place"
	// renameOver writes a temporary file and renames it over the old one.
	renameOver writeMode = "rename-over"
	// dataSwap is Kubernetes' atomic writer: the files are symlinks into
	// ..data, a symlink to a timestamped directory that a swap replaces.
	dataSwap writeMode = "data-symlink-swap"
)

var writeModes = []writeMode{inPlace, renameOver, dataSwap}

// file is one file of cert_dir and its new content.
type file struct {
	name string
	data []byte
}

// helperDir is a cert_dir written the way spiffe-helper or the kubelet
// write it.
type helperDir struct {
	t    testing.TB
	dir  string
	mode writeMode
	// pause is how long an in-place write stalls after truncating and
	// again halfway through.
	pause time.Duration
	// all is every file's content, for ..data swaps that rewrite the set.
	all     map[string][]byte
	swaps   int
	dataDir string
}

func newHelperDir(t testing.TB, mode writeMode, pause time.Duration) *helperDir {
	return &helperDir{t: t, dir: t.TempDir(), mode: mode, pause: pause, all: map[string][]byte{}}
}

func (h *helperDir) path(name string) string { return filepath.Join(h.dir, name) }

// write replaces files: one after the other in place or by rename, or all
// in one ..data swap.
func (h *helperDir) write(files ...file) {
	h.t.Helper()
	switch h.mode {
	case inPlace:
		for _, f := range files {
			h.writeInPlace(f)
		}
	case renameOver:
		for _, f := range files {
			h.renameOver(f)
		}
	case dataSwap:
		for _, f := range files {
			h.all[f.name] = f.data
		}
		h.swap()
	}
}

// writeInPlace truncates the file, pauses, writes the first half, pauses,
// writes the rest: a slow spiffe-helper as a reader may catch it.
func (h *helperDir) writeInPlace(f file) {
	h.t.Helper()
	out, err := os.OpenFile(h.path(f.name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		h.t.Fatalf("open %s: %v", f.name, err)
	}
	defer out.Close()
	cut := len(f.data) / 2
	for i, part := range [][]byte{nil, f.data[:cut], f.data[cut:]} {
		if i > 0 {
			time.Sleep(h.pause)
		}
		if _, err := out.Write(part); err != nil {
			h.t.Fatalf("write %s: %v", f.name, err)
		}
	}
}

func (h *helperDir) renameOver(f file) {
	h.t.Helper()
	tmp := h.path("." + f.name + ".tmp")
	if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
		h.t.Fatalf("write %s: %v", tmp, err)
	}
	if err := os.Rename(tmp, h.path(f.name)); err != nil {
		h.t.Fatalf("rename over %s: %v", f.name, err)
	}
}

// swap does what the kubelet's atomic writer does: write every file into a
// new timestamped directory, point ..data_tmp at it, rename ..data_tmp over
// ..data, add the user-visible symlinks that are missing, and remove the
// previous directory.
func (h *helperDir) swap() {
	h.t.Helper()
	h.swaps++
	ts := fmt.Sprintf("..2026_12_04_17_00_00.%09d", h.swaps)
	if err := os.Mkdir(h.path(ts), 0o755); err != nil {
		h.t.Fatalf("mkdir: %v", err)
	}
	for name, data := range h.all {
		if err := os.WriteFile(filepath.Join(h.path(ts), name), data, 0o600); err != nil {
			h.t.Fatalf("write %s: %v", name, err)
		}
	}
	if err := os.Symlink(ts, h.path("..data_tmp")); err != nil {
		h.t.Fatalf("symlink ..data_tmp: %v", err)
	}
	if err := os.Rename(h.path("..data_tmp"), h.path("..data")); err != nil {
		h.t.Fatalf("swap ..data: %v", err)
	}
	for name := range h.all {
		if _, err := os.Lstat(h.path(name)); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), h.path(name)); err != nil {
				h.t.Fatalf("symlink %s: %v", name, err)
			}
		}
	}
	if h.dataDir != "" {
		if err := os.RemoveAll(h.path(h.dataDir)); err != nil {
			h.t.Fatalf("remove old data dir: %v", err)
		}
	}
	h.dataDir = ts
}
