package mls_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"testing"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"

	"github.com/slimid/slimid/moderator/mls"
)

func TestCommitsInEpochOrder(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	alice := addAndJoin(t, mod, nil, "alice")[0]
	c1, err := mod.AddMembers(newBundle(t, mls.SuiteX25519AES128GCM, "dave").KeyPackage())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := mod.CommitPending()
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Process(c2.Message)
	if want := "mls message: wrong epoch: commit is for epoch 2, the group is at epoch 1; apply the commits before it first"; err == nil || err.Error() != want {
		t.Fatalf("early commit: got %v, want %q", err, want)
	}
	if !errors.Is(err, mls.ErrWrongEpoch) {
		t.Fatalf("%v does not wrap ErrWrongEpoch", err)
	}
	deliver(t, c1.Message, alice)
	deliver(t, c2.Message, alice)
	_, err = alice.Process(c1.Message)
	if want := "mls message: wrong epoch: commit is for epoch 1, the group is already at epoch 3 (a duplicate or a replay)"; err == nil || err.Error() != want {
		t.Fatalf("replayed commit: got %v, want %q", err, want)
	}
	requireInSync(t, mod, alice)
}

func TestPrivateMessageCommits(t *testing.T) {
	for _, suite := range suites {
		t.Run(suite.String(), func(t *testing.T) {
			mod := newModerator(t, suite)
			joined := addAndJoin(t, mod, nil, "alice", "bob")
			alice, bob := joined[0], joined[1]
			c, err := mod.Commit(mls.Changes{Add: []*mls.KeyPackage{newBundle(t, suite, "carol").KeyPackage()}, Remove: []mls.LeafIndex{bob.OwnLeaf()}, Encrypt: true})
			if err != nil {
				t.Fatalf("encrypted commit: %v", err)
			}
			if !bytes.HasPrefix(c.Message, []byte{0, 1, 0, 2}) {
				t.Fatalf("commit is not a PrivateMessage MLSMessage")
			}
			deliver(t, c.Message, alice)
			if m, err := bob.Process(c.Message); err != nil || !m.Removed {
				t.Fatalf("bob processing an encrypted removal: %v", err)
			}
			requireInSync(t, mod, alice)
			requireTalk(t, alice, mod)
		})
	}
}

func TestProcessRefusals(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	joined := addAndJoin(t, mod, nil, "alice", "bob")
	alice := joined[0]
	own, err := mod.CommitPending()
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, own.Message, joined...)
	other, err := mls.CreateGroup([]byte("org/ns/other"), newSigner(t, mls.SuiteX25519AES128GCM), basicCredential(t, "m"))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Encrypt([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	welcome, err := mod.AddMembers(newBundle(t, mls.SuiteX25519AES128GCM, "carol").KeyPackage())
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, welcome.Message, joined...)
	mg, key := mlsGoClone(t, alice)
	remove, err := mg.SignProposalAsPublicMessage(group.NewRemoveProposal(0), key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"garbage", []byte{1, 2, 3}, "mls message: malformed: framing: invalid message: unsupported protocol version 258"},
		{"trailing bytes", append(mustEncrypt(t, alice, "hi"), 0), "mls message: malformed: trailing bytes or a non-canonical encoding"},
		{"welcome", welcome.Welcome, "mls message: wire format 3 is not a group message (a Welcome goes to JoinGroup)"},
		{"own commit echoed", own.Message, "mls message: this member's own commit came back; it took effect when it was made"},
		{"another group", foreign, "mls message: addressed to another group"},
		{"remove proposal from a member", remove, "mls message: proposal type 3 from leaf 1 is not accepted; members may only propose an Update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := mod.Epoch()
			_, err := mod.Process(tt.in)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %q", err, tt.want)
			}
			if !errors.Is(err, mls.ErrMessage) {
				t.Fatalf("%v does not wrap ErrMessage", err)
			}
			if mod.Epoch() != before || len(mod.PendingUpdates()) != 0 {
				t.Fatalf("a refused message changed the group")
			}
		})
	}
	requireTalk(t, mod, joined...)
}

