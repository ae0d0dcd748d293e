package tsmls_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/slimid/slimid/moderator/mls/tsmls"
)

// assertAgreement checks that every member, on either implementation, is in
// the same epoch with the same epoch authenticator and exporter output.
func assertAgreement(t *testing.T, ctx context.Context, ts []*tsmls.Group, goMembers []*goMember) {
	t.Helper()
	ref := goMembers[0]
	epoch := ref.group.Epoch().AsUint64()
	authenticator := ref.group.EpochAuthenticator()
	exported := ref.export(t, "slimid interop", []byte("context"), 32)
	for _, m := range goMembers[1:] {
		if got := m.group.Epoch().AsUint64(); got != epoch {
			t.Fatalf("mls-go %s epoch = %d, want %d", m.identity, got, epoch)
		}
		if !bytes.Equal(m.group.EpochAuthenticator(), authenticator) {
			t.Fatalf("mls-go %s epoch authenticator differs from %s's", m.identity, ref.identity)
		}
	}
	for _, g := range ts {
		got, err := g.Epoch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != epoch {
			t.Fatalf("ts-mls %s epoch = %d, mls-go %d", g.Handle(), got, epoch)
		}
		auth, err := g.EpochAuthenticator(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(auth, authenticator) {
			t.Fatalf("ts-mls %s epoch authenticator %x, mls-go %x", g.Handle(), auth, authenticator)
		}
		secret, err := g.ExportSecret(ctx, "slimid interop", []byte("context"), 32)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(secret, exported) {
			t.Fatalf("ts-mls %s exporter %x, mls-go %x", g.Handle(), secret, exported)
		}
	}
}

func assertIdentities(t *testing.T, ctx context.Context, g *tsmls.Group, want ...string) {
	t.Helper()
	members, err := g.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range members {
		got = append(got, string(m.Identity))
	}
	if len(got) != len(want) {
		t.Fatalf("ts-mls members = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ts-mls members = %q, want %q", got, want)
		}
	}
}

