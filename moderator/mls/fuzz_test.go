package mls_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator/mls"
)

var updateFixtures = flag.Bool("update-fixtures", false, "rewrite the fuzz seed corpora and the member state FuzzProcess targets")

// memberStatePath is a saved member ("bob") of a three-member suite 0x0001
// group; the FuzzProcess seeds are real messages for its epoch.
const memberStatePath = "testdata/fuzz_member_state.json"

func FuzzDecodeKeyPackage(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		kp, err := mls.DecodeKeyPackage(data)
		if err != nil {
			if !errors.Is(err, mls.ErrKeyPackage) {
				t.Fatalf("refusal %v does not wrap ErrKeyPackage", err)
			}
			return
		}
		for _, s := range suites {
			_ = kp.Validate(mls.Requirements{Suite: s, Now: time.Now(), CredentialTypes: []mls.CredentialType{mls.CredentialBasic}})
		}
		again, err := mls.DecodeKeyPackage(kp.Bytes())
		if err != nil || again.Ref() != kp.Ref() {
			t.Fatalf("re-encoded key package does not decode to the same reference: %v", err)
		}
	})
}

func FuzzProcess(f *testing.F) {
	state, err := os.ReadFile(memberStatePath)
	if err != nil {
		f.Fatalf("reading the member state (regenerate with -update-fixtures): %v", err)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		g, err := mls.RestoreGroup(state)
		if err != nil {
			t.Fatalf("restoring the member: %v", err)
		}
		epoch := g.Epoch()
		m, err := g.Process(msg)
		if err == nil {
			if m == nil {
				t.Fatalf("no error and no message")
			}
			return
		}
		if !errors.Is(err, mls.ErrMessage) && !errors.Is(err, mls.ErrWrongEpoch) {
			t.Fatalf("refusal %v wraps neither ErrMessage nor ErrWrongEpoch", err)
		}
		if _, serr := g.State(); !errors.Is(serr, mls.ErrDamaged) && g.Epoch() != epoch {
			t.Fatalf("a refused message moved the group from epoch %d to %d", epoch, g.Epoch())
		}
	})
}

// TestFuzzFixtures checks that the valid FuzzProcess seeds still process
// against the saved member, so the corpus keeps reaching deep paths.
// Run with -update-fixtures to regenerate the corpora.
func TestFuzzFixtures(t *testing.T) {
	if *updateFixtures {
		writeFuzzFixtures(t)
	}
	state, err := os.ReadFile(memberStatePath)
	if err != nil {
		t.Fatalf("reading %s (regenerate with -update-fixtures): %v", memberStatePath, err)
	}
	seeds, err := filepath.Glob("testdata/fuzz/FuzzProcess/valid_*")
	if err != nil || len(seeds) == 0 {
		t.Fatalf("no valid FuzzProcess seeds (regenerate with -update-fixtures): %v", err)
	}
	for _, path := range seeds {
		g, err := mls.RestoreGroup(state)
		if err != nil {
			t.Fatalf("restoring the member: %v", err)
		}
		if _, err := g.Process(readSeed(t, path)); err != nil {
			t.Fatalf("seed %s: %v", filepath.Base(path), err)
		}
	}
}