// TestMLSGoSelfUpdateCarriesOwnUpdate shows the mls-go defect this package
// works around: SelfUpdate followed by Commit puts the committer's own
// Update proposal in the commit. Members refuse such a commit.
func TestMLSGoSelfUpdateCarriesOwnUpdate(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	joined := addAndJoin(t, mod, nil, "alice", "bob")
	alice := joined[0]
	mg, key := mlsGoClone(t, alice)
	if _, err := mg.SelfUpdate(key); err != nil {
		t.Fatal(err)
	}
	staged, err := mg.Commit(key, key.PublicKey(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ownUpdates int
	for i, p := range staged.Proposals() {
		if p.Type == group.ProposalTypeUpdate && staged.ProposalSenders()[i] == mg.OwnLeafIndex() {
			ownUpdates++
		}
	}
	if ownUpdates != 1 {
		t.Fatalf("mls-go's SelfUpdate commit carries %d own Update proposals; the defect this package avoids is gone", ownUpdates)
	}
	ac := staged.AuthenticatedContent()
	msg := framing.NewMLSMessagePublic(&framing.PublicMessage{Content: ac.Content, Auth: ac.Auth, MembershipTag: staged.MembershipTag()}).Marshal()
	_, err = mod.Process(msg)
	if want := "mls message: commit from leaf 1 carries the committer's own Update proposal, which RFC 9420 §12.2 forbids"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	requireInSync(t, mod, joined[1])
}

func TestFailedCommitDamagesGroup(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	alice := addAndJoin(t, mod, nil, "alice", "bob")[0]
	saved, err := mod.State()
	if err != nil {
		t.Fatal(err)
	}
	// Alice (through mls-go) sends an encrypted commit whose confirmation tag
	// is wrong: mls-go notices only after it changed the tree and the epoch.
	mg, key := mlsGoClone(t, alice)
	staged, err := mg.CommitWithFormat(key, key.PublicKey(), nil, framing.WireFormatPrivateMessage)
	if err != nil {
		t.Fatal(err)
	}
	ac := *staged.AuthenticatedContent()
	ac.Auth.ConfirmationTag = bytes.Repeat([]byte{7}, len(ac.Auth.ConfirmationTag))
	pm, err := framing.Encrypt(framing.EncryptParams{
		AuthContent:      &ac,
		SenderLeafIndex:  uint32(mg.OwnLeafIndex()),
		CipherSuite:      mg.CipherSuite(),
		SenderDataSecret: mg.EpochSecrets().SenderDataSecret,
		SecretTree:       mg.SecretTree(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mod.Process(framing.NewMLSMessagePrivate(pm).Marshal()); !errors.Is(err, mls.ErrMessage) {
		t.Fatalf("bad confirmation tag: %v", err)
	}
	if _, err := mod.Encrypt([]byte("x")); !errors.Is(err, mls.ErrDamaged) {
		t.Fatalf("damaged group still encrypts: %v", err)
	}
	if _, err := mod.State(); !errors.Is(err, mls.ErrDamaged) {
		t.Fatalf("damaged group still saves its state: %v", err)
	}
	restored, err := mls.RestoreGroup(saved)
	if err != nil {
		t.Fatal(err)
	}
	requireTalk(t, alice, restored)
}

func TestUpdateProposalFlow(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	joined := addAndJoin(t, mod, nil, "alice", "bob")
	alice, bob := joined[0], joined[1]
	old := mustEncrypt(t, alice, "sent at epoch 1")
	proposal, err := alice.ProposeUpdate(nil, basicCredential(t, "alice, renewed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.ProposeUpdate(nil, basicCredential(t, "again")); err == nil {
		t.Fatalf("a second pending update was accepted")
	}
	if _, err := alice.CommitPending(); err == nil ||
		err.Error() != "mls: this member's own Update proposal is pending; a committer must not commit its own Update (RFC 9420 §12.2): drop it or wait for another member's commit" {
		t.Fatalf("alice committing her own update: %v", err)
	}
	m, err := mod.Process(proposal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Process(proposal); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Encrypt([]byte("x")); err == nil || err.Error() != "mls: cannot send application data while proposals are pending; they must be committed first" {
		t.Fatalf("bob sending with a pending proposal: %v", err)
	}
	// The moderator refuses the new credential: it drops the proposal, and
	// so does bob, to whom it was relayed.
	for _, g := range []*mls.Group{mod, bob} {
		if err := g.DropProposal(m.Update.Ref); err != nil {
			t.Fatalf("drop: %v", err)
		}
	}
	if err := mod.DropProposal(m.Update.Ref); err == nil || err.Error() != "mls: no pending proposal "+m.Update.Ref.String() {
		t.Fatalf("dropping twice: %v", err)
	}
	c, err := mod.CommitPending()
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, c.Message, alice, bob)
	requireInSync(t, mod, alice, bob)
	if m, _ := mod.Member(alice.OwnLeaf()); string(m.Credential.Identity()) != "alice" {
		t.Fatalf("the dropped update took effect")
	}
	requireTalk(t, alice, mod, bob)
	// Messages from the previous epoch still decrypt.
	if got, err := bob.Process(old); err != nil || string(got.Data) != "sent at epoch 1" {
		t.Fatalf("message from the previous epoch: %v", err)
	}
}

func TestCommitRefusals(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	if _, err := mod.UpdateCredential(basicCredential(t, "m2")); err == nil ||
		err.Error() != "mls: a lone member's commit has no UpdatePath to carry a new credential; add a member first" {
		t.Fatalf("lone update: %v", err)
	}
	alice := addAndJoin(t, mod, nil, "alice")[0]
	kp := newBundle(t, mls.SuiteX25519AES128GCM, "bob").KeyPackage()
	tests := []struct {
		name string
		ch   mls.Changes
		want string
	}{
		{"remove itself", mls.Changes{Remove: []mls.LeafIndex{0}}, "mls: a committer cannot remove itself (leaf 0)"},
		{"remove a stranger", mls.Changes{Remove: []mls.LeafIndex{9}}, "mls: leaf 9 is not a member of the group"},
		{"remove twice", mls.Changes{Remove: []mls.LeafIndex{1, 1}}, "mls: leaf 1 is removed twice in one commit"},
		{"add twice", mls.Changes{Add: []*mls.KeyPackage{kp, kp}}, "key package: " + kp.Ref().String() + " appears twice in one commit"},
		{"add nil", mls.Changes{Add: []*mls.KeyPackage{nil}}, "mls: nil key package in Changes.Add"},
		{"zero credential", mls.Changes{Credential: &mls.Credential{}}, "mls: Changes.Credential is the zero credential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := mod.Commit(tt.ch); err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if mod.Epoch() != 1 {
				t.Fatalf("a refused commit moved the group to epoch %d", mod.Epoch())
			}
		})
	}
	requireTalk(t, mod, alice)
	c, err := mod.AddMembers(kp)
	if err != nil {
		t.Fatalf("the refused changes left proposals behind: %v", err)
	}
	deliver(t, c.Message, alice)
	requireInSync(t, mod, alice)
}

func mustEncrypt(t testing.TB, g *mls.Group, text string) []byte {
	t.Helper()
	msg, err := g.Encrypt([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// mlsGoClone opens a saved group directly with mls-go, to craft messages
// this package would never send.
func mlsGoClone(t testing.TB, g *mls.Group) (*group.Group, *ciphersuite.SignaturePrivateKey) {
	t.Helper()
	state, err := g.State()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Group  json.RawMessage `json:"group"`
		Signer []byte          `json:"signer"`
	}
	if err := json.Unmarshal(state, &s); err != nil {
		t.Fatal(err)
	}
	mg, err := group.UnmarshalGroupState(s.Group)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(s.Signer)
	if err != nil {
		t.Fatal(err)
	}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return mg, ciphersuite.NewEd25519SignaturePrivateKey(k)
	case *ecdsa.PrivateKey:
		return mg, ciphersuite.NewSignaturePrivateKey(k)
	}
	t.Fatalf("unexpected key type %T", key)
	return nil, nil
}

func TestRemoveWinsOverPendingUpdate(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	joined := addAndJoin(t, mod, nil, "alice", "bob")
	alice, bob := joined[0], joined[1]
	proposal, err := alice.ProposeUpdate(nil, basicCredential(t, "alice, renewed"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*mls.Group{mod, bob} {
		if _, err := g.Process(proposal); err != nil {
			t.Fatal(err)
		}
	}
	c, err := mod.RemoveMembers(alice.OwnLeaf())
	if err != nil {
		t.Fatalf("removing a member with a pending update: %v", err)
	}
	m, err := framing.UnmarshalMLSMessage(c.Message)
	if err != nil {
		t.Fatal(err)
	}
	commit, err := group.UnmarshalCommit(m.PublicMessage.Content.Body.(framing.CommitBody).Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(commit.Proposals) != 1 || commit.Proposals[0].Proposal == nil || commit.Proposals[0].Proposal.Type != group.ProposalTypeRemove {
		t.Fatalf("the commit carries %d proposals, want only the Remove", len(commit.Proposals))
	}
	deliver(t, c.Message, bob)
	if m, err := alice.Process(c.Message); err != nil || !m.Removed {
		t.Fatalf("alice processing her removal: %v", err)
	}
	requireInSync(t, mod, bob)
	requireTalk(t, bob, mod)
}

func TestConcurrentUse(t *testing.T) {
	mod := newModerator(t, mls.SuiteX25519AES128GCM)
	alice := addAndJoin(t, mod, nil, "alice")[0]
	msgs := make(chan []byte, 20)
	done := make(chan error, 3)
	go func() {
		for range 20 {
			msg, err := alice.Encrypt([]byte("hi"))
			if err != nil {
				done <- err
				return
			}
			msgs <- msg
		}
		close(msgs)
		done <- nil
	}()
	go func() {
		for msg := range msgs {
			if _, err := mod.Process(msg); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	go func() {
		for range 20 {
			_ = mod.Members()
			_ = mod.EpochAuthenticator()
			if _, err := mod.Encrypt([]byte("from the moderator")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
