package mls_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/slimid/slimid/moderator/mls"
)

var suites = []mls.Suite{mls.SuiteX25519AES128GCM, mls.SuiteP256AES128GCM, mls.SuiteX25519ChaCha20Poly1305}

// testNow is the fixed time key packages in tests are checked against.
var testNow = time.Now().Truncate(time.Second)

func dayLifetime() mls.Lifetime {
	return mls.Lifetime{NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour)}
}

func basicCredential(t testing.TB, identity string) mls.Credential {
	t.Helper()
	cred, err := mls.NewBasicCredential([]byte(identity))
	if err != nil {
		t.Fatalf("basic credential %q: %v", identity, err)
	}
	return cred
}

func newSigner(t testing.TB, suite mls.Suite) *mls.Signer {
	t.Helper()
	s, err := mls.GenerateSigner(suite)
	if err != nil {
		t.Fatalf("signer for %v: %v", suite, err)
	}
	return s
}

// newBundle builds a key package with a Basic credential for identity.
func newBundle(t testing.TB, suite mls.Suite, identity string) *mls.KeyPackageBundle {
	t.Helper()
	b, err := mls.NewKeyPackage(newSigner(t, suite), basicCredential(t, identity), dayLifetime())
	if err != nil {
		t.Fatalf("key package for %s: %v", identity, err)
	}
	return b
}

// newModerator creates a group whose creator is "moderator".
func newModerator(t testing.TB, suite mls.Suite) *mls.Group {
	t.Helper()
	g, err := mls.CreateGroup([]byte("org/ns/channel"), newSigner(t, suite), basicCredential(t, "moderator"))
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	return g
}

// addAndJoin adds one member per identity in one commit and joins each from
// the Welcome; the returned groups are in identity order.
func addAndJoin(t testing.TB, mod *mls.Group, existing []*mls.Group, identities ...string) []*mls.Group {
	t.Helper()
	bundles := make([]*mls.KeyPackageBundle, len(identities))
	kps := make([]*mls.KeyPackage, len(identities))
	for i, id := range identities {
		bundles[i] = newBundle(t, mod.Suite(), id)
		kp, err := mls.DecodeKeyPackage(bundles[i].KeyPackage().Bytes())
		if err != nil {
			t.Fatalf("decode key package of %s: %v", id, err)
		}
		if err := mod.ValidateKeyPackage(kp, testNow); err != nil {
			t.Fatalf("validate key package of %s: %v", id, err)
		}
		kps[i] = kp
	}
	c, err := mod.AddMembers(kps...)
	if err != nil {
		t.Fatalf("add %v: %v", identities, err)
	}
	if len(c.Added) != len(identities) || c.Welcome == nil {
		t.Fatalf("add %v: got %d added leaves, welcome %t", identities, len(c.Added), c.Welcome != nil)
	}
	deliver(t, c.Message, existing...)
	joined := make([]*mls.Group, len(identities))
	for i, b := range bundles {
		g, err := mls.JoinGroup(c.Welcome, b)
		if err != nil {
			t.Fatalf("join of %s: %v", identities[i], err)
		}
		if g.OwnLeaf() != c.Added[i] {
			t.Fatalf("%s joined at leaf %d, the commit reported %d", identities[i], g.OwnLeaf(), c.Added[i])
		}
		joined[i] = g
	}
	return joined
}

// deliver processes a commit at each group and checks it was a commit.
func deliver(t testing.TB, commit []byte, groups ...*mls.Group) {
	t.Helper()
	for i, g := range groups {
		m, err := g.Process(commit)
		if err != nil {
			t.Fatalf("member %d processing commit: %v", i, err)
		}
		if m.Kind != mls.KindCommit {
			t.Fatalf("member %d: processed a %v, want a commit", i, m.Kind)
		}
	}
}

// requireInSync checks that all groups share epoch, epoch authenticator,
// exporter output and member list.
func requireInSync(t testing.TB, groups ...*mls.Group) {
	t.Helper()
	first := groups[0]
	wantAuth := first.EpochAuthenticator()
	wantExport, err := first.Export("slimid test", []byte("ctx"), 32)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	wantMembers := describeMembers(first.Members())
	for i, g := range groups[1:] {
		if g.Epoch() != first.Epoch() {
			t.Fatalf("member %d at epoch %d, member 0 at %d", i+1, g.Epoch(), first.Epoch())
		}
		if !bytes.Equal(g.EpochAuthenticator(), wantAuth) {
			t.Fatalf("member %d has another epoch authenticator at epoch %d", i+1, g.Epoch())
		}
		got, err := g.Export("slimid test", []byte("ctx"), 32)
		if err != nil || !bytes.Equal(got, wantExport) {
			t.Fatalf("member %d exporter differs (err %v)", i+1, err)
		}
		if d := describeMembers(g.Members()); d != wantMembers {
			t.Fatalf("member %d sees members\n%s\nmember 0 sees\n%s", i+1, d, wantMembers)
		}
	}
}

func describeMembers(ms []mls.Member) string {
	var b bytes.Buffer
	for _, m := range ms {
		fmt.Fprintf(&b, "%d %v %q %x\n", m.Leaf, m.Credential.Type(), m.Credential.Identity(), m.SignatureKey)
	}
	return b.String()
}

// requireTalk checks that an application message from sender reaches every
// receiver.
func requireTalk(t testing.TB, sender *mls.Group, receivers ...*mls.Group) {
	t.Helper()
	text := []byte(fmt.Sprintf("hello from leaf %d at epoch %d", sender.OwnLeaf(), sender.Epoch()))
	msg, err := sender.Encrypt(text)
	if err != nil {
		t.Fatalf("leaf %d encrypt: %v", sender.OwnLeaf(), err)
	}
	for _, r := range receivers {
		m, err := r.Process(msg)
		if err != nil {
			t.Fatalf("leaf %d decrypting from leaf %d: %v", r.OwnLeaf(), sender.OwnLeaf(), err)
		}
		if m.Kind != mls.KindApplication || m.Sender != sender.OwnLeaf() || !bytes.Equal(m.Data, text) {
			t.Fatalf("leaf %d got %v from %d %q, want application from %d %q", r.OwnLeaf(), m.Kind, m.Sender, m.Data, sender.OwnLeaf(), text)
		}
	}
}
