package mls

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/treesync"
)

// ProposalRef is the RFC 9420 §5.2 reference of a proposal.
type ProposalRef [32]byte

// String returns the reference in hex.
func (r ProposalRef) String() string { return hex.EncodeToString(r[:]) }

// UpdateProposal is a member's pending proposal to replace its own leaf, for
// example to rotate its credential.
type UpdateProposal struct {
	Ref ProposalRef
	// Proposed is the leaf as it will be once committed; Proposed.Leaf is the
	// proposer's leaf.
	Proposed Member
}

// ownUpdate is this member's proposal awaiting a commit, with the keys that
// become current once another member commits it.
type ownUpdate struct {
	ref    ProposalRef
	signer *Signer
	encKey []byte
}

// ProposeUpdate proposes to replace this member's leaf with one carrying cred
// and signer's key (pass nil to keep the current signer). The returned
// MLSMessage must reach every member, and the committer then commits it; this
// member becomes the new leaf when it processes that commit. While the
// proposal is pending this member cannot send application messages.
func (g *Group) ProposeUpdate(signer *Signer, cred Credential) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.usable(); err != nil {
		return nil, err
	}
	if signer == nil {
		signer = g.signer
	}
	if signer.suite != g.suite {
		return nil, fmt.Errorf("mls: the new signer is for suite 0x%04x, the group uses 0x%04x", uint16(signer.suite), uint16(g.suite))
	}
	if cred.IsZero() {
		return nil, fmt.Errorf("mls: no credential given for the Update")
	}
	if !cred.leafKeyMatches(signer.pub) {
		return nil, fmt.Errorf("mls: the x509 leaf certificate does not hold the new signer's public key")
	}
	if g.pending != nil {
		return nil, fmt.Errorf("mls: this member's Update proposal %s is already pending", g.pending.ref)
	}
	encKey, err := g.suite.mls().Curve().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("mls: generating the leaf encryption key: %v", err)
	}
	own := g.g.OwnLeafIndex()
	groupID := g.g.ID().AsSlice()
	leaf := &treesync.LeafNodeData{
		EncryptionKey:   encKey.PublicKey().Bytes(),
		SignatureKeyRaw: signer.PublicKey(),
		Credential:      cred.mls(),
		Capabilities:    leafCapabilities(g.suite),
		LeafNodeSource:  leafSourceUpdate,
	}
	// The new leaf is signed with its own (new) key; the proposal message with
	// the key of the leaf it replaces.
	sig, err := ciphersuite.SignWithLabel(signer.key, "LeafNodeTBS", leaf.MarshalTBSWithContext(groupID, uint32(own)))
	if err != nil {
		return nil, fmt.Errorf("mls: signing the new leaf: %v", err)
	}
	proposal := group.NewUpdateProposal(keyPackageLeaf(leaf, sig.AsSlice()))
	content := framing.FramedContent{
		GroupID:           groupID,
		Epoch:             g.g.Epoch().AsUint64(),
		Sender:            framing.Sender{Type: framing.SenderTypeMember, LeafIndex: uint32(own)},
		AuthenticatedData: []byte{},
		Body:              framing.ProposalBody{Data: group.ProposalMarshal(proposal)},
	}
	pm, err := framing.NewPublicMessage(content, g.signer.key, g.g.GroupContext().Marshal(), g.g.EpochSecrets().MembershipKey, g.suite.mls())
	if err != nil {
		return nil, fmt.Errorf("mls: framing the Update proposal: %v", err)
	}
	ref := proposalRef(g.suite, &framing.AuthenticatedContent{WireFormat: framing.WireFormatPublicMessage, Content: pm.Content, Auth: pm.Auth})
	// Stored with its sender so this member resolves the reference when the
	// commit names it, and so the proposal survives a saved state.
	g.g.StoreProposalWithRef(proposal, own, ref[:])
	g.pending = &ownUpdate{ref: ref, signer: signer, encKey: encKey.Bytes()}
	return framing.NewMLSMessagePublic(pm).Marshal(), nil
}

// PendingUpdates returns the Update proposals received from other members
// and not yet committed. The next commit includes all of them.
func (g *Group) PendingUpdates() []UpdateProposal {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []UpdateProposal
	for _, sp := range g.g.StoredProposals() {
		if u, ok := g.updateFromStore(sp); ok {
			out = append(out, u)
		}
	}
	return out
}

// DropProposal discards a pending proposal, so the next commit leaves it out.
// Use it for Updates whose new credential the moderator refuses, and to
// withdraw this member's own pending Update.
func (g *Group) DropProposal(ref ProposalRef) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.usable(); err != nil {
		return err
	}
	if !g.g.RevokeProposal(ref[:]) {
		return fmt.Errorf("mls: no pending proposal %s", ref)
	}
	if g.pending != nil && g.pending.ref == ref {
		g.pending = nil
	}
	return nil
}

func (g *Group) updateFromStore(sp group.StoredProposal) (UpdateProposal, bool) {
	p := sp.Proposal
	if p == nil || p.Type != group.ProposalTypeUpdate || p.Update == nil || p.Update.LeafNode == nil ||
		len(sp.Ref) != len(ProposalRef{}) || sp.Sender == g.g.OwnLeafIndex() {
		return UpdateProposal{}, false
	}
	var u UpdateProposal
	copy(u.Ref[:], sp.Ref)
	ln := p.Update.LeafNode
	cred, err := credentialFromMLS(ln.Credential)
	if err != nil {
		return UpdateProposal{}, false
	}
	u.Proposed = Member{Leaf: LeafIndex(sp.Sender), Credential: cred, SignatureKey: bytes.Clone(ln.SignatureKeyBytes)}
	return u, true
}

// proposalRef computes RefHash("MLS 1.0 Proposal Reference",
// AuthenticatedContent) as RFC 9420 §5.2 defines it.
func proposalRef(suite Suite, ac *framing.AuthenticatedContent) ProposalRef {
	var ref ProposalRef
	copy(ref[:], group.ComputeProposalRef(ac.Marshal(), suite.mls()))
	return ref
}
