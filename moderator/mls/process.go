package mls

import (
	"bytes"
	"fmt"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/treesync"
)

// MessageKind tells what a processed message was.
type MessageKind int

// Kinds of processed messages.
const (
	KindApplication MessageKind = iota + 1
	KindProposal
	KindCommit
)

// String returns "application", "proposal" or "commit".
func (k MessageKind) String() string {
	switch k {
	case KindApplication:
		return "application"
	case KindProposal:
		return "proposal"
	case KindCommit:
		return "commit"
	}
	return fmt.Sprintf("MessageKind(%d)", int(k))
}

// Message is the outcome of processing one incoming MLS message.
type Message struct {
	Kind   MessageKind
	Sender LeafIndex
	// Data is the plaintext of an application message.
	Data []byte
	// Update is the stored Update proposal of a KindProposal message.
	Update *UpdateProposal
	// Epoch is the group's epoch after processing.
	Epoch uint64
	// Removed is set when a commit removed this member; the group is then
	// closed and every further call returns ErrRemoved.
	Removed bool
}

// Process handles one MLSMessage from the group: an application message
// (PrivateMessage), a member's Update proposal, or a commit (PublicMessage or
// PrivateMessage). Commits must come in epoch order; one for another epoch is
// refused with ErrWrongEpoch. Any refusal leaves the group as it was, except
// when mls-go fails halfway through a commit: then the group reports
// ErrDamaged and must be restored from saved state.
func (g *Group) Process(msg []byte) (out *Message, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.usable(); err != nil {
		return nil, err
	}
	epoch := g.g.Epoch().AsUint64()
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, faultError(ErrMessage, r)
			g.checkAfterFailure(epoch)
		}
	}()
	m, err := framing.UnmarshalMLSMessage(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed: %v", ErrMessage, err)
	}
	if !bytes.Equal(m.Marshal(), msg) {
		return nil, fmt.Errorf("%w: malformed: trailing bytes or a non-canonical encoding", ErrMessage)
	}
	switch {
	case m.PublicMessage != nil:
		return g.processPublic(m.PublicMessage)
	case m.PrivateMessage != nil:
		return g.processPrivate(m.PrivateMessage)
	}
	return nil, fmt.Errorf("%w: wire format %d is not a group message (a Welcome goes to JoinGroup)", ErrMessage, m.WireFormat())
}

func (g *Group) processPublic(pm *framing.PublicMessage) (*Message, error) {
	if !bytes.Equal(pm.Content.GroupID, g.g.ID().AsSlice()) {
		return nil, fmt.Errorf("%w: addressed to another group", ErrMessage)
	}
	if pm.Content.Sender.Type != framing.SenderTypeMember {
		return nil, fmt.Errorf("%w: sender type %d is not accepted; only members send to the group", ErrMessage, pm.Content.Sender.Type)
	}
	sender := LeafIndex(pm.Content.Sender.LeafIndex)
	switch pm.Content.ContentType() {
	case framing.ContentTypeProposal:
		if err := g.checkIncoming("proposal", sender, pm.Content.Epoch); err != nil {
			return nil, err
		}
		if err := g.g.VerifyPublicMessage(pm); err != nil {
			return nil, fmt.Errorf("%w: proposal from leaf %d does not verify: %v", ErrMessage, sender, err)
		}
		p, err := g.checkUpdateProposal(pm.Content.Body, sender)
		if err != nil {
			return nil, err
		}
		// mls-go verifies again, validates the leaf again and stores the
		// proposal under its reference.
		if err := g.g.ProcessPublicMessage(pm); err != nil {
			return nil, fmt.Errorf("%w: proposal from leaf %d refused: %v", ErrMessage, sender, err)
		}
		ref := proposalRef(g.suite, &framing.AuthenticatedContent{WireFormat: framing.WireFormatPublicMessage, Content: pm.Content, Auth: pm.Auth})
		return g.storedProposal(p, sender, ref)
	case framing.ContentTypeCommit:
		if err := g.checkIncoming("commit", sender, pm.Content.Epoch); err != nil {
			return nil, err
		}
		if err := g.g.VerifyPublicMessage(pm); err != nil {
			return nil, fmt.Errorf("%w: commit from leaf %d does not verify: %v", ErrMessage, sender, err)
		}
		return g.processCommit(&framing.AuthenticatedContent{
			WireFormat:   framing.WireFormatPublicMessage,
			Content:      pm.Content,
			Auth:         pm.Auth,
			GroupContext: g.g.GroupContext().Marshal(),
		}, sender)
	}
	return nil, fmt.Errorf("%w: application data must be sent as a PrivateMessage", ErrMessage)
}