func writeFuzzFixtures(t *testing.T) {
	t.Helper()
	// Long lifetimes keep the seeds valid for years: mls-go checks key
	// package lifetimes against the clock when a commit adds a member.
	long := mls.Lifetime{NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2126, 1, 1, 0, 0, 0, 0, time.UTC)}
	bundle := func(suite mls.Suite, id string) *mls.KeyPackageBundle {
		b, err := mls.NewKeyPackage(newSigner(t, suite), basicCredential(t, id), long)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	kpSeeds := map[string][]byte{}
	for _, s := range suites {
		kp := bundle(s, "org/ns/alice_Ab3dE9xQ:1767225600:bm9uY2Vub25jZW5v::mac").KeyPackage()
		kpSeeds[fmt.Sprintf("basic_suite%d_mlsmessage", s)] = kp.Bytes()
		kpSeeds[fmt.Sprintf("basic_suite%d_bare", s)] = kp.BareBytes()
	}
	ca := newTestCA(t)
	key := p256Key(t)
	signer, _ := mls.NewSigner(mls.SuiteP256AES128GCM, key)
	cred, err := mls.NewX509Credential(ca.issue(t, key.Public(), "spiffe://example.org/agent-a", long.NotBefore, long.NotAfter))
	if err != nil {
		t.Fatal(err)
	}
	xb, err := mls.NewKeyPackage(signer, cred, long)
	if err != nil {
		t.Fatal(err)
	}
	kpSeeds["x509_suite2_mlsmessage"] = xb.KeyPackage().Bytes()
	writeSeeds(t, "FuzzDecodeKeyPackage", kpSeeds)

	suite := mls.SuiteX25519AES128GCM
	mod, err := mls.CreateGroup([]byte("org/ns/fuzz"), newSigner(t, suite), basicCredential(t, "moderator"))
	if err != nil {
		t.Fatal(err)
	}
	ab, bb := bundle(suite, "alice"), bundle(suite, "bob")
	c, err := mod.AddMembers(ab.KeyPackage(), bb.KeyPackage())
	if err != nil {
		t.Fatal(err)
	}
	alice, err := mls.JoinGroup(c.Welcome, ab)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := mls.JoinGroup(c.Welcome, bb)
	if err != nil {
		t.Fatal(err)
	}
	c, err = mod.CommitPending()
	if err != nil {
		t.Fatal(err)
	}
	old := c.Message
	deliver(t, c.Message, alice, bob)
	bobState, err := bob.State()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(memberStatePath, bobState, 0o600); err != nil {
		t.Fatal(err)
	}
	modState, err := mod.State()
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{
		"valid_application":     mustEncrypt(t, alice, "hello bob"),
		"invalid_old_commit":    old,
		"invalid_key_package":   kpSeeds["basic_suite1_mlsmessage"],
		"invalid_welcome":       c.Welcome,
		"invalid_empty_message": {0, 1, 0, 1},
	}
	// Alternative commits for bob's epoch, each from a fresh copy of the moderator.
	for name, ch := range map[string]mls.Changes{
		"valid_commit_add":        {Add: []*mls.KeyPackage{bundle(suite, "carol").KeyPackage()}},
		"valid_commit_remove_bob": {Remove: []mls.LeafIndex{bob.OwnLeaf()}},
		"valid_commit_private":    {Remove: []mls.LeafIndex{alice.OwnLeaf()}, Encrypt: true},
		"valid_commit_credential": {Credential: ptr(basicCredential(t, "moderator, renewed"))},
	} {
		m, err := mls.RestoreGroup(modState)
		if err != nil {
			t.Fatal(err)
		}
		c, err := m.Commit(ch)
		if err != nil {
			t.Fatal(err)
		}
		seeds[name] = c.Message
		if c.Welcome != nil {
			seeds["invalid_welcome"] = c.Welcome
		}
	}
	update, err := alice.ProposeUpdate(newSigner(t, suite), basicCredential(t, "alice, renewed"))
	if err != nil {
		t.Fatal(err)
	}
	seeds["valid_update_proposal"] = update
	writeSeeds(t, "FuzzProcess", seeds)
}

func ptr[T any](v T) *T { return &v }

func writeSeeds(t *testing.T, target string, seeds map[string][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, p := range old {
		if !strings.Contains(filepath.Base(p), "_") { // keep fuzzer-found crashers (hash names)
			continue
		}
		_ = os.Remove(p)
	}
	for name, data := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readSeed reads a seed file written by writeSeeds.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s is not a []byte seed", path)
	}
	var s string
	if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"), "%q", &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
