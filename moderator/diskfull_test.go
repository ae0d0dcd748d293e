//go:build unix

package moderator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/store"
)

// diskFullEnv names the state directory of the disk-full child.
const diskFullEnv = "SLIMID_MODERATOR_DISKFULL_CHILD"

func init() { children[diskFullEnv] = runDiskFull }

type diskFullReport struct {
	Err          string `json:"err"`
	IsDiskFull   bool   `json:"is_disk_full"`
	EpochAfter   uint64 `json:"epoch_after"`
	RetriedEpoch uint64 `json:"retried_epoch"`
	RetryErr     string `json:"retry_err"`
}

// runDiskFull admits many members while the database file may not grow,
// then again once it may.
func runDiskFull(dir string) int {
	ctx := context.Background()
	t := &testing.T{}
	var rep diskFullReport
	defer func() { json.NewEncoder(os.Stdout).Encode(rep) }()
	cfg, err := broker.ParseConfig([]byte(brokerYAML(secretA, false, "")), dir)
	if err != nil {
		rep.Err = "setup: " + err.Error()
		return 0
	}
	b, err := broker.New(ctx, cfg, broker.Options{Builtins: builtins})
	if err != nil {
		rep.Err = "setup: " + err.Error()
		return 0
	}
	defer b.Close()
	mod, err := moderator.Open(ctx, moderator.Config{StateDir: dir, Verifier: b})
	if err != nil {
		rep.Err = "setup: " + err.Error()
		return 0
	}
	defer mod.Close()
	e := &env{t: t, suite: 1}
	var kps [][]byte
	for i := range 40 {
		kps = append(kps, e.newCandidate(fmt.Sprintf("org/ns/m%02d", i)).kp())
	}
	fi, err := os.Stat(filepath.Join(dir, store.FileName))
	if err != nil {
		rep.Err = "setup: " + err.Error()
		return 0
	}
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim)
	full := syscall.Rlimit{Cur: uint64(fi.Size()), Max: lim.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &full); err != nil {
		rep.Err = "setup: " + err.Error()
		return 0
	}
	_, err = mod.Admit(ctx, group, kps...)
	if err != nil {
		rep.Err, rep.IsDiskFull = err.Error(), errors.Is(err, store.ErrDiskFull)
	}
	info, _ := mod.Group(group)
	rep.EpochAfter = info.Epoch
	syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim)
	res, err := mod.Admit(ctx, group, kps...)
	if err != nil {
		rep.RetryErr = err.Error()
		return 0
	}
	rep.RetriedEpoch = res.Epoch
	return 0
}

func TestDiskFullAdmissionIsRolledBack(t *testing.T) {
	e := newEnv(t, envOptions{brokerTokens: true})
	_, ms := e.admit(e.newCandidate("org/ns/alice"))
	if err := e.mod.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), diskFullEnv+"="+e.dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var rep diskFullReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.HasPrefix(rep.Err, "setup: ") {
		t.Skipf("cannot limit the file size: %s", rep.Err)
	}
	prefix := `moderator: group "org/ns/channel": the commit to epoch 2 was dropped: store: disk full: saving group "org/ns/channel" at epoch 2: `
	if !rep.IsDiskFull || !strings.HasPrefix(rep.Err, prefix) || !strings.Contains(rep.Err, "file too large") {
		t.Fatalf("admission while the disk is full: %q\nwant %s...file too large...", rep.Err, prefix)
	}
	if rep.EpochAfter != 1 || rep.RetriedEpoch != 2 || rep.RetryErr != "" {
		t.Fatalf("after the failure the group is at epoch %d (want 1); the retry reached %d (want 2), error %q", rep.EpochAfter, rep.RetriedEpoch, rep.RetryErr)
	}
	e.open()
	info, err := e.mod.Group(group)
	if err != nil || info.Epoch != 2 || info.Members != 42 {
		t.Fatalf("after restart: %+v, %v", info, err)
	}
	pending, _ := e.mod.Pending(group)
	deliver(t, &pending[len(pending)-1], ms...)
	e.converged(ms...)
}