func sendTS(t *testing.T, ctx context.Context, g *tsmls.Group, plaintext string) []byte {
	t.Helper()
	msg, err := g.Send(ctx, []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func processTS(t *testing.T, ctx context.Context, g *tsmls.Group, message []byte, want tsmls.Processed) {
	t.Helper()
	got, err := g.Process(ctx, message)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != want.Kind || got.Epoch != want.Epoch || got.Removed != want.Removed || !bytes.Equal(got.Plaintext, want.Plaintext) {
		t.Fatalf("ts-mls %s processed %+v, want %+v", g.Handle(), got, want)
	}
}

// TestTSMLSGroupWithGoMembers: ts-mls creates the group and commits; mls-go
// members join from its Welcome, exchange messages, follow its Remove, and
// commit an Add that ts-mls follows.
func TestTSMLSGroupWithGoMembers(t *testing.T) {
	peer := tsmls.Start(t)
	for _, suite := range tsmls.Suites {
		t.Run(suite.String(), func(t *testing.T) {
			ctx := t.Context()
			alice, err := peer.NewSigner(ctx, suite)
			if err != nil {
				t.Fatal(err)
			}
			g, err := peer.CreateGroup(ctx, alice, []byte("ts-mls group "+suite.String()), []byte("alice"))
			if err != nil {
				t.Fatal(err)
			}
			bob, carol := newGoMember(t, suite, "bob"), newGoMember(t, suite, "carol")

			add, err := g.Add(ctx, tsmls.FramingPrivate, bob.keyPackageMessage(), carol.keyPackageMessage())
			if err != nil {
				t.Fatal(err)
			}
			if add.Epoch != 1 || add.Welcome == nil {
				t.Fatalf("add = epoch %d, welcome %d bytes; want epoch 1 and a Welcome", add.Epoch, len(add.Welcome))
			}
			bob.join(t, add.Welcome)
			carol.join(t, add.Welcome)
			assertAgreement(t, ctx, []*tsmls.Group{g}, []*goMember{bob, carol})
			assertIdentities(t, ctx, g, "alice", "bob", "carol")

			hello := sendTS(t, ctx, g, "hello from ts-mls")
			if got := bob.receive(t, hello); got != "hello from ts-mls" {
				t.Fatalf("bob received %q", got)
			}
			if got := carol.receive(t, hello); got != "hello from ts-mls" {
				t.Fatalf("carol received %q", got)
			}
			processTS(t, ctx, g, bob.send(t, "hello from mls-go"),
				tsmls.Processed{Kind: tsmls.KindApplication, Plaintext: []byte("hello from mls-go"), Epoch: 1})

			remove, err := g.Remove(ctx, tsmls.FramingPublic, 2)
			if err != nil {
				t.Fatal(err)
			}
			bob.processCommit(t, remove.Message)
			assertAgreement(t, ctx, []*tsmls.Group{g}, []*goMember{bob})
			assertIdentities(t, ctx, g, "alice", "bob")

			dave, err := peer.NewSigner(ctx, suite)
			if err != nil {
				t.Fatal(err)
			}
			daveKP, err := peer.NewKeyPackage(ctx, dave, []byte("dave"), nil)
			if err != nil {
				t.Fatal(err)
			}
			commit, welcome := bob.add(t, daveKP.Message)
			processTS(t, ctx, g, commit, tsmls.Processed{Kind: tsmls.KindCommit, Epoch: 3})
			daveGroup, err := peer.Join(ctx, welcome, daveKP.ID)
			if err != nil {
				t.Fatal(err)
			}
			assertAgreement(t, ctx, []*tsmls.Group{g, daveGroup}, []*goMember{bob})
			assertIdentities(t, ctx, daveGroup, "alice", "bob", "dave")

			removeDave, err := g.Remove(ctx, tsmls.FramingPrivate, 2)
			if err != nil {
				t.Fatal(err)
			}
			bob.processCommit(t, removeDave.Message)
			processTS(t, ctx, daveGroup, removeDave.Message, tsmls.Processed{Kind: tsmls.KindCommit, Epoch: 3, Removed: true})
			assertAgreement(t, ctx, []*tsmls.Group{g}, []*goMember{bob})
			assertIdentities(t, ctx, g, "alice", "bob")
		})
	}
}

// TestGoGroupWithTSMLSMembers: mls-go creates the group and commits; ts-mls
// members join from its Welcome, exchange messages and follow its Remove,
// including the member it removes.
func TestGoGroupWithTSMLSMembers(t *testing.T) {
	peer := tsmls.Start(t)
	for _, suite := range tsmls.Suites {
		t.Run(suite.String(), func(t *testing.T) {
			ctx := t.Context()
			alice := newGoMember(t, suite, "alice")
			alice.createGroup(t, []byte("mls-go group "+suite.String()))

			var kps []tsmls.KeyPackage
			for _, name := range []string{"xavier", "yolanda"} {
				signer, err := peer.NewSigner(ctx, suite)
				if err != nil {
					t.Fatal(err)
				}
				kp, err := peer.NewKeyPackage(ctx, signer, []byte(name), nil)
				if err != nil {
					t.Fatal(err)
				}
				kps = append(kps, kp)
			}
			_, welcome := alice.add(t, kps[0].Message, kps[1].Message)
			xavier, err := peer.Join(ctx, welcome, kps[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			yolanda, err := peer.Join(ctx, welcome, "") // found by KeyPackageRef
			if err != nil {
				t.Fatal(err)
			}
			assertAgreement(t, ctx, []*tsmls.Group{xavier, yolanda}, []*goMember{alice})
			assertIdentities(t, ctx, yolanda, "alice", "xavier", "yolanda")

			hello := alice.send(t, "hello from mls-go")
			want := tsmls.Processed{Kind: tsmls.KindApplication, Plaintext: []byte("hello from mls-go"), Epoch: 1}
			processTS(t, ctx, xavier, hello, want)
			processTS(t, ctx, yolanda, hello, want)
			if got := alice.receive(t, sendTS(t, ctx, xavier, "hello from ts-mls")); got != "hello from ts-mls" {
				t.Fatalf("alice received %q", got)
			}

			remove := alice.remove(t, 2)
			processTS(t, ctx, xavier, remove, tsmls.Processed{Kind: tsmls.KindCommit, Epoch: 2})
			// A removed member cannot derive the next epoch: it stays at 1.
			processTS(t, ctx, yolanda, remove, tsmls.Processed{Kind: tsmls.KindCommit, Epoch: 1, Removed: true})
			assertAgreement(t, ctx, []*tsmls.Group{xavier}, []*goMember{alice})
			assertIdentities(t, ctx, xavier, "alice", "xavier")
		})
	}
}
