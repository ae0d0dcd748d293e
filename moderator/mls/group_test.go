package mls_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/slimid/slimid/moderator/mls"
)

func TestGroupLifecycle(t *testing.T) {
	for _, suite := range suites {
		t.Run(suite.String(), func(t *testing.T) {
			mod := newModerator(t, suite)
			joined := addAndJoin(t, mod, nil, "alice", "bob", "carol")
			alice, bob, carol := joined[0], joined[1], joined[2]
			all := []*mls.Group{mod, alice, bob, carol}
			requireInSync(t, all...)
			if got := len(mod.Members()); got != 4 {
				t.Fatalf("moderator sees %d members, want 4", got)
			}
			requireTalk(t, mod, alice, bob, carol)
			requireTalk(t, alice, mod, bob, carol)

			// Remove bob by a lookup on his credential identity.
			isBob := func(m mls.Member) bool { return bytes.Equal(m.Credential.Identity(), []byte("bob")) }
			if found := mod.FindMembers(isBob); len(found) != 1 || found[0].Leaf != bob.OwnLeaf() {
				t.Fatalf("lookup of bob found %+v", found)
			}
			c, err := mod.RemoveMatching(isBob)
			if err != nil {
				t.Fatalf("remove bob: %v", err)
			}
			if _, err := mod.RemoveMatching(isBob); err == nil || err.Error() != "mls: no other member matches; nothing to remove" {
				t.Fatalf("removing bob twice: %v", err)
			}
			deliver(t, c.Message, alice, carol)
			m, err := bob.Process(c.Message)
			if err != nil || !m.Removed {
				t.Fatalf("bob processing his removal: removed=%v err=%v", m != nil && m.Removed, err)
			}
			if _, err := bob.Encrypt([]byte("still here?")); !errors.Is(err, mls.ErrRemoved) {
				t.Fatalf("bob encrypting after removal: %v, want ErrRemoved", err)
			}
			all = []*mls.Group{mod, alice, carol}
			requireInSync(t, all...)
			requireTalk(t, carol, mod, alice)

			// Alice rotates her credential and key through an Update proposal.
			newSigner := newSigner(t, suite)
			newCred := basicCredential(t, "alice, renewed")
			proposal, err := alice.ProposeUpdate(newSigner, newCred)
			if err != nil {
				t.Fatalf("alice proposing an update: %v", err)
			}
			pm, err := mod.Process(proposal)
			if err != nil {
				t.Fatalf("moderator processing the update: %v", err)
			}
			if pm.Kind != mls.KindProposal || pm.Update == nil || !pm.Update.Proposed.Credential.Equal(newCred) {
				t.Fatalf("moderator got %+v, want alice's update", pm)
			}
			if _, err := carol.Process(proposal); err != nil {
				t.Fatalf("carol processing the update: %v", err)
			}
			if n := len(mod.PendingUpdates()); n != 1 {
				t.Fatalf("moderator has %d pending updates, want 1", n)
			}
			c, err = mod.CommitPending()
			if err != nil {
				t.Fatalf("committing alice's update: %v", err)
			}
			deliver(t, c.Message, alice, carol)
			requireInSync(t, all...)
			am, _ := mod.Member(alice.OwnLeaf())
			if !am.Credential.Equal(newCred) || !bytes.Equal(am.SignatureKey, newSigner.PublicKey()) {
				t.Fatalf("alice's leaf after the update: %q %x", am.Credential.Identity(), am.SignatureKey)
			}
			requireTalk(t, alice, mod, carol)
			requireTalk(t, mod, alice, carol)

			// The moderator rotates its own credential through the UpdatePath.
			modCred := basicCredential(t, "moderator, renewed")
			c, err = mod.UpdateCredential(modCred)
			if err != nil {
				t.Fatalf("moderator self update: %v", err)
			}
			requireNoCommitterUpdate(t, c.Message)
			deliver(t, c.Message, alice, carol)
			requireInSync(t, all...)
			mm, _ := alice.Member(mod.OwnLeaf())
			if !mm.Credential.Equal(modCred) {
				t.Fatalf("alice sees the moderator as %q", mm.Credential.Identity())
			}
			requireTalk(t, alice, mod, carol)

			// A member whose Update was committed can commit too.
			c, err = alice.CommitPending()
			if err != nil {
				t.Fatalf("alice committing: %v", err)
			}
			deliver(t, c.Message, mod, carol)
			requireInSync(t, all...)
			if am, _ := mod.Member(alice.OwnLeaf()); !am.Credential.Equal(newCred) {
				t.Fatalf("alice's own commit put back credential %q", am.Credential.Identity())
			}
			requireTalk(t, carol, mod, alice)
		})
	}
}
