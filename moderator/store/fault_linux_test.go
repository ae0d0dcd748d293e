package store_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/slimid/slimid/moderator/store"
)

// faultEnv selects a child mode of this test binary: "readonly:DIR" or
// "diskfull:DIR".
const faultEnv = "SLIMID_STORE_FAULT_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(faultEnv); mode != "" {
		kind, dir, _ := strings.Cut(mode, ":")
		if err := runFault(kind, dir); err != nil {
			fmt.Println(err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runFault runs in the child and prints the error the store returned.
func runFault(kind, dir string) error {
	switch kind {
	case "readonly":
		// This process has its own mount namespace: make dir read-only in it.
		if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("setup: bind mount: %v", err)
		}
		if err := syscall.Mount("", dir, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("setup: remount read-only: %v", err)
		}
		_, err := store.Open(dir)
		return err
	case "diskfull":
		s, err := store.Open(dir)
		if err != nil {
			return fmt.Errorf("setup: %v", err)
		}
		defer s.Close()
		fi, err := os.Stat(s.Path())
		if err != nil {
			return fmt.Errorf("setup: %v", err)
		}
		// The file may not grow: the next change needs more room than the
		// file has, as on a full disk.
		lim := &syscall.Rlimit{Cur: uint64(fi.Size()), Max: uint64(fi.Size())}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, lim); err != nil {
			return fmt.Errorf("setup: %v", err)
		}
		ch := add(2, 2, "bob")
		ch.State = bytes.Repeat([]byte("s"), 4<<20)
		err = s.Apply(name, ch)
		if g, lerr := s.Load(name); lerr != nil || g.Epoch != 1 {
			return fmt.Errorf("after the failed write the store reads %v, %v; want epoch 1", g, lerr)
		}
		return err
	}
	return fmt.Errorf("setup: unknown fault %q", kind)
}

// runChild runs this test binary in a fault mode and returns what it
// printed.
func runChild(t *testing.T, mode string, attr *syscall.SysProcAttr) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), faultEnv+"="+mode)
	cmd.SysProcAttr = attr
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("cannot run the fault child (%v); this needs Linux with mount namespaces", err)
	}
	if s := string(out); strings.HasPrefix(s, "setup: ") {
		t.Skipf("cannot set up the fault: %s", strings.TrimSpace(s))
	}
	return strings.TrimSpace(string(out))
}

// epochOne is a state directory with a group at epoch 1.
func epochOne(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	s := open(t, dir)
	create(t, s)
	if err := s.Apply(name, add(1, 1, "alice")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return dir
}

// intact checks that the group is still at epoch 1 and the file is sound.
func intact(t *testing.T, dir string) {
	t.Helper()
	s := open(t, dir)
	g, err := s.Load(name)
	if err != nil || g.Epoch != 1 || string(g.State) != "state1" || len(g.Roster) != 2 || len(g.Outbox) != 1 {
		t.Fatalf("after the fault: %+v, %v", g, err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlyStateDirectory(t *testing.T) {
	dir := epochOne(t)
	attr := &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if os.Geteuid() != 0 {
		attr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		}
	}
	got := runChild(t, "readonly:"+dir, attr)
	db := filepath.Join(dir, store.FileName)
	want := fmt.Sprintf("store: read-only: opening %s: open %s: read-only file system; make %s writable (or use another state directory); the previous state is intact", db, db, db)
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	intact(t, dir)
}

func TestDiskFull(t *testing.T) {
	dir := epochOne(t)
	got := runChild(t, "diskfull:"+dir, nil)
	db := filepath.Join(dir, store.FileName)
	prefix := `store: disk full: saving group "org/ns/channel" at epoch 2: `
	suffix := fmt.Sprintf("; free space on the disk holding %s and retry; the previous state is intact", db)
	if !strings.HasPrefix(got, prefix) || !strings.HasSuffix(got, suffix) {
		t.Fatalf("got  %s\nwant %s...%s", got, prefix, suffix)
	}
	if !strings.Contains(got, "file too large") {
		t.Fatalf("the cause is not EFBIG: %s", got)
	}
	intact(t, dir)
}
