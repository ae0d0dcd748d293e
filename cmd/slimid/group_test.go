package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/mls"
)

// groupConfig has one plugin entry per party, sharing one secret, with
// stable subjects.
func groupConfig(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("plugins:\n")
	for _, who := range []string{"mod", "alice", "bob"} {
		fmt.Fprintf(&b, "  - name: %s\n    type: shared_secret\n    config: {id: org/ns/%s, random_suffix: false, data: %q}\n", who, who, secret)
	}
	return writeConfig(t, dir, b.String())
}

// slimid runs the binary in dir and fails the test unless it exits with
// wantCode; it returns stdout and stderr.
func slimid(t *testing.T, dir string, wantCode int, args ...string) (string, string) {
	t.Helper()
	for i, a := range args {
		if strings.HasPrefix(a, "@") { // a file in dir
			args[i] = filepath.Join(dir, a[1:])
		}
	}
	out, errOut, code := run(t, []string{"SLIMID_STATE_DIR=" + filepath.Join(dir, "slimid-state"), "XDG_RUNTIME_DIR="}, "", args...)
	if code != wantCode {
		t.Fatalf("slimid %s: exit %d (want %d)\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
	}
	return out, errOut
}

func TestGroupRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := groupConfig(t, dir)
	at := func(name string) string { return filepath.Join(dir, name) }

	out, _ := slimid(t, dir, 0, "group", "create", "--config", cfg, "--plugin", "mod", "--state", "@mod", "--group", "org/ns/chat", "--suite", "1", "--audience", "slim")
	var created struct {
		Group     string `json:"group"`
		Suite     int    `json:"suite"`
		Moderator string `json:"moderator"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Group != "org/ns/chat" || created.Suite != 1 || created.Moderator != "org/ns/mod" {
		t.Fatalf("create printed %s (%v)", out, err)
	}
	slimid(t, dir, 0, "keypackage", "--config", cfg, "--plugin", "alice", "--state", "@alice", "--suite", "1", "--audience", "slim", "--out", "@alice.kp")
	for _, p := range []string{"mod", "alice"} {
		if fi, err := os.Stat(at(p)); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("state directory %s: %v %v; want mode 0700", p, fi.Mode(), err)
		}
	}

	// Mallory puts alice's token in a key package of her own key.
	raw, err := os.ReadFile(at("alice.kp"))
	if err != nil {
		t.Fatal(err)
	}
	aliceKP, err := mls.DecodeKeyPackage(raw)
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := mls.GenerateSigner(mls.SuiteX25519AES128GCM)
	if err != nil {
		t.Fatal(err)
	}
	stolen, err := mls.NewKeyPackage(mallory, aliceKP.Credential(), mls.Lifetime{NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(at("stolen.kp"), stolen.KeyPackage().Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr := slimid(t, dir, 1, "group", "add", "--config", cfg, "--state", "@mod", "--key-package", "@stolen.kp", "--commit-out", "@c0", "--welcome-out", "@w0")
	want := fmt.Sprintf("slimid: token of \"org/ns/alice\" binds key %s but the leaf carries key %s; a token is valid only beside the key it binds\n",
		moderator.Fingerprint(aliceKP.SignatureKey()), moderator.Fingerprint(mallory.PublicKey()))
	if stderr != want {
		t.Fatalf("stderr %q\nwant   %q", stderr, want)
	}
	if _, err := os.Stat(at("c0")); err == nil {
		t.Fatal("a refused admission wrote a commit")
	}

	out, _ = slimid(t, dir, 0, "group", "add", "--config", cfg, "--state", "@mod", "--group", "org/ns/chat", "--key-package", "@alice.kp", "--commit-out", "@c1", "--welcome-out", "@w1")
	if !strings.Contains(out, `"subject": "org/ns/alice"`) || !strings.Contains(out, `"epoch": 1`) {
		t.Fatalf("add printed %s", out)
	}
	out, _ = slimid(t, dir, 0, "group", "inspect", "@w1")
	if !strings.Contains(out, aliceKP.Ref().String()) || !strings.Contains(out, `"wire_format": "mls_welcome"`) {
		t.Fatalf("inspect welcome: %s", out)
	}
	out, _ = slimid(t, dir, 0, "group", "inspect", "@c1")
	if !strings.Contains(out, `"content_type": "commit"`) || !strings.Contains(out, `"epoch": 0`) {
		t.Fatalf("inspect commit: %s", out)
	}
	out, _ = slimid(t, dir, 0, "group", "inspect", "--config", cfg, "--audience", "slim", "@alice.kp")
	if !strings.Contains(out, `"key_bound": true`) || !strings.Contains(out, `"subject": "org/ns/alice"`) {
		t.Fatalf("inspect key package: %s", out)
	}
	out, _ = slimid(t, dir, 0, "group", "join", "--state", "@alice", "--welcome", "@w1")
	if !strings.Contains(out, `"leaf": 1`) {
		t.Fatalf("join printed %s", out)
	}

	slimid(t, dir, 0, "group", "send", "--state", "@alice", "--text", "hello from alice", "--out", "@m1")
	if out, _ := slimid(t, dir, 0, "group", "receive", "--state", "@mod", "--in", "@m1"); out != "hello from alice\n" {
		t.Fatalf("moderator received %q", out)
	}
	slimid(t, dir, 0, "group", "send", "--state", "@mod", "--text", "hello from the moderator", "--out", "@m2")
	if out, _ := slimid(t, dir, 0, "group", "receive", "--state", "@alice", "--in", "@m2"); out != "hello from the moderator\n" {
		t.Fatalf("alice received %q", out)
	}

	// Bob joins; alice applies the commit, twice (the second is ignored).
	slimid(t, dir, 0, "keypackage", "--config", cfg, "--plugin", "bob", "--state", "@bob", "--suite", "1", "--audience", "slim", "--out", "@bob.kp")
	slimid(t, dir, 0, "group", "add", "--config", cfg, "--state", "@mod", "--key-package", "@bob.kp", "--commit-out", "@c2", "--welcome-out", "@w2")
	slimid(t, dir, 0, "group", "join", "--state", "@bob", "--welcome", "@w2")
	slimid(t, dir, 0, "group", "receive", "--state", "@alice", "--in", "@c2")
	slimid(t, dir, 0, "group", "receive", "--state", "@alice", "--in", "@c2")
	slimid(t, dir, 0, "group", "send", "--state", "@bob", "--text", "hello from bob", "--out", "@m3")
	if out, _ := slimid(t, dir, 0, "group", "receive", "--state", "@alice", "--in", "@m3"); out != "hello from bob\n" {
		t.Fatalf("alice received %q", out)
	}

	slimid(t, dir, 0, "group", "remove", "--state", "@mod", "--member", "org/ns/alice", "--commit-out", "@c3")
	_, stderr = slimid(t, dir, 0, "group", "receive", "--state", "@alice", "--in", "@c3")
	if stderr != "slimid: this member was removed from group \"org/ns/chat\" at epoch 3\n" {
		t.Fatalf("alice on removal: %q", stderr)
	}
	slimid(t, dir, 0, "group", "receive", "--state", "@bob", "--in", "@c3")
	_, stderr = slimid(t, dir, 2, "group", "send", "--state", "@alice", "--text", "still here?", "--out", "@m4")
	if stderr != "slimid: mls: this member was removed from the group\n" {
		t.Fatalf("send after removal: %q", stderr)
	}
	slimid(t, dir, 0, "group", "send", "--state", "@bob", "--text", "bye", "--out", "@m5")
	if out, _ := slimid(t, dir, 0, "group", "receive", "--state", "@mod", "--in", "@m5"); out != "bye\n" {
		t.Fatalf("moderator received %q", out)
	}
}
