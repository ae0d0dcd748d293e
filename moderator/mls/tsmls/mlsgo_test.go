package tsmls_test

import (
	"testing"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/credentials"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/keypackages"

	"github.com/slimid/slimid/moderator/mls/tsmls"
)

// goMember is one member driven through mls-go's low-level group API, the
// independent implementation the peer is checked against.
type goMember struct {
	identity []byte
	suite    ciphersuite.CipherSuite
	cred     *credentials.CredentialWithKey
	sig      *ciphersuite.SignaturePrivateKey
	kp       *keypackages.KeyPackage
	kpPriv   *keypackages.KeyPackagePrivateKeys
	group    *group.Group
}

func newGoMember(t *testing.T, suite tsmls.Suite, identity string) *goMember {
	t.Helper()
	cs := ciphersuite.CipherSuite(suite)
	cred, sig, err := credentials.GenerateCredentialWithKeyForCS([]byte(identity), cs)
	if err != nil {
		t.Fatalf("mls-go credential for %s: %v", identity, err)
	}
	kp, kpPriv, err := keypackages.Generate(cred, cs)
	if err != nil {
		t.Fatalf("mls-go key package for %s: %v", identity, err)
	}
	return &goMember{identity: []byte(identity), suite: cs, cred: cred, sig: sig, kp: kp, kpPriv: kpPriv}
}

// keyPackageMessage frames the key package as an MLSMessage.
func (m *goMember) keyPackageMessage() []byte {
	return (&framing.MLSMessage{KeyPackage: m.kp.Marshal()}).Marshal()
}

func (m *goMember) createGroup(t *testing.T, groupID []byte) {
	t.Helper()
	g, err := group.NewGroup(group.NewGroupID(groupID), m.suite, m.kp, m.kpPriv)
	if err != nil {
		t.Fatalf("mls-go NewGroup: %v", err)
	}
	m.group = g
}

func (m *goMember) join(t *testing.T, welcome []byte) {
	t.Helper()
	msg, err := framing.UnmarshalMLSMessage(welcome)
	if err != nil {
		t.Fatalf("mls-go parse Welcome MLSMessage: %v", err)
	}
	if msg.Welcome == nil {
		t.Fatalf("mls-go: MLSMessage is wire format %d, want a Welcome", msg.WireFormat())
	}
	w, err := group.UnmarshalWelcome(msg.Welcome)
	if err != nil {
		t.Fatalf("mls-go parse Welcome: %v", err)
	}
	g, err := group.JoinFromWelcome(w, m.kp, m.kpPriv, nil)
	if err != nil {
		t.Fatalf("mls-go JoinFromWelcome: %v", err)
	}
	m.group = g
}

// parseKeyPackage takes a peer's MLSMessage key package apart for mls-go,
// whose KeyPackage API wants the bare structure.
func parseKeyPackage(t *testing.T, message []byte) *keypackages.KeyPackage {
	t.Helper()
	msg, err := framing.UnmarshalMLSMessage(message)
	if err != nil {
		t.Fatalf("mls-go parse KeyPackage MLSMessage: %v", err)
	}
	if msg.KeyPackage == nil {
		t.Fatalf("mls-go: MLSMessage is wire format %d, want a KeyPackage", msg.WireFormat())
	}
	kp, err := keypackages.UnmarshalKeyPackage(msg.KeyPackage)
	if err != nil {
		t.Fatalf("mls-go parse KeyPackage: %v", err)
	}
	return kp
}

