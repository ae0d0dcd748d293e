package mls

import (
	"fmt"
	"slices"
	"time"

	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/keypackages"
)

// Changes is what one commit does. Every commit also carries the members'
// Update proposals pending in the group (see PendingUpdates), except those of
// members it removes: drop the ones to refuse before committing.
type Changes struct {
	// Add are validated key packages of members to add; all of them share
	// one Welcome.
	Add []*KeyPackage
	// Remove are leaves of members to remove.
	Remove []LeafIndex
	// Credential, when set, replaces the committer's own credential. It
	// travels in the commit's UpdatePath, never as an Update proposal (a
	// committer must not commit its own Update, RFC 9420 §12.2). It must
	// hold the committer's current signature key: mls-go signs a commit and
	// its new leaf with one key, so a committer cannot change keys.
	Credential *Credential
	// Encrypt sends the commit as a PrivateMessage instead of a
	// PublicMessage.
	Encrypt bool
}

// Commit is a commit this member made. It is already applied: persist the
// group state, then deliver Message to the members who were in the group
// before it and Welcome to the added ones.
type Commit struct {
	// Message is the commit as an RFC 9420 MLSMessage.
	Message []byte
	// Welcome is the MLSMessage Welcome for the added members, with the
	// ratchet tree inside; nil when nobody was added.
	Welcome []byte
	// Epoch is the epoch the commit started.
	Epoch uint64
	// Added holds the leaf each added key package got, in Changes.Add order.
	Added []LeafIndex
}

// AddMembers adds the owners of the given key packages in one commit with one
// Welcome. Validate each key package first (ValidateKeyPackage).
func (g *Group) AddMembers(kps ...*KeyPackage) (*Commit, error) {
	return g.Commit(Changes{Add: kps})
}

// RemoveMembers removes the members at the given leaves in one commit.
func (g *Group) RemoveMembers(leaves ...LeafIndex) (*Commit, error) {
	return g.Commit(Changes{Remove: leaves})
}

// RemoveMatching removes, in one commit, every member other than this one for
// which match returns true, for example those whose credential names a given
// subject. It fails if none matches.
func (g *Group) RemoveMatching(match func(Member) bool) (*Commit, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	own := LeafIndex(g.g.OwnLeafIndex())
	var leaves []LeafIndex
	for _, m := range g.members() {
		if m.Leaf != own && match(m) {
			leaves = append(leaves, m.Leaf)
		}
	}
	if len(leaves) == 0 {
		return nil, fmt.Errorf("mls: no other member matches; nothing to remove")
	}
	return g.commitChanges(Changes{Remove: leaves})
}

// UpdateCredential replaces this member's own credential through the
// UpdatePath of a commit, which also refreshes its leaf keys.
func (g *Group) UpdateCredential(cred Credential) (*Commit, error) {
	return g.Commit(Changes{Credential: &cred})
}

// CommitPending commits the pending Update proposals (and refreshes the
// committer's path keys if none are pending).
func (g *Group) CommitPending() (*Commit, error) {
	return g.Commit(Changes{})
}

// Commit makes, applies and returns one commit with the given changes. On
// error the group is unchanged, with one exception: if the Welcome cannot be
// built after the commit was applied, both the Commit (without Welcome) and
// an error are returned.
func (g *Group) Commit(ch Changes) (*Commit, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.commitChanges(ch)
}

