package member_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/slimid/slimid/broker"
	"github.com/slimid/slimid/moderator"
	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
	"github.com/slimid/slimid/plugins/sharedsecret"
	"github.com/slimid/slimid/sdk"
)

const (
	secret = "member-test-secret-0123456789abcdef0123"
	group  = "org/ns/channel"
)

// party is a broker whose one shared-secret plugin mints for one subject;
// every party's broker verifies every other's tokens.
func party(t testing.TB, subject string) *broker.Broker {
	t.Helper()
	yaml := fmt.Sprintf("plugins:\n  - name: team\n    type: shared_secret\n    config: {id: %s, random_suffix: false, data: %q}\n", subject, secret)
	cfg, err := broker.ParseConfig([]byte(yaml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(context.Background(), cfg, broker.Options{Builtins: broker.Builtins{sharedsecret.Name: func() sdk.Plugin { return sharedsecret.New() }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// moderated starts a moderator with a group of suite 1.
func moderated(t testing.TB) *moderator.Moderator {
	t.Helper()
	b := party(t, "org/ns/moderator")
	mod, err := moderator.Open(context.Background(), moderator.Config{StateDir: t.TempDir(), Verifier: b, Tokens: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close() })
	signer, err := mls.GenerateSigner(mls.SuiteX25519AES128GCM)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := member.FetchToken(context.Background(), b, "team", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mod.CreateGroup(context.Background(), moderator.GroupSpec{Name: group, Suite: mls.SuiteX25519AES128GCM, Plugin: "team", Signer: signer, Credential: cred.Credential}); err != nil {
		t.Fatal(err)
	}
	return mod
}

// keyPackage makes subject's key package with a token bound to its key.
func keyPackage(t testing.TB, subject string) (*mls.KeyPackageBundle, member.Credential) {
	t.Helper()
	signer, err := mls.GenerateSigner(mls.SuiteX25519AES128GCM)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := member.FetchToken(context.Background(), party(t, subject), "team", signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := cred.KeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	return bundle, cred
}

// admit admits subject and returns its membership and the commit.
func admit(t testing.TB, mod *moderator.Moderator, subject string) (*member.Member, *moderator.Outgoing) {
	t.Helper()
	bundle, cred := keyPackage(t, subject)
	res, err := mod.Admit(context.Background(), group, bundle.KeyPackage().Bytes())
	if err != nil || len(res.Refused) > 0 {
		t.Fatalf("admit %s: %v %+v", subject, err, res)
	}
	m, err := member.Join(res.Commit.Welcome, bundle, cred)
	if err != nil {
		t.Fatal(err)
	}
	return m, res.Commit
}

func kinds(evs []member.Event) []member.EventKind {
	var out []member.EventKind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func receive(t *testing.T, m *member.Member, msg []byte) []member.EventKind {
	t.Helper()
	evs, err := m.Receive(msg)
	if err != nil {
		t.Fatal(err)
	}
	return kinds(evs)
}

func TestCommitsApplyInEpochOrder(t *testing.T) {
	mod := moderated(t)
	alice, _ := admit(t, mod, "org/ns/alice")
	_, c2 := admit(t, mod, "org/ns/bob")
	_, c3 := admit(t, mod, "org/ns/carol")
	c4, err := mod.Remove(context.Background(), group, "org/ns/bob", "")
	if err != nil {
		t.Fatal(err)
	}
	hello, err := mod.Send(context.Background(), group, []byte("at epoch 4"))
	if err != nil {
		t.Fatal(err)
	}
	c2m, c3m, c4m := c2.Messages[0], c3.Messages[0], c4.Messages[0]

	// Out of order, with repeats: early messages wait, old ones are ignored.
	B, C, D, A := member.Buffered, member.Commit, member.Duplicate, member.Application
	for _, step := range []struct {
		msg  []byte
		want []member.EventKind
	}{
		{c4m, []member.EventKind{B}},
		{hello, []member.EventKind{B}},
		{c3m, []member.EventKind{B}},
		{c3m, []member.EventKind{B}},
		{c2m, []member.EventKind{C, C, C, A, D}},
		{c2m, []member.EventKind{D}},
		{c4m, []member.EventKind{D}},
	} {
		if got := receive(t, alice, step.msg); !slices.Equal(got, step.want) {
			t.Fatalf("events %v; want %v", got, step.want)
		}
	}
	info, _ := mod.Group(group)
	if alice.Epoch() != info.Epoch || !slices.Equal(alice.EpochAuthenticator(), info.EpochAuthenticator) {
		t.Fatalf("alice at %d, moderator at %d", alice.Epoch(), info.Epoch)
	}
}

func TestStateKeepsHeldMessages(t *testing.T) {
	mod := moderated(t)
	alice, _ := admit(t, mod, "org/ns/alice")
	_, c2 := admit(t, mod, "org/ns/bob")
	_, c3 := admit(t, mod, "org/ns/carol")
	receive(t, alice, c3.Messages[0])
	state, err := alice.State()
	if err != nil {
		t.Fatal(err)
	}
	restored, err := member.Restore(state)
	if err != nil {
		t.Fatal(err)
	}
	if got := receive(t, restored, c2.Messages[0]); !slices.Equal(got, []member.EventKind{member.Commit, member.Commit}) {
		t.Fatalf("after restore: %v", got)
	}
	if restored.Epoch() != 3 || restored.Credential().Credential.IsZero() {
		t.Fatalf("restored member at epoch %d", restored.Epoch())
	}
}

func TestDirJoinsWithASavedKeyPackage(t *testing.T) {
	mod := moderated(t)
	dir, err := member.OpenDir(filepath.Join(t.TempDir(), "alice"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := keyPackage(t, "org/ns/alice")
	bundle, cred := keyPackage(t, "org/ns/alice")
	for _, b := range []*mls.KeyPackageBundle{other, bundle} {
		if err := dir.SaveKeyPackage(b, cred); err != nil {
			t.Fatal(err)
		}
	}
	res, err := mod.Admit(context.Background(), group, bundle.KeyPackage().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := dir.Join(res.Commit.Welcome)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Join(res.Commit.Welcome); err == nil {
		t.Fatal("a Welcome joined twice")
	}
	groups, _ := dir.Groups()
	if !slices.Equal(groups, []string{group}) {
		t.Fatalf("groups %v", groups)
	}
	loaded, err := dir.Load(group)
	if err != nil || loaded.Epoch() != m.Epoch() || !loaded.Credential().ExpiresAt.Equal(cred.ExpiresAt) {
		t.Fatalf("loaded %v, %v", loaded, err)
	}
}

func TestReceiveRefusals(t *testing.T) {
	mod := moderated(t)
	alice, _ := admit(t, mod, "org/ns/alice")
	bundle, _ := keyPackage(t, "org/ns/bob")
	for _, tc := range []struct {
		name, want string
		msg        []byte
	}{
		{"not MLS", "member: malformed MLS message: shorter than its 4-byte header", []byte("hi")},
		{"a key package", "member: mls message: a mls_key_package is not a group message", bundle.KeyPackage().Bytes()},
		{"another group", `member: mls message: addressed to group "other", this is "org/ns/channel"`, []byte{0, 1, 0, 2, 5, 'o', 't', 'h', 'e', 'r', 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := alice.Receive(tc.msg); err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}