// commit has mls-go commit the proposals queued by propose, as a
// PublicMessage, with a Welcome when members were added.
func (m *goMember) commit(t *testing.T, propose func(*group.Group) error) (commit, welcome []byte) {
	t.Helper()
	if err := propose(m.group); err != nil {
		t.Fatalf("mls-go propose: %v", err)
	}
	staged, err := m.group.Commit(m.sig, m.sig.PublicKey(), nil)
	if err != nil {
		t.Fatalf("mls-go Commit: %v", err)
	}
	var added []*keypackages.KeyPackage
	for _, p := range staged.Proposals() {
		if p.Type == group.ProposalTypeAdd && p.Add != nil {
			added = append(added, p.Add.KeyPackage)
		}
	}
	if err := m.group.MergeCommit(staged); err != nil {
		t.Fatalf("mls-go MergeCommit: %v", err)
	}
	commit = framing.NewMLSMessagePublic(&framing.PublicMessage{
		Content:       staged.AuthenticatedContent().Content,
		Auth:          staged.AuthenticatedContent().Auth,
		MembershipTag: staged.MembershipTag(),
	}).Marshal()
	if len(added) == 0 {
		return commit, nil
	}
	w, err := m.group.CreateWelcomeWithOpts(added, m.sig,
		group.WithJoinerSecret(staged.JoinerSecret()),
		group.WithPSKIDs(staged.PskIDs()),
		group.WithPSKSecret(staged.RawPskSecret()),
		group.WithStagedCommit(staged),
	)
	if err != nil {
		t.Fatalf("mls-go CreateWelcome: %v", err)
	}
	return commit, (&framing.MLSMessage{Welcome: w.Marshal()}).Marshal()
}

func (m *goMember) add(t *testing.T, keyPackages ...[]byte) (commit, welcome []byte) {
	t.Helper()
	return m.commit(t, func(g *group.Group) error {
		for _, kp := range keyPackages {
			if _, err := g.AddMember(parseKeyPackage(t, kp)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (m *goMember) remove(t *testing.T, leaves ...uint32) []byte {
	t.Helper()
	commit, _ := m.commit(t, func(g *group.Group) error {
		for _, leaf := range leaves {
			if _, err := g.RemoveMember(group.LeafNodeIndex(leaf)); err != nil {
				return err
			}
		}
		return nil
	})
	return commit
}

// processCommit applies a commit in either framing.
func (m *goMember) processCommit(t *testing.T, message []byte) {
	t.Helper()
	msg, err := framing.UnmarshalMLSMessage(message)
	if err != nil {
		t.Fatalf("mls-go parse commit MLSMessage: %v", err)
	}
	if pm, ok := msg.AsPublic(); ok {
		err = m.group.ProcessPublicMessage(pm)
	} else if pm, ok := msg.AsPrivate(); ok {
		err = m.group.ProcessPrivateMessage(pm)
	} else {
		t.Fatalf("mls-go: commit is wire format %d", msg.WireFormat())
	}
	if err != nil {
		t.Fatalf("mls-go process commit: %v", err)
	}
}

func (m *goMember) send(t *testing.T, plaintext string) []byte {
	t.Helper()
	pm, err := m.group.SendMessage([]byte(plaintext), m.sig)
	if err != nil {
		t.Fatalf("mls-go SendMessage: %v", err)
	}
	return framing.NewMLSMessagePrivate(pm).Marshal()
}

func (m *goMember) receive(t *testing.T, message []byte) string {
	t.Helper()
	msg, err := framing.UnmarshalMLSMessage(message)
	if err != nil {
		t.Fatalf("mls-go parse application MLSMessage: %v", err)
	}
	pm, ok := msg.AsPrivate()
	if !ok {
		t.Fatalf("mls-go: application message is wire format %d, want PrivateMessage", msg.WireFormat())
	}
	plaintext, _, _, err := m.group.ReceiveApplicationMessage(pm)
	if err != nil {
		t.Fatalf("mls-go ReceiveApplicationMessage: %v", err)
	}
	return string(plaintext)
}

func (m *goMember) export(t *testing.T, label string, context []byte, length int) []byte {
	t.Helper()
	secret, err := m.group.Export(label, context, length)
	if err != nil {
		t.Fatalf("mls-go Export: %v", err)
	}
	return secret
}