func (g *Group) commitChanges(ch Changes) (*Commit, error) {
	if err := g.usable(); err != nil {
		return nil, err
	}
	if err := g.checkChanges(ch); err != nil {
		return nil, err
	}
	own, ok := g.g.GetMember(g.g.OwnLeafIndex())
	if !ok || own == nil {
		return nil, fmt.Errorf("mls: this member's own leaf is missing from the group state")
	}
	// RFC 9420 §12.2: a commit must not both update and remove a leaf; the
	// Remove wins.
	var dropped []group.StoredProposal
	for _, sp := range g.g.StoredProposals() {
		if sp.Proposal != nil && sp.Proposal.Type == group.ProposalTypeUpdate && slices.Contains(ch.Remove, LeafIndex(sp.Sender)) {
			dropped = append(dropped, sp)
			g.g.RevokeProposal(sp.Ref)
		}
	}
	store := g.g.Proposals()
	keep := len(store.Proposals)
	oldCred := own.Credential
	undo := func() {
		store.Proposals = store.Proposals[:keep]
		for _, sp := range dropped {
			g.g.StoreProposalWithRef(sp.Proposal, sp.Sender, sp.Ref)
		}
		own.Credential = oldCred
	}
	for _, kp := range ch.Add {
		if _, err := g.g.AddMember(kp.kp); err != nil {
			undo()
			return nil, fmt.Errorf("%w: %v", ErrKeyPackage, err)
		}
	}
	for _, leaf := range ch.Remove {
		if _, err := g.g.RemoveMember(group.LeafNodeIndex(leaf)); err != nil {
			undo()
			return nil, fmt.Errorf("mls: removing leaf %d: %v", leaf, err)
		}
	}
	// mls-go builds the committer's UpdatePath leaf from its member map, whose
	// credential is not updated when the leaf changes; use the tree's.
	if ch.Credential != nil {
		own.Credential = ch.Credential.mls()
	} else if node := g.g.GetTreeLeaf(g.g.OwnLeafIndex()); node != nil && node.LeafData != nil {
		own.Credential = node.LeafData.Credential
	}
	out, err := g.commit(ch)
	if err != nil && out == nil {
		undo()
	}
	return out, err
}

func (g *Group) checkChanges(ch Changes) error {
	if g.pending != nil {
		return fmt.Errorf("mls: this member's own Update proposal is pending; a committer must not commit its own Update (RFC 9420 §12.2): drop it or wait for another member's commit")
	}
	seen := make(map[KeyPackageRef]bool, len(ch.Add))
	for _, kp := range ch.Add {
		if kp == nil {
			return fmt.Errorf("mls: nil key package in Changes.Add")
		}
		if kp.suite != g.suite {
			return kp.refuse("ciphersuite 0x%04x does not match the group's 0x%04x", uint16(kp.suite), uint16(g.suite))
		}
		if seen[kp.ref] {
			return kp.refuse("%s appears twice in one commit", kp.ref)
		}
		if err := kp.checkHPKEKeys(); err != nil {
			return err
		}
		seen[kp.ref] = true
	}
	own := LeafIndex(g.g.OwnLeafIndex())
	for i, leaf := range ch.Remove {
		if leaf == own {
			return fmt.Errorf("mls: a committer cannot remove itself (leaf %d)", leaf)
		}
		if _, ok := g.member(leaf); !ok {
			return fmt.Errorf("mls: leaf %d is not a member of the group", leaf)
		}
		if slices.Contains(ch.Remove[:i], leaf) {
			return fmt.Errorf("mls: leaf %d is removed twice in one commit", leaf)
		}
	}
	if ch.Credential != nil {
		if ch.Credential.IsZero() {
			return fmt.Errorf("mls: Changes.Credential is the zero credential")
		}
		if !ch.Credential.leafKeyMatches(g.signer.pub) {
			return fmt.Errorf("mls: the committer's new x509 credential must hold its current signature key (mls-go cannot change a committer's key)")
		}
		// mls-go checks every X.509 leaf in the tree against the wall clock
		// when a member joins; an expired one would lock joiners out.
		if certs := ch.Credential.certs; len(certs) > 0 {
			if now := time.Now(); now.Before(certs[0].NotBefore) || now.After(certs[0].NotAfter) {
				return fmt.Errorf("mls: the committer's new x509 certificate is valid from %s to %s, not now",
					certs[0].NotBefore.UTC().Format(time.RFC3339), certs[0].NotAfter.UTC().Format(time.RFC3339))
			}
		}
		// mls-go omits the UpdatePath while the committer is alone.
		if len(g.leaves()) < 2 {
			return fmt.Errorf("mls: a lone member's commit has no UpdatePath to carry a new credential; add a member first")
		}
	}
	return nil
}