func (g *Group) processPrivate(pm *framing.PrivateMessage) (*Message, error) {
	if !bytes.Equal(pm.GroupID, g.g.ID().AsSlice()) {
		return nil, fmt.Errorf("%w: addressed to another group", ErrMessage)
	}
	if pm.ContentType == framing.ContentTypeApplication {
		// mls-go also decrypts messages from a few past epochs.
		data, _, sender, err := g.g.ReceiveApplicationMessage(pm)
		if err != nil {
			return nil, fmt.Errorf("%w: application message refused: %v", ErrMessage, err)
		}
		return &Message{Kind: KindApplication, Sender: LeafIndex(sender), Data: data, Epoch: g.g.Epoch().AsUint64()}, nil
	}
	var what string
	switch pm.ContentType {
	case framing.ContentTypeCommit:
		what = "commit"
	case framing.ContentTypeProposal:
		what = "proposal"
	default:
		return nil, fmt.Errorf("%w: unknown content type %d", ErrMessage, pm.ContentType)
	}
	if err := g.checkEpoch(what, pm.Epoch); err != nil {
		return nil, err
	}
	ac, err := framing.Decrypt(pm, framing.DecryptParams{
		CipherSuite:      g.suite.mls(),
		SenderDataSecret: g.g.EpochSecrets().SenderDataSecret,
		SecretTree:       g.g.SecretTree(),
		GroupContext:     g.g.GroupContext().Marshal(),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not decrypt: %v", ErrMessage, what, err)
	}
	sender := LeafIndex(ac.Content.Sender.LeafIndex)
	if err := g.checkIncoming(what, sender, ac.Content.Epoch); err != nil {
		return nil, err
	}
	if err := g.verifyMemberSignature(ac, sender); err != nil {
		return nil, err
	}
	if what == "commit" {
		return g.processCommit(ac, sender)
	}
	p, err := g.checkUpdateProposal(ac.Content.Body, sender)
	if err != nil {
		return nil, err
	}
	ref := proposalRef(g.suite, &framing.AuthenticatedContent{WireFormat: framing.WireFormatPrivateMessage, Content: ac.Content, Auth: ac.Auth})
	g.g.StoreProposalWithRef(p, group.LeafNodeIndex(sender), ref[:])
	return g.storedProposal(p, sender, ref)
}

// checkIncoming refuses echoes of this member's own handshake messages and
// messages for another epoch.
func (g *Group) checkIncoming(what string, sender LeafIndex, epoch uint64) error {
	if sender == LeafIndex(g.g.OwnLeafIndex()) {
		return fmt.Errorf("%w: this member's own %s came back; it took effect when it was made", ErrMessage, what)
	}
	return g.checkEpoch(what, epoch)
}

func (g *Group) checkEpoch(what string, got uint64) error {
	want := g.g.Epoch().AsUint64()
	switch {
	case got < want:
		return fmt.Errorf("%w: %s is for epoch %d, the group is already at epoch %d (a duplicate or a replay)", ErrWrongEpoch, what, got, want)
	case got > want:
		return fmt.Errorf("%w: %s is for epoch %d, the group is at epoch %d; apply the commits before it first", ErrWrongEpoch, what, got, want)
	}
	return nil
}

func (g *Group) verifyMemberSignature(ac *framing.AuthenticatedContent, sender LeafIndex) error {
	if _, ok := g.member(sender); !ok {
		return fmt.Errorf("%w: sender leaf %d is not a member", ErrMessage, sender)
	}
	node := g.g.GetTreeLeaf(group.LeafNodeIndex(sender))
	pub := ciphersuite.NewMLSSignaturePublicKey(node.LeafData.SigKeyBytes(), g.suite.mls().SignatureScheme())
	if err := ciphersuite.VerifyWithLabel(pub, "FramedContentTBS", ac.MarshalTBS(), ac.Auth.Signature); err != nil {
		return fmt.Errorf("%w: signature of leaf %d does not verify", ErrMessage, sender)
	}
	return nil
}

// checkUpdateProposal parses a proposal and accepts only a well-formed
// Update of the sender's own leaf: members may not add, remove or change the
// group by proposal; the moderator commits those changes itself.
func (g *Group) checkUpdateProposal(body framing.FramedContentBody, sender LeafIndex) (*group.Proposal, error) {
	pb, ok := body.(framing.ProposalBody)
	if !ok {
		return nil, fmt.Errorf("%w: malformed proposal body", ErrMessage)
	}
	p, err := group.UnmarshalProposal(pb.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed proposal: %v", ErrMessage, err)
	}
	if p.Type != group.ProposalTypeUpdate {
		return nil, fmt.Errorf("%w: proposal type %d from leaf %d is not accepted; members may only propose an Update", ErrMessage, p.Type, sender)
	}
	if p.Update == nil || p.Update.LeafNode == nil {
		return nil, fmt.Errorf("%w: Update proposal without a leaf node", ErrMessage)
	}
	ln := p.Update.LeafNode
	if _, ok := g.member(sender); !ok {
		return nil, fmt.Errorf("%w: Update from leaf %d, which is not a member", ErrMessage, sender)
	}
	if ln.LeafNodeSource != leafSourceUpdate {
		return nil, fmt.Errorf("%w: Update leaf node source is %d, want update (2)", ErrMessage, ln.LeafNodeSource)
	}
	if n, want := len(ln.SignatureKeyBytes), g.suite.signatureKeySize(); n != want {
		return nil, fmt.Errorf("%w: Update signature key has %d bytes, want %d", ErrMessage, n, want)
	}
	cred, err := credentialFromMLS(ln.Credential)
	if err != nil {
		return nil, fmt.Errorf("%w: Update from leaf %d: %v", ErrMessage, sender, err)
	}
	if !cred.leafKeyMatches(ln.SignatureKeyBytes) {
		return nil, fmt.Errorf("%w: Update from leaf %d: the x509 leaf certificate does not hold the signature key", ErrMessage, sender)
	}
	if err := treesync.ValidateLeafNodeWithContext(treeLeafOf(ln), g.suite.mls(), g.g.ID().AsSlice(), uint32(sender)); err != nil {
		return nil, fmt.Errorf("%w: Update leaf node from leaf %d refused: %v", ErrMessage, sender, err)
	}
	return p, nil
}

func (g *Group) storedProposal(p *group.Proposal, sender LeafIndex, ref ProposalRef) (*Message, error) {
	u, ok := g.updateFromStore(group.StoredProposal{Proposal: p, Sender: group.LeafNodeIndex(sender), Ref: ref[:]})
	if !ok {
		return nil, fmt.Errorf("%w: Update proposal from leaf %d could not be stored", ErrMessage, sender)
	}
	return &Message{Kind: KindProposal, Sender: sender, Update: &u, Epoch: g.g.Epoch().AsUint64()}, nil
}

// processCommit applies a verified commit from another member.
func (g *Group) processCommit(ac *framing.AuthenticatedContent, sender LeafIndex) (*Message, error) {
	body, ok := ac.Content.Body.(framing.CommitBody)
	if !ok {
		return nil, fmt.Errorf("%w: malformed commit body", ErrMessage)
	}
	commit, err := group.UnmarshalCommit(body.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed commit: %v", ErrMessage, err)
	}
	own := g.g.OwnLeafIndex()
	mine := false
	for _, por := range commit.Proposals {
		if g.committersOwnUpdate(por, sender) {
			return nil, fmt.Errorf("%w: commit from leaf %d carries the committer's own Update proposal, which RFC 9420 §12.2 forbids", ErrMessage, sender)
		}
		if p := por.Proposal; p != nil && p.Type == group.ProposalTypeRemove && p.Remove != nil && p.Remove.Removed == own {
			// The commit's signature was checked; nothing more to decrypt.
			g.removed = true
			return &Message{Kind: KindCommit, Sender: sender, Epoch: ac.Content.Epoch + 1, Removed: true}, nil
		}
		if g.pending != nil && bytes.Equal(por.ProposalRef, g.pending.ref[:]) {
			mine = true
		}
	}
	// The path secret is encrypted to this member's current leaf key, which is
	// the key of its own Update when the commit includes that proposal.
	key := g.leafKey
	if key == nil {
		key = g.g.MyLeafEncryptionKey()
	}
	if mine {
		key = g.pending.encKey
	}
	epoch := g.g.Epoch().AsUint64()
	if err := g.g.ProcessReceivedCommit(ac, treesync.LeafIndex(sender), key); err != nil {
		g.checkAfterFailure(epoch)
		return nil, fmt.Errorf("%w: commit from leaf %d refused: %v", ErrMessage, sender, err)
	}
	if mine {
		g.signer = g.pending.signer
		g.leafKey = g.pending.encKey
	}
	g.pending = nil // a proposal not in the commit died with its epoch
	return &Message{Kind: KindCommit, Sender: sender, Epoch: g.g.Epoch().AsUint64()}, nil
}

// committersOwnUpdate reports whether a commit entry is an Update proposal
// made by the committer: inline proposals are the committer's own, and a
// referenced one records its sender.
func (g *Group) committersOwnUpdate(por group.ProposalOrRef, committer LeafIndex) bool {
	if por.Proposal != nil {
		return por.Proposal.Type == group.ProposalTypeUpdate
	}
	for _, sp := range g.g.StoredProposals() {
		if bytes.Equal(sp.Ref, por.ProposalRef) {
			return sp.Proposal != nil && sp.Proposal.Type == group.ProposalTypeUpdate && LeafIndex(sp.Sender) == committer
		}
	}
	return false
}