func (g *Group) commit(ch Changes) (*Commit, error) {
	format := framing.WireFormatPublicMessage
	if ch.Encrypt {
		format = framing.WireFormatPrivateMessage
	}
	staged, err := g.g.CommitWithFormat(g.signer.key, g.signer.key.PublicKey(), nil, format)
	if err != nil {
		return nil, fmt.Errorf("mls: building the commit: %v", err)
	}
	for i, p := range staged.Proposals() {
		// mls-go's SelfUpdate path puts the committer's own Update in the
		// commit, which RFC 9420 §12.2 forbids and other implementations
		// reject. It is never used here; refuse if one shows up anyway.
		if p.Type == group.ProposalTypeUpdate && staged.ProposalSenders()[i] == g.g.OwnLeafIndex() {
			_ = g.g.DiscardPendingCommit()
			return nil, fmt.Errorf("mls: the commit would carry the committer's own Update proposal (RFC 9420 §12.2)")
		}
	}
	msg, err := g.frameCommit(staged, ch.Encrypt)
	if err != nil {
		_ = g.g.DiscardPendingCommit()
		return nil, err
	}
	joinerSecret := staged.JoinerSecret()
	epoch := g.g.Epoch().AsUint64()
	if err := g.g.MergeCommit(staged); err != nil {
		_ = g.g.DiscardPendingCommit()
		// Commit creation already replaced the committer's path keys.
		g.damaged = true
		return nil, fmt.Errorf("mls: applying own commit at epoch %d: %v", epoch, err)
	}
	if staged.Commit().Path != nil {
		g.leafKey = nil // mls-go now holds the new leaf key from the path
	}
	out := &Commit{Message: msg, Epoch: g.g.Epoch().AsUint64()}
	if len(ch.Add) == 0 {
		return out, nil
	}
	out.Added = g.addedLeaves(ch.Add)
	added := make([]*keypackages.KeyPackage, len(ch.Add))
	for i, kp := range ch.Add {
		added[i] = kp.kp
	}
	welcome, err := g.g.CreateWelcomeWithOpts(added, g.signer.key,
		group.WithJoinerSecret(joinerSecret),
		group.WithPSKIDs(staged.PskIDs()),
		group.WithPSKSecret(staged.RawPskSecret()),
		group.WithStagedCommit(staged),
		group.WithGroupInfoOptions(group.WithRatchetTree(true), group.WithExternalPub(false)),
	)
	if err != nil {
		return out, fmt.Errorf("mls: the commit to epoch %d is applied but its Welcome failed (%v); deliver the commit, then remove the added members", out.Epoch, err)
	}
	out.Welcome = (&framing.MLSMessage{Welcome: welcome.Marshal()}).Marshal()
	return out, nil
}

// frameCommit wraps the staged commit as an MLSMessage. A PrivateMessage is
// encrypted under the current epoch, so this runs before the merge.
func (g *Group) frameCommit(staged *group.StagedCommit, encrypt bool) ([]byte, error) {
	ac := staged.AuthenticatedContent()
	if !encrypt {
		return framing.NewMLSMessagePublic(&framing.PublicMessage{
			Content:       ac.Content,
			Auth:          ac.Auth,
			MembershipTag: staged.MembershipTag(),
		}).Marshal(), nil
	}
	pm, err := framing.Encrypt(framing.EncryptParams{
		AuthContent:      ac,
		SenderLeafIndex:  uint32(g.g.OwnLeafIndex()),
		CipherSuite:      g.suite.mls(),
		SenderDataSecret: g.g.EpochSecrets().SenderDataSecret,
		SecretTree:       g.g.SecretTree(),
	})
	if err != nil {
		return nil, fmt.Errorf("mls: encrypting the commit: %v", err)
	}
	return framing.NewMLSMessagePrivate(pm).Marshal(), nil
}

// addedLeaves finds the leaf each added key package got, by its leaf
// encryption key, in one pass over the tree.
func (g *Group) addedLeaves(kps []*KeyPackage) []LeafIndex {
	byKey := make(map[string]LeafIndex, len(kps))
	for _, l := range g.leaves() {
		byKey[string(l.data.EncryptionKey)] = l.index
	}
	out := make([]LeafIndex, len(kps))
	for i, kp := range kps {
		out[i] = byKey[string(kp.kp.LeafNode.EncryptionKey)]
	}
	return out
}
